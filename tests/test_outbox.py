"""The outbox against Azurite: nothing lost between write and dispatch, nothing doubled."""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from core.commands import Commands
from core.delivery import WebhookSender
from core.errors import StorageUnavailableError
from core.jobs.attempts import DeliveryAttempts
from core.jobs.in_process import InProcessJobService
from core.jobs.model import NotificationJob
from core.models import (
    EventType,
    ImportItem,
    ImportRequest,
    TranslationSave,
    TranslationSetCreate,
    WebhookCreate,
)
from core.notifications import Notifier
from core.outbox import new_record
from core.retry import RetryPolicy
from core.storage import Storage
from core.storage.tables import check_transaction
from core.url_policy import UrlPolicy
from tests.support.receiver import Receiver

LOOPBACK = UrlPolicy(allow_private_networks=True)


class FailsOnce:
    """A job service that refuses its first job, as a crash before dispatch would."""

    name = "fails_once"

    def __init__(self, inner: InProcessJobService) -> None:
        self.inner = inner
        self.failed = False

    async def schedule(self, job: NotificationJob) -> str:
        if not self.failed:
            self.failed = True
            raise StorageUnavailableError("injected failure before the job was handed over")
        return await self.inner.schedule(job)

    async def redeliver(self, job_id: str) -> int:
        return await self.inner.redeliver(job_id)

    async def runtime_status(self, job_id: str) -> str | None:
        return await self.inner.runtime_status(job_id)

    async def shutdown(self) -> None:
        await self.inner.shutdown()


@dataclass
class World:
    storage: Storage
    service: InProcessJobService
    notifier: Notifier
    commands: Commands


@pytest.fixture
async def world(storage: Storage) -> AsyncIterator[World]:
    sender = WebhookSender(timeout_seconds=2, url_policy=LOOPBACK)
    attempts = DeliveryAttempts(
        sender=sender,
        jobs=storage.jobs,
        policy=RetryPolicy(max_attempts=3, first_interval=0.05, max_retry_after=1),
    )
    service = InProcessJobService(
        jobs=storage.jobs, attempts=attempts, max_concurrent_deliveries=32, shutdown_grace_seconds=1
    )
    notifier = Notifier(storage=storage, jobs=service, sweep_grace=timedelta(0))
    yield World(
        storage,
        service,
        notifier,
        Commands(storage=storage, notifier=notifier, attempts=attempts, url_policy=LOOPBACK),
    )
    await service.shutdown()
    await sender.aclose()


async def _set_with_webhooks(world: World, set_id: str, *urls: str) -> None:
    await world.commands.create_set(TranslationSetCreate(id=set_id, name=set_id))
    for url in urls:
        await world.commands.register_webhook(set_id, WebhookCreate.model_validate({"url": url}))


def _events(receiver: Receiver, path: str) -> list[dict[str, Any]]:
    return [json.loads(received.body) for received in receiver.received(path)]


async def test_a_failure_between_write_and_dispatch_is_recovered_by_the_sweeper(
    world: World, receiver: Receiver, tag: str
) -> None:
    """The save is committed, its dispatch fails, the sweep delivers it once."""
    set_id = f"outbox-{tag}"
    await _set_with_webhooks(world, set_id, receiver.url(f"ok/{tag}"))
    flaky = FailsOnce(world.service)
    notifier = Notifier(storage=world.storage, jobs=flaky, sweep_grace=timedelta(0))
    commands = Commands(
        storage=world.storage,
        notifier=notifier,
        attempts=world.commands._attempts,
        url_policy=LOOPBACK,
    )
    body = TranslationSave(resource="r", name="n", values={"en": "x"})

    _, job_id = await commands.save_translation(set_id, body)
    await world.service.wait_idle()
    before_sweep = len(receiver.received(f"ok/{tag}"))
    swept = await notifier.sweep()
    await world.service.wait_idle()

    assert flaky.failed
    assert before_sweep == 0
    assert swept >= 1
    (event,) = _events(receiver, f"ok/{tag}")
    assert event["id"] == f"evt_{job_id}"
    assert await world.storage.outbox.pending(set_id) == []


