"""Translations sets.

A set's own row (`meta`) lives in the set's partition of the `translations`
table, beside its translations and outbox, so that deleting a set and
recording its deletion event are one transaction. The `translationsets` table
is only an index for listing sets.
"""

from datetime import datetime
from typing import Any

from azure.data.tables import TableEntity

from core.models import TranslationSet
from core.storage.tables import Operation, TableStore

INDEX_TABLE = "translationsets"
# Sets are few and listed together; one partition keeps listing a single query.
INDEX_PARTITION = "sets"
DATA_TABLE = "translations"
META_ROW = "meta"


class SetsRepository:
    def __init__(self, store: TableStore) -> None:
        self._store = store

    async def create(self, set_id: str, name: str, description: str, now: datetime) -> bool:
        """Store a new set; False when the id is taken."""
        fields = {"Name": name, "Description": description, "CreatedAt": now}
        index_row = {"PartitionKey": INDEX_PARTITION, "RowKey": set_id, **fields}
        if not await self._store.insert(INDEX_TABLE, index_row):
            return False
        await self._store.upsert(DATA_TABLE, {"PartitionKey": set_id, "RowKey": META_ROW, **fields})

        return True

    async def get(self, set_id: str) -> TranslationSet | None:
        entity = await self._store.get(DATA_TABLE, set_id, META_ROW)
        return _to_model(set_id, entity) if entity else None

    async def all(self) -> list[TranslationSet]:
        return [
            _to_model(entity["RowKey"], entity)
            async for entity in self._store.partition(INDEX_TABLE, INDEX_PARTITION)
        ]

    @staticmethod
    def delete_operation(set_id: str) -> Operation:
        """Deleting the set's own row, for the transaction that records the deletion."""
        return ("delete", {"PartitionKey": set_id, "RowKey": META_ROW})

    async def remove_from_index(self, set_id: str) -> None:
        await self._store.delete(INDEX_TABLE, INDEX_PARTITION, set_id)


def _to_model(set_id: str, entity: TableEntity | dict[str, Any]) -> TranslationSet:
    return TranslationSet(
        id=set_id,
        name=entity["Name"],
        description=entity.get("Description", ""),
        created_at=entity["CreatedAt"],
    )
