"""The notifier: hands outbox records over to the job service as jobs.

It runs right after a command (the fast path) and from the sweeper, which
picks up records that were never handed over (a crash, a failed dispatch).
Only records whose job was scheduled are removed from the outbox; the rest
wait for the next sweep. Handing a record over twice is harmless: the job id
is derived from the record and the job service creates each job once.
"""

import logging
from datetime import UTC, datetime, timedelta

from core.delivery import DeliveryTarget
from core.errors import DataManagerError
from core.events import build_payload
from core.jobs.model import NotificationJob
from core.jobs.service import JobService
from core.logs import log_event
from core.models import EventType, Webhook
from core.outbox import Notification, OutboxRecord, notifications
from core.storage import Storage

logger = logging.getLogger(__name__)

# A set's outbox marker is dropped only after this long without new records.
MARKER_IDLE = timedelta(minutes=15)


class Notifier:
    def __init__(self, *, storage: Storage, jobs: JobService, sweep_grace: timedelta) -> None:
        self._storage = storage
        self._jobs = jobs
        self._grace = sweep_grace

    async def dispatch(self, set_id: str, records: list[OutboxRecord]) -> dict[str, str | None]:
        """Hand the set's records over; maps each record id to its (first) job id.

        A record maps to None when no active webhook subscribes to its event.
        """
        subscribers = await self._storage.webhooks.list_with_secrets(set_id)
        job_ids: dict[str, str | None] = {}
        kept: set[str] = set()
        for notification in notifications(records):
            try:
                job_id = await self._schedule(notification, subscribers)
            except DataManagerError as exc:
                # Its records stay in the outbox for the sweeper.
                kept.update(record.id for record in notification.records)
                log_event(
                    logger,
                    "outbox.dispatch_failed",
                    level=logging.WARNING,
                    set_id=set_id,
                    job_id=notification.job_id,
                    error=type(exc).__name__,
                )
                continue
            for record in notification.records:
                job_ids.setdefault(record.id, job_id)

        done = [record for record in records if record.id not in kept]
        # A deleted set's data goes once nothing in its outbox waits any more,
        # and before its records do: if removing the data fails, the deletion
        # record stays for the sweeper, which finishes the job.
        deleted = any(r.event_type is EventType.TRANSLATIONS_SET_DELETED for r in done)
        if deleted and not kept:
            await self._finish_set_deletion(set_id)
        await self._storage.outbox.remove(done)

        return job_ids

    async def _schedule(
        self, notification: Notification, subscribers: list[tuple[Webhook, tuple[str, ...]]]
    ) -> str | None:
        targets = tuple(
            DeliveryTarget(
                webhook_id=webhook.id,
                url=webhook.url,
                secrets=secrets,
                legacy_secret_header=webhook.legacy_secret_header,
            )
            for webhook, secrets in subscribers
            if webhook.subscribes_to(notification.event_type)
        )
        if not targets:
            log_event(
                logger,
                "job.skipped",
                set_id=notification.set_id,
                event_type=notification.event_type.value,
                reason="no active subscriber",
            )
            return None

        return await self._jobs.schedule(_job(notification, targets))

    async def _finish_set_deletion(self, set_id: str) -> None:
        """Remove what a deleted set left: translations, webhooks, its index row."""
        await self._storage.translations.delete_all(set_id)
        await self._storage.webhooks.delete_all(set_id)
        await self._storage.sets.remove_from_index(set_id)
        log_event(logger, "set.deleted", set_id=set_id)

    async def redeliver(self, job_id: str) -> int:
        """Ask the job service to send a job's failed deliveries again."""
        return await self._jobs.redeliver(job_id)

    async def runtime_status(self, job_id: str) -> str | None:
        """The job service's own status of a job, such as its orchestration's."""
        return await self._jobs.runtime_status(job_id)

    async def sweep(self) -> int:
        """Hand over every record older than the grace period; returns how many."""
        now = datetime.now(UTC)
        swept = 0
        for marker in await self._storage.outbox.marked_sets():
            set_id = marker["RowKey"]
            try:
                records = await self._storage.outbox.pending(set_id, before=now - self._grace)
                if records:
                    await self.dispatch(set_id, records)
                    swept += len(records)
                else:
                    await self._storage.outbox.unmark_if_idle(marker, MARKER_IDLE, now)
            except DataManagerError as exc:
                log_event(
                    logger,
                    "outbox.sweep_failed",
                    level=logging.WARNING,
                    set_id=set_id,
                    error=type(exc).__name__,
                )
        if swept:
            log_event(logger, "outbox.swept", records=swept)

        return swept


def _job(notification: Notification, targets: tuple[DeliveryTarget, ...]) -> NotificationJob:
    """The job for a notification; the same bytes every time it is built."""
    payload = build_payload(
        event_id=notification.event_id,
        event_type=notification.event_type,
        translations_set_id=notification.set_id,
        data=notification.data,
        occurred_at=notification.occurred_at,
    )
    return NotificationJob(
        id=notification.job_id,
        event_id=notification.event_id,
        event_type=notification.event_type,
        translations_set_id=notification.set_id,
        created_at=notification.occurred_at,
        payload=payload,
        targets=targets,
    )