async def test_one_record_dispatched_twice_at_once_makes_one_job_and_one_delivery_each(
    world: World, receiver: Receiver, tag: str
) -> None:
    """Concurrent hand-overs of the same record: one job, one POST per webhook."""
    set_id = f"twice-{tag}"
    await _set_with_webhooks(world, set_id, receiver.url(f"ok/{tag}a"), receiver.url(f"ok/{tag}b"))
    record = new_record(
        set_id, EventType.TRANSLATION_SAVED, {"resource": "r", "name": "n", "cultures": []}
    )
    await world.storage.outbox.mark(set_id)
    await world.storage.translations.commit([world.storage.outbox.insert_operation(record)])

    first, second = await asyncio.gather(
        world.notifier.dispatch(set_id, [record]), world.notifier.dispatch(set_id, [record])
    )
    await world.service.wait_idle()

    assert first[record.id] == second[record.id]
    job = await world.storage.jobs.get_view(str(first[record.id]))
    assert job is not None
    assert [delivery.attempts for delivery in job.deliveries] == [1, 1]
    assert len(receiver.received(f"ok/{tag}a")) == 1
    assert len(receiver.received(f"ok/{tag}b")) == 1


async def test_import_of_250_items_across_3_sets_sends_exactly_3_notifications(
    world: World, receiver: Receiver, tag: str
) -> None:
    """150 + 60 + 40 items: several transactions for the big set, one event per set."""
    sizes = {f"imp-{tag}-a": 150, f"imp-{tag}-b": 60, f"imp-{tag}-c": 40}
    for index, set_id in enumerate(sizes):
        await _set_with_webhooks(world, set_id, receiver.url(f"ok/{tag}/{index}"))
    items = [
        ImportItem(set_id=set_id, resource="bulk", name=f"key {n}", values={"en": str(n)})
        for set_id, count in sizes.items()
        for n in range(count)
    ]
    transactions_before = world.storage.store.transactions

    results = await world.commands.import_translations(ImportRequest(items=items))
    await world.service.wait_idle()

    assert {result.set_id: result.count for result in results} == sizes
    assert world.storage.store.largest_transaction <= 100
    assert world.storage.store.transactions - transactions_before >= 4
    for index, (set_id, count) in enumerate(sizes.items()):
        (event,) = _events(receiver, f"ok/{tag}/{index}")
        assert (event["type"], event["translationsSetId"]) == ("translations.imported", set_id)
        assert event["data"]["count"] == count
        assert len(event["data"]["translations"]) == count
        assert len(await world.storage.translations.in_set(set_id)) == count


async def test_large_import_lists_are_split_into_events_of_about_20_kb(
    world: World, receiver: Receiver, tag: str
) -> None:
    """Long names make several events for one set, together naming every item."""
    set_id = f"split-{tag}"
    await _set_with_webhooks(world, set_id, receiver.url(f"ok/{tag}"))
    items = [
        ImportItem(
            set_id=set_id, resource="r" * 300, name=f"{n:04d}" + "n" * 300, values={"en": "x"}
        )
        for n in range(120)
    ]

    await world.commands.import_translations(ImportRequest(items=items))
    await world.service.wait_idle()
    events = _events(receiver, f"ok/{tag}")

    assert len(events) >= 3
    assert all(len(received.body) < 25_000 for received in receiver.received(f"ok/{tag}"))
    assert sum(len(event["data"]["translations"]) for event in events) == 120
    assert {event["data"]["totalCount"] for event in events} == {120}
    assert len({event["id"] for event in events}) == len(events)


