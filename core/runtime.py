"""Wiring: one set of long-lived objects per process, created on first use.

Clients bind to the event loop they are created on, so the runtime is built
lazily inside the running loop (the Functions worker's, or the local host's).
"""

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from core.commands import Commands
from core.delivery import WebhookSender
from core.errors import DataManagerError
from core.health import EndpointHealth
from core.jobs.attempts import DeliveryAttempts
from core.jobs.durable import DurableJobService
from core.jobs.in_process import InProcessJobService
from core.jobs.selection import Backend, select_backend
from core.jobs.service import JobService
from core.logs import log_event
from core.notifications import Notifier
from core.retry import RetryPolicy
from core.secret_box import SecretBox
from core.settings import Settings
from core.storage import Storage
from core.url_policy import UrlPolicy

logger = logging.getLogger(__name__)

# How long an attempt's outcome waits for storage to come back before the
# delivery is left as last recorded (and picked up again on the next start);
# well within a durable activity's time limit.
RECORD_PATIENCE_SECONDS = 120.0


@dataclass
class Runtime:
    settings: Settings
    storage: Storage
    sender: WebhookSender
    attempts: DeliveryAttempts
    jobs: JobService
    notifier: Notifier
    commands: Commands
    background: list["asyncio.Task[None]"] = field(default_factory=list)

    @classmethod
    async def create(cls, settings: Settings, *, jobs: JobService | None = None) -> "Runtime":
        """Connect to storage and build the job service the settings select."""
        backend = select_backend(settings)
        box = SecretBox(
            settings.secret_encryption_key.get_secret_value()
            if settings.secret_encryption_key
            else None
        )
        storage = await Storage.connect(settings.data_connection_string, box)
        url_policy = UrlPolicy(allow_private_networks=settings.allow_private_networks)
        sender = WebhookSender(timeout_seconds=settings.timeout_seconds, url_policy=url_policy)
        health = EndpointHealth(
            webhooks=storage.webhooks, disable_after=timedelta(hours=settings.disable_after_hours)
        )
        attempts = DeliveryAttempts(
            sender=sender,
            jobs=storage.jobs,
            policy=RetryPolicy.from_settings(settings),
            health=health,
            record_patience=RECORD_PATIENCE_SECONDS,
        )
        if jobs is None:
            jobs = _job_service(backend, settings, storage, attempts)
        notifier = Notifier(
            storage=storage,
            jobs=jobs,
            sweep_grace=timedelta(seconds=settings.outbox_grace_seconds),
        )
        commands = Commands(
            storage=storage,
            notifier=notifier,
            attempts=attempts,
            url_policy=url_policy,
            rotation_grace=timedelta(hours=settings.secret_rotation_grace_hours),
        )

        return cls(settings, storage, sender, attempts, jobs, notifier, commands)

    def start_resuming(self) -> None:
        """In-process: pick up deliveries a previous process left unfinished."""
        if isinstance(self.jobs, InProcessJobService):
            self._run_in_background(self.jobs.resume(), "resume")

    def start_sweeping(self) -> None:
        """Sweep the outbox periodically (the local host; the Functions host uses a timer)."""

        async def sweep_forever() -> None:
            while True:
                await asyncio.sleep(self.settings.outbox_sweep_seconds)
                try:
                    await self.notifier.sweep()
                except DataManagerError as exc:
                    log_event(
                        logger,
                        "outbox.sweep_failed",
                        level=logging.WARNING,
                        error=type(exc).__name__,
                    )

        self._run_in_background(sweep_forever(), "sweep")

    def _run_in_background(self, work: Coroutine[Any, Any, object], name: str) -> None:
        task = asyncio.get_running_loop().create_task(_logged(work, name), name=name)
        self.background.append(task)

    async def aclose(self) -> None:
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        await self.jobs.shutdown()
        await self.sender.aclose()
        await self.storage.aclose()


async def _logged(work: Coroutine[Any, Any, object], name: str) -> None:
    """Run background work; a failure is logged, never left to vanish with its task."""
    try:
        await work
    except DataManagerError as exc:
        log_event(
            logger, "background.failed", level=logging.ERROR, work=name, error=type(exc).__name__
        )


def _job_service(
    backend: Backend, settings: Settings, storage: Storage, attempts: DeliveryAttempts
) -> JobService:
    if backend is Backend.DURABLE:
        return DurableJobService(jobs=storage.jobs, settings=settings)

    return InProcessJobService(
        jobs=storage.jobs,
        attempts=attempts,
        max_concurrent_deliveries=settings.max_concurrent_deliveries,
        max_concurrent_per_host=settings.max_concurrent_per_host,
        shutdown_grace_seconds=settings.shutdown_grace_seconds,
        claim_timeout=timedelta(seconds=settings.outbox_grace_seconds),
    )


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
            _runtime.start_resuming()

    return _runtime


async def close_runtime() -> None:
    """Shut the runtime down, if it was ever started."""
    global _runtime
    if _runtime is not None:
        runtime, _runtime = _runtime, None
        await runtime.aclose()
