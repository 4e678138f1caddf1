"""Notification jobs and every delivery attempt, one partition per job.

Row keys: `job` (the event and its payload), `delivery|<webhook>` (current
state of one webhook's delivery), `attempt|<webhook>|<n>` (one attempt each).
Partition `!active` lists the in-process jobs that are not finished, so they
can be resumed after a restart. The `deliverylog` table keeps each webhook's
attempts newest first (partition: the set; row: webhook, then inverted time),
for its deliveries listing.
"""

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.data.tables import TableEntity, UpdateMode

from core.delivery import AttemptOutcome, DeliveryRequest, DeliveryTarget
from core.errors import ChangedMeanwhileError, ConflictError
from core.jobs.model import NotificationJob, PendingDelivery, StoredDelivery
from core.models import (
    AttemptRecord,
    DeliveryLogEntry,
    DeliveryStatus,
    DeliveryView,
    EventType,
    JobState,
    JobView,
)
from core.secret_box import SecretBox
from core.storage.group_commit import GroupCommitter
from core.storage.tables import Operation, TableStore

TABLE = "jobs"
LOG_TABLE = "deliverylog"
HEADER_ROW = "job"
DELIVERY_PREFIX = "delivery|"
ATTEMPT_PREFIX = "attempt|"
ACTIVE_PARTITION = "!active"
CREATING, READY = "creating", "ready"
DEFAULT_ATTEMPT_BUDGET = 3
DEFAULT_CLAIM_TIMEOUT = timedelta(seconds=60)
# Inverted timestamps sort newest first; this many digits outlast us all.
_LOG_KEY_DIGITS = 15
_LOG_KEY_MAX = 10**_LOG_KEY_DIGITS - 1
# Log partition for attempts that belong to no set (none are made today).
NO_SET = "-"


