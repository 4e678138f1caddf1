"""The transactional outbox: a pending notification written with the change it announces.

A command writes its data change and an outbox record in one entity-group
transaction of the set's partition, so either both exist or neither. The
notifier then turns records into jobs and removes them; whatever it could not
hand over stays in the outbox for the sweeper. Job and event ids are derived
from the record, so handing a record over twice never makes two jobs.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.models import EventType

# Receivers get import events of about this size at most; longer lists are
# split over several events.
MAX_IMPORT_EVENT_BYTES = 20_000


@dataclass(frozen=True, kw_only=True)
class OutboxRecord:
    id: str
    set_id: str
    event_type: EventType
    data: dict[str, Any]
    occurred_at: datetime
    # Records of one import share a group and become one notification per set.
    group: str = ""

    @property
    def group_key(self) -> str:
        return self.group or self.id


def new_record(
    set_id: str, event_type: EventType, data: dict[str, Any], *, group: str = ""
) -> OutboxRecord:
    return OutboxRecord(
        id=uuid.uuid4().hex,
        set_id=set_id,
        event_type=event_type,
        data=data,
        occurred_at=datetime.now(UTC),
        group=group,
    )


@dataclass(frozen=True)
class Notification:
    """One event to send: what a job is made of, with ids derived from its records."""

    job_id: str
    set_id: str
    event_type: EventType
    data: dict[str, Any]
    occurred_at: datetime
    records: tuple[OutboxRecord, ...] = field(compare=False)

    @property
    def event_id(self) -> str:
        return "evt_" + self.job_id


def job_id_for(set_id: str, group: str, part: int) -> str:
    """The job id a group's part always gets."""
    return hashlib.sha256(f"{set_id}|{group}|{part}".encode()).hexdigest()[:32]


def notifications(records: list[OutboxRecord]) -> list[Notification]:
    """Group a set's pending records into the notifications they stand for."""
    groups: dict[str, list[OutboxRecord]] = {}
    for record in sorted(records, key=lambda r: (r.occurred_at, r.id)):
        groups.setdefault(record.group_key, []).append(record)

    found: list[Notification] = []
    for group, members in groups.items():
        first = members[0]
        parts = (
            _import_parts(members)
            if first.event_type is EventType.TRANSLATIONS_IMPORTED
            else [first.data]
        )
        found += [
            Notification(
                job_id=job_id_for(first.set_id, group, index),
                set_id=first.set_id,
                event_type=first.event_type,
                data=data,
                occurred_at=first.occurred_at,
                records=tuple(members),
            )
            for index, data in enumerate(parts)
        ]

    return found


def _import_parts(records: list[OutboxRecord]) -> list[dict[str, Any]]:
    """One import's records for a set, merged, then split into events of about 20 KB."""
    pairs = [pair for record in records for pair in record.data["translations"]]
    parts: list[list[dict[str, str]]] = [[]]
    size = 0
    for pair in pairs:
        cost = len(json.dumps(pair, ensure_ascii=False).encode()) + 1
        if parts[-1] and size + cost > MAX_IMPORT_EVENT_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(pair)
        size += cost

    total = len(pairs)
    return [
        {
            "count": len(part),
            "totalCount": total,
            "part": index + 1,
            "parts": len(parts),
            "translations": part,
        }
        for index, part in enumerate(parts)
    ]
