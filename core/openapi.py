"""The OpenAPI 3.1 document of the HTTP API, generated from the pydantic models.

Each operation is one row of a declarative table: route, method, what it takes
and what it answers. The schemas come from the models the blueprints parse
requests into and build answers from, so the document describes what is sent;
tests/test_openapi.py holds the table to the routes the FunctionApp registers.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode
from pydantic_core import CoreSchema
from typing_extensions import TypeForm

from core.models import (
    DeliveryLogPage,
    ImportAnswer,
    ImportRequest,
    JobAnswer,
    JobView,
    PingAnswer,
    Problem,
    RedeliveryAnswer,
    SecretRotated,
    SetId,
    TranslationList,
    TranslationSave,
    TranslationSaved,
    TranslationSet,
    TranslationSetCreate,
    TranslationSetCreated,
    TranslationSetList,
    Webhook,
    WebhookCreate,
    WebhookList,
    WebhookUpdate,
    WebhookWithSecret,
)

OPENAPI_VERSION = "3.1.0"
DOCUMENT_VERSION = "0.1.0"
JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
SCHEMA_REF = "#/components/schemas/{model}"
KEY_HEADER = "x-functions-key"

# Webhook and job ids are issued by the API: uuid4 hex or a truncated SHA-256.
HexId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
PageSize = Annotated[int, Field(ge=1, le=100)]
AnyJson = dict[str, Any]
Method = Literal["get", "put", "post", "delete", "patch"]
# A body's schema is looked up by (operation, "body" or status) and mode.
BodyKey = tuple[tuple[str, object], JsonSchemaMode]
PROBLEM_KEY: BodyKey = (("problem", "body"), "serialization")


class Auth(StrEnum):
    """Which key an operation needs in Azure, as its function's auth level says."""

    ANONYMOUS = "anonymous"
    FUNCTION = "function"
    ADMIN = "admin"


@dataclass(frozen=True)
class Parameter:
    """A path or query parameter; `schema` is a type pydantic can describe."""

    name: str
    location: Literal["path", "query"]
    description: str
    schema: TypeForm[Any] = str
    required: bool = True
    default: object = None


@dataclass(frozen=True)
class Operation:
    """One HTTP function: `path` is its route as registered, without the route prefix.

    `responses` maps each success status to its body's type (None: no body);
    `problems` lists the error statuses it answers with problem+json.
    """

    function: str
    method: Method
    path: str
    summary: str
    responses: Mapping[int, TypeForm[Any] | None]
    problems: tuple[int, ...] = ()
    body: TypeForm[Any] | None = None
    example: Mapping[str, Any] | None = None
    parameters: tuple[Parameter, ...] = ()
    auth: Auth = Auth.FUNCTION


SET_ID = Parameter("setId", "path", "The translations set's id.", SetId)
WEBHOOK_ID = Parameter("webhookId", "path", "The webhook's id.", HexId)
JOB_ID = Parameter("jobId", "path", "The notification job's id.", HexId)

# What a problem status means here; each becomes a reusable response.
PROBLEMS: dict[int, str] = {
    400: "The request is malformed or fails validation; `errors` says where.",
    404: "The set, translation, webhook or job does not exist.",
    405: "The path exists but not with this method.",
    409: "The request clashes with the current state: a set id that is taken, a job still running.",
    413: "The request body, or a translation in it, is too large.",
    415: "The body is declared as something other than JSON (Content-Type).",
    422: "Well-formed, but cannot be acted on (such as a refused webhook URL).",
    503: (
        "Storage is unreachable or the job service is shutting down; the import "
        "problem lists what was `saved` and `notSaved`."
    ),
}

# Every function that touches storage may answer 503; every one that reads a body 400, 413, 415.
UNAVAILABLE = 503
WITH_BODY = (400, 413, 415)

