"""Command handlers: validate against stored state, write the change and its outbox
record in one transaction, then hand the record over (the fast path).
"""

import json
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.delivery import AttemptOutcome, DeliveryTarget
from core.errors import (
    ChangedMeanwhileError,
    ConflictError,
    DataManagerError,
    ImportIncompleteError,
    InvalidInputError,
    NotFoundError,
    UnprocessableError,
)
from core.events import build_payload
from core.jobs.attempts import DeliveryAttempts
from core.jobs.model import NotificationJob
from core.logs import log_event
from core.models import (
    MAX_WEBHOOKS_PER_SET,
    DeliveryLogEntry,
    EventType,
    ImportRequest,
    JobState,
    JobView,
    Translation,
    TranslationSave,
    TranslationSet,
    TranslationSetCreate,
    Webhook,
    WebhookCreate,
    WebhookUpdate,
    WebhookWithSecret,
)
from core.notifications import Notifier
from core.outbox import OutboxRecord, job_id_for, new_record
from core.signing import generate_secret
from core.storage import Storage
from core.storage.tables import BATCH_BYTES, MAX_TRANSACTION_OPERATIONS, Operation, entity_size
from core.storage.webhooks import UNCHANGED
from core.url_policy import UrlPolicy

logger = logging.getLogger(__name__)

# Ids we generate are hex; set ids may also be chosen by the client (see SetId).
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_CURSOR_PATTERN = re.compile(r"\d{15}\|[0-9a-f]{1,64}\|\d{4}")
# An import transaction holds its translations plus one outbox record, whose
# list of names, stored as JSON, must fit one 64 KiB (32,768 UTF-16 units) property.
_IMPORT_CHUNK_ITEMS = MAX_TRANSACTION_OPERATIONS - 1
_IMPORT_RECORD_UNITS = 30_000
DEFAULT_ROTATION_GRACE = timedelta(hours=24)


def _require_id(kind: str, value: str) -> None:
    """An id that could never have been issued is simply not found."""
    if not _ID_PATTERN.fullmatch(value):
        raise NotFoundError(f"{kind} {value!r} not found")


@dataclass(frozen=True)
class SetImport:
    set_id: str
    count: int
    job_id: str | None