class JobsRepository:
    def __init__(self, store: TableStore, secret_box: SecretBox) -> None:
        self._store = store
        self._box = secret_box
        self._commits = GroupCommitter(store, TABLE)
        self._log_commits = GroupCommitter(store, LOG_TABLE)

    async def create(
        self,
        job: NotificationJob,
        *,
        max_attempts: int = DEFAULT_ATTEMPT_BUDGET,
        resumable: bool = False,
        claim_timeout: timedelta = DEFAULT_CLAIM_TIMEOUT,
    ) -> bool:
        """Store the job with every delivery pending; False when it already exists.

        The header row is claimed first with an insert, which only one caller
        wins, so a job handed over twice, even at once, is created once. A claim
        left half-done by a crashed creator is taken over after `claim_timeout`.
        """
        if not await self._claim(job, claim_timeout):
            return False

        if resumable:
            await self._store.upsert(TABLE, {"PartitionKey": ACTIVE_PARTITION, "RowKey": job.id})
        deliveries: list[Operation] = [
            ("upsert", _delivery_entity(job.id, target, max_attempts, self._box))
            for target in job.targets
        ]
        await self._store.write_batches(TABLE, deliveries)
        await self._store.upsert(
            TABLE, {"PartitionKey": job.id, "RowKey": HEADER_ROW, "State": READY}, merge=True
        )

        return True

    async def _claim(self, job: NotificationJob, claim_timeout: timedelta) -> bool:
        if await self._store.insert(TABLE, _header_entity(job)):
            return True

        existing = await self._store.get(TABLE, job.id, HEADER_ROW)
        if existing is None or existing.get("State") != CREATING:
            return False
        claimed_at: datetime | None = existing.metadata.get("timestamp")
        if claimed_at is not None and datetime.now(UTC) - claimed_at < claim_timeout:
            return False

        # Touching the header with its ETag makes one taker win.
        return await self._store.update_if_unchanged(TABLE, existing, {"State": CREATING})

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
        attempt_fields = {
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
        attempt_row = {
            "PartitionKey": request.job_id,
            "RowKey": f"{ATTEMPT_PREFIX}{webhook_id}|{outcome.attempt:04d}",
            **attempt_fields,
        }
        log_row = {
            # One partition per set: a fan-out's log rows share transactions.
            "PartitionKey": request.set_id or NO_SET,
            "RowKey": f"{webhook_id}|{_log_key(outcome.at, request.job_id, outcome.attempt)}",
            "JobId": request.job_id,
            "EventId": request.event_id,
            "EventType": request.event_type,
            "Status": status.value,
            **attempt_fields,
        }
        job_write = self._commits.write(
            [
                ("upsert", _without_nones(attempt_row)),
                ("upsert", _nulls_as_empty(delivery_update), {"mode": UpdateMode.MERGE}),
            ]
        )
        log_write = self._log_commits.write([("upsert", _without_nones(log_row))])
        await asyncio.gather(job_write, log_write)

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

    async def delivery(self, job_id: str, webhook_id: str) -> StoredDelivery | None:
        """One delivery's state and everything needed to send it, in two parallel reads."""
        header, delivery = await asyncio.gather(
            self._store.get(TABLE, job_id, HEADER_ROW),
            self._store.get(TABLE, job_id, DELIVERY_PREFIX + webhook_id),
        )
        if header is None or delivery is None:
            return None

        return StoredDelivery(
            request=_request(header, webhook_id, delivery, self._box),
            status=DeliveryStatus(delivery["Status"]),
            attempts=delivery.get("Attempts", 0),
            status_code=delivery.get("LastStatusCode") or None,
            error=delivery.get("LastError") or None,
        )

    async def active_jobs(self) -> list[str]:
        """Ids of in-process jobs not known to be finished."""
        return [entity["RowKey"] async for entity in self._store.partition(TABLE, ACTIVE_PARTITION)]

    async def unfinished(self, job_id: str) -> list[PendingDelivery] | None:
        """The job's deliveries that are not final; None while the job is not fully created."""
        header: TableEntity | None = None
        deliveries: list[TableEntity] = []
        async for entity in self._store.partition(TABLE, job_id):
            if entity["RowKey"] == HEADER_ROW:
                header = entity
            elif entity["RowKey"].startswith(DELIVERY_PREFIX):
                deliveries.append(entity)
        if header is None or header.get("State") != READY:
            return None

        return [
            _pending(header, delivery, self._box)
            for delivery in deliveries
            if not DeliveryStatus(delivery["Status"]).is_final
        ]

    async def finish(self, job_id: str) -> None:
        """The job needs no resuming any more."""
        await self._store.delete(TABLE, ACTIVE_PARTITION, job_id)

    async def reopen_failed(
        self, job_id: str, max_attempts: int, *, resumable: bool = True
    ) -> list[PendingDelivery]:
        """Make the job's failed deliveries pending again, with a fresh attempt budget.

        `resumable`: list the job for resuming after a restart (in-process jobs).
        """
        header = await self._store.get(TABLE, job_id, HEADER_ROW)
        if header is None:
            return []
        failed = [
            entity
            async for entity in self._store.partition(TABLE, job_id, prefix=DELIVERY_PREFIX)
            if entity["Status"] == DeliveryStatus.FAILED.value
        ]
        if not failed:
            return []

        if resumable:
            await self._store.upsert(TABLE, {"PartitionKey": ACTIVE_PARTITION, "RowKey": job_id})
        reopened = [
            {**entity, "Status": DeliveryStatus.PENDING.value, "NextAttemptAt": "",
             "AttemptBudget": entity.get("Attempts", 0) + max_attempts}
            for entity in failed
        ]  # fmt: skip
        # Each row only as it was read: of redeliveries racing, one reopens the job.
        updates: list[Operation] = [
            ("update", entity, {"mode": UpdateMode.REPLACE, "etag": read.metadata["etag"],
                                "match_condition": MatchConditions.IfNotModified})
            for entity, read in zip(reopened, failed, strict=True)
        ]  # fmt: skip
        try:
            await self._store.write_batches(TABLE, updates)
        except ChangedMeanwhileError:
            raise ConflictError(f"job {job_id!r} is being redelivered already") from None

        return [_pending(header, entity, self._box) for entity in reopened]

    async def fail_unfinished(self, job_id: str, errors: Mapping[str, str | None]) -> int:
        """Mark deliveries failed where they do not read final yet; returns how many.

        `errors` maps webhook ids to the error to record (None keeps the last one).
        For outcomes that were settled without being recorded (an orchestration
        whose activity failed to the end) and for a redelivery that could not be
        started, whose rows must read failed again to be redelivered later.
        """
        rows = await asyncio.gather(
            *(self._store.get(TABLE, job_id, DELIVERY_PREFIX + webhook_id) for webhook_id in errors)
        )
        updates: list[Operation] = []
        for webhook_id, row in zip(errors, rows, strict=True):
            if row is None or DeliveryStatus(row["Status"]).is_final:
                continue
            fields = {"Status": DeliveryStatus.FAILED.value, "NextAttemptAt": ""}
            if (error := errors[webhook_id]) is not None:
                fields["LastError"] = error
            entity = {"PartitionKey": job_id, "RowKey": row["RowKey"], **fields}
            updates.append(("upsert", entity, {"mode": UpdateMode.MERGE}))
        if updates:
            await self._store.write_batches(TABLE, updates)

        return len(updates)

    async def webhook_log(
        self, set_id: str, webhook_id: str, *, limit: int, after: str | None
    ) -> tuple[list[DeliveryLogEntry], str | None]:
        """A page of the webhook's attempts, newest first, and the cursor for the next."""
        prefix = f"{webhook_id}|"
        query = "PartitionKey eq @pk and RowKey gt @low and RowKey lt @high"
        parameters = {"pk": set_id, "low": prefix + (after or ""), "high": webhook_id + "}"}
        page: list[TableEntity] = []
        async for entity in self._store.query(LOG_TABLE, query, parameters):
            page.append(entity)
            if len(page) > limit:
                break
        more = len(page) > limit
        page = page[:limit]

        cursor = page[-1]["RowKey"].removeprefix(prefix) if more else None
        return [_log_entry(entity) for entity in page], cursor


def _log_key(at: datetime, job_id: str, attempt: int) -> str:
    inverted = _LOG_KEY_MAX - int(at.timestamp() * 1000)
    return f"{inverted:0{_LOG_KEY_DIGITS}d}|{job_id}|{attempt:04d}"


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
        "State": CREATING,
    }


