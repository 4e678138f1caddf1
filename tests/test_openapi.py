"""The OpenAPI document: valid OpenAPI 3.1, and exactly the routes the app registers."""

import functools
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from blueprints.openapi import ROUTE_PREFIX
from core.openapi import build_document
from function_app import app
from local_host.server import http_function, route_prefix, to_aiohttp_path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}

Route = tuple[str, str]


@functools.cache
def _http_functions() -> list[tuple[Route, str, str]]:
    """((method, path), function name, auth level) of each HTTP function on the FunctionApp.

    Found as the local host finds them; cached, because a FunctionApp lists its
    functions only once.
    """
    found = []
    for function in app.get_functions():
        http = http_function(function)
        if http is None:
            continue
        route, methods, _, handler = http
        level = str(getattr(function.get_trigger(), "auth_level", "function")).lower()
        for method in methods:
            path = to_aiohttp_path("", route)
            found.append(((method.lower(), path), handler.__name__, level))

    return found


def _registered() -> dict[Route, str]:
    """(method, path) -> function name."""
    return {route: name for route, name, _ in _http_functions()}


def _documented(document: dict[str, Any]) -> dict[Route, dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def _auth_levels() -> dict[str, str]:
    """Function name -> its auth level ("anonymous", "function", "admin")."""
    return {name: level for _, name, level in _http_functions()}


def _security_for(level: str) -> list[dict[str, list[str]]] | None:
    """The operation's `security` a level calls for; None: the document's default."""
    required: dict[str, list[dict[str, list[str]]] | None] = {
        "anonymous": [],
        "function": None,
        "admin": [{"adminKey": []}],
    }
    return required[level]


def test_the_document_is_valid_openapi_3_1() -> None:
    """An independent validator accepts the generated document."""
    document = build_document()

    validate(document, cls=OpenAPIV31SpecValidator)

    assert document["openapi"] == "3.1.0"


def test_the_validator_rejects_a_broken_document() -> None:
    """The validity check can fail: a parameter in an impossible place is refused."""
    document = build_document()
    document["paths"]["/jobs/{jobId}"]["get"]["parameters"][0]["in"] = "body"

    with pytest.raises(OpenAPIValidationError):
        validate(document, cls=OpenAPIV31SpecValidator)


def test_documented_routes_are_exactly_the_registered_ones() -> None:
    """No route without documentation, and no documented route without a function."""
    registered = set(_registered())

    documented = set(_documented(build_document()))

    assert sorted(documented - registered) == []
    assert sorted(registered - documented) == []


def test_each_operation_is_named_after_its_function() -> None:
    """The operationId is the function's name in the app, so logs and docs say the same."""
    documented = _documented(build_document())

    names = {route: operation["operationId"] for route, operation in documented.items()}

    assert names == _registered()


def test_key_requirements_follow_the_auth_levels() -> None:
    """Anonymous functions need no key, admin ones the admin key, the rest a function key."""
    levels = _auth_levels()
    documented = _documented(build_document())

    security = {
        operation["operationId"]: operation.get("security") for operation in documented.values()
    }

    assert security == {name: _security_for(level) for name, level in levels.items()}


def test_every_problem_response_is_problem_json() -> None:
    """Each 4xx and 5xx an operation documents is a problem document."""
    document = build_document()
    problems = document["components"]["responses"]

    for route, operation in _documented(document).items():
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                name = response["$ref"].rsplit("/", 1)[-1]
                assert list(problems[name]["content"]) == ["application/problem+json"], route


def test_the_server_url_is_the_route_prefix() -> None:
    """The blueprint's idea of the route prefix is host.json's."""
    assert route_prefix(PROJECT_ROOT / "host.json") == ROUTE_PREFIX


def test_the_local_host_serves_the_document(api: httpx.Client) -> None:
    """GET /api/openapi.json answers the document as JSON."""
    response = api.get("/openapi.json")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == build_document(server_url="/api")
