"""A notification job: one event, and one delivery per subscribed webhook."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from core.delivery import DeliveryRequest, DeliveryTarget
from core.models import EventType


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
            job_id=self.id, event_id=self.event_id, payload=self.payload, target=target
        )

    @property
    def requests(self) -> list[DeliveryRequest]:
        return [self.request_for(target) for target in self.targets]
