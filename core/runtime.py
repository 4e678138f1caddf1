"""Wiring: one set of long-lived objects per process, created on first use.

Clients bind to the event loop they are created on, so the runtime is built
lazily inside the running loop (the Functions worker's, or the local host's).
"""

import asyncio
import logging
from dataclasses import dataclass

from core.commands import Commands
from core.delivery import WebhookSender
from core.jobs.attempts import DeliveryAttempts
from core.jobs.durable import DurableJobService
from core.jobs.in_process import InProcessJobService
from core.jobs.selection import Backend, select_backend
from core.jobs.service import JobService
from core.logs import log_event
from core.models import JobView
from core.notifications import Notifier
from core.retry import RetryPolicy
from core.settings import Settings
from core.storage import Storage

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    storage: Storage
    sender: WebhookSender
    attempts: DeliveryAttempts
    jobs: JobService
    commands: Commands

    @classmethod
    async def create(cls, settings: Settings, *, jobs: JobService | None = None) -> "Runtime":
        """Connect to storage and build the job service the settings select."""
        backend = select_backend(settings)
        storage = await Storage.connect(settings.data_connection_string)
        sender = WebhookSender(timeout_seconds=settings.timeout_seconds)
        attempts = DeliveryAttempts(
            sender=sender, jobs=storage.jobs, policy=RetryPolicy.from_settings(settings)
        )
        if jobs is None:
            jobs = _job_service(backend, settings, storage, attempts)
        notifier = Notifier(webhooks=storage.webhooks, jobs=jobs)
        commands = (
            DurableCommands(storage=storage, notifier=notifier, durable=jobs)
            if isinstance(jobs, DurableJobService)
            else Commands(storage=storage, notifier=notifier)
        )

        return cls(settings, storage, sender, attempts, jobs, commands)

    async def aclose(self) -> None:
        await self.jobs.shutdown()
        await self.sender.aclose()
        await self.storage.aclose()


def _job_service(
    backend: Backend, settings: Settings, storage: Storage, attempts: DeliveryAttempts
) -> JobService:
    if backend is Backend.DURABLE:
        return DurableJobService(jobs=storage.jobs, settings=settings)

    return InProcessJobService(
        jobs=storage.jobs,
        attempts=attempts,
        max_concurrent_deliveries=settings.max_concurrent_deliveries,
        shutdown_grace_seconds=settings.shutdown_grace_seconds,
    )


class DurableCommands(Commands):
    """Commands whose job views also carry the orchestration's runtime status."""

    def __init__(self, *, storage: Storage, notifier: Notifier, durable: DurableJobService) -> None:
        super().__init__(storage=storage, notifier=notifier)
        self._durable = durable

    async def get_job(self, job_id: str) -> JobView:
        view = await super().get_job(job_id)
        runtime_status = await self._durable.runtime_status(job_id)

        return view.model_copy(update={"runtime_status": runtime_status})


_runtime: Runtime | None = None
_lock: asyncio.Lock | None = None


async def get_runtime() -> Runtime:
    """The process's runtime, created on the first call."""
    global _runtime, _lock
    if _runtime is not None:
        return _runtime
    if _lock is None:
        _lock = asyncio.Lock()
    async with _lock:
        if _runtime is None:
            settings = Settings.from_environ()
            _runtime = await Runtime.create(settings)
            log_event(
                logger,
                "app.started",
                job_backend=_runtime.jobs.name,
                **settings.masked(),
            )

    return _runtime


async def close_runtime() -> None:
    """Shut the runtime down, if it was ever started."""
    global _runtime
    if _runtime is not None:
        runtime, _runtime = _runtime, None
        await runtime.aclose()
