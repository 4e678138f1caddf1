"""A notification job: one event, and one delivery per subscribed webhook."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from core.delivery import DeliveryRequest, DeliveryTarget
from core.models import DeliveryStatus, EventType


def new_job_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, kw_only=True)
class NotificationJob:
    id: str
    event_id: str
    event_type: EventType
    translations_set_id: str
    created_at: datetime
    payload: bytes
    targets: tuple[DeliveryTarget, ...]

    def request_for(self, target: DeliveryTarget) -> DeliveryRequest:
        return DeliveryRequest(
            job_id=self.id,
            event_id=self.event_id,
            payload=self.payload,
            target=target,
            set_id=self.translations_set_id,
            event_type=self.event_type.value,
        )

    @property
    def requests(self) -> list[DeliveryRequest]:
        return [self.request_for(target) for target in self.targets]


@dataclass(frozen=True, kw_only=True)
class PendingDelivery:
    """A delivery that is not final yet, as stored: where to pick it up again."""

    request: DeliveryRequest
    attempts: int
    # The last attempt number this round of deliveries may use.
    attempt_budget: int
    next_attempt_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class StoredDelivery:
    """One delivery as last recorded: where it stands, and what to send next."""

    request: DeliveryRequest
    status: DeliveryStatus
    attempts: int
    status_code: int | None
    error: str | None
