"""Request and response models: camelCase JSON on the wire, snake_case here."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import langcodes
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    PlainSerializer,
    StringConstraints,
    UrlConstraints,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel

# Table Storage holds at most 64 KiB per string property: 32,000 UTF-16 code units.
MAX_TEXT_UTF16_UNITS = 32_000
MAX_NAME_LENGTH = 512
MAX_CULTURES = 200
MAX_IMPORT_ITEMS = 1_000
MAX_WEBHOOKS_PER_SET = 100
MAX_DESCRIPTION_LENGTH = 1_000
MAX_URL_LENGTH = 2_048


def rfc3339(moment: datetime) -> str:
    """UTC with millisecond precision and a `Z`, e.g. 2026-12-03T10:00:00.123Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Every moment the API answers with reads like an event's `timestamp`.
Timestamp = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class EventType(StrEnum):
    TRANSLATION_SAVED = "translation.saved"
    TRANSLATION_DELETED = "translation.deleted"
    TRANSLATIONS_IMPORTED = "translations.imported"
    TRANSLATIONS_SET_DELETED = "translations_set.deleted"
    WEBHOOK_PING = "webhook.ping"


class CamelModel(BaseModel):
    """Base for wire models: camelCase aliases, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        str_strip_whitespace=False,
    )


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _check_text(text: str) -> str:
    if _utf16_units(text) > MAX_TEXT_UTF16_UNITS:
        raise ValueError(f"text longer than {MAX_TEXT_UTF16_UNITS} UTF-16 code units")
    return text


def _check_culture(tag: str) -> str:
    if "_" in tag or not langcodes.tag_is_valid(tag):
        raise ValueError(f"not a BCP 47 language tag: {tag!r}")
    return _conventional_case(tag)


def _conventional_case(tag: str) -> str:
    """Tags are case-insensitive; store them as BCP 47 writes them: `zh-Hant-TW`, `en-x-abc`."""
    first, *rest = tag.lower().split("-")
    parts = [first]
    for index, part in enumerate(rest):
        if len(part) == 1:
            # An extension or private use: what follows is lower case as it is.
            parts += [part, *rest[index + 1 :]]
            break
        if len(part) == 4 and part.isalpha():
            part = part.title()  # script
        elif (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):
            part = part.upper()  # region
        parts.append(part)

    return "-".join(parts)


def _distinct_cultures(values: object) -> object:
    """`en` and `EN` are one culture: refuse both in one translation rather than pick one."""
    if isinstance(values, dict):
        folded = [key.lower() for key in values if isinstance(key, str)]
        if len(set(folded)) != len(folded):
            raise ValueError("cultures must differ by more than letter case")
    return values


SetId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH)]
# The pattern is the shape of a tag, for the schema and a cheap first check;
# langcodes then decides whether its parts are real subtags.
Culture = Annotated[
    str,
    StringConstraints(max_length=35, pattern=r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$"),
    AfterValidator(_check_culture),
]
Text = Annotated[str, AfterValidator(_check_text)]
Values = Annotated[
    dict[Culture, Text], BeforeValidator(_distinct_cultures), Field(max_length=MAX_CULTURES)
]
Description = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION_LENGTH)]
WebhookUrl = Annotated[
    HttpUrl, UrlConstraints(max_length=MAX_URL_LENGTH, allowed_schemes=["http", "https"])
]


class RequestModel(CamelModel):
    """Base for request bodies: JSON types are taken as they are ("yes" is no bool)."""

    model_config = ConfigDict(strict=True)


class TranslationSetCreate(RequestModel):
    id: SetId | None = None
    name: Name
    description: Description = ""


class TranslationSet(CamelModel):
    id: str
    name: str
    description: str
    created_at: Timestamp


class TranslationSave(RequestModel):
    resource: Name
    name: Name
    values: Values


class Translation(CamelModel):
    resource: str
    name: str
    values: dict[str, str]
    updated_at: Timestamp


class ImportItem(TranslationSave):
    set_id: SetId


class ImportRequest(RequestModel):
    items: Annotated[list[ImportItem], Field(min_length=1, max_length=MAX_IMPORT_ITEMS)]


class WebhookCreate(RequestModel):
    url: WebhookUrl
    events: Annotated[list[EventType], Field(max_length=len(EventType))] | None = None
    description: Description = ""
    legacy_secret_header: bool = False


class WebhookHealth(CamelModel):
    last_success_at: Timestamp | None = None
    last_failure_at: Timestamp | None = None
    consecutive_failures: int = 0
    failing_since: Timestamp | None = None
    disabled_at: Timestamp | None = None
    disabled_reason: str | None = None


class Webhook(CamelModel):
    id: str
    translations_set_id: str
    url: str
    events: list[EventType] | None
    description: str
    active: bool
    legacy_secret_header: bool
    created_at: Timestamp
    health: WebhookHealth = WebhookHealth()

    def subscribes_to(self, event_type: EventType) -> bool:
        return self.active and (not self.events or event_type in self.events)


class WebhookUpdate(RequestModel):
    """PATCH body: what may change on a registered webhook."""

    active: bool | None = None
    events: Annotated[list[EventType], Field(max_length=len(EventType))] | None = None
    description: Description | None = None


class WebhookWithSecret(Webhook):
    secret: str


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)


class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"


class AttemptRecord(CamelModel):
    attempt: int
    status_code: int | None
    error_kind: str | None
    error: str | None
    duration_ms: int
    at: Timestamp


class DeliveryLogEntry(AttemptRecord):
    """One attempt in a webhook's delivery log: the attempt, and what it carried."""

    job_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus


