"""The orchestrator code shared by the job orchestrator and the chunk orchestrator.

An instance whose webhooks outnumber a chunk (core.orchestration.chunk_size)
fans out to chunk orchestrations and collects their outcomes. A smaller one
delivers: one `send_webhook_activity` per webhook with the durable retry
policy; then, while some deliveries still fail with retryable errors, it waits
on a durable timer for the next round of the retry tail and continues as new,
so every round starts a fresh history. Final verdicts that no activity could
record are written by `settle_deliveries_activity` before the instance ends.

This code is replayed on every episode: time comes from the context, logs are
written only when not replaying, and what crosses the durable boundary is
plain JSON.
"""

import contextlib
import logging
from collections.abc import Generator, Sequence
from typing import Any

import azure.durable_functions as df
from pydantic import ValidationError

from core.logs import log_event
from core.models import DeliveryStatus
from core.orchestration import (
    ACTIVITY_NAME,
    CHUNK_ORCHESTRATOR_NAME,
    SETTLE_ACTIVITY_NAME,
    SETTLE_ATTEMPTS,
    DeliveryOutcome,
    NotificationInput,
    NotificationResult,
    SettleRequest,
    chunk_failure,
    chunk_size,
    is_final_round,
    next_round,
    plan_children,
    progress,
    round_starts_at,
    send_requests,
    settle,
    summarize,
    task_failure,
    to_wire,
)

logger = logging.getLogger(__name__)

Context = Any  # azure.durable_functions.DurableOrchestrationContext; the SDK has no type hints
Flow = Generator[Any, Any, Any]


def notification_flow(context: Context) -> Flow:
    """Deliver this instance's share of a job; returns a NotificationResult as JSON."""
    job = NotificationInput.model_validate(context.get_input(expected_type=dict))
    if job.started_at is None:
        job = job.model_copy(update={"started_at": context.current_utc_datetime})
    children = plan_children(job.webhook_ids, chunk=chunk_size(job.max_attempts))
    _log(context, "orchestration.started", job, webhooks=len(job.webhook_ids), chunks=len(children))

    if children:
        outcomes, unrecorded = yield from _fan_out(context, job, children)
        yield from _settle(context, job, unrecorded)
        return _finish(context, job, outcomes)

    outcomes, unrecorded = yield from _deliver_round(context, job)
    following = next_round(job, outcomes)
    if following is None:
        yield from _settle(context, job, unrecorded)
        return _finish(context, job, [*job.settled, *outcomes])

    due = round_starts_at(following)
    _log(context, "orchestration.round_scheduled", following, retrying=len(following.webhook_ids))
    yield context.create_timer(due)
    context.continue_as_new(to_wire(following))
    return None


def _deliver_round(context: Context, job: NotificationInput) -> Flow:
    """One round: an activity with the durable retry policy per webhook, all awaited.

    Returns every outcome, and apart those that no activity recorded (it failed).
    """
    total = len(job.settled) + len(job.webhook_ids)
    context.set_custom_status(to_wire(progress(job, job.settled, total)))
    options = df.RetryOptions(job.first_retry_interval_ms, job.max_attempts)
    requests = send_requests(job)
    tasks = [
        context.call_activity_with_retry(
            ACTIVITY_NAME, options, to_wire(request), expected_type=dict
        )
        for request in requests
    ]

    yield from _wait_for_all(context, tasks)

    outcomes, unrecorded = [], []
    for request, task in zip(requests, tasks, strict=True):
        outcome, recorded = _activity_outcome(job, request.webhook_id, task)
        outcomes.append(outcome)
        if not recorded:
            unrecorded.append(outcome)
    context.set_custom_status(to_wire(progress(job, [*job.settled, *outcomes], total)))
    return outcomes, unrecorded


def _wait_for_all(context: Context, tasks: Sequence[Any]) -> Flow:
    """Wait until every task has finished, failed ones included.

    The SDK's task_all gives up at the first failure while the host's
    counterpart waits for all; waiting again for the unfinished ones keeps the
    two in step, so whatever is scheduled next is numbered alike on both sides.
    """
    unfinished = list(tasks)
    while unfinished:
        with contextlib.suppress(Exception):  # a failure is read from its task afterwards
            yield context.task_all(unfinished)
        unfinished = [task for task in unfinished if not task.is_completed]


