"""send_webhook_activity's work against Azurite and a real receiver, alone and orchestrated."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook as StandardWebhook

from blueprints import durable
from core.delivery import AttemptOutcome, WebhookSender
from core.jobs.attempts import DeliveryAttempts
from core.jobs.durable import orchestration_input
from core.jobs.durable_activity import RetryableDeliveryError, send_webhook, settle_deliveries
from core.models import DeliveryStatus, JobState
from core.orchestration import (
    ORCHESTRATOR_NAME,
    DeliveryOutcome,
    SendRequest,
    SettleRequest,
    to_wire,
)
from core.retry import RetryPolicy
from core.settings import Settings
from core.storage import Storage
from core.url_policy import UrlPolicy
from tests.durable_host import (
    Answer,
    Completed,
    Failed,
    Handle,
    Instance,
    Work,
    orchestrator_handles,
)
from tests.support.jobs import notification_job
from tests.support.receiver import Receiver

POLICY = RetryPolicy(max_attempts=3, first_interval=0.05, max_retry_after=0.2)
# The durable retry interval, far from the policy's, so the record shows whose it is.
RETRY_INTERVAL_MS = 600_000


@pytest.fixture
async def attempts(storage: Storage) -> AsyncIterator[DeliveryAttempts]:
    sender = WebhookSender(timeout_seconds=1.5, url_policy=UrlPolicy(allow_private_networks=True))
    yield DeliveryAttempts(sender=sender, jobs=storage.jobs, policy=POLICY)
    await sender.aclose()


async def _send(
    storage: Storage,
    attempts: DeliveryAttempts,
    job_id: str,
    *,
    webhook_id: str = "wh0",
    last_attempt: int = 3,
    final_round: bool = False,
    next_round_at: datetime | None = None,
) -> DeliveryOutcome:
    request = SendRequest(
        job_id=job_id,
        webhook_id=webhook_id,
        round=0,
        last_attempt=last_attempt,
        final_round=final_round,
        retry_interval_ms=RETRY_INTERVAL_MS,
        next_round_at=next_round_at,
    )
    return await send_webhook(request, jobs=storage.jobs, attempts=attempts)


async def test_a_delivered_attempt_is_returned_and_recorded(
    storage: Storage, attempts: DeliveryAttempts, receiver: Receiver, tag: str
) -> None:
    """200: delivered at attempt 1, recorded, signed as in-process deliveries are."""
    job = notification_job(receiver.url(f"ok/{tag}"))
    await storage.jobs.create(job)

    outcome = await _send(storage, attempts, job.id)

    assert outcome == DeliveryOutcome(
        webhook_id="wh0", status=DeliveryStatus.DELIVERED, attempts=1, status_code=200
    )
    view = await storage.jobs.get_view(job.id)
    assert view is not None
    assert view.status is JobState.COMPLETED
    assert [record.status_code for record in view.deliveries[0].history] == [200]
    (received,) = receiver.received(f"ok/{tag}")
    assert received.body == job.payload
    headers = {name.lower(): value for name, value in received.headers.items()}
    assert headers["webhook-id"] == job.event_id
    assert headers["x-webhook-job-id"] == job.id
    StandardWebhook(job.targets[0].secrets[0]).verify(received.body, received.headers)


async def test_retryable_failures_raise_until_the_attempt_that_ends_the_round(
    storage: Storage, attempts: DeliveryAttempts, receiver: Receiver, tag: str
) -> None:
    """503 three times: attempts 1 and 2 raise for the durable retry policy; attempt 3 ends
    the round and returns `retrying` for the tail. Each attempt is recorded."""
    job = notification_job(receiver.url(f"status/503/{tag}"))
    await storage.jobs.create(job)

    next_round_at = datetime.now(UTC) + timedelta(hours=1)

    for attempt in (1, 2):
        with pytest.raises(RetryableDeliveryError, match=f"attempt {attempt} failed: HTTP 503"):
            await _send(storage, attempts, job.id, next_round_at=next_round_at)
    within_round = await storage.jobs.get_view(job.id)
    outcome = await _send(storage, attempts, job.id, next_round_at=next_round_at)

    assert outcome.status is DeliveryStatus.RETRYING
    assert outcome.attempts == 3
    # The record tells when the orchestration tries again, not the in-process backoff.
    assert within_round is not None
    next_in_round = within_round.deliveries[0].next_attempt_at
    assert next_in_round is not None
    assert next_in_round - within_round.deliveries[0].history[-1].at == timedelta(minutes=10)
    view = await storage.jobs.get_view(job.id)
    assert view is not None
    assert view.deliveries[0].next_attempt_at is not None
    assert abs(view.deliveries[0].next_attempt_at - next_round_at) < timedelta(seconds=1)
    assert view.deliveries[0].status is DeliveryStatus.RETRYING
    assert [record.attempt for record in view.deliveries[0].history] == [1, 2, 3]
    assert len(receiver.received(f"status/503/{tag}")) == 3


async def test_the_last_attempt_of_the_final_round_fails_the_delivery(
    storage: Storage, attempts: DeliveryAttempts, receiver: Receiver, tag: str
) -> None:
    job = notification_job(receiver.url(f"status/503/{tag}"))
    await storage.jobs.create(job)

    outcome = await _send(storage, attempts, job.id, last_attempt=1, final_round=True)

    assert outcome.status is DeliveryStatus.FAILED
    view = await storage.jobs.get_view(job.id)
    assert view is not None
    assert view.status is JobState.COMPLETED
    assert view.deliveries[0].last_status_code == 503


async def test_a_final_failure_is_returned_not_raised(
    storage: Storage, attempts: DeliveryAttempts, receiver: Receiver, tag: str
) -> None:
    """410 Gone is not worth retrying: failed at attempt 1, whatever the round."""
    job = notification_job(receiver.url(f"status/410/{tag}"))
    await storage.jobs.create(job)

    outcome = await _send(storage, attempts, job.id)

    assert outcome == DeliveryOutcome(
        webhook_id="wh0",
        status=DeliveryStatus.FAILED,
        attempts=1,
        status_code=410,
        error="HTTP 410",
    )


async def test_an_activity_run_again_after_delivering_does_not_send_again(
    storage: Storage, attempts: DeliveryAttempts, receiver: Receiver, tag: str
) -> None:
    """Durable activities run at least once; a repeat finds the delivery final and says so."""
    job = notification_job(receiver.url(f"ok/{tag}"))
    await storage.jobs.create(job)

    first = await _send(storage, attempts, job.id)
    again = await _send(storage, attempts, job.id)

    assert again == first
    assert len(receiver.received(f"ok/{tag}")) == 1


async def test_a_delivery_not_in_storage_yet_is_retried(
    storage: Storage, attempts: DeliveryAttempts
) -> None:
    """A racing hand-over may start the orchestration before the job's rows are written."""
    with pytest.raises(RetryableDeliveryError, match="not in storage"):
        await _send(storage, attempts, "0123456789abcdef0123456789abcdef")


