"""Command handlers: validate against stored state, write, then notify."""

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.errors import ConflictError, NotFoundError, UnprocessableError
from core.models import (
    MAX_WEBHOOKS_PER_SET,
    EventType,
    ImportRequest,
    JobView,
    Translation,
    TranslationSave,
    TranslationSet,
    TranslationSetCreate,
    Webhook,
    WebhookCreate,
    WebhookWithSecret,
)
from core.notifications import Notifier
from core.signing import generate_secret
from core.storage import Storage

# Ids we generate are hex; set ids may also be chosen by the client (see SetId).
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


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

    def __init__(self, *, storage: Storage, notifier: Notifier) -> None:
        self._storage = storage
        self._notifier = notifier

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
        """Delete the set, its translations and webhooks; they hear of it last."""
        translations_set = await self.get_set(set_id)
        subscribers = await self._notifier.subscribers(set_id)

        deleted = await self._storage.translations.delete_all(set_id)
        await self._storage.webhooks.delete_all(set_id)
        await self._storage.sets.delete(set_id)

        data = {"name": translations_set.name, "translationsDeleted": deleted}
        return await self._notifier.notify(
            set_id, EventType.TRANSLATIONS_SET_DELETED, data, subscribers=subscribers
        )

    # Translations

    async def save_translation(
        self, set_id: str, body: TranslationSave
    ) -> tuple[Translation, str | None]:
        await self.get_set(set_id)
        saved = await self._storage.translations.save(
            set_id, body.resource, body.name, body.values, datetime.now(UTC)
        )
        data = {"resource": saved.resource, "name": saved.name, "cultures": sorted(saved.values)}
        job_id = await self._notifier.notify(set_id, EventType.TRANSLATION_SAVED, data)

        return saved, job_id

    async def list_translations(self, set_id: str, resource: str | None) -> list[Translation]:
        await self.get_set(set_id)
        return await self._storage.translations.in_set(set_id, resource)

    async def delete_translation(self, set_id: str, resource: str, name: str) -> str | None:
        await self.get_set(set_id)
        if not await self._storage.translations.delete(set_id, resource, name):
            raise NotFoundError(f"no translation {name!r} in resource {resource!r}")

        data = {"resource": resource, "name": name}
        return await self._notifier.notify(set_id, EventType.TRANSLATION_DELETED, data)

    async def import_translations(self, body: ImportRequest) -> list[SetImport]:
        """Save items across sets; all sets must exist and all items fit before any write."""
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
        for set_id, set_entities in entities.items():
            await self._storage.translations.save_many(set_id, set_entities)

        changes: dict[str, dict[str, Any]] = {
            set_id: {
                "count": len(items),
                "translations": [{"resource": r, "name": n} for r, n in items],
            }
            for set_id, items in by_set.items()
        }
        job_ids = await self._notifier.notify_each(EventType.TRANSLATIONS_IMPORTED, changes)

        return [SetImport(set_id, len(items), job_ids[set_id]) for set_id, items in by_set.items()]

    # Webhooks

    async def register_webhook(self, set_id: str, body: WebhookCreate) -> WebhookWithSecret:
        await self.get_set(set_id)
        if len(await self._storage.webhooks.in_set(set_id)) >= MAX_WEBHOOKS_PER_SET:
            raise UnprocessableError(f"a set holds at most {MAX_WEBHOOKS_PER_SET} webhooks")

        webhook = Webhook(
            id=uuid.uuid4().hex,
            translations_set_id=set_id,
            url=str(body.url),
            events=sorted(set(body.events), key=list(EventType).index) if body.events else None,
            description=body.description,
            active=True,
            legacy_secret_header=body.legacy_secret_header,
            created_at=datetime.now(UTC),
        )
        secret = generate_secret()
        await self._storage.webhooks.create(webhook, secret)

        return WebhookWithSecret(**webhook.model_dump(), secret=secret)

    async def list_webhooks(self, set_id: str) -> list[Webhook]:
        await self.get_set(set_id)
        return await self._storage.webhooks.in_set(set_id)

    async def delete_webhook(self, set_id: str, webhook_id: str) -> None:
        _require_id("translations set", set_id)
        _require_id("webhook", webhook_id)
        if await self._storage.webhooks.get(set_id, webhook_id) is None:
            raise NotFoundError(f"webhook {webhook_id!r} not found in set {set_id!r}")
        await self._storage.webhooks.delete(set_id, webhook_id)

    # Jobs

    async def get_job(self, job_id: str) -> JobView:
        _require_id("job", job_id)
        view = await self._storage.jobs.get_view(job_id)
        if view is None:
            raise NotFoundError(f"job {job_id!r} not found")

        return view