async def test_the_sweeper_leaves_records_younger_than_its_grace(
    world: World, receiver: Receiver, tag: str
) -> None:
    """A record the fast path may still be handing over is not swept."""
    set_id = f"young-{tag}"
    await _set_with_webhooks(world, set_id, receiver.url(f"ok/{tag}"))
    record = new_record(set_id, EventType.TRANSLATION_DELETED, {"resource": "r", "name": "n"})
    await world.storage.outbox.mark(set_id)
    await world.storage.translations.commit([world.storage.outbox.insert_operation(record)])
    patient = Notifier(storage=world.storage, jobs=world.service, sweep_grace=timedelta(hours=1))

    await patient.sweep()

    assert await world.storage.outbox.pending(set_id) == [record]


@pytest.mark.parametrize(
    "operations",
    [
        pytest.param(
            [("upsert", {"PartitionKey": "p", "RowKey": str(n)}) for n in range(101)], id="101"
        ),
        pytest.param(
            [("upsert", {"PartitionKey": p, "RowKey": "r"}) for p in "ab"], id="2-partitions"
        ),
        pytest.param(
            [
                ("upsert", {"PartitionKey": "p", "RowKey": str(n), "V": "x" * 30_000})
                for n in range(80)
            ],
            id="over-4-MiB",
        ),
        pytest.param([], id="empty"),
    ],
)
def test_transactions_azure_would_refuse_are_refused_here(operations: list[Any]) -> None:
    """Azurite accepts what Azure refuses; the repository layer does not."""
    with pytest.raises(ValueError, match="transaction"):
        check_transaction(operations)


async def test_deleting_a_set_still_sends_what_its_outbox_held(
    world: World, receiver: Receiver, tag: str
) -> None:
    """A save whose hand-over failed is sent before the deleted set's data goes."""
    set_id = f"del-{tag}"
    await _set_with_webhooks(world, set_id, receiver.url(f"ok/{tag}"))
    flaky = Commands(
        storage=world.storage,
        notifier=Notifier(
            storage=world.storage, jobs=FailsOnce(world.service), sweep_grace=timedelta(0)
        ),
        attempts=world.commands._attempts,
        url_policy=LOOPBACK,
    )
    await flaky.save_translation(
        set_id, TranslationSave(resource="r", name="n", values={"en": "x"})
    )

    await world.commands.delete_set(set_id)
    await world.service.wait_idle()

    types = sorted(event["type"] for event in _events(receiver, f"ok/{tag}"))
    assert types == ["translation.saved", "translations_set.deleted"]
    assert await world.storage.outbox.pending(set_id) == []
    assert await world.storage.webhooks.in_set(set_id) == []


async def test_a_set_deletion_that_fails_part_way_is_finished_by_the_sweeper(
    world: World, receiver: Receiver, tag: str
) -> None:
    """Its outbox record outlives a failed clean-up; the next sweep removes the rest, once."""
    set_id = f"half-{tag}"
    await _set_with_webhooks(world, set_id, receiver.url(f"ok/{tag}"))
    # A row keyed with a raw U+2028, as keys were before they escaped it, which
    # Azurite cannot delete in a transaction: the clean-up's batch fails.
    legacy_row = "t|legacy\u2028key"
    await world.storage.store.upsert(
        "translations", {"PartitionKey": set_id, "RowKey": legacy_row, "Resource": "r"}
    )

    job_id = await world.commands.delete_set(set_id)
    await world.service.wait_idle()
    listed_after_failure = [s.id for s in await world.storage.sets.all()]
    pending_after_failure = await world.storage.outbox.pending(set_id)
    await world.storage.store.delete("translations", set_id, legacy_row)
    await world.notifier.sweep()
    await world.service.wait_idle()

    assert set_id in listed_after_failure
    assert [r.event_type for r in pending_after_failure] == [EventType.TRANSLATIONS_SET_DELETED]
    assert set_id not in [s.id for s in await world.storage.sets.all()]
    assert await world.storage.webhooks.in_set(set_id) == []
    assert await world.storage.outbox.pending(set_id) == []
    (event,) = _events(receiver, f"ok/{tag}")
    assert (event["type"], event["id"]) == ("translations_set.deleted", f"evt_{job_id}")
