"""Webhook registrations: one entity per webhook in its set's partition."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import Enum, auto
from typing import Any

from azure.data.tables import TableEntity, UpdateMode

from core.errors import StorageUnavailableError
from core.models import EventType, Webhook, WebhookHealth
from core.secret_box import SecretBox
from core.storage.group_commit import GroupCommitter
from core.storage.tables import TableStore

TABLE = "webhooks"
# From the current health to the new one, and whether to disable the webhook now.
HealthChange = Callable[[WebhookHealth], tuple[WebhookHealth, bool]]
# Optimistic updates of health retry this often when deliveries race.
HEALTH_UPDATE_TRIES = 5
_HEALTH_FIELDS = {
    "last_success_at": "LastSuccessAt",
    "last_failure_at": "LastFailureAt",
    "consecutive_failures": "ConsecutiveFailures",
    "failing_since": "FailingSince",
    "disabled_at": "DisabledAt",
    "disabled_reason": "DisabledReason",
}


class Unchanged(Enum):
    """Marks a setting an update leaves alone, where None is a value of its own."""

    UNCHANGED = auto()


UNCHANGED = Unchanged.UNCHANGED


class WebhooksRepository:
    def __init__(self, store: TableStore, secret_box: SecretBox) -> None:
        self._store = store
        self._box = secret_box
        self._successes = GroupCommitter(store, TABLE)

    async def create(self, webhook: Webhook, secret: str) -> None:
        entity = {
            "PartitionKey": webhook.translations_set_id,
            "RowKey": webhook.id,
            "Url": webhook.url,
            "Events": _events(webhook.events),
            "Description": webhook.description,
            "Active": webhook.active,
            "LegacySecretHeader": webhook.legacy_secret_header,
            "CreatedAt": webhook.created_at,
            "Secret": self._box.seal(secret),
        }
        await self._store.insert(TABLE, entity)

    async def in_set(self, set_id: str) -> list[Webhook]:
        found = [_to_model(entity) async for entity in self._store.partition(TABLE, set_id)]
        return sorted(found, key=lambda webhook: (webhook.created_at, webhook.id))

    async def list_with_secrets(self, set_id: str) -> list[tuple[Webhook, tuple[str, ...]]]:
        """Webhooks and the secrets they are signed with now, for building deliveries only."""
        now = datetime.now(UTC)
        return [
            (_to_model(entity), self._secrets(entity, now))
            async for entity in self._store.partition(TABLE, set_id)
        ]

    def _secrets(self, entity: TableEntity, now: datetime) -> tuple[str, ...]:
        """The current secret, then the previous one while its grace period lasts."""
        current = self._box.open(entity["Secret"])
        previous, until = entity.get("PreviousSecret"), entity.get("PreviousSecretUntil")
        if previous and until and now < until:
            return current, self._box.open(previous)
        return (current,)

    async def rotate(self, set_id: str, webhook_id: str, new_secret: str, grace: timedelta) -> bool:
        """Make `new_secret` current; the old one keeps signing for `grace`."""
        entity = await self._store.get(TABLE, set_id, webhook_id)
        if entity is None:
            return False
        changes = {
            "Secret": self._box.seal(new_secret),
            "PreviousSecret": self._box.seal(self._box.open(entity["Secret"])),
            "PreviousSecretUntil": datetime.now(UTC) + grace,
        }
        await self._store.upsert(
            TABLE, {"PartitionKey": set_id, "RowKey": webhook_id, **changes}, merge=True
        )

        return True

    async def get(self, set_id: str, webhook_id: str) -> Webhook | None:
        entity = await self._store.get(TABLE, set_id, webhook_id)
        return _to_model(entity) if entity else None

    async def get_with_secrets(
        self, set_id: str, webhook_id: str
    ) -> tuple[Webhook, tuple[str, ...]] | None:
        entity = await self._store.get(TABLE, set_id, webhook_id)
        return (_to_model(entity), self._secrets(entity, datetime.now(UTC))) if entity else None

    async def update(
        self,
        set_id: str,
        webhook_id: str,
        *,
        active: bool | None = None,
        events: list[EventType] | Unchanged | None = UNCHANGED,
        description: str | None = None,
    ) -> None:
        """Change settings; enabling a webhook also clears its failure record.

        `events` None (or empty) subscribes the webhook to every event.
        """
        changes: dict[str, Any] = {}
        if not isinstance(events, Unchanged):
            changes["Events"] = _events(events)
        if description is not None:
            changes["Description"] = description
        if active is not None:
            changes["Active"] = active
        if active:
            changes |= {
                "ConsecutiveFailures": 0,
                "FailingSince": "",
                "DisabledAt": "",
                "DisabledReason": "",
            }
        if changes:
            entity = {"PartitionKey": set_id, "RowKey": webhook_id, **changes}
            await self._store.upsert(TABLE, entity, merge=True)

    async def record_success(self, set_id: str, webhook_id: str, at: datetime) -> bool:
        """A delivery succeeded: clear the failure streak in one blind write.

        No read and no ETag: a success resets the streak whatever it was. It
        never re-enables a disabled webhook; only a person does that.
        """
        fields = {"LastSuccessAt": at, "ConsecutiveFailures": 0, "FailingSince": ""}
        entity = {"PartitionKey": set_id, "RowKey": webhook_id, **fields}
        # Successes of a fan-out share transactions; an update never creates
        # an entity, so a webhook deleted meanwhile fails alone (and is ignored).
        try:
            await self._successes.write([("update", entity, {"mode": UpdateMode.MERGE})])
        except StorageUnavailableError:
            return False

        return True

    async def update_health(
        self, set_id: str, webhook_id: str, change: HealthChange
    ) -> WebhookHealth | None:
        """Apply `change` to the stored health, retrying when deliveries race."""
        for _ in range(HEALTH_UPDATE_TRIES):
            entity = await self._store.get(TABLE, set_id, webhook_id)
            if entity is None:
                return None
            current = _health(entity)
            updated, disable = change(current)
            fields = {
                column: "" if getattr(updated, field) is None else getattr(updated, field)
                for field, column in _HEALTH_FIELDS.items()
            }
            if disable:
                fields["Active"] = False
            if await self._store.update_if_unchanged(TABLE, entity, fields):
                return updated

        return None

    async def delete(self, set_id: str, webhook_id: str) -> None:
        await self._store.delete(TABLE, set_id, webhook_id)

    async def delete_all(self, set_id: str) -> None:
        operations = [
            ("delete", {"PartitionKey": set_id, "RowKey": entity["RowKey"]})
            async for entity in self._store.partition(TABLE, set_id)
        ]
        if operations:
            await self._store.write_batches(TABLE, operations)


def _events(events: list[EventType] | None) -> str:
    return json.dumps([event.value for event in events]) if events else ""


def _health(entity: TableEntity) -> WebhookHealth:
    values = {field: entity.get(column) or None for field, column in _HEALTH_FIELDS.items()}
    values["consecutive_failures"] = entity.get("ConsecutiveFailures") or 0
    return WebhookHealth(**values)


def _to_model(entity: TableEntity) -> Webhook:
    events = entity.get("Events") or ""
    return Webhook(
        id=entity["RowKey"],
        translations_set_id=entity["PartitionKey"],
        url=entity["Url"],
        events=[EventType(value) for value in json.loads(events)] if events else None,
        description=entity.get("Description", ""),
        active=entity.get("Active", True),
        legacy_secret_header=entity.get("LegacySecretHeader", False),
        created_at=entity["CreatedAt"],
        health=_health(entity),
    )
