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
from core.jobs.in_process import InProcessJobService
from core.jobs.service import JobService
from core.logs import log_event
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
        storage = await Storage.connect(settings.data_connection_string)
        sender = WebhookSender(timeout_seconds=settings.timeout_seconds)
        attempts = DeliveryAttempts(
            sender=sender, jobs=storage.jobs, policy=RetryPolicy.from_settings(settings)
        )
        if jobs is None:
            jobs = InProcessJobService(
                jobs=storage.jobs,
                attempts=attempts,
                max_concurrent_deliveries=settings.max_concurrent_deliveries,
                shutdown_grace_seconds=settings.shutdown_grace_seconds,
            )
        notifier = Notifier(webhooks=storage.webhooks, jobs=jobs)
        commands = Commands(storage=storage, notifier=notifier)

        return cls(settings, storage, sender, attempts, jobs, commands)

    async def aclose(self) -> None:
        await self.jobs.shutdown()
        await self.sender.aclose()
        await self.storage.aclose()


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