class Commands:
    """Everything the HTTP API can ask of the domain."""

    def __init__(
        self,
        *,
        storage: Storage,
        notifier: Notifier,
        attempts: DeliveryAttempts,
        url_policy: UrlPolicy,
        rotation_grace: timedelta = DEFAULT_ROTATION_GRACE,
    ) -> None:
        self._storage = storage
        self._notifier = notifier
        self._attempts = attempts
        self._url_policy = url_policy
        self._rotation_grace = rotation_grace

    # Translations sets

    async def create_set(self, body: TranslationSetCreate) -> TranslationSet:
        set_id = body.id or uuid.uuid4().hex
        now = datetime.now(UTC)
        if not await self._storage.sets.create(set_id, body.name, body.description, now):
            raise ConflictError(f"a translations set with id {set_id!r} exists")

        return TranslationSet(
            id=set_id, name=body.name, description=body.description, created_at=now
        )

    async def list_sets(self) -> list[TranslationSet]:
        return await self._storage.sets.all()

    async def get_set(self, set_id: str) -> TranslationSet:
        _require_id("translations set", set_id)
        found = await self._storage.sets.get(set_id)
        if found is None:
            raise NotFoundError(f"translations set {set_id!r} not found")

        return found

    async def delete_set(self, set_id: str) -> str | None:
        """Delete the set; its webhooks hear of it, then its data is removed."""
        translations_set = await self.get_set(set_id)
        data = {
            "name": translations_set.name,
            "translationsDeleted": await self._storage.translations.count(set_id),
        }
        record = new_record(set_id, EventType.TRANSLATIONS_SET_DELETED, data)

        try:
            return await self._commit(set_id, [self._storage.sets.delete_operation(set_id)], record)
        except ChangedMeanwhileError:
            raise NotFoundError(f"translations set {set_id!r} not found") from None

    # Translations

    async def save_translation(
        self, set_id: str, body: TranslationSave
    ) -> tuple[Translation, str | None]:
        await self.get_set(set_id)
        now = datetime.now(UTC)
        entity = self._storage.translations.entity(
            set_id, body.resource, body.name, body.values, now
        )
        data = {"resource": body.resource, "name": body.name, "cultures": sorted(body.values)}
        record = new_record(set_id, EventType.TRANSLATION_SAVED, data)

        job_id = await self._commit(
            set_id, [self._storage.translations.upsert_operation(entity)], record
        )

        saved = Translation(
            resource=body.resource, name=body.name, values=body.values, updated_at=now
        )
        return saved, job_id

    async def list_translations(self, set_id: str, resource: str | None) -> list[Translation]:
        await self.get_set(set_id)
        return await self._storage.translations.in_set(set_id, resource)

    async def delete_translation(self, set_id: str, resource: str, name: str) -> str | None:
        await self.get_set(set_id)
        if not await self._storage.translations.exists(set_id, resource, name):
            raise NotFoundError(f"no translation {name!r} in resource {resource!r}")

        operation = self._storage.translations.delete_operation(set_id, resource, name)
        record = new_record(
            set_id, EventType.TRANSLATION_DELETED, {"resource": resource, "name": name}
        )
        try:
            return await self._commit(set_id, [operation], record)
        except ChangedMeanwhileError:
            raise NotFoundError(f"no translation {name!r} in resource {resource!r}") from None

    async def _commit(
        self, set_id: str, operations: list[Operation], record: OutboxRecord
    ) -> str | None:
        """Write the change with its outbox record atomically, then try to hand it over."""
        await self._storage.outbox.mark(set_id)
        await self._storage.translations.commit(
            [*operations, self._storage.outbox.insert_operation(record)]
        )

        # A set's deletion removes its partition, so everything still pending
        # there goes with it; other changes hand over their own record only.
        deleting = record.event_type is EventType.TRANSLATIONS_SET_DELETED
        pending = await self._storage.outbox.pending(set_id) if deleting else [record]
        job_ids = await self._dispatch(set_id, pending)
        return job_ids.get(record.id, job_id_for(set_id, record.group_key, 0))

    async def _dispatch(self, set_id: str, records: list[OutboxRecord]) -> dict[str, str | None]:
        """The fast path; whatever it cannot hand over, the sweeper will."""
        try:
            return await self._notifier.dispatch(set_id, records)
        except DataManagerError as exc:
            log_event(
                logger,
                "outbox.fast_path_failed",
                level=logging.WARNING,
                set_id=set_id,
                records=len(records),
                error=type(exc).__name__,
            )
            return {}

    async def import_translations(self, body: ImportRequest) -> list[SetImport]:
        """Save items across sets, each set's in transactions that carry their outbox share.

        Every set must exist and every item must fit before anything is written.
        """
        by_set: dict[str, dict[tuple[str, str], dict[str, str]]] = {}
        for item in body.items:
            # A later item for the same translation wins, as if saved in order.
            by_set.setdefault(item.set_id, {})[(item.resource, item.name)] = item.values

        missing = [set_id for set_id in by_set if await self._storage.sets.get(set_id) is None]
        if missing:
            raise NotFoundError(f"translations sets not found: {', '.join(sorted(missing))}")

        now = datetime.now(UTC)
        entities = {
            set_id: [
                self._storage.translations.entity(set_id, resource, name, values, now)
                for (resource, name), values in items.items()
            ]
            for set_id, items in by_set.items()
        }
        import_id = uuid.uuid4().hex
        records = await self._write_import(import_id, entities)

        results = []
        for set_id, set_records in records.items():
            job_ids = await self._dispatch(set_id, set_records)
            job_id = job_ids.get(set_records[0].id, job_id_for(set_id, import_id, 0))
            results.append(SetImport(set_id, len(entities[set_id]), job_id))

        return results

    async def _write_import(
        self, import_id: str, entities: dict[str, list[dict[str, Any]]]
    ) -> dict[str, list[OutboxRecord]]:
        written: dict[str, list[OutboxRecord]] = {}
        saved: list[dict[str, str]] = []
        for set_id, set_entities in entities.items():
            await self._storage.outbox.mark(set_id)
            for chunk in _import_chunks(set_entities):
                pairs = [_pair(entity) for entity in chunk]
                record = new_record(
                    set_id,
                    EventType.TRANSLATIONS_IMPORTED,
                    {"count": len(chunk), "translations": pairs},
                    group=import_id,
                )
                operations = [self._storage.translations.upsert_operation(e) for e in chunk]
                try:
                    await self._storage.translations.commit(
                        [*operations, self._storage.outbox.insert_operation(record)]
                    )
                except DataManagerError as exc:
                    raise ImportIncompleteError(exc, saved, _not_saved(entities, saved)) from exc
                saved += [{"setId": set_id, **pair} for pair in pairs]
                written.setdefault(set_id, []).append(record)

        return written

    # Webhooks

    async def register_webhook(self, set_id: str, body: WebhookCreate) -> WebhookWithSecret:
        await self.get_set(set_id)
        if len(await self._storage.webhooks.in_set(set_id)) >= MAX_WEBHOOKS_PER_SET:
            raise UnprocessableError(f"a set holds at most {MAX_WEBHOOKS_PER_SET} webhooks")
        await self._url_policy.check(str(body.url))

        webhook = Webhook(
            id=uuid.uuid4().hex,
            translations_set_id=set_id,
            url=str(body.url),
            events=_ordered(body.events),
            description=body.description,
            active=True,
            legacy_secret_header=body.legacy_secret_header,
            created_at=datetime.now(UTC),
        )
        secret = generate_secret()
        await self._storage.webhooks.create(webhook, secret)
        # Checked again after the write: of registrations racing past the first
        # check, those ranked (by creation) beyond the limit take themselves back.
        ranked = sorted(
            await self._storage.webhooks.in_set(set_id), key=lambda w: (w.created_at, w.id)
        )
        if webhook.id not in {w.id for w in ranked[:MAX_WEBHOOKS_PER_SET]}:
            await self._storage.webhooks.delete(set_id, webhook.id)
            raise UnprocessableError(f"a set holds at most {MAX_WEBHOOKS_PER_SET} webhooks")

        return WebhookWithSecret(**webhook.model_dump(), secret=secret)

    async def list_webhooks(self, set_id: str) -> list[Webhook]:
        await self.get_set(set_id)
        return await self._storage.webhooks.in_set(set_id)

    async def get_webhook(self, set_id: str, webhook_id: str) -> Webhook:
        _require_id("translations set", set_id)
        _require_id("webhook", webhook_id)
        found = await self._storage.webhooks.get(set_id, webhook_id)
        if found is None:
            raise NotFoundError(f"webhook {webhook_id!r} not found in set {set_id!r}")

        return found

    async def update_webhook(self, set_id: str, webhook_id: str, body: WebhookUpdate) -> Webhook:
        await self.get_webhook(set_id, webhook_id)
        await self._storage.webhooks.update(
            set_id,
            webhook_id,
            active=body.active,
            # Present, even as null or [], means a new filter; absent leaves it.
            events=_ordered(body.events) if "events" in body.model_fields_set else UNCHANGED,
            description=body.description,
        )
        if body.active:
            log_event(logger, "webhook.enabled", set_id=set_id, webhook_id=webhook_id)

        return await self.get_webhook(set_id, webhook_id)

    async def ping_webhook(self, set_id: str, webhook_id: str) -> tuple[str, AttemptOutcome]:
        """Send a `webhook.ping` now, once, and answer its outcome."""
        await self.get_webhook(set_id, webhook_id)
        found = await self._storage.webhooks.get_with_secrets(set_id, webhook_id)
        if found is None:
            raise NotFoundError(f"webhook {webhook_id!r} not found in set {set_id!r}")
        webhook, secrets = found

        job = ping_job(webhook, secrets)
        await self._storage.jobs.create(job, max_attempts=1)
        result = await self._attempts.run(job.requests[0], 1, last=True)

        return job.id, result.outcome

    async def rotate_secret(self, set_id: str, webhook_id: str) -> str:
        """A new signing secret, returned this once; the old one signs too for the grace period."""
        await self.get_webhook(set_id, webhook_id)
        secret = generate_secret()
        if not await self._storage.webhooks.rotate(
            set_id, webhook_id, secret, self._rotation_grace
        ):
            raise NotFoundError(f"webhook {webhook_id!r} not found in set {set_id!r}")
        log_event(
            logger,
            "webhook.secret_rotated",
            set_id=set_id,
            webhook_id=webhook_id,
            grace_hours=self._rotation_grace.total_seconds() / 3600,
        )

        return secret

    async def webhook_deliveries(
        self, set_id: str, webhook_id: str, *, limit: int, cursor: str | None
    ) -> tuple[list[DeliveryLogEntry], str | None]:
        """A page of the webhook's delivery attempts, newest first."""
        await self.get_webhook(set_id, webhook_id)
        if cursor is not None and not _CURSOR_PATTERN.fullmatch(cursor):
            raise InvalidInputError("the cursor is not one this API handed out")

        return await self._storage.jobs.webhook_log(set_id, webhook_id, limit=limit, after=cursor)

    async def delete_webhook(self, set_id: str, webhook_id: str) -> None:
        await self.get_webhook(set_id, webhook_id)
        await self._storage.webhooks.delete(set_id, webhook_id)

    # Jobs

    async def get_job(self, job_id: str) -> JobView:
        _require_id("job", job_id)
        view = await self._storage.jobs.get_view(job_id)
        if view is None:
            raise NotFoundError(f"job {job_id!r} not found")
        runtime_status = await self._notifier.runtime_status(job_id)

        return view.model_copy(update={"runtime_status": runtime_status})

    async def redeliver(self, job_id: str) -> int:
        """Send the job's failed deliveries again; returns how many.

        Only a finished job is redelivered, in either job mode: while deliveries
        are still under way, their retries are what comes next.
        """
        job = await self.get_job(job_id)
        if job.status is not JobState.COMPLETED:
            raise ConflictError(f"job {job_id!r} is still being delivered; redeliver it when done")

        return await self._notifier.redeliver(job_id)


