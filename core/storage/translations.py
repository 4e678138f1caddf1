"""Translations: one entity per (resource, name) in the set's partition.

Per-culture values are stored as one JSON document split over several string
properties, because one property holds at most 64 KiB.
"""

import json
from datetime import datetime
from typing import Any

from azure.data.tables import TableEntity

from core.errors import PayloadTooLargeError
from core.keys import compound_key
from core.models import Translation
from core.storage.tables import Operation, TableStore

TABLE = "translations"
# Code points per chunk: 16,000 of them are at most 32,000 UTF-16 units (64 KiB).
CHUNK_CODE_POINTS = 16_000
# An entity holds at most 1 MiB; leave room for keys and the other properties.
MAX_VALUES_UTF16_BYTES = 960 * 1024
ROW_PREFIX = "t|"


class TranslationsRepository:
    def __init__(self, store: TableStore) -> None:
        self._store = store

    @staticmethod
    def entity(
        set_id: str, resource: str, name: str, values: dict[str, str], now: datetime
    ) -> dict[str, Any]:
        """The stored form of one translation; refuses what Table Storage could not hold."""
        document = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
        if len(document.encode("utf-16-le")) > MAX_VALUES_UTF16_BYTES:
            raise PayloadTooLargeError("the translation's values together exceed 960 KiB")
        chunks = [
            document[start : start + CHUNK_CODE_POINTS]
            for start in range(0, len(document), CHUNK_CODE_POINTS)
        ]
        entity: dict[str, Any] = {
            "PartitionKey": set_id,
            "RowKey": ROW_PREFIX + compound_key(resource, name),
            "Resource": resource,
            "Name": name,
            "UpdatedAt": now,
            "ValueChunks": len(chunks),
        }
        entity |= {f"Values{index:03d}": chunk for index, chunk in enumerate(chunks)}

        return entity

    @staticmethod
    def upsert_operation(entity: dict[str, Any]) -> Operation:
        return ("upsert", entity)

    @staticmethod
    def delete_operation(set_id: str, resource: str, name: str) -> Operation:
        row = ROW_PREFIX + compound_key(resource, name)
        return ("delete", {"PartitionKey": set_id, "RowKey": row})

    async def commit(self, operations: list[Operation]) -> None:
        """One atomic transaction in a set's partition: a change and its outbox record."""
        await self._store.transact(TABLE, operations)

    async def exists(self, set_id: str, resource: str, name: str) -> bool:
        row = ROW_PREFIX + compound_key(resource, name)
        return await self._store.get(TABLE, set_id, row) is not None

    async def count(self, set_id: str) -> int:
        return len([e async for e in self._store.partition(TABLE, set_id, prefix=ROW_PREFIX)])

    async def save(
        self, set_id: str, resource: str, name: str, values: dict[str, str], now: datetime
    ) -> Translation:
        entity = self.entity(set_id, resource, name, values, now)
        await self._store.upsert(TABLE, entity)

        return _to_model(entity)

    async def save_many(self, set_id: str, entities: list[dict[str, Any]]) -> None:
        """Upsert entities of one set in transactions of at most 100."""
        await self._store.write_batches(TABLE, [("upsert", entity) for entity in entities])

    async def get(self, set_id: str, resource: str, name: str) -> Translation | None:
        entity = await self._store.get(TABLE, set_id, ROW_PREFIX + compound_key(resource, name))
        return _to_model(entity) if entity else None

    async def in_set(self, set_id: str, resource: str | None = None) -> list[Translation]:
        if resource is None:
            entities = self._store.partition(TABLE, set_id, prefix=ROW_PREFIX)
        else:
            entities = self._store.query(
                TABLE,
                "PartitionKey eq @pk and Resource eq @resource",
                {"pk": set_id, "resource": resource},
            )
        found = [_to_model(entity) async for entity in entities]

        return sorted(found, key=lambda t: (t.resource, t.name))

    async def delete(self, set_id: str, resource: str, name: str) -> bool:
        """Remove one translation; False when it did not exist."""
        row = ROW_PREFIX + compound_key(resource, name)
        if await self._store.get(TABLE, set_id, row) is None:
            return False
        await self._store.delete(TABLE, set_id, row)

        return True

    async def delete_all(self, set_id: str) -> int:
        """Remove every translation of a deleted set.

        The set's outbox records stay: the notifier removes those it handed
        over once the deletion is done, so that a failure part-way leaves the
        deletion record for the sweeper, which hands it over again and finishes.
        """
        keys: list[Operation] = [
            ("delete", {"PartitionKey": set_id, "RowKey": entity["RowKey"]})
            async for entity in self._store.partition(TABLE, set_id, prefix=ROW_PREFIX)
        ]
        if keys:
            await self._store.write_batches(TABLE, keys)

        return len(keys)


def _to_model(entity: TableEntity | dict[str, Any]) -> Translation:
    document = "".join(entity[f"Values{index:03d}"] for index in range(entity["ValueChunks"]))
    return Translation(
        resource=entity["Resource"],
        name=entity["Name"],
        values=json.loads(document),
        updated_at=entity["UpdatedAt"],
    )