async def test_a_job_orchestrated_to_real_receivers_ends_as_recorded(
    storage: Storage, attempts: DeliveryAttempts, receiver: Receiver, tag: str
) -> None:
    """The orchestrator, replayed episode by episode, with the real activity behind it:
    a receiver that is fine, one that fails twice, one that is gone and one that is down."""
    handles: dict[str, Handle] = orchestrator_handles(durable.bp)
    paths = [f"ok/{tag}", f"fail/2/{tag}", f"status/410/{tag}", f"status/503/{tag}"]
    job = notification_job(*(receiver.url(path) for path in paths))
    await storage.jobs.create(job)
    # Two rounds: now and one minute later (the host's clock, not ours).
    settings = Settings(
        web_jobs_storage=SecretStr("UseDevelopmentStorage=true"),
        max_attempts=3,
        retry_window_hours=0.02,
    )
    payload = orchestration_input(job.id, ["wh0", "wh1", "wh2", "wh3"], settings)

    async def activity(work: Work) -> Answer:
        request = SendRequest.model_validate(work.input)
        try:
            outcome = await send_webhook(request, jobs=storage.jobs, attempts=attempts)
        except RetryableDeliveryError as exc:
            return Failed(
                "Function 'send_webhook_activity' failed with an unhandled exception.", str(exc)
            )
        return Completed(to_wire(outcome))

    instance = Instance(handles, ORCHESTRATOR_NAME, job.id, to_wire(payload))
    output = await instance.run(activity)

    assert [(o["status"], o["attempts"]) for o in output["outcomes"]] == [
        ("delivered", 1),
        ("delivered", 3),
        ("failed", 1),
        ("failed", 6),
    ]
    view = await storage.jobs.get_view(job.id)
    assert view is not None
    assert view.status is JobState.COMPLETED
    assert [(d.status.value, d.attempts) for d in view.deliveries] == [
        (o["status"], o["attempts"]) for o in output["outcomes"]
    ]
    assert [len(receiver.received(path)) for path in paths] == [1, 3, 1, 6]
    event_ids = {
        value
        for path in paths
        for sent in receiver.received(path)
        for name, value in sent.headers.items()
        if name.lower() == "webhook-id"
    }
    assert event_ids == {job.event_id}


async def test_settling_fails_only_deliveries_that_are_not_final_and_completes_the_job(
    storage: Storage, receiver: Receiver, tag: str
) -> None:
    """wh0's activity failed to the end and left it retrying; wh1 was delivered meanwhile.
    Settling both marks wh0 failed with the orchestration's error and leaves wh1 alone."""
    job = notification_job(receiver.url(f"status/503/{tag}"), receiver.url(f"ok/{tag}"))
    await storage.jobs.create(job)
    now = datetime.now(UTC)
    retrying = AttemptOutcome(attempt=2, at=now, duration_ms=3, status_code=503)
    delivered = AttemptOutcome(attempt=1, at=now, duration_ms=3, status_code=200)
    await storage.jobs.record_attempt(job.requests[0], retrying, DeliveryStatus.RETRYING, now)
    await storage.jobs.record_attempt(job.requests[1], delivered, DeliveryStatus.DELIVERED, None)
    error = "Function 'send_webhook_activity' failed with an unhandled exception."
    request = SettleRequest(
        job_id=job.id,
        outcomes=[
            DeliveryOutcome(webhook_id=w, status=DeliveryStatus.FAILED, attempts=0, error=error)
            for w in ("wh0", "wh1")
        ],
    )

    settled = await settle_deliveries(request, jobs=storage.jobs)
    view = await storage.jobs.get_view(job.id)

    assert settled == 1
    assert view is not None
    assert view.status is JobState.COMPLETED
    first, second = view.deliveries
    assert (first.status, first.attempts, first.last_error) == (DeliveryStatus.FAILED, 2, error)
    assert first.next_attempt_at is None
    assert (second.status, second.last_status_code) == (DeliveryStatus.DELIVERED, 200)
