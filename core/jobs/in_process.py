"""The in-process job service: deliveries as asyncio tasks in this process.

Used without durable storage (local host, tests, `func start` without the
durable extension). Each delivery is its own task, so one receiver that hangs
or keeps failing never delays another; a semaphore bounds how many attempts
are in flight at once, and backoff sleeps do not hold a slot.
"""

import asyncio
import logging

from core.delivery import DeliveryRequest
from core.errors import JobServiceClosedError
from core.jobs.attempts import DeliveryAttempts
from core.jobs.model import NotificationJob
from core.logs import log_event
from core.models import DeliveryStatus
from core.storage import JobsRepository

logger = logging.getLogger(__name__)


class InProcessJobService:
    name = "in_process"

    def __init__(
        self,
        *,
        jobs: JobsRepository,
        attempts: DeliveryAttempts,
        max_concurrent_deliveries: int,
        shutdown_grace_seconds: float,
    ) -> None:
        self._jobs = jobs
        self._attempts = attempts
        self._slots = asyncio.Semaphore(max_concurrent_deliveries)
        self._grace = shutdown_grace_seconds
        self._tasks: dict[asyncio.Task[None], DeliveryRequest] = {}
        self._closed = False

    async def schedule(self, job: NotificationJob) -> str:
        if self._closed:
            raise JobServiceClosedError("the job service is shutting down")

        await self._jobs.create(job)
        for request in job.requests:
            self._start(request)
        log_event(
            logger,
            "job.scheduled",
            job_id=job.id,
            event_id=job.event_id,
            event_type=job.event_type.value,
            set_id=job.translations_set_id,
            deliveries=len(job.targets),
            backend=self.name,
        )

        return job.id

    def _start(self, request: DeliveryRequest, first_attempt: int = 1) -> None:
        task = asyncio.get_running_loop().create_task(
            self._deliver(request, first_attempt),
            name=f"deliver:{request.job_id}:{request.target.webhook_id}",
        )
        self._tasks[task] = request
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        if not task.cancelled() and (error := task.exception()) is not None:
            # Storage trouble while recording; the delivery state stays as last
            # recorded so the job shows it unfinished rather than lying.
            log_event(
                logger,
                "job.delivery_crashed",
                level=logging.ERROR,
                task=task.get_name(),
                error=type(error).__name__,
            )

    async def _deliver(self, request: DeliveryRequest, first_attempt: int) -> None:
        attempt = first_attempt
        while True:
            async with self._slots:
                result = await self._attempts.run(request, attempt)
            if result.status is not DeliveryStatus.RETRYING or result.retry_in is None:
                return
            await asyncio.sleep(result.retry_in)
            attempt += 1

    async def wait_idle(self) -> None:
        """Wait until every delivery started so far has finished (tests, benchmarks)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def shutdown(self) -> None:
        self._closed = True
        pending = list(self._tasks)
        if pending:
            await asyncio.wait(pending, timeout=self._grace)

        unfinished = {task: self._tasks[task] for task in pending if not task.done()}
        for task in unfinished:
            task.cancel()
        if unfinished:
            await asyncio.wait(unfinished)
        # What is cut off here stays pending or retrying in Table Storage.
        log_event(
            logger,
            "jobs.shutdown",
            level=logging.WARNING if unfinished else logging.INFO,
            unfinished_deliveries=len(unfinished),
            unfinished_jobs=",".join(sorted({request.job_id for request in unfinished.values()})),
        )
