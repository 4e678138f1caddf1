"""The orchestrator code shared by the job orchestrator and the chunk orchestrator.

An instance whose webhooks outnumber a chunk (core.orchestration.chunk_size)
fans out to chunk orchestrations and collects their outcomes. A smaller one
delivers: one `send_webhook_activity` per webhook with the durable retry
policy; then, while some deliveries still fail with retryable errors, it waits
on a durable timer for the next round of the retry tail and continues as new,
so every round starts a fresh history.

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
from core.orchestration import (
    ACTIVITY_NAME,
    CHUNK_ORCHESTRATOR_NAME,
    DeliveryOutcome,
    NotificationInput,
    NotificationResult,
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
        outcomes = yield from _fan_out(context, job, children)
        return _finish(context, job, outcomes)

    outcomes = yield from _deliver_round(context, job)
    following = next_round(job, outcomes)
    if following is None:
        return _finish(context, job, [*job.settled, *outcomes])

    due = round_starts_at(following)
    _log(context, "orchestration.round_scheduled", following, retrying=len(following.webhook_ids))
    yield context.create_timer(due)
    context.continue_as_new(to_wire(following))
    return None


def _deliver_round(context: Context, job: NotificationInput) -> Flow:
    """One round: an activity with the durable retry policy per webhook, all awaited."""
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

    outcomes = [
        _activity_outcome(job, request.webhook_id, task)
        for request, task in zip(requests, tasks, strict=True)
    ]
    context.set_custom_status(to_wire(progress(job, [*job.settled, *outcomes], total)))
    return outcomes


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


def _activity_outcome(job: NotificationInput, webhook_id: str, task: Any) -> DeliveryOutcome:
    if isinstance(task.result, Exception):
        return task_failure(job, webhook_id, str(task.result))
    try:
        outcome = DeliveryOutcome.model_validate(task.result)
    except ValidationError:
        return task_failure(job, webhook_id, "the activity returned something unexpected")

    return settle(outcome, final_round=is_final_round(job))


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
    while pending:
        done = yield context.task_any(pending)
        pending.remove(done)
        returned = _chunk_outcomes(done, shares[done])
        outcomes.extend(returned)
        status = status.counting(returned)
        context.set_custom_status(to_wire(status))

    return outcomes


def _chunk_outcomes(task: Any, webhook_ids: list[str]) -> list[DeliveryOutcome]:
    if isinstance(task.result, Exception):
        return chunk_failure(webhook_ids, str(task.result))
    try:
        return NotificationResult.model_validate(task.result).outcomes
    except ValidationError:
        return chunk_failure(webhook_ids, "the chunk orchestration returned something unexpected")


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