class DeliveryView(CamelModel):
    webhook_id: str
    url: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    delivered_at: Timestamp | None
    next_attempt_at: Timestamp | None = None
    history: list[AttemptRecord] = []


class JobView(CamelModel):
    id: str
    status: JobState
    event_type: EventType
    event_id: str
    translations_set_id: str
    created_at: Timestamp
    deliveries: list[DeliveryView]
    runtime_status: str | None = None


class CommandResult(CamelModel):
    """What every data-changing command answers: its notification job, if any."""

    job_id: str | None
    job_ids: list[str] = []


# Response bodies that wrap or extend the domain objects above. The blueprints
# answer with them and core/openapi.py documents the API from them, so what is
# documented is what is sent.


class TranslationSetCreated(TranslationSet):
    """A new set; `jobId` is always null, since no webhook can listen to a set before it exists."""

    job_id: None = None


class TranslationSetList(CamelModel):
    items: list[TranslationSet]


class JobAnswer(CamelModel):
    """The answer of a command whose only result is its notification job (null: nobody listens)."""

    job_id: str | None


class TranslationSaved(Translation):
    """A saved translation with the job that notifies its set's webhooks."""

    job_id: str | None


class TranslationList(CamelModel):
    items: list[Translation]


class SetImported(CamelModel):
    """One set's share of an import."""

    set_id: str
    count: int
    job_id: str | None


class ImportAnswer(CamelModel):
    """An import: every set's job, the total saved, and the first set's job as `jobId`."""

    job_id: str | None
    job_ids: list[str]
    imported: int
    sets: list[SetImported]


class WebhookList(CamelModel):
    items: list[Webhook]


class PingAnswer(CamelModel):
    """The outcome of the single attempt a ping makes, answered when the attempt is over."""

    job_id: str
    delivered: bool
    status_code: int | None
    error_kind: str | None
    error: str | None
    duration_ms: int


class DeliveryLogPage(CamelModel):
    """A page of a webhook's delivery log; `nextCursor` is null on the last page."""

    items: list[DeliveryLogEntry]
    next_cursor: str | None


class RedeliveryAnswer(CamelModel):
    """How many of the job's failed deliveries are being sent again."""

    job_id: str
    redelivering: int


class SecretRotated(CamelModel):
    """A webhook's new secret, shown this once; the old one still signs for the hours given."""

    id: str
    secret: str
    previous_secret_valid_hours: float


class FieldProblem(CamelModel):
    """Where validation failed and why; the input itself is never echoed."""

    loc: list[str]
    msg: str
    type: str


class ImportedItemRef(CamelModel):
    """Names one import item in a problem about a partly saved import."""

    set_id: str
    resource: str
    name: str


class Problem(CamelModel):
    """An RFC 9457 problem document; like the RFC, it allows extension members."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None
    saved: list[ImportedItemRef] | None = None
    not_saved: list[ImportedItemRef] | None = None