def ping_job(webhook: Webhook, secrets: tuple[str, ...]) -> NotificationJob:
    """A one-delivery job carrying a `webhook.ping` event."""
    job_id = uuid.uuid4().hex
    event_id, now = "evt_" + job_id, datetime.now(UTC)
    payload = build_payload(
        event_id=event_id,
        event_type=EventType.WEBHOOK_PING,
        translations_set_id=webhook.translations_set_id,
        data={"webhookId": webhook.id},
        occurred_at=now,
    )
    target = DeliveryTarget(
        webhook_id=webhook.id,
        url=webhook.url,
        secrets=secrets,
        legacy_secret_header=webhook.legacy_secret_header,
    )
    return NotificationJob(
        id=job_id,
        event_id=event_id,
        event_type=EventType.WEBHOOK_PING,
        translations_set_id=webhook.translations_set_id,
        created_at=now,
        payload=payload,
        targets=(target,),
    )


def _ordered(events: list[EventType] | None) -> list[EventType] | None:
    return sorted(set(events), key=list(EventType).index) if events else None


def _import_chunks(entities: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Runs of one set's entities that fit one transaction with their outbox record."""
    chunk: list[dict[str, Any]] = []
    size = names = 0
    for entity in entities:
        cost, name_units = entity_size(entity), _stored_units(_pair(entity)) + 1
        full = len(chunk) == _IMPORT_CHUNK_ITEMS or size + cost > BATCH_BYTES - 256 * 1024
        if chunk and (full or names + name_units > _IMPORT_RECORD_UNITS):
            yield chunk
            chunk, size, names = [], 0, 0
        chunk.append(entity)
        size += cost
        names += name_units
    if chunk:
        yield chunk


def _pair(entity: dict[str, Any]) -> dict[str, str]:
    return {"resource": entity["Resource"], "name": entity["Name"]}


def _stored_units(value: object) -> int:
    """UTF-16 units of `value` as the outbox stores it: compact JSON, escapes and all."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return len(text.encode("utf-16-le")) // 2


def _not_saved(
    entities: dict[str, list[dict[str, Any]]], saved: list[dict[str, str]]
) -> list[dict[str, str]]:
    done = {(item["setId"], item["resource"], item["name"]) for item in saved}
    return [
        {"setId": set_id, "resource": e["Resource"], "name": e["Name"]}
        for set_id, set_entities in entities.items()
        for e in set_entities
        if (set_id, e["Resource"], e["Name"]) not in done
    ]
