"""The in-process job service: deliveries as asyncio tasks in this process.

Used without durable storage (local host, tests, `func start` without the
durable extension). Each delivery is its own task, so one receiver that hangs
or keeps failing never delays another; slots bound how many attempts are in
flight at once, in all and to any one host, and backoff sleeps hold none.

Deliveries are recorded in Table Storage before they start and after every
attempt, and unfinished jobs are listed there, so `resume` picks up after a
crash or restart where the records end (receivers may see a repeat, with the
same `webhook-id`).
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from core.errors import JobServiceClosedError
from core.jobs.attempts import DeliveryAttempts
from core.jobs.model import NotificationJob, PendingDelivery
from core.jobs.service import log_scheduled
from core.jobs.slots import DeliverySlots
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
        max_concurrent_per_host: int | None = None,
        claim_timeout: timedelta = timedelta(seconds=60),
    ) -> None:
        self._jobs = jobs
        self._attempts = attempts
        self._slots = DeliverySlots(
            total=max_concurrent_deliveries,
            per_host=max_concurrent_per_host or max_concurrent_deliveries,
        )
        self._grace = shutdown_grace_seconds
        self._claim_timeout = claim_timeout
        self._tasks: dict[asyncio.Task[None], PendingDelivery] = {}
        # Deliveries of each job still running here; at zero the job is finished.
        self._running: dict[str, int] = {}
        self._closed = False

    async def schedule(self, job: NotificationJob) -> str:
        if self._closed:
            raise JobServiceClosedError("the job service is shutting down")

        created = await self._jobs.create(
            job,
            max_attempts=self._attempts.policy.max_attempts,
            resumable=True,
            claim_timeout=self._claim_timeout,
        )
        if not created:
            log_event(logger, "job.exists", job_id=job.id, backend=self.name)
            return job.id

        budget = self._attempts.policy.max_attempts
        for request in job.requests:
            self._start(
                PendingDelivery(
                    request=request, attempts=0, attempt_budget=budget, next_attempt_at=None
                ),
                fresh=True,
            )
        log_scheduled(logger, job, self.name)

        return job.id

    async def resume(self) -> int:
        """Restart every unfinished delivery recorded in storage; returns how many."""
        resumed = 0
        for job_id in await self._jobs.active_jobs():
            if job_id in self._running:
                continue
            pending = await self._jobs.unfinished(job_id)
            if pending is None:
                continue  # still being created; the outbox sweep completes it
            if not pending:
                await self._jobs.finish(job_id)
                continue
            for delivery in pending:
                self._start(delivery)
            resumed += len(pending)
        if resumed:
            log_event(logger, "jobs.resumed", deliveries=resumed)

        return resumed

    async def redeliver(self, job_id: str) -> int:
        """Send the job's failed deliveries again: same event id, new attempts."""
        if self._closed:
            raise JobServiceClosedError("the job service is shutting down")

        reopened = await self._jobs.reopen_failed(job_id, self._attempts.policy.max_attempts)
        for delivery in reopened:
            self._start(delivery)
        log_event(logger, "job.redelivering", job_id=job_id, deliveries=len(reopened))

        return len(reopened)

    async def runtime_status(self, job_id: str) -> str | None:
        """Nothing beyond the job's records: they are the whole truth here."""
        return None

    def _start(self, delivery: PendingDelivery, *, fresh: bool = False) -> None:
        """Run a delivery as a task of its own; `fresh` when its job was scheduled just now."""
        request = delivery.request
        task = asyncio.get_running_loop().create_task(
            self._deliver(delivery, recheck=not fresh),
            name=f"deliver:{request.job_id}:{request.target.webhook_id}",
        )
        self._tasks[task] = delivery
        self._running[request.job_id] = self._running.get(request.job_id, 0) + 1
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        delivery = self._tasks.pop(task)
        if task.cancelled():
            return  # shutdown: the job stays active in storage and resumes later
        if (error := task.exception()) is not None:
            # Storage trouble while recording; the delivery stays as last recorded
            # and is resumed on the next start.
            log_event(
                logger,
                "job.delivery_crashed",
                level=logging.ERROR,
                task=task.get_name(),
                error=type(error).__name__,
            )
            return

        job_id = delivery.request.job_id
        self._running[job_id] -= 1
        if self._running[job_id] == 0:
            del self._running[job_id]
            finisher = asyncio.get_running_loop().create_task(self._jobs.finish(job_id))
            self._tasks[finisher] = delivery
            finisher.add_done_callback(lambda done: self._tasks.pop(done, None))

    async def _deliver(self, delivery: PendingDelivery, *, recheck: bool) -> None:
        if delivery.next_attempt_at is not None:
            await asyncio.sleep(
                max(0.0, (delivery.next_attempt_at - datetime.now(UTC)).total_seconds())
            )

        attempt = delivery.attempts + 1
        while True:
            async with self._slots.slot(delivery.request.target.url):
                result = await self._attempts.run(
                    delivery.request,
                    attempt,
                    last=attempt >= delivery.attempt_budget,
                    # A resumed delivery's webhook may have changed while it waited.
                    recheck=recheck or attempt > 1,
                )
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
            unfinished_jobs=",".join(sorted({d.request.job_id for d in unfinished.values()})),
        )
