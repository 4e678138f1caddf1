"""HTTP triggers for webhook registrations."""

from http import HTTPStatus

import azure.functions as func

from blueprints.http import dump, handles_errors, json_response, parse_body
from core.models import WebhookCreate
from core.runtime import get_runtime

bp = func.Blueprint()


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

    return json_response({"items": [dump(item) for item in found]})


@bp.route(route="translation-sets/{setId}/webhooks/{webhookId}", methods=["DELETE"])
@handles_errors
async def delete_webhook(req: func.HttpRequest) -> func.HttpResponse:
    runtime = await get_runtime()

    await runtime.commands.delete_webhook(req.route_params["setId"], req.route_params["webhookId"])

    return func.HttpResponse(status_code=HTTPStatus.NO_CONTENT)
