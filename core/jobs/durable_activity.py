"""What `send_webhook_activity` does: one attempt of one delivery, as the orchestrator asks.

It runs the same DeliveryAttempts step as the in-process service, so the bytes,
headers, signature, timeout, retry verdict and stored record are identical in
both modes. It raises for a failure worth retrying within the round, so the
durable retry policy schedules the next attempt, and returns every other
outcome, so that no delivery ever fails the orchestration's fan-out.

Attempt numbers come from the delivery's stored attempt count: durable retries
re-run the activity with the same input, so only storage knows how many
attempts were made. The orchestrator says which attempt ends the round.
"""

import logging
from datetime import UTC, datetime

from core.errors import DataManagerError
from core.jobs.attempts import DeliveryAttempts
from core.logs import log_event
from core.models import DeliveryStatus
from core.orchestration import DeliveryOutcome, SendRequest, SettleRequest
from core.storage import JobsRepository

logger = logging.getLogger(__name__)


class RetryableDeliveryError(DataManagerError):
    """An attempt failed in a way worth retrying; raised so the durable retry policy applies."""


async def send_webhook(
    request: SendRequest, *, jobs: JobsRepository, attempts: DeliveryAttempts
) -> DeliveryOutcome:
    """Make the next attempt of one delivery; raise RetryableDeliveryError to be retried."""
    state = await jobs.delivery(request.job_id, request.webhook_id)
    if state is None:
        # Only a job still being created by a racing hand-over lacks its rows;
        # the retry policy waits for them, and the tail after it.
        log_event(
            logger,
            "webhook.delivery_missing",
            level=logging.WARNING,
            job_id=request.job_id,
            webhook_id=request.webhook_id,
        )
        raise RetryableDeliveryError("the delivery is not in storage (yet)")
    if state.status.is_final:
        # A re-run of an activity whose result was lost: the receiver has its answer.
        return _outcome(request, state.status, state.attempts, state.status_code, state.error)

    attempt = state.attempts + 1
    ends_round = attempt >= request.last_attempt
    result = await attempts.run(
        state.request,
        attempt,
        last=request.final_round and ends_round,
        retry_in=_orchestrated_wait(request, ends_round),
        # The activity may run long after its job was stored (a retry, a tail round).
        recheck=True,
    )
    sent = result.outcome
    if result.status is DeliveryStatus.RETRYING and not ends_round:
        raise RetryableDeliveryError(f"attempt {attempt} failed: {sent.error or sent.error_kind}")

    return _outcome(request, result.status, attempt, sent.status_code, sent.error)


async def settle_deliveries(request: SettleRequest, *, jobs: JobsRepository) -> int:
    """Record the orchestration's final verdict where no delivery activity could.

    An activity that failed to the end of the last round (storage trouble, say)
    left its row pending or retrying; without this the job would never read
    completed and could never be redelivered.
    """
    errors = {outcome.webhook_id: outcome.error for outcome in request.outcomes}
    settled = await jobs.fail_unfinished(request.job_id, errors)
    log_event(
        logger,
        "job.deliveries_settled",
        level=logging.WARNING,
        job_id=request.job_id,
        deliveries=settled,
    )

    return settled


def _orchestrated_wait(request: SendRequest, ends_round: bool) -> float | None:
    """Seconds until the orchestration tries again after a failure, as its schedule says.

    None (for inputs from before these fields) leaves the estimate to the policy.
    """
    if not ends_round:
        return request.retry_interval_ms / 1000 if request.retry_interval_ms else None
    if request.next_round_at is None:
        return None

    return max(0.0, (request.next_round_at - datetime.now(UTC)).total_seconds())


def _outcome(
    request: SendRequest,
    status: DeliveryStatus,
    attempts: int,
    status_code: int | None,
    error: str | None,
) -> DeliveryOutcome:
    return DeliveryOutcome(
        webhook_id=request.webhook_id,
        status=status,
        attempts=attempts,
        status_code=status_code,
        error=error,
    )
