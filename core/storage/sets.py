"""Translations sets: one entity each in the `translationsets` table."""

from datetime import datetime

from azure.data.tables import TableEntity

from core.models import TranslationSet
from core.storage.tables import TableStore

TABLE = "translationsets"
# Sets are few and listed together; one partition keeps listing a single query.
PARTITION = "sets"


class SetsRepository:
    def __init__(self, store: TableStore) -> None:
        self._store = store

    async def create(self, set_id: str, name: str, description: str, now: datetime) -> bool:
        """Store a new set; False when the id is taken."""
        entity = {
            "PartitionKey": PARTITION,
            "RowKey": set_id,
            "Name": name,
            "Description": description,
            "CreatedAt": now,
        }
        return await self._store.insert(TABLE, entity)

    async def get(self, set_id: str) -> TranslationSet | None:
        entity = await self._store.get(TABLE, PARTITION, set_id)
        return _to_model(entity) if entity else None

    async def all(self) -> list[TranslationSet]:
        return [_to_model(entity) async for entity in self._store.partition(TABLE, PARTITION)]

    async def delete(self, set_id: str) -> None:
        await self._store.delete(TABLE, PARTITION, set_id)


def _to_model(entity: TableEntity) -> TranslationSet:
    return TranslationSet(
        id=entity["RowKey"],
        name=entity["Name"],
        description=entity.get("Description", ""),
        created_at=entity["CreatedAt"],
    )