SAVE_EXAMPLE = {
    "resource": "Pages/Home",
    "name": "title",
    "values": {"en": "Welcome", "de": "Willkommen"},
}

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "create_translation_set",
        "post",
        "translation-sets",
        "Create a translations set; its id is generated when left out.",
        {201: TranslationSetCreated},
        (*WITH_BODY, 409, UNAVAILABLE),
        body=TranslationSetCreate,
        example={"id": "web", "name": "Web app", "description": "Texts of the web app"},
    ),
    Operation(
        "list_translation_sets",
        "get",
        "translation-sets",
        "List every translations set.",
        {200: TranslationSetList},
        (UNAVAILABLE,),
    ),
    Operation(
        "get_translation_set",
        "get",
        "translation-sets/{setId}",
        "Read one translations set.",
        {200: TranslationSet},
        (404, UNAVAILABLE),
        parameters=(SET_ID,),
    ),
    Operation(
        "delete_translation_set",
        "delete",
        "translation-sets/{setId}",
        "Delete a set with its translations and webhooks, which hear `translations_set.deleted`.",
        {200: JobAnswer},
        (404, UNAVAILABLE),
        parameters=(SET_ID,),
        auth=Auth.ADMIN,
    ),
    Operation(
        "save_translation",
        "put",
        "translation-sets/{setId}/translations",
        "Save one translation's texts; notifies `translation.saved`.",
        {200: TranslationSaved},
        (*WITH_BODY, 404, UNAVAILABLE),
        body=TranslationSave,
        example=SAVE_EXAMPLE,
        parameters=(SET_ID,),
    ),
    Operation(
        "list_translations",
        "get",
        "translation-sets/{setId}/translations",
        "List a set's translations, or one resource's.",
        {200: TranslationList},
        (404, UNAVAILABLE),
        parameters=(
            SET_ID,
            Parameter("resource", "query", "Only this resource's translations.", required=False),
        ),
    ),
    Operation(
        "delete_translation",
        "delete",
        "translation-sets/{setId}/translations",
        "Delete one translation; notifies `translation.deleted`.",
        {200: JobAnswer},
        (400, 404, UNAVAILABLE),
        parameters=(
            SET_ID,
            Parameter("resource", "query", "The translation's resource."),
            Parameter("name", "query", "The translation's name."),
        ),
    ),
    Operation(
        "import_translations",
        "post",
        "translations/import",
        "Save many translations across sets; one `translations.imported` per set.",
        {200: ImportAnswer},
        (*WITH_BODY, 404, UNAVAILABLE),
        body=ImportRequest,
        example={"items": [{"setId": "web", **SAVE_EXAMPLE}]},
    ),
    Operation(
        "register_webhook",
        "post",
        "translation-sets/{setId}/webhooks",
        "Register a webhook; the answer holds its signing secret, shown only this once.",
        {201: WebhookWithSecret},
        (*WITH_BODY, 404, 422, UNAVAILABLE),
        body=WebhookCreate,
        example={
            "url": "https://hooks.example.com/datamanager",
            "events": ["translation.saved", "translation.deleted"],
            "description": "CDN purge",
        },
        parameters=(SET_ID,),
    ),
    Operation(
        "list_webhooks",
        "get",
        "translation-sets/{setId}/webhooks",
        "List a set's webhooks, without their secrets.",
        {200: WebhookList},
        (404, UNAVAILABLE),
        parameters=(SET_ID,),
    ),
    Operation(
        "delete_webhook",
        "delete",
        "translation-sets/{setId}/webhooks/{webhookId}",
        "Remove a webhook.",
        {204: None},
        (404, UNAVAILABLE),
        parameters=(SET_ID, WEBHOOK_ID),
    ),
    Operation(
        "update_webhook",
        "patch",
        "translation-sets/{setId}/webhooks/{webhookId}",
        "Change a webhook's events, description or whether it is active. "
        "`events` null or [] subscribes it to every event; a field left out stays as it is.",
        {200: Webhook},
        (*WITH_BODY, 404, UNAVAILABLE),
        body=WebhookUpdate,
        example={"active": False, "description": "paused while the CDN moves"},
        parameters=(SET_ID, WEBHOOK_ID),
    ),
    Operation(
        "enable_webhook",
        "post",
        "translation-sets/{setId}/webhooks/{webhookId}/enable",
        "Activate a webhook again, such as one disabled after failing for too long.",
        {200: Webhook},
        (404, UNAVAILABLE),
        parameters=(SET_ID, WEBHOOK_ID),
    ),
    Operation(
        "ping_webhook",
        "post",
        "translation-sets/{setId}/webhooks/{webhookId}/ping",
        "Send a `webhook.ping` once, now, and answer how the attempt went.",
        {200: PingAnswer},
        (404, UNAVAILABLE),
        parameters=(SET_ID, WEBHOOK_ID),
    ),
    Operation(
        "rotate_webhook_secret",
        "post",
        "translation-sets/{setId}/webhooks/{webhookId}/rotate-secret",
        "Give a webhook a new secret, shown this once; the old one signs too for a grace period.",
        {200: SecretRotated},
        (404, UNAVAILABLE),
        parameters=(SET_ID, WEBHOOK_ID),
        auth=Auth.ADMIN,
    ),
    Operation(
        "list_webhook_deliveries",
        "get",
        "translation-sets/{setId}/webhooks/{webhookId}/deliveries",
        "A page of the webhook's delivery attempts, newest first.",
        {200: DeliveryLogPage},
        (400, 404, UNAVAILABLE),
        parameters=(
            SET_ID,
            WEBHOOK_ID,
            Parameter("limit", "query", "Attempts per page.", PageSize, required=False, default=20),
            Parameter("cursor", "query", "The previous page's `nextCursor`.", required=False),
        ),
    ),
    Operation(
        "get_job",
        "get",
        "jobs/{jobId}",
        "A notification job and every delivery's outcome.",
        {200: JobView},
        (404, UNAVAILABLE),
        parameters=(JOB_ID,),
    ),
    Operation(
        "redeliver_job",
        "post",
        "jobs/{jobId}/redeliver",
        "Send the job's failed deliveries again.",
        {202: RedeliveryAnswer},
        (404, 409, UNAVAILABLE),
        parameters=(JOB_ID,),
    ),
    Operation(
        "get_openapi",
        "get",
        "openapi.json",
        "This document.",
        {200: AnyJson},
        auth=Auth.ANONYMOUS,
    ),
)


