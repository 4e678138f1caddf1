"""The shape of the webhook notification orchestration, apart from the Durable Functions SDK.

Everything here is pure and deterministic, because the orchestrator replays it
on every episode and must reach the same decisions every time: how a job is
split so that no instance's history outgrows HISTORY_BUDGET, when the rounds of
the retry tail start, and how delivery outcomes add up. Inputs and outputs
cross the durable boundary as the JSON of the models below.
"""

import math
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

from pydantic import Field

from core.models import CamelModel, DeliveryStatus

ORCHESTRATOR_NAME = "webhook_notification_orchestrator"
CHUNK_ORCHESTRATOR_NAME = "webhook_notification_chunk_orchestrator"
ACTIVITY_NAME = "send_webhook_activity"
SETTLE_ACTIVITY_NAME = "settle_deliveries_activity"
# Tries of the settling activity; within the events a round's tail timer would take.
SETTLE_ATTEMPTS = 2

# The most history events one orchestration instance may collect.
HISTORY_BUDGET = 1_000
# Events of an instance that are not about a delivery: start, the tail timer,
# continue-as-new or completion, and the episodes around them, with room to spare.
FIXED_EVENTS = 20
MAX_CHUNK = 100
# A fan-out instance adds at most four events per child (created, completed,
# and an episode of its own around the completion): 200 children stay below 820.
MAX_FAN_OUT = 200
# Waits between the rounds of the retry tail; the last one repeats until the
# retry window is used up.
TAIL_DELAYS_SECONDS = (60.0, 600.0, 3_600.0, 3 * 3_600.0, 6 * 3_600.0, 12 * 3_600.0)
MAX_ERROR_TEXT = 300


class DeliveryOutcome(CamelModel):
    """Where one webhook's delivery stands: final, or `retrying` until the next round."""

    webhook_id: str
    status: DeliveryStatus
    attempts: int = Field(ge=0)
    status_code: int | None = None
    error: str | None = None


class NotificationInput(CamelModel):
    """What one orchestration instance delivers: a job, a chunk of one, or a later tail round."""

    job_id: str
    webhook_ids: list[str]
    max_attempts: int = Field(ge=1)
    first_retry_interval_ms: int = Field(gt=0)
    retry_window_seconds: float = Field(gt=0)
    round: int = Field(default=0, ge=0)
    started_at: datetime | None = None
    # Attempts recorded so far per webhook still to send; absent means none.
    attempts_made: dict[str, int] = Field(default_factory=dict)
    # Outcomes that became final in earlier rounds of this instance.
    settled: list[DeliveryOutcome] = Field(default_factory=list)


class SendRequest(CamelModel):
    """The activity's input: one webhook of one job, and the attempt that ends this round."""

    job_id: str
    webhook_id: str
    round: int = Field(ge=0)
    last_attempt: int = Field(ge=1)
    final_round: bool
    # When the orchestration tries again, for the job's record: the durable retry
    # interval within the round, and the next round's start after its last attempt.
    retry_interval_ms: int | None = Field(default=None, gt=0)
    next_round_at: datetime | None = None


class SettleRequest(CamelModel):
    """The settling activity's input: final outcomes that no delivery activity recorded."""

    job_id: str
    outcomes: list[DeliveryOutcome]


class Progress(CamelModel):
    """The orchestration's custom status."""

    round: int
    delivered: int
    failed: int
    pending: int

    def counting(self, outcomes: Sequence["DeliveryOutcome"]) -> "Progress":
        """This progress with `outcomes`, pending until now, counted in."""
        delivered = sum(outcome.status is DeliveryStatus.DELIVERED for outcome in outcomes)
        failed = sum(outcome.status is DeliveryStatus.FAILED for outcome in outcomes)

        return self.model_copy(
            update={
                "delivered": self.delivered + delivered,
                "failed": self.failed + failed,
                "pending": self.pending - delivered - failed,
            }
        )


class NotificationResult(CamelModel):
    """An instance's output: every delivery's outcome, sorted by webhook id."""

    job_id: str
    delivered: int
    failed: int
    outcomes: list[DeliveryOutcome]


def events_per_delivery(max_attempts: int) -> int:
    """History events one webhook may add to its instance in one round, at worst.

    Each attempt is a TaskScheduled and its result, each failure a retry timer
    (created and fired; the SDK waits for one more timer after the last
    failure), and each result or timer may arrive in an episode of its own,
    which adds an OrchestratorStarted and an OrchestratorCompleted.
    """
    return 8 * max_attempts


def chunk_size(max_attempts: int) -> int:
    """How many webhooks one instance delivers without outgrowing HISTORY_BUDGET."""
    fitting = (HISTORY_BUDGET - FIXED_EVENTS) // events_per_delivery(max_attempts)
    return max(1, min(MAX_CHUNK, fitting))


def plan_children(
    webhook_ids: Sequence[str], *, chunk: int, fan_out: int = MAX_FAN_OUT
) -> list[list[str]]:
    """The shares of the child instances, or none when one instance can send them all.

    Each child takes at most `chunk * fan_out ** k` webhooks for the smallest k
    that keeps the number of children within `fan_out`; children larger than a
    chunk split again, so the tree grows a level per factor of `fan_out`.
    """
    total = len(webhook_ids)
    if total <= chunk:
        return []
    capacity = chunk
    while capacity * fan_out < total:
        capacity *= fan_out

    return list(_even_parts(webhook_ids, math.ceil(total / capacity)))


