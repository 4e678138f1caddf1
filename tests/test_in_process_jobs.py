"""The in-process job service against Azurite and a real receiver."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.delivery import WebhookSender
from core.errors import JobServiceClosedError
from core.jobs.attempts import DeliveryAttempts
from core.jobs.in_process import InProcessJobService
from core.models import DeliveryStatus, JobState
from core.retry import RetryPolicy
from core.storage import Storage
from core.url_policy import UrlPolicy
from local_host.azurite import choose_ports, connection_string, start_azurite, stop_azurite
from tests.support.jobs import notification_job
from tests.support.receiver import Receiver

MAX_ATTEMPTS = 3


@pytest.fixture
async def service(storage: Storage) -> AsyncIterator[InProcessJobService]:
    sender = WebhookSender(timeout_seconds=1.0, url_policy=UrlPolicy(allow_private_networks=True))
    policy = RetryPolicy(max_attempts=MAX_ATTEMPTS, first_interval=0.05, max_retry_after=0.2)
    created = InProcessJobService(
        jobs=storage.jobs,
        attempts=DeliveryAttempts(sender=sender, jobs=storage.jobs, policy=policy),
        max_concurrent_deliveries=16,
        shutdown_grace_seconds=0.5,
    )
    yield created
    await created.shutdown()
    await sender.aclose()


async def test_a_receiver_failing_twice_gets_three_attempts_and_one_success(
    service: InProcessJobService, storage: Storage, receiver: Receiver, tag: str
) -> None:
    """500, 500, 200: three attempts recorded, the delivery delivered."""
    job = notification_job(receiver.url(f"fail/2/{tag}"))

    await service.schedule(job)
    await service.wait_idle()
    view = await storage.jobs.get_view(job.id)

    assert view is not None
    assert view.status is JobState.COMPLETED
    (delivery,) = view.deliveries
    assert delivery.status is DeliveryStatus.DELIVERED
    assert delivery.attempts == 3
    assert [record.status_code for record in delivery.history] == [500, 500, 200]
    assert len(receiver.received(f"fail/2/{tag}")) == 3
    assert {r.headers["webhook-id"] for r in receiver.received(f"fail/2/{tag}")} == {job.event_id}


async def test_a_receiver_always_failing_gets_max_attempts_then_failed(
    service: InProcessJobService, storage: Storage, receiver: Receiver, tag: str
) -> None:
    """A 500 every time: exactly MaxAttempts attempts, then failed."""
    job = notification_job(receiver.url(f"status/500/{tag}"))

    await service.schedule(job)
    await service.wait_idle()
    view = await storage.jobs.get_view(job.id)

    assert view is not None
    (delivery,) = view.deliveries
    assert delivery.status is DeliveryStatus.FAILED
    assert delivery.attempts == MAX_ATTEMPTS
    assert delivery.last_status_code == 500
    assert len(receiver.received(f"status/500/{tag}")) == MAX_ATTEMPTS


async def test_a_client_error_is_final_after_one_attempt(
    service: InProcessJobService, storage: Storage, receiver: Receiver, tag: str
) -> None:
    """A 400 is not retried."""
    job = notification_job(receiver.url(f"status/400/{tag}"))

    await service.schedule(job)
    await service.wait_idle()
    view = await storage.jobs.get_view(job.id)

    assert view is not None
    (delivery,) = view.deliveries
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        DeliveryStatus.FAILED,
        1,
        400,
    )


async def test_retry_after_is_honoured_before_the_next_attempt(
    service: InProcessJobService, storage: Storage, receiver: Receiver, tag: str
) -> None:
    """429 with Retry-After waits (up to the cap) and then succeeds."""
    job = notification_job(receiver.url(f"retry-after/1/{tag}"))

    await service.schedule(job)
    await service.wait_idle()
    first, second = receiver.received(f"retry-after/1/{tag}")

    assert second.at - first.at >= 0.2  # the cap in this service, above the 0.05 s backoff
    view = await storage.jobs.get_view(job.id)
    assert view is not None
    assert view.deliveries[0].status is DeliveryStatus.DELIVERED


async def test_a_failing_and_a_hanging_receiver_do_not_delay_a_healthy_one(
    service: InProcessJobService, storage: Storage, receiver: Receiver, tag: str
) -> None:
    """The healthy webhook is delivered at once; the job lists all three outcomes."""
    job = notification_job(
        receiver.url(f"status/500/{tag}"), receiver.url(f"hang/{tag}"), receiver.url(f"ok/{tag}")
    )
    started = time.monotonic()

    await service.schedule(job)
    (healthy,) = await asyncio.to_thread(receiver.wait_for, f"ok/{tag}")
    await service.wait_idle()
    view = await storage.jobs.get_view(job.id)

    assert healthy.at - started < 0.5  # the hanging one takes 1 s per attempt
    assert view is not None
    assert view.status is JobState.COMPLETED
    by_url = {delivery.url: delivery for delivery in view.deliveries}
    assert by_url[receiver.url(f"ok/{tag}")].status is DeliveryStatus.DELIVERED
    assert by_url[receiver.url(f"status/500/{tag}")].status is DeliveryStatus.FAILED
    hanging = by_url[receiver.url(f"hang/{tag}")]
    assert (hanging.status, hanging.attempts) == (DeliveryStatus.FAILED, MAX_ATTEMPTS)
    assert {record.error_kind for record in hanging.history} == {"timeout"}


async def test_a_host_that_hangs_holds_only_its_own_share_of_the_slots(
    storage: Storage, receiver: Receiver, tag: str
) -> None:
    """Six deliveries hang at one host, with four slots in all and two per host: a healthy
    host's delivery still goes out while the first hanging attempts are waiting."""
    other_host = Receiver().start()
    sender = WebhookSender(timeout_seconds=1.0, url_policy=UrlPolicy(allow_private_networks=True))
    policy = RetryPolicy(max_attempts=1, first_interval=0.05, max_retry_after=0.2)
    service = InProcessJobService(
        jobs=storage.jobs,
        attempts=DeliveryAttempts(sender=sender, jobs=storage.jobs, policy=policy),
        max_concurrent_deliveries=4,
        max_concurrent_per_host=2,
        shutdown_grace_seconds=0.5,
    )
    hanging = [receiver.url(f"hang/{tag}/{index}") for index in range(6)]
    job = notification_job(*hanging, other_host.url(f"ok/{tag}"))
    try:
        await service.schedule(job)
        (healthy,) = await asyncio.to_thread(other_host.wait_for, f"ok/{tag}")
        # The receiver keeps monotonic times; the job's records are wall-clock.
        healthy_at = time.time() - (time.monotonic() - healthy.at)
        await service.wait_idle()
        view = await storage.jobs.get_view(job.id)
    finally:
        await service.shutdown()
        await sender.aclose()
        other_host.stop()

    assert view is not None
    cut_off = [
        record.at.timestamp() + record.duration_ms / 1000
        for delivery in view.deliveries
        if delivery.url in hanging
        for record in delivery.history
    ]
    assert len(cut_off) == 6
    assert healthy_at < min(cut_off)