class _NoFieldTitles(GenerateJsonSchema):
    """Model titles only: a field's title would just repeat its name, capitalised oddly."""

    def field_title_should_be_set(self, schema: CoreSchema) -> bool:
        return False


def build_document(
    operations: Iterable[Operation] = OPERATIONS, *, server_url: str = "/api"
) -> dict[str, Any]:
    """The OpenAPI document for `operations`, served under `server_url`."""
    operations = tuple(operations)
    bodies, schemas = _body_schemas(operations)
    problem = bodies[PROBLEM_KEY]
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault("/" + operation.path, {})[operation.method] = _operation(operation, bodies)

    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "DataManager",
            "version": DOCUMENT_VERSION,
            "description": (
                "Translations sets, their translations and the signed webhooks that "
                "hear of every change. Errors are RFC 9457 problem documents."
            ),
        },
        "servers": [{"url": server_url}],
        "security": [{"functionKey": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {_problem_name(status): _problem(status, problem) for status in PROBLEMS},
            "securitySchemes": _security_schemes(),
        },
    }


def _body_schemas(operations: tuple[Operation, ...]) -> tuple[dict[BodyKey, Any], dict[str, Any]]:
    """Every request and response body's schema, with shared definitions collected once."""
    inputs: dict[BodyKey, TypeAdapter[Any]] = {PROBLEM_KEY: TypeAdapter(Problem)}
    for operation in operations:
        if operation.body is not None:
            inputs[_request_key(operation)] = TypeAdapter(operation.body)
        for status, answer in operation.responses.items():
            if answer is not None:
                inputs[_response_key(operation, status)] = TypeAdapter(answer)

    by_key, top = TypeAdapter.json_schemas(
        [(key, mode, adapter) for (key, mode), adapter in inputs.items()],
        by_alias=True,
        ref_template=SCHEMA_REF,
        schema_generator=_NoFieldTitles,
    )

    return by_key, top.get("$defs", {})


def _request_key(operation: Operation) -> BodyKey:
    return (operation.function, "body"), "validation"


def _response_key(operation: Operation, status: int) -> BodyKey:
    return (operation.function, status), "serialization"


def _operation(operation: Operation, bodies: Mapping[BodyKey, Any]) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": operation.function,
        "summary": operation.summary,
        "responses": _responses(operation, bodies),
    }
    if operation.parameters:
        document["parameters"] = [_parameter(parameter) for parameter in operation.parameters]
    if operation.body is not None:
        media: dict[str, Any] = {"schema": bodies[_request_key(operation)]}
        if operation.example is not None:
            media["example"] = dict(operation.example)
        document["requestBody"] = {"required": True, "content": {JSON: media}}
    if operation.auth is Auth.ANONYMOUS:
        document["security"] = []
    elif operation.auth is Auth.ADMIN:
        document["security"] = [{"adminKey": []}]

    return document


def _responses(operation: Operation, bodies: Mapping[BodyKey, Any]) -> dict[str, Any]:
    """Successes with their bodies and problems by reference, in order of status."""
    responses = {
        status: _answer(status, bodies.get(_response_key(operation, status)))
        for status in operation.responses
    }
    for status in operation.problems:
        responses[status] = {"$ref": f"#/components/responses/{_problem_name(status)}"}

    return {str(status): responses[status] for status in sorted(responses)}


def _answer(status: int, schema: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": HTTPStatus(status).phrase}
    if schema is not None:
        answer["content"] = {JSON: {"schema": schema}}

    return answer


def _parameter(parameter: Parameter) -> dict[str, Any]:
    schema = TypeAdapter(parameter.schema).json_schema(schema_generator=_NoFieldTitles)
    if parameter.default is not None:
        schema["default"] = parameter.default

    return {
        "name": parameter.name,
        "in": parameter.location,
        "description": parameter.description,
        # Path parameters are always required in OpenAPI.
        "required": parameter.required or parameter.location == "path",
        "schema": schema,
    }


def _problem_name(status: int) -> str:
    return HTTPStatus(status).phrase.title().replace(" ", "").replace("-", "")


def _problem(status: int, schema: Any) -> dict[str, Any]:
    return {"description": PROBLEMS[status], "content": {PROBLEM_JSON: {"schema": schema}}}


def _security_schemes() -> dict[str, Any]:
    """Azure's keys; the local host and `func start` do not check them."""
    return {
        "functionKey": {
            "type": "apiKey",
            "in": "header",
            "name": KEY_HEADER,
            "description": "A function key (or the `code` query parameter).",
        },
        "adminKey": {
            "type": "apiKey",
            "in": "header",
            "name": KEY_HEADER,
            "description": "The app's admin (master) key (or the `code` query parameter).",
        },
    }
