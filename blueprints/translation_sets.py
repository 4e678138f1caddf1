"""HTTP triggers for translations sets."""

from http import HTTPStatus

import azure.functions as func

from blueprints.durable_client import durable_client
from blueprints.http import handles_errors, json_response, parse_body
from core.models import JobAnswer, TranslationSetCreate, TranslationSetCreated, TranslationSetList
from core.runtime import get_runtime

bp = func.Blueprint()


@bp.route(route="translation-sets", methods=["POST"])
@handles_errors
async def create_translation_set(req: func.HttpRequest) -> func.HttpResponse:
    body = parse_body(req, TranslationSetCreate)
    runtime = await get_runtime()

    created = await runtime.commands.create_set(body)

    return json_response(TranslationSetCreated(**created.model_dump()), HTTPStatus.CREATED)


@bp.route(route="translation-sets", methods=["GET"])
@handles_errors
async def list_translation_sets(req: func.HttpRequest) -> func.HttpResponse:
    runtime = await get_runtime()

    sets = await runtime.commands.list_sets()

    return json_response(TranslationSetList(items=sets))


@bp.route(route="translation-sets/{setId}", methods=["GET"])
@handles_errors
async def get_translation_set(req: func.HttpRequest) -> func.HttpResponse:
    runtime = await get_runtime()

    found = await runtime.commands.get_set(req.route_params["setId"])

    return json_response(found)


@bp.route(route="translation-sets/{setId}", methods=["DELETE"], auth_level=func.AuthLevel.ADMIN)
@durable_client(bp)
@handles_errors
async def delete_translation_set(req: func.HttpRequest) -> func.HttpResponse:
    runtime = await get_runtime()

    job_id = await runtime.commands.delete_set(req.route_params["setId"])

    return json_response(JobAnswer(job_id=job_id))
