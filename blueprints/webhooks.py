"""HTTP triggers for webhook registrations."""

from http import HTTPStatus

import azure.functions as func

from blueprints.http import handles_errors, int_param, json_response, parse_body
from core.models import (
    DeliveryLogPage,
    PingAnswer,
    SecretRotated,
    WebhookCreate,
    WebhookList,
    WebhookUpdate,
)
from core.runtime import get_runtime

bp = func.Blueprint()

DEFAULT_PAGE = 20
MAX_PAGE = 100


@bp.route(route="translation-sets/{setId}/webhooks", methods=["POST"])
@handles_errors
async def register_webhook(req: func.HttpRequest) -> func.HttpResponse:
    body = parse_body(req, WebhookCreate)
    runtime = await get_runtime()

    created = await runtime.commands.register_webhook(req.route_params["setId"], body)

    return json_response(created, HTTPStatus.CREATED)


@bp.route(route="translation-sets/{setId}/webhooks", methods=["GET"])
@handles_errors
async def list_webhooks(req: func.HttpRequest) -> func.HttpResponse:
    runtime = await get_runtime()

    found = await runtime.commands.list_webhooks(req.route_params["setId"])

    return json_response(WebhookList(items=found))


@bp.route(route="translation-sets/{setId}/webhooks/{webhookId}", methods=["DELETE"])
@handles_errors
async def delete_webhook(req: func.HttpRequest) -> func.HttpResponse:
    runtime = await get_runtime()

    await runtime.commands.delete_webhook(req.route_params["setId"], req.route_params["webhookId"])

    return func.HttpResponse(status_code=HTTPStatus.NO_CONTENT)


@bp.route(route="translation-sets/{setId}/webhooks/{webhookId}", methods=["PATCH"])
@handles_errors
async def update_webhook(req: func.HttpRequest) -> func.HttpResponse:
    body = parse_body(req, WebhookUpdate)
    runtime = await get_runtime()

    updated = await runtime.commands.update_webhook(
        req.route_params["setId"], req.route_params["webhookId"], body
    )

    return json_response(updated)


@bp.route(route="translation-sets/{setId}/webhooks/{webhookId}/enable", methods=["POST"])
@handles_errors
async def enable_webhook(req: func.HttpRequest) -> func.HttpResponse:
    runtime = await get_runtime()

    updated = await runtime.commands.update_webhook(
        req.route_params["setId"], req.route_params["webhookId"], WebhookUpdate(active=True)
    )

    return json_response(updated)


@bp.route(route="translation-sets/{setId}/webhooks/{webhookId}/ping", methods=["POST"])
@handles_errors
async def ping_webhook(req: func.HttpRequest) -> func.HttpResponse:
    runtime = await get_runtime()

    job_id, outcome = await runtime.commands.ping_webhook(
        req.route_params["setId"], req.route_params["webhookId"]
    )

    return json_response(
        PingAnswer(
            job_id=job_id,
            delivered=outcome.delivered,
            status_code=outcome.status_code,
            error_kind=outcome.error_kind,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
        )
    )


@bp.route(route="translation-sets/{setId}/webhooks/{webhookId}/deliveries", methods=["GET"])
@handles_errors
async def list_webhook_deliveries(req: func.HttpRequest) -> func.HttpResponse:
    limit = int_param(req, "limit", default=DEFAULT_PAGE, low=1, high=MAX_PAGE)
    runtime = await get_runtime()

    items, cursor = await runtime.commands.webhook_deliveries(
        req.route_params["setId"],
        req.route_params["webhookId"],
        limit=limit,
        cursor=req.params.get("cursor"),
    )

    return json_response(DeliveryLogPage(items=items, next_cursor=cursor))


@bp.route(
    route="translation-sets/{setId}/webhooks/{webhookId}/rotate-secret",
    methods=["POST"],
    auth_level=func.AuthLevel.ADMIN,
)
@handles_errors
async def rotate_webhook_secret(req: func.HttpRequest) -> func.HttpResponse:
    runtime = await get_runtime()
    set_id, webhook_id = req.route_params["setId"], req.route_params["webhookId"]

    secret = await runtime.commands.rotate_secret(set_id, webhook_id)

    grace = runtime.settings.secret_rotation_grace_hours
    return json_response(
        SecretRotated(id=webhook_id, secret=secret, previous_secret_valid_hours=grace)
    )