def _activity_outcome(
    job: NotificationInput, webhook_id: str, task: Any
) -> tuple[DeliveryOutcome, bool]:
    """The delivery's outcome, and whether the activity recorded it."""
    if isinstance(task.result, Exception):
        return task_failure(job, webhook_id, str(task.result)), False
    try:
        outcome = DeliveryOutcome.model_validate(task.result)
    except ValidationError:
        return task_failure(job, webhook_id, "the activity returned something unexpected"), False

    return settle(outcome, final_round=is_final_round(job)), True


def _fan_out(context: Context, job: NotificationInput, children: list[list[str]]) -> Flow:
    """One chunk orchestration per share; each outcome counted as its chunk returns.

    Waiting for one child at a time is safe only because nothing is scheduled
    after the fan-out: the host replays a WhenAny as done at its first child.
    """
    shares: dict[Any, list[str]] = {}
    for index, webhook_ids in enumerate(children):
        # Each child carries the attempt counts of its own share only.
        attempts_made = {w: job.attempts_made[w] for w in webhook_ids if w in job.attempts_made}
        share = job.model_copy(update={"webhook_ids": webhook_ids, "attempts_made": attempts_made})
        task = context.call_sub_orchestrator(
            CHUNK_ORCHESTRATOR_NAME,
            to_wire(share),
            f"{context.instance_id}:{index}",
            expected_type=dict,
        )
        shares[task] = webhook_ids
    outcomes: list[DeliveryOutcome] = []
    status = progress(job, outcomes, len(job.webhook_ids))
    context.set_custom_status(to_wire(status))

    pending = list(shares)
    unrecorded: list[DeliveryOutcome] = []
    while pending:
        done = yield context.task_any(pending)
        pending.remove(done)
        returned, recorded = _chunk_outcomes(done, shares[done])
        outcomes.extend(returned)
        if not recorded:
            unrecorded.extend(returned)
        status = status.counting(returned)
        context.set_custom_status(to_wire(status))

    return outcomes, unrecorded


def _chunk_outcomes(task: Any, webhook_ids: list[str]) -> tuple[list[DeliveryOutcome], bool]:
    """A chunk's outcomes, and whether its deliveries recorded them (it did not fail)."""
    if isinstance(task.result, Exception):
        return chunk_failure(webhook_ids, str(task.result)), False
    try:
        return NotificationResult.model_validate(task.result).outcomes, True
    except ValidationError:
        unexpected = "the chunk orchestration returned something unexpected"
        return chunk_failure(webhook_ids, unexpected), False


def _settle(context: Context, job: NotificationInput, unrecorded: list[DeliveryOutcome]) -> Flow:
    """Have the final verdicts that no delivery activity recorded written to the job.

    Without it, a delivery whose activity failed to the end would read pending
    or retrying for good, and its job would never complete. Should settling fail
    too, the orchestration still completes with every outcome in its output.
    """
    failed = [outcome for outcome in unrecorded if outcome.status is DeliveryStatus.FAILED]
    if not failed:
        return
    options = df.RetryOptions(job.first_retry_interval_ms, SETTLE_ATTEMPTS)
    request = SettleRequest(job_id=job.job_id, outcomes=failed)
    with contextlib.suppress(Exception):  # logged by the host as the activity's failure
        yield context.call_activity_with_retry(SETTLE_ACTIVITY_NAME, options, to_wire(request))


def _finish(context: Context, job: NotificationInput, outcomes: list[DeliveryOutcome]) -> Any:
    result = summarize(job.job_id, outcomes)
    context.set_custom_status(to_wire(progress(job, outcomes, len(outcomes))))
    _log(context, "orchestration.completed", job, delivered=result.delivered, failed=result.failed)

    return to_wire(result)


def _log(context: Context, event: str, job: NotificationInput, **fields: Any) -> None:
    """Log once per orchestration step: replays repeat the code, not the log line."""
    if context.is_replaying:
        return
    log_event(
        logger,
        event,
        job_id=job.job_id,
        instance_id=context.instance_id,
        round=job.round,
        **fields,
    )
