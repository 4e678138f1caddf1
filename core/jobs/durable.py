"""The durable job service: each notification job becomes a Durable Functions orchestration.

The HTTP function handling a command carries the durable client binding and
makes that client current for the request (`using_client`); `schedule` stores
the job, then asks the Functions host to start `webhook_notification_orchestrator`
with the job id as instance id, so one job never runs as two orchestrations.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from core.errors import ConflictError, DataManagerError, StorageUnavailableError
from core.jobs.model import NotificationJob
from core.jobs.service import log_scheduled
from core.logs import log_event
from core.orchestration import ORCHESTRATOR_NAME, NotificationInput, to_wire
from core.settings import Settings
from core.storage import JobsRepository

logger = logging.getLogger(__name__)

# Runtime statuses of an instance that is still at work (or about to be).
RUNNING_STATES = frozenset({"Pending", "Running", "ContinuedAsNew", "Suspended"})


class OrchestrationClient(Protocol):
    """The part of the SDK's DurableOrchestrationClient this service uses."""

    async def start_new(
        self,
        orchestration_function_name: str,
        instance_id: str | None = None,
        client_input: Any | None = None,
    ) -> str: ...

    async def get_status(self, instance_id: str) -> Any: ...


class DurableClientMissingError(DataManagerError):
    """A job was scheduled from a function without the durable client binding."""


class TaskHubUnavailableError(StorageUnavailableError):
    """The Functions host's durable API failed or refused a request."""


_current_client: ContextVar[OrchestrationClient | None] = ContextVar("durable_client", default=None)


@contextmanager
def using_client(client: OrchestrationClient) -> Iterator[None]:
    """Make `client` the one this request's jobs are started with."""
    token = _current_client.set(client)
    try:
        yield
    finally:
        _current_client.reset(token)


def current_client() -> OrchestrationClient | None:
    return _current_client.get()


def orchestration_input(
    job_id: str,
    webhook_ids: list[str],
    settings: Settings,
    attempts_made: dict[str, int] | None = None,
) -> NotificationInput:
    """The orchestration's input: ids and the retry policy in force, never payloads or secrets.

    The policy travels with the job so that replays never depend on settings
    that may change while the orchestration runs.
    """
    return NotificationInput(
        job_id=job_id,
        webhook_ids=webhook_ids,
        max_attempts=settings.max_attempts,
        first_retry_interval_ms=max(1, round(settings.first_retry_interval_seconds * 1000)),
        retry_window_seconds=settings.retry_window_hours * 3600,
        attempts_made=attempts_made or {},
    )


class DurableJobService:
    name = "durable"

    def __init__(self, *, jobs: JobsRepository, settings: Settings) -> None:
        self._jobs = jobs
        self._settings = settings

    async def schedule(self, job: NotificationJob) -> str:
        """Store the job and start its orchestration, each at most once.

        A job handed over again (the outbox may do that) finds its records and
        its instance in place and is left alone. The instance is looked for
        before starting because the host would restart a completed one, which
        would deliver the event twice.
        """
        client = _require_client()
        created = await self._jobs.create(job, max_attempts=self._settings.max_attempts)
        if not created and await _instance_exists(client, job.id):
            log_event(logger, "job.exists", job_id=job.id, backend=self.name)
            return job.id

        webhook_ids = [target.webhook_id for target in job.targets]
        await self._start(client, orchestration_input(job.id, webhook_ids, self._settings))
        log_scheduled(logger, job, self.name)

        return job.id

    async def redeliver(self, job_id: str) -> int:
        """Send the job's failed deliveries again in a new run of its orchestration.

        The instance id stays the job id, so the host starts a fresh execution
        of the finished instance; while it still runs, there is nothing to redo.
        """
        client = _require_client()
        if await _instance_running(client, job_id):
            raise ConflictError(f"job {job_id!r} is still being delivered")
        reopened = await self._jobs.reopen_failed(
            job_id, self._settings.max_attempts, resumable=False
        )
        if not reopened:
            return 0

        attempts = {pending.request.target.webhook_id: pending.attempts for pending in reopened}
        payload = orchestration_input(job_id, list(attempts), self._settings, attempts)
        try:
            await self._start(client, payload, restart=True)
        except TaskHubUnavailableError:
            # Failed again, so that the redelivery can be asked for again.
            await self._jobs.fail_unfinished(job_id, dict.fromkeys(attempts))
            raise
        log_event(logger, "job.redelivering", job_id=job_id, deliveries=len(reopened))

        return len(reopened)

    async def _start(
        self, client: OrchestrationClient, payload: NotificationInput, *, restart: bool = False
    ) -> None:
        try:
            await client.start_new(ORCHESTRATOR_NAME, payload.job_id, to_wire(payload))
        except Exception as exc:
            # The SDK raises a bare Exception for every refusal, 409 included, so
            # the instance itself says whether someone else started it meanwhile.
            if not restart and await _instance_exists(client, payload.job_id):
                log_event(logger, "job.exists", job_id=payload.job_id, backend=self.name)
                return
            raise TaskHubUnavailableError("the durable task hub did not start the job") from exc

    async def runtime_status(self, job_id: str) -> str | None:
        """The orchestration's runtime status (Running, Completed …), when it can be told."""
        client = current_client()
        if client is None:
            return None
        try:
            status = await client.get_status(job_id)
        except Exception as exc:  # the SDK's errors are bare Exceptions
            log_event(
                logger,
                "job.runtime_status_unavailable",
                level=logging.WARNING,
                job_id=job_id,
                error=type(exc).__name__,
            )
            return None
        runtime_status = getattr(status, "runtime_status", None) if status else None

        return str(runtime_status.value) if runtime_status is not None else None

    async def shutdown(self) -> None:
        """Nothing to wait for: in-flight deliveries belong to the task hub, not this process."""


def _require_client() -> OrchestrationClient:
    client = current_client()
    if client is None:
        raise DurableClientMissingError(
            "durable jobs are started from HTTP functions with the durable client binding"
        )

    return client


async def _status(client: OrchestrationClient, instance_id: str) -> Any:
    try:
        return await client.get_status(instance_id)
    except Exception as exc:  # the SDK's errors are bare Exceptions
        raise TaskHubUnavailableError("the durable task hub did not answer") from exc


async def _instance_exists(client: OrchestrationClient, instance_id: str) -> bool:
    return bool(await _status(client, instance_id))


async def _instance_running(client: OrchestrationClient, instance_id: str) -> bool:
    status = await _status(client, instance_id)
    runtime_status = getattr(status, "runtime_status", None) if status else None

    return runtime_status is not None and str(runtime_status.value) in RUNNING_STATES
