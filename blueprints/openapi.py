"""HTTP trigger serving the API's OpenAPI document, readable without a key so tools can load it."""

import functools
from typing import Any

import azure.functions as func

from blueprints.http import handles_errors, json_response
from core.openapi import build_document

# host.json's extensions.http.routePrefix; tests/test_openapi.py keeps the two equal.
ROUTE_PREFIX = "api"

bp = func.Blueprint()


@functools.cache
def _document() -> dict[str, Any]:
    return build_document(server_url="/" + ROUTE_PREFIX)


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@handles_errors
async def get_openapi(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(_document())
