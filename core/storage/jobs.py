"""Notification jobs and every delivery attempt, one partition per job.

Row keys: `job` (the event and its payload), `delivery|<webhook>` (current
state of one webhook's delivery), `attempt|<webhook>|<n>` (one attempt each).
"""

import json
from datetime import datetime
from typing import Any

from azure.data.tables import TableEntity, UpdateMode

from core.delivery import AttemptOutcome, DeliveryRequest, DeliveryTarget
from core.jobs.model import NotificationJob
from core.models import (
    AttemptRecord,
    DeliveryStatus,
    DeliveryView,
    EventType,
    JobState,
    JobView,
)
from core.storage.group_commit import GroupCommitter
from core.storage.tables import Operation, TableStore

TABLE = "jobs"
HEADER_ROW = "job"
DELIVERY_PREFIX = "delivery|"
ATTEMPT_PREFIX = "attempt|"


class JobsRepository:
    def __init__(self, store: TableStore) -> None:
        self._store = store
        self._commits = GroupCommitter(store, TABLE)

    async def create(self, job: NotificationJob) -> None:
        """Store the job with every delivery pending.

        The header row goes last: a job whose header exists is complete, even
        when its deliveries needed more than one transaction.
        """
        deliveries: list[Operation] = [
            ("upsert", _delivery_entity(job.id, target)) for target in job.targets
        ]
        await self._store.transact(TABLE, deliveries)
        await self._store.upsert(TABLE, _header_entity(job))

    async def record_attempt(
        self,
        request: DeliveryRequest,
        outcome: AttemptOutcome,
        status: DeliveryStatus,
        next_attempt_at: datetime | None,
    ) -> None:
        """Add the attempt and update the delivery's state in one transaction.

        Attempts of one job finishing together share transactions (group commit).
        """
        webhook_id = request.target.webhook_id
        attempt_row = {
            "PartitionKey": request.job_id,
            "RowKey": f"{ATTEMPT_PREFIX}{webhook_id}|{outcome.attempt:04d}",
            "Attempt": outcome.attempt,
            "StatusCode": outcome.status_code,
            "ErrorKind": outcome.error_kind,
            "Error": outcome.error,
            "DurationMs": outcome.duration_ms,
            "At": outcome.at,
        }
        delivery_update = {
            "PartitionKey": request.job_id,
            "RowKey": DELIVERY_PREFIX + webhook_id,
            "Status": status.value,
            "Attempts": outcome.attempt,
            "LastStatusCode": outcome.status_code,
            "LastError": outcome.error,
            "DeliveredAt": outcome.at if outcome.delivered else None,
            "NextAttemptAt": next_attempt_at,
        }
        await self._commits.write(
            [
                ("upsert", _without_nones(attempt_row)),
                ("upsert", _nulls_as_empty(delivery_update), {"mode": UpdateMode.MERGE}),
            ]
        )

    async def get_view(self, job_id: str) -> JobView | None:
        """The job and every delivery's outcome, as the jobs API shows it."""
        header: TableEntity | None = None
        deliveries: dict[str, TableEntity] = {}
        attempts: dict[str, list[AttemptRecord]] = {}
        async for entity in self._store.partition(TABLE, job_id):
            row = entity["RowKey"]
            if row == HEADER_ROW:
                header = entity
            elif row.startswith(DELIVERY_PREFIX):
                deliveries[row.removeprefix(DELIVERY_PREFIX)] = entity
            elif row.startswith(ATTEMPT_PREFIX):
                webhook_id = row.removeprefix(ATTEMPT_PREFIX).rsplit("|", 1)[0]
                attempts.setdefault(webhook_id, []).append(_attempt_record(entity))
        if header is None:
            return None

        views = [
            _delivery_view(webhook_id, entity, attempts.get(webhook_id, []))
            for webhook_id, entity in deliveries.items()
        ]
        return JobView(
            id=job_id,
            status=_job_state(views),
            event_type=EventType(header["EventType"]),
            event_id=header["EventId"],
            translations_set_id=header["TranslationsSetId"],
            created_at=header["CreatedAt"],
            deliveries=views,
        )

    async def load_request(self, job_id: str, webhook_id: str) -> DeliveryRequest | None:
        """Everything needed to send one delivery, read back from storage."""
        header = await self._store.get(TABLE, job_id, HEADER_ROW)
        delivery = await self._store.get(TABLE, job_id, DELIVERY_PREFIX + webhook_id)
        if header is None or delivery is None:
            return None

        return DeliveryRequest(
            job_id=job_id,
            event_id=header["EventId"],
            payload=bytes(header["Payload"]),
            target=_target(webhook_id, delivery),
        )


def _header_entity(job: NotificationJob) -> dict[str, Any]:
    return {
        "PartitionKey": job.id,
        "RowKey": HEADER_ROW,
        "EventId": job.event_id,
        "EventType": job.event_type.value,
        "TranslationsSetId": job.translations_set_id,
        "CreatedAt": job.created_at,
        "Payload": job.payload,
        "DeliveryCount": len(job.targets),
    }


def _delivery_entity(job_id: str, target: DeliveryTarget) -> dict[str, Any]:
    return {
        "PartitionKey": job_id,
        "RowKey": DELIVERY_PREFIX + target.webhook_id,
        "Url": target.url,
        # The job keeps its own copy of the signing secrets so that deliveries
        # outlive the webhook (a deleted set still announces its deletion).
        "Secrets": json.dumps(list(target.secrets)),
        "LegacySecretHeader": target.legacy_secret_header,
        "Status": DeliveryStatus.PENDING.value,
        "Attempts": 0,
    }


def _target(webhook_id: str, delivery: TableEntity) -> DeliveryTarget:
    return DeliveryTarget(
        webhook_id=webhook_id,
        url=delivery["Url"],
        secrets=tuple(json.loads(delivery["Secrets"])),
        legacy_secret_header=delivery.get("LegacySecretHeader", False),
    )


def _delivery_view(
    webhook_id: str, entity: TableEntity, history: list[AttemptRecord]
) -> DeliveryView:
    return DeliveryView(
        webhook_id=webhook_id,
        url=entity["Url"],
        status=DeliveryStatus(entity["Status"]),
        attempts=entity.get("Attempts", 0),
        last_status_code=entity.get("LastStatusCode") or None,
        last_error=entity.get("LastError") or None,
        delivered_at=entity.get("DeliveredAt") or None,
        next_attempt_at=entity.get("NextAttemptAt") or None,
        history=sorted(history, key=lambda record: record.attempt),
    )


def _attempt_record(entity: TableEntity) -> AttemptRecord:
    return AttemptRecord(
        attempt=entity["Attempt"],
        status_code=entity.get("StatusCode"),
        error_kind=entity.get("ErrorKind"),
        error=entity.get("Error"),
        duration_ms=entity["DurationMs"],
        at=entity["At"],
    )


def _job_state(deliveries: list[DeliveryView]) -> JobState:
    if all(delivery.status.is_final for delivery in deliveries):
        return JobState.COMPLETED
    if any(delivery.attempts > 0 for delivery in deliveries):
        return JobState.RUNNING

    return JobState.PENDING


def _without_nones(entity: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in entity.items() if value is not None}


def _nulls_as_empty(entity: dict[str, Any]) -> dict[str, Any]:
    # A merge keeps properties that are left out; an empty value clears them.
    return {key: "" if value is None else value for key, value in entity.items()}
