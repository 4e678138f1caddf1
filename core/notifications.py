"""The notification helper: turns a change in a set into at most one job."""

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from core.delivery import DeliveryTarget
from core.errors import DataManagerError
from core.events import build_payload, new_event_id
from core.jobs.model import NotificationJob, new_job_id
from core.jobs.service import JobService
from core.logs import log_event
from core.models import EventType, Webhook
from core.storage import WebhooksRepository

logger = logging.getLogger(__name__)

Subscribers = Sequence[tuple[Webhook, str]]


class Notifier:
    def __init__(self, *, webhooks: WebhooksRepository, jobs: JobService) -> None:
        self._webhooks = webhooks
        self._jobs = jobs

    async def subscribers(self, set_id: str) -> Subscribers:
        """The set's webhooks with their secrets (load before deleting a set)."""
        return await self._webhooks.list_with_secrets(set_id)

    async def notify(
        self,
        set_id: str,
        event_type: EventType,
        data: dict[str, Any],
        *,
        subscribers: Subscribers | None = None,
    ) -> str | None:
        """Schedule one job for the active webhooks subscribed to `event_type`.

        Returns the job id, or None when nobody subscribes.
        """
        if subscribers is None:
            subscribers = await self.subscribers(set_id)
        targets = tuple(
            DeliveryTarget(
                webhook_id=webhook.id,
                url=webhook.url,
                secrets=(secret,),
                legacy_secret_header=webhook.legacy_secret_header,
            )
            for webhook, secret in subscribers
            if webhook.subscribes_to(event_type)
        )
        if not targets:
            log_event(logger, "job.skipped", set_id=set_id, event_type=event_type.value)
            return None

        now = datetime.now(UTC)
        event_id = new_event_id()
        job = NotificationJob(
            id=new_job_id(),
            event_id=event_id,
            event_type=event_type,
            translations_set_id=set_id,
            created_at=now,
            payload=build_payload(
                event_id=event_id,
                event_type=event_type,
                translations_set_id=set_id,
                data=data,
                occurred_at=now,
            ),
            targets=targets,
        )

        return await self._jobs.schedule(job)

    async def notify_each(
        self, event_type: EventType, changes: dict[str, dict[str, Any]]
    ) -> dict[str, str | None]:
        """Notify several sets; one set that fails to schedule does not stop the others."""
        job_ids: dict[str, str | None] = {}
        for set_id, data in changes.items():
            try:
                job_ids[set_id] = await self.notify(set_id, event_type, data)
            except DataManagerError as exc:
                # TODO: the outbox (issue 4) makes this recoverable; until then the
                # change is saved but its notification is lost, and we say so.
                log_event(
                    logger,
                    "job.schedule_failed",
                    level=logging.ERROR,
                    set_id=set_id,
                    event_type=event_type.value,
                    error=type(exc).__name__,
                )
                job_ids[set_id] = None

        return job_ids