def _even_parts(items: Sequence[str], count: int) -> Iterator[list[str]]:
    """`items` cut in order into `count` parts whose sizes differ by at most one."""
    base, extra = divmod(len(items), count)
    start = 0
    for index in range(count):
        size = base + (1 if index < extra else 0)
        yield list(items[start : start + size])
        start += size


def round_offsets(window_seconds: float) -> list[float]:
    """Seconds from the job's start to each round: 0, then the tail within the window."""
    offsets = [0.0]
    while True:
        delay = TAIL_DELAYS_SECONDS[min(len(offsets) - 1, len(TAIL_DELAYS_SECONDS) - 1)]
        following = offsets[-1] + delay
        if following > window_seconds:
            return offsets
        offsets.append(following)


def is_final_round(job: NotificationInput) -> bool:
    return job.round >= len(round_offsets(job.retry_window_seconds)) - 1


def round_starts_at(job: NotificationInput) -> datetime:
    """When round `job.round` is due; a round that is late starts at once."""
    if job.started_at is None:
        raise ValueError("a job's rounds are timed from its start")

    return job.started_at + timedelta(seconds=round_offsets(job.retry_window_seconds)[job.round])


def send_requests(job: NotificationInput) -> list[SendRequest]:
    """One activity input per webhook still to send in this round."""
    final = is_final_round(job)
    next_round_at = None
    if not final and job.started_at is not None:
        offset = round_offsets(job.retry_window_seconds)[job.round + 1]
        next_round_at = job.started_at + timedelta(seconds=offset)

    return [
        SendRequest(
            job_id=job.job_id,
            webhook_id=webhook_id,
            round=job.round,
            last_attempt=job.attempts_made.get(webhook_id, 0) + job.max_attempts,
            final_round=final,
            retry_interval_ms=job.first_retry_interval_ms,
            next_round_at=next_round_at,
        )
        for webhook_id in job.webhook_ids
    ]


def settle(outcome: DeliveryOutcome, *, final_round: bool) -> DeliveryOutcome:
    """In the final round nothing is left to retry: `retrying` becomes `failed`."""
    if final_round and outcome.status is DeliveryStatus.RETRYING:
        return outcome.model_copy(update={"status": DeliveryStatus.FAILED})

    return outcome


def task_failure(job: NotificationInput, webhook_id: str, error: str) -> DeliveryOutcome:
    """The outcome of an activity that failed after all its retries (storage or host trouble).

    Nothing says the receiver is at fault, so the tail tries again while it can.
    """
    outcome = DeliveryOutcome(
        webhook_id=webhook_id,
        status=DeliveryStatus.RETRYING,
        attempts=job.attempts_made.get(webhook_id, 0),
        error=short_error(error),
    )
    return settle(outcome, final_round=is_final_round(job))


def chunk_failure(webhook_ids: Sequence[str], error: str) -> list[DeliveryOutcome]:
    """Outcomes for the webhooks of a child instance that failed instead of returning."""
    text = short_error(error)
    return [
        DeliveryOutcome(webhook_id=webhook_id, status=DeliveryStatus.FAILED, attempts=0, error=text)
        for webhook_id in webhook_ids
    ]


def short_error(error: str) -> str:
    lines = error.strip().splitlines()
    return (lines[0].strip() if lines else "failed")[:MAX_ERROR_TEXT]


def next_round(
    job: NotificationInput, outcomes: Sequence[DeliveryOutcome]
) -> NotificationInput | None:
    """The input of the next tail round, or None when every delivery is final."""
    retrying = [outcome for outcome in outcomes if outcome.status is DeliveryStatus.RETRYING]
    if not retrying or is_final_round(job):
        return None
    final = [outcome for outcome in outcomes if outcome.status.is_final]

    return job.model_copy(
        update={
            "webhook_ids": [outcome.webhook_id for outcome in retrying],
            "round": job.round + 1,
            "attempts_made": {outcome.webhook_id: outcome.attempts for outcome in retrying},
            "settled": [*job.settled, *final],
        }
    )


def progress(job: NotificationInput, outcomes: Sequence[DeliveryOutcome], total: int) -> Progress:
    """Counts over this instance's `total` webhooks; anything not final is pending."""
    return Progress(round=job.round, delivered=0, failed=0, pending=total).counting(outcomes)


def summarize(job_id: str, outcomes: Sequence[DeliveryOutcome]) -> NotificationResult:
    ordered = sorted(outcomes, key=lambda outcome: outcome.webhook_id)
    return NotificationResult(
        job_id=job_id,
        delivered=sum(outcome.status is DeliveryStatus.DELIVERED for outcome in ordered),
        failed=sum(outcome.status is DeliveryStatus.FAILED for outcome in ordered),
        outcomes=ordered,
    )


def to_wire(model: CamelModel) -> dict[str, object]:
    """The plain JSON dict that crosses the durable boundary."""
    return model.model_dump(mode="json", by_alias=True)