async def test_shutdown_stops_taking_work_and_cuts_off_what_hangs(
    service: InProcessJobService, storage: Storage, receiver: Receiver, tag: str
) -> None:
    """After the grace period unfinished deliveries are cancelled, not awaited forever."""
    job = notification_job(receiver.url(f"hang/{tag}"))
    await service.schedule(job)
    started = time.monotonic()

    await service.shutdown()

    assert time.monotonic() - started < 1.0
    with pytest.raises(JobServiceClosedError):
        await service.schedule(notification_job(receiver.url(f"ok/{tag}")))
    view = await storage.jobs.get_view(job.id)
    assert view is not None
    assert view.status is JobState.PENDING


async def test_an_outage_of_storage_while_a_receiver_answers_is_waited_out(
    receiver: Receiver, tag: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Storage goes while the attempt is out; once it is back the attempt is recorded, once."""
    caplog.set_level(logging.WARNING, logger="core.jobs.attempts")
    ports, data = choose_ports(prefer_defaults=False), tmp_path / "azurite"
    first = start_azurite(data, ports)
    storage = await Storage.connect(connection_string(ports))
    sender = WebhookSender(timeout_seconds=5, url_policy=UrlPolicy(allow_private_networks=True))
    policy = RetryPolicy(max_attempts=MAX_ATTEMPTS, first_interval=0.05, max_retry_after=0.2)
    attempts = DeliveryAttempts(sender=sender, jobs=storage.jobs, policy=policy, record_patience=60)
    service = InProcessJobService(
        jobs=storage.jobs, attempts=attempts, max_concurrent_deliveries=4, shutdown_grace_seconds=1
    )
    job = notification_job(receiver.url(f"slow/1500/{tag}"))
    second = None
    try:
        await service.schedule(job)
        await asyncio.to_thread(stop_azurite, first, 3.0)
        await asyncio.to_thread(receiver.wait_for, f"slow/1500/{tag}")
        for _ in range(300):  # until recording the answer has failed at least once
            if "webhook.attempt_not_recorded" in caplog.text:
                break
            await asyncio.sleep(0.1)
        second = await asyncio.to_thread(start_azurite, data, ports)
        await asyncio.wait_for(service.wait_idle(), timeout=60)
        view = await storage.jobs.get_view(job.id)
    finally:
        await service.shutdown()
        await sender.aclose()
        await storage.aclose()
        for process in (first, second):
            if process is not None and process.poll() is None:
                stop_azurite(process)

    assert view is not None
    assert view.status is JobState.COMPLETED
    (delivery,) = view.deliveries
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)
    assert len(receiver.received(f"slow/1500/{tag}")) == 1
