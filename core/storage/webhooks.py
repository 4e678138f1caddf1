"""Webhook registrations: one entity per webhook in its set's partition."""

import json

from azure.data.tables import TableEntity

from core.models import EventType, Webhook
from core.storage.tables import TableStore

TABLE = "webhooks"


class WebhooksRepository:
    def __init__(self, store: TableStore) -> None:
        self._store = store

    async def create(self, webhook: Webhook, secret: str) -> None:
        entity = {
            "PartitionKey": webhook.translations_set_id,
            "RowKey": webhook.id,
            "Url": webhook.url,
            "Events": json.dumps(webhook.events) if webhook.events else "",
            "Description": webhook.description,
            "Active": webhook.active,
            "LegacySecretHeader": webhook.legacy_secret_header,
            "CreatedAt": webhook.created_at,
            "Secret": secret,
        }
        await self._store.insert(TABLE, entity)

    async def in_set(self, set_id: str) -> list[Webhook]:
        found = [_to_model(entity) async for entity in self._store.partition(TABLE, set_id)]
        return sorted(found, key=lambda webhook: (webhook.created_at, webhook.id))

    async def list_with_secrets(self, set_id: str) -> list[tuple[Webhook, str]]:
        """Webhooks and their signing secrets, for building deliveries only."""
        return [
            (_to_model(entity), entity["Secret"])
            async for entity in self._store.partition(TABLE, set_id)
        ]

    async def get(self, set_id: str, webhook_id: str) -> Webhook | None:
        entity = await self._store.get(TABLE, set_id, webhook_id)
        return _to_model(entity) if entity else None

    async def delete(self, set_id: str, webhook_id: str) -> None:
        await self._store.delete(TABLE, set_id, webhook_id)

    async def delete_all(self, set_id: str) -> None:
        operations = [
            ("delete", {"PartitionKey": set_id, "RowKey": entity["RowKey"]})
            async for entity in self._store.partition(TABLE, set_id)
        ]
        if operations:
            await self._store.transact(TABLE, operations)


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
    )