def _delivery_entity(
    job_id: str, target: DeliveryTarget, max_attempts: int, box: SecretBox
) -> dict[str, Any]:
    return {
        "PartitionKey": job_id,
        "RowKey": DELIVERY_PREFIX + target.webhook_id,
        "Url": target.url,
        # The job keeps its own copy of the signing secrets so that deliveries
        # outlive the webhook (a deleted set still announces its deletion).
        "Secrets": json.dumps([box.seal(secret) for secret in target.secrets]),
        "LegacySecretHeader": target.legacy_secret_header,
        "Status": DeliveryStatus.PENDING.value,
        "Attempts": 0,
        "AttemptBudget": max_attempts,
    }


def _request(
    header: TableEntity, webhook_id: str, delivery: TableEntity | dict[str, Any], box: SecretBox
) -> DeliveryRequest:
    return DeliveryRequest(
        job_id=header["PartitionKey"],
        event_id=header["EventId"],
        payload=bytes(header["Payload"]),
        target=DeliveryTarget(
            webhook_id=webhook_id,
            url=delivery["Url"],
            secrets=tuple(box.open(secret) for secret in json.loads(delivery["Secrets"])),
            legacy_secret_header=delivery.get("LegacySecretHeader", False),
        ),
        set_id=header["TranslationsSetId"],
        event_type=header["EventType"],
    )


def _pending(
    header: TableEntity, delivery: TableEntity | dict[str, Any], box: SecretBox
) -> PendingDelivery:
    webhook_id = delivery["RowKey"].removeprefix(DELIVERY_PREFIX)
    return PendingDelivery(
        request=_request(header, webhook_id, delivery, box),
        attempts=delivery.get("Attempts", 0),
        attempt_budget=delivery.get("AttemptBudget", 0),
        next_attempt_at=delivery.get("NextAttemptAt") or None,
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


def _log_entry(entity: TableEntity) -> DeliveryLogEntry:
    return DeliveryLogEntry(
        **_attempt_record(entity).model_dump(),
        job_id=entity["JobId"],
        event_id=entity["EventId"],
        event_type=entity.get("EventType", ""),
        status=DeliveryStatus(entity["Status"]),
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
