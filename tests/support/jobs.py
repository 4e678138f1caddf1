"""Notification jobs for tests, built the way the notifier builds them."""

from datetime import UTC, datetime

from core.delivery import DeliveryTarget
from core.events import build_payload, new_event_id
from core.jobs.model import NotificationJob, new_job_id
from core.models import EventType
from core.signing import generate_secret


def notification_job(*urls: str) -> NotificationJob:
    """A `translation.saved` job with one delivery per URL, webhooks wh0, wh1 …"""
    event_id = new_event_id()
    now = datetime.now(UTC)
    return NotificationJob(
        id=new_job_id(),
        event_id=event_id,
        event_type=EventType.TRANSLATION_SAVED,
        translations_set_id="web",
        created_at=now,
        payload=build_payload(
            event_id=event_id,
            event_type=EventType.TRANSLATION_SAVED,
            translations_set_id="web",
            data={"resource": "Pages/Home", "name": "title", "cultures": ["en"]},
            occurred_at=now,
        ),
        targets=tuple(
            DeliveryTarget(webhook_id=f"wh{index}", url=url, secrets=(generate_secret(),))
            for index, url in enumerate(urls)
        ),
    )
