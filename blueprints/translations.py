"""HTTP triggers for translations: save, list, delete, import."""

import azure.functions as func

from blueprints.durable_client import durable_client
from blueprints.http import handles_errors, json_response, parse_body, required_param
from core.models import (
    ImportAnswer,
    ImportRequest,
    JobAnswer,
    SetImported,
    TranslationList,
    TranslationSave,
    TranslationSaved,
)
from core.runtime import get_runtime

bp = func.Blueprint()


@bp.route(route="translation-sets/{setId}/translations", methods=["PUT"])
@durable_client(bp)
@handles_errors
async def save_translation(req: func.HttpRequest) -> func.HttpResponse:
    body = parse_body(req, TranslationSave)
    runtime = await get_runtime()

    saved, job_id = await runtime.commands.save_translation(req.route_params["setId"], body)

    return json_response(TranslationSaved(**saved.model_dump(), job_id=job_id))


@bp.route(route="translation-sets/{setId}/translations", methods=["GET"])
@handles_errors
async def list_translations(req: func.HttpRequest) -> func.HttpResponse:
    resource = req.params.get("resource")
    runtime = await get_runtime()

    found = await runtime.commands.list_translations(req.route_params["setId"], resource)

    return json_response(TranslationList(items=found))


@bp.route(route="translation-sets/{setId}/translations", methods=["DELETE"])
@durable_client(bp)
@handles_errors
async def delete_translation(req: func.HttpRequest) -> func.HttpResponse:
    resource = required_param(req, "resource")
    name = required_param(req, "name")
    runtime = await get_runtime()

    job_id = await runtime.commands.delete_translation(req.route_params["setId"], resource, name)

    return json_response(JobAnswer(job_id=job_id))


@bp.route(route="translations/import", methods=["POST"])
@durable_client(bp)
@handles_errors
async def import_translations(req: func.HttpRequest) -> func.HttpResponse:
    body = parse_body(req, ImportRequest)
    runtime = await get_runtime()

    imported = await runtime.commands.import_translations(body)

    job_ids = [entry.job_id for entry in imported if entry.job_id]
    return json_response(
        ImportAnswer(
            # The first set's job, for clients that expect one; every set's is in `sets`.
            job_id=job_ids[0] if job_ids else None,
            job_ids=job_ids,
            imported=sum(entry.count for entry in imported),
            sets=[
                SetImported(set_id=entry.set_id, count=entry.count, job_id=entry.job_id)
                for entry in imported
            ],
        )
    )
