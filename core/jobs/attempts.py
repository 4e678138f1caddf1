"""One delivery attempt, judged and recorded: the step both job services repeat."""

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import tenacity

from core.delivery import AttemptOutcome, DeliveryRequest, DeliveryTarget, WebhookSender
from core.errors import StorageUnavailableError
from core.health import EndpointHealth
from core.logs import log_event, safe_url
from core.models import DeliveryStatus
from core.retry import RetryPolicy, Verdict
from core.storage import JobsRepository

logger = logging.getLogger(__name__)

# The error kind of an attempt withheld because its webhook no longer takes deliveries.
WEBHOOK_INACTIVE = "webhook_inactive"
# The longest wait between tries to record an attempt while storage is down.
RECORD_WAIT_MAX_SECONDS = 15.0


@dataclass(frozen=True)
class AttemptResult:
    outcome: AttemptOutcome
    status: DeliveryStatus
    # Seconds until the next attempt; None once the delivery is final.
    retry_in: float | None


class DeliveryAttempts:
    """Sends an attempt with the shared sender, applies the policy, records it."""

    def __init__(
        self,
        *,
        sender: WebhookSender,
        jobs: JobsRepository,
        policy: RetryPolicy,
        health: EndpointHealth | None = None,
        record_patience: float = 0.0,
    ) -> None:
        """`record_patience`: seconds to keep trying to record an attempt while storage fails."""
        self._sender = sender
        self._jobs = jobs
        self._health = health
        self._record_patience = record_patience
        self.policy = policy

    async def run(
        self,
        request: DeliveryRequest,
        attempt: int,
        *,
        last: bool | None = None,
        retry_in: float | None = None,
        recheck: bool | None = None,
    ) -> AttemptResult:
        """Make attempt number `attempt`.

        `last` overrides the policy's attempt count, and `retry_in` its backoff,
        for a caller whose own scheduler decides when to retry (durable).
        `recheck` (by default: for every attempt after the first) reads the
        webhook again before sending; a first attempt made at once sends what
        the notifier has just read, but one picked up later from storage may not.
        """
        withheld = False
        if attempt > 1 if recheck is None else recheck:
            target = await self._current_target(request)
            withheld = target is None
            request = request if target is None else replace(request, target=target)
        outcome = (
            _withheld(attempt) if withheld else await self._sender.send(request, attempt=attempt)
        )
        verdict = self.policy.verdict(outcome)
        is_last = attempt >= self.policy.max_attempts if last is None else last

        if verdict is Verdict.DELIVERED:
            result = AttemptResult(outcome, DeliveryStatus.DELIVERED, None)
        elif verdict is Verdict.FAIL or is_last:
            result = AttemptResult(outcome, DeliveryStatus.FAILED, None)
        else:
            delay = (
                self.policy.delay_after(attempt, outcome.retry_after)
                if retry_in is None
                else retry_in
            )
            result = AttemptResult(outcome, DeliveryStatus.RETRYING, delay)

        next_at = (
            outcome.at + timedelta(seconds=result.retry_in) if result.retry_in is not None else None
        )
        # Health first: once a delivery reads as final, its webhook's health
        # already counts it (a 410 has disabled the webhook, say).
        if result.status.is_final and not withheld and self._health is not None:
            await self._health.record(request, outcome)
        await self._record(request, result, next_at)
        _log(request, result, next_at)

        return result

    async def _record(
        self, request: DeliveryRequest, result: AttemptResult, next_at: datetime | None
    ) -> None:
        """Record the attempt, waiting out a storage outage for up to `record_patience`.

        The receiver has its answer already; giving up here would leave the
        delivery as last recorded and send it again when it is picked up.
        """
        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception_type(StorageUnavailableError),
            wait=tenacity.wait_exponential(multiplier=0.5, max=RECORD_WAIT_MAX_SECONDS),
            stop=tenacity.stop_after_delay(self._record_patience),
            before_sleep=lambda state: _log_unrecorded(request, state),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self._jobs.record_attempt(request, result.outcome, result.status, next_at)

    async def _current_target(self, request: DeliveryRequest) -> DeliveryTarget | None:
        if self._health is None:
            return request.target
        return await self._health.current_target(request)


def _log_unrecorded(request: DeliveryRequest, state: tenacity.RetryCallState) -> None:
    log_event(
        logger,
        "webhook.attempt_not_recorded",
        level=logging.WARNING,
        job_id=request.job_id,
        webhook_id=request.target.webhook_id,
        tries=state.attempt_number,
        retry_in_s=round(state.upcoming_sleep, 3),
    )


def _withheld(attempt: int) -> AttemptOutcome:
    """An attempt that was not sent because its webhook is disabled or deleted."""
    return AttemptOutcome(
        attempt=attempt,
        at=datetime.now(UTC),
        duration_ms=0,
        error_kind=WEBHOOK_INACTIVE,
        error="the webhook was disabled or deleted; nothing was sent",
    )


def _log(request: DeliveryRequest, result: AttemptResult, next_at: datetime | None) -> None:
    outcome = result.outcome
    fields: dict[str, Any] = {
        "job_id": request.job_id,
        "event_id": request.event_id,
        "webhook_id": request.target.webhook_id,
        "url": safe_url(request.target.url),
        "attempt": outcome.attempt,
        "status_code": outcome.status_code,
        "duration_ms": outcome.duration_ms,
    }
    if result.status is DeliveryStatus.DELIVERED:
        log_event(logger, "webhook.delivered", **fields)
    elif result.status is DeliveryStatus.RETRYING:
        log_event(
            logger,
            "webhook.attempt_failed",
            level=logging.WARNING,
            **fields,
            error_kind=outcome.error_kind,
            error=outcome.error,
            retry_in_s=round(result.retry_in or 0, 3),
        )
    else:
        log_event(
            logger,
            "webhook.delivery_failed",
            level=logging.WARNING,
            **fields,
            error_kind=outcome.error_kind,
            error=outcome.error,
        )
