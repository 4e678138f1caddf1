"""HTTP plumbing shared by the blueprints: JSON in, JSON or problem+json out."""

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, TypeVar

import azure.functions as func
from pydantic import BaseModel, ValidationError

from core.errors import (
    ConflictError,
    DataManagerError,
    InvalidInputError,
    JobServiceClosedError,
    NotFoundError,
    PayloadTooLargeError,
    SettingsError,
    StorageUnavailableError,
    UnprocessableError,
    UnsupportedMediaTypeError,
)
from core.logs import log_event

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
MAX_INT_PARAM_DIGITS = 9
# JSON is UTF-8 (RFC 8259); ASCII is a subset of it.
JSON_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii"})
PROBLEM_TYPE = "https://datamanager.dev/problems/"

Model = TypeVar("Model", bound=BaseModel)
Handler = Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]

_STATUS_FOR: list[tuple[type[DataManagerError], HTTPStatus]] = [
    (InvalidInputError, HTTPStatus.BAD_REQUEST),
    (NotFoundError, HTTPStatus.NOT_FOUND),
    (ConflictError, HTTPStatus.CONFLICT),
    (PayloadTooLargeError, HTTPStatus.REQUEST_ENTITY_TOO_LARGE),
    (UnprocessableError, HTTPStatus.UNPROCESSABLE_ENTITY),
    (UnsupportedMediaTypeError, HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
    (StorageUnavailableError, HTTPStatus.SERVICE_UNAVAILABLE),
    (JobServiceClosedError, HTTPStatus.SERVICE_UNAVAILABLE),
    (SettingsError, HTTPStatus.INTERNAL_SERVER_ERROR),
]


def json_response(body: Any, status: int = HTTPStatus.OK) -> func.HttpResponse:
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json", by_alias=True)
    return func.HttpResponse(
        json.dumps(body, ensure_ascii=False),
        status_code=status,
        mimetype="application/json",
        charset="utf-8",
    )


def problem(status: HTTPStatus, detail: str, **extra: Any) -> func.HttpResponse:
    """An RFC 9457 problem document."""
    body = {
        "type": PROBLEM_TYPE + status.phrase.lower().replace(" ", "-"),
        "title": status.phrase,
        "status": status.value,
        "detail": detail,
        **extra,
    }
    return func.HttpResponse(
        json.dumps(body, ensure_ascii=False),
        status_code=status.value,
        mimetype="application/problem+json",
        charset="utf-8",
    )


def parse_body(req: func.HttpRequest, model: type[Model]) -> Model:
    """The request body as `model`; InvalidInputError says what is wrong."""
    _require_json(req.headers.get("content-type"))
    body = req.get_body()
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"request body larger than {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        # ValueError covers undecodable bytes, bad JSON and integers over
        # Python's 4,300-digit conversion limit.
        raise InvalidInputError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidInputError("request body must be a JSON object")
    try:
        # Parsed again from the bytes so that strict JSON-mode rules apply.
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidInputError("request body failed validation", _errors(exc)) from None


def _require_json(content_type: str | None) -> None:
    """Refuse bodies declared as something else; a missing Content-Type reads as JSON."""
    if content_type is None or not content_type.strip():
        return
    media_type, *parameters = (part.strip() for part in content_type.split(";"))
    media_type = media_type.lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaTypeError(
            f"request bodies are JSON: send Content-Type application/json, not {media_type[:100]!r}"
        )
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in JSON_CHARSETS:
            raise UnsupportedMediaTypeError(
                f"request bodies are UTF-8 JSON, not charset {charset[:40]!r}"
            )


def required_param(req: func.HttpRequest, name: str) -> str:
    value: str | None = req.params.get(name)
    if value is None:
        raise InvalidInputError(f"query parameter {name!r} is required")
    return value


def int_param(req: func.HttpRequest, name: str, *, default: int, low: int, high: int) -> int:
    """An optional whole-number query parameter within [low, high]."""
    raw = req.params.get(name)
    if raw is None:
        return default
    # ASCII only: str.isdigit() is also true of "²", which int() refuses; and
    # int() refuses over 4,300 digits, far beyond any bound here.
    digits = raw.isascii() and raw.isdigit() and len(raw) <= MAX_INT_PARAM_DIGITS
    if not digits or not low <= int(raw) <= high:
        raise InvalidInputError(
            f"query parameter {name!r} must be a whole number from {low} to {high}"
        )
    return int(raw)


def _errors(exc: ValidationError) -> list[dict[str, object]]:
    # Only location, message and type: echoing the input could repeat a secret.
    return [
        {"loc": [str(part) for part in err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def _status_for(exc: DataManagerError) -> HTTPStatus:
    """The status of the error's kind; an error without one answers as its cause does."""
    for kind, status in _STATUS_FOR:
        if isinstance(exc, kind):
            return status
    if isinstance(exc.__cause__, DataManagerError):
        return _status_for(exc.__cause__)
    return HTTPStatus.INTERNAL_SERVER_ERROR


def handles_errors(handler: Handler) -> Handler:
    """Answer domain errors as problem+json and anything unexpected as a bare 500."""

    @functools.wraps(handler)
    async def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return await handler(req)
        except DataManagerError as exc:
            status = _status_for(exc)
            if status >= 500:
                log_event(
                    logger,
                    "http.unavailable",
                    level=logging.ERROR,
                    function=handler.__name__,
                    error=type(exc).__name__,
                    cause=type(exc.__cause__).__name__ if exc.__cause__ else None,
                )
            return problem(status, str(exc), **exc.problem_fields())
        except Exception:
            logger.exception("http.unhandled function=%s", handler.__name__)
            return problem(HTTPStatus.INTERNAL_SERVER_ERROR, "unexpected error; see the logs")

    return wrapper
