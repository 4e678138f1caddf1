"""HTTP trigger for notification job status."""

import azure.functions as func

from blueprints.durable_client import durable_client
from blueprints.http import handles_errors, json_response
from core.runtime import get_runtime

bp = func.Blueprint()


@bp.route(route="jobs/{jobId}", methods=["GET"])
@durable_client(bp)
@handles_errors
async def get_job(req: func.HttpRequest) -> func.HttpResponse:
    runtime = await get_runtime()

    view = await runtime.commands.get_job(req.route_params["jobId"])

    return json_response(view)
