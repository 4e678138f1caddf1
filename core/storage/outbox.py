"""Outbox records, in the set's partition of the `translations` table.

Beside them, the `outbox` table marks which sets may hold pending records, so
the sweeper looks at those partitions only instead of scanning every set.
"""

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

from azure.data.tables import TableEntity

from core.models import EventType
from core.outbox import OutboxRecord
from core.storage.tables import Operation, TableStore

DATA_TABLE = "translations"
ROW_PREFIX = "o|"
MARKER_TABLE = "outbox"
MARKER_PARTITION = "sets"


class OutboxRepository:
    def __init__(self, store: TableStore) -> None:
        self._store = store

    async def mark(self, set_id: str) -> None:
        """Note that `set_id` is about to get outbox records; call before writing them."""
        await self._store.upsert(MARKER_TABLE, {"PartitionKey": MARKER_PARTITION, "RowKey": set_id})

    @staticmethod
    def insert_operation(record: OutboxRecord) -> Operation:
        entity = {
            "PartitionKey": record.set_id,
            "RowKey": ROW_PREFIX + record.id,
            "EventType": record.event_type.value,
            "Data": json.dumps(record.data, ensure_ascii=False, separators=(",", ":")),
            "OccurredAt": record.occurred_at,
            "Group": record.group,
        }
        return ("create", entity)

    async def pending(self, set_id: str, *, before: datetime | None = None) -> list[OutboxRecord]:
        """The set's records, optionally only those that occurred before `before`."""
        records = [
            _to_record(entity)
            async for entity in self._store.partition(DATA_TABLE, set_id, prefix=ROW_PREFIX)
        ]
        return [r for r in records if before is None or r.occurred_at < before]

    async def remove(self, records: list[OutboxRecord]) -> None:
        """Delete handed-over records.

        One by one, not batched: a concurrent hand-over of the same record may
        have deleted it already, and that must not fail the others.
        """
        await asyncio.gather(
            *(self._store.delete(DATA_TABLE, r.set_id, ROW_PREFIX + r.id) for r in records)
        )

    async def marked_sets(self) -> list[TableEntity]:
        return [entity async for entity in self._store.partition(MARKER_TABLE, MARKER_PARTITION)]

    async def unmark_if_idle(self, marker: TableEntity, idle: timedelta, now: datetime) -> bool:
        """Drop a set's marker once its partition has no records and nobody marked it lately.

        The quiet period covers a command that marked the set and has not
        committed its transaction yet; the ETag check covers one that marks it
        again while we look.
        """
        touched: datetime | None = marker.metadata.get("timestamp")
        if touched is None or now - touched < idle or await self.pending(marker["RowKey"]):
            return False

        return await self._store.delete_if_unchanged(MARKER_TABLE, marker)


def _to_record(entity: TableEntity | dict[str, Any]) -> OutboxRecord:
    return OutboxRecord(
        id=entity["RowKey"].removeprefix(ROW_PREFIX),
        set_id=entity["PartitionKey"],
        event_type=EventType(entity["EventType"]),
        data=json.loads(entity["Data"]),
        occurred_at=entity["OccurredAt"],
        group=entity.get("Group", ""),
    )
