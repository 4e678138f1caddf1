"""The event envelope sent to receivers, built once and serialized once.

The bytes produced here are the bytes signed and the bytes sent, on every
attempt; nothing re-serializes the payload later.
"""

import json
import uuid
from datetime import datetime
from typing import Any

from core.models import EventType, rfc3339

EVENT_ID_PREFIX = "evt_"


def new_event_id() -> str:
    return EVENT_ID_PREFIX + uuid.uuid4().hex


def build_payload(
    *,
    event_id: str,
    event_type: EventType,
    translations_set_id: str,
    data: dict[str, Any],
    occurred_at: datetime,
) -> bytes:
    """The JSON body receivers get: compact, UTF-8, camelCase."""
    envelope = {
        "id": event_id,
        "type": event_type.value,
        "timestamp": rfc3339(occurred_at),
        "translationsSetId": translations_set_id,
        "data": data,
    }

    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
