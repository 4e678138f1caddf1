"""The job service interface: hand over a job, get its id back at once."""

from typing import Protocol

from core.jobs.model import NotificationJob


class JobService(Protocol):
    """Runs notification jobs in the background; `schedule` never waits for delivery."""

    name: str

    async def schedule(self, job: NotificationJob) -> str:
        """Persist the job and start delivering it; returns the job id."""
        ...

    async def redeliver(self, job_id: str) -> int:
        """Send the job's failed deliveries again (same event id); returns how many."""
        ...

    async def shutdown(self) -> None:
        """Stop taking work and give in-flight deliveries a bounded time to end."""
        ...
