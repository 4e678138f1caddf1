"""The job service interface: hand over a job, get its id back at once."""

import logging
from typing import Protocol

from core.jobs.model import NotificationJob
from core.logs import log_event


class JobService(Protocol):
    """Runs notification jobs in the background; `schedule` never waits for delivery."""

    name: str

    async def schedule(self, job: NotificationJob) -> str:
        """Persist the job and start delivering it; returns the job id."""
        ...

    async def redeliver(self, job_id: str) -> int:
        """Send the job's failed deliveries again (same event id); returns how many."""
        ...

    async def runtime_status(self, job_id: str) -> str | None:
        """The backend's own word on the job (an orchestration's status), if it has one."""
        ...

    async def shutdown(self) -> None:
        """Stop taking work and give in-flight deliveries a bounded time to end."""
        ...


def log_scheduled(logger: logging.Logger, job: NotificationJob, backend: str) -> None:
    """The `job.scheduled` event, the same from every backend."""
    log_event(
        logger,
        "job.scheduled",
        job_id=job.id,
        event_id=job.event_id,
        event_type=job.event_type.value,
        set_id=job.translations_set_id,
        deliveries=len(job.targets),
        backend=backend,
    )
