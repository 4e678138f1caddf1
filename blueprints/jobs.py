"""HTTP trigger for notification job status."""

from http import HTTPStatus

import azure.functions as func

from blueprints.durable_client import durable_client
from blueprints.http import handles_errors, json_response
from core.models import RedeliveryAnswer
from core.runtime import get_runtime

bp = func.Blueprint()


@bp.route(route="jobs/{jobId}", methods=["GET"])
@durable_client(bp)
@handles_errors
async def get_job(req: func.HttpRequest) -> func.HttpResponse:
    runtime = await get_runtime()

    view = await runtime.commands.get_job(req.route_params["jobId"])

    return json_response(view)


@bp.route(route="jobs/{jobId}/redeliver", methods=["POST"])
@durable_client(bp)
@handles_errors
async def redeliver_job(req: func.HttpRequest) -> func.HttpResponse:
    runtime = await get_runtime()
    job_id = req.route_params["jobId"]

    redelivering = await runtime.commands.redeliver(job_id)

    return json_response(
        RedeliveryAnswer(job_id=job_id, redelivering=redelivering), HTTPStatus.ACCEPTED
    )
