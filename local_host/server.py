"""An aiohttp application serving the HTTP functions registered on a FunctionApp."""

import asyncio
import inspect
import json
import logging
import re
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

import azure.functions as func
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from blueprints.http import problem

# Larger than the API's own limit, so that the API answers 413 as problem+json.
CLIENT_MAX_SIZE = 4 * 1024 * 1024
BODY_READ_SECONDS = 30.0
_CONSTRAINT = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")


def route_prefix(host_json: Path) -> str:
    """The `extensions.http.routePrefix` of host.json ("api" when unset)."""
    config = json.loads(host_json.read_text(encoding="utf-8"))
    prefix: str = config.get("extensions", {}).get("http", {}).get("routePrefix", "api")
    return prefix.strip("/")


def to_aiohttp_path(prefix: str, template: str) -> str:
    """`items/{id:int}` -> `/api/items/{id}`; `{*rest}` -> `{rest:.*}`."""
    if "?}" in template:
        raise ValueError(f"optional route parameters are not supported: {template}")

    def convert(match: re.Match[str]) -> str:
        catch_all, name = match.group(1), match.group(2)
        return f"{{{name}:.*}}" if catch_all else f"{{{name}}}"

    path = _CONSTRAINT.sub(convert, template.strip("/"))
    return f"/{prefix}/{path}" if prefix else f"/{path}"


HttpFunction = tuple[str, list[str], str, Callable[..., Any]]


def http_functions(app: func.FunctionApp) -> list[HttpFunction]:
    """(route, methods, trigger parameter, function) for every HTTP-triggered function."""
    # NOTE: a FunctionApp allows one get_functions() call; a second finds every name taken.
    found = [http_function(function) for function in app.get_functions()]

    return [entry for entry in found if entry is not None]


def http_function(function: func.Function) -> HttpFunction | None:
    """One function's (route, methods, trigger parameter, function); None if not HTTP."""
    trigger = function.get_trigger()
    if trigger is None or trigger.get_binding_name() != "httpTrigger":
        return None
    route = str(getattr(trigger, "route", None) or function.get_function_name())
    declared = getattr(trigger, "methods", None) or []
    methods = [str(getattr(method, "value", method)) for method in declared]

    return route, methods or ["GET", "POST"], trigger.name, function.get_user_function()


def _handler(
    parameter: str, user_function: Callable[..., Any]
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        if (request.content_length or 0) > CLIENT_MAX_SIZE:
            return _closing(_too_large())
        try:
            # A client that stops sending mid-body would otherwise hold the
            # request open for as long as it likes.
            async with asyncio.timeout(BODY_READ_SECONDS):
                body = await request.read()
        except TimeoutError:
            detail = f"the request body did not arrive within {BODY_READ_SECONDS:g} s"
            return _closing(problem(HTTPStatus.REQUEST_TIMEOUT, detail))
        except web.HTTPRequestEntityTooLarge:
            return _closing(_too_large())
        except (web.HTTPException, RequestPayloadError, HttpProcessingError) as exc:
            # A body that cannot be decoded (bad gzip, an encoding aiohttp lacks)
            # is the client's to fix, as the Functions host would answer too.
            detail = f"the request body could not be read: {type(exc).__name__}"
            return _to_aiohttp(problem(HTTPStatus.BAD_REQUEST, detail))
        http_request = func.HttpRequest(
            method=request.method,
            url=str(request.url),
            headers=dict(request.headers),
            # A parameter given twice reads as its values joined by commas, as
            # the Functions host (ASP.NET) passes it, never as one of them.
            params={key: ",".join(request.query.getall(key)) for key in set(request.query)},
            route_params=dict(request.match_info),
            body=body,
        )
        result = user_function(**{parameter: http_request})
        if inspect.isawaitable(result):
            result = await result

        return _to_aiohttp(result)

    return handle


def _closing(response: func.HttpResponse) -> web.Response:
    """An answer that also ends the connection: the rest of its body was never read."""
    answer = _to_aiohttp(response)
    answer.force_close()
    return answer


def _too_large() -> func.HttpResponse:
    return problem(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large")


def _to_aiohttp(response: func.HttpResponse) -> web.Response:
    headers = dict(response.headers)
    if response.mimetype and "content-type" not in {key.lower() for key in headers}:
        charset = f"; charset={response.charset}" if response.charset else ""
        headers["Content-Type"] = response.mimetype + charset

    return web.Response(body=response.get_body(), status=response.status_code, headers=headers)


class QuietBadRequests(logging.Filter):
    """aiohttp logs a request it cannot parse with a traceback that quotes the
    request (its query string, a header's value); log the event's name instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else None
            record.msg = "http.bad_request remote=%s error=%s status=%s"
            record.args = (remote, type(error).__name__, error.code)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


@web.middleware
async def _problems_for_routing(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Unknown routes and methods answer problem+json like the API itself."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return _to_aiohttp(problem(HTTPStatus.NOT_FOUND, f"no route for {request.path}"))
    except web.HTTPMethodNotAllowed as exc:
        response = _to_aiohttp(
            problem(HTTPStatus.METHOD_NOT_ALLOWED, f"{request.method} is not allowed here")
        )
        response.headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        return response


def build_web_app(app: func.FunctionApp, prefix: str) -> web.Application:
    web_app = web.Application(client_max_size=CLIENT_MAX_SIZE, middlewares=[_problems_for_routing])
    for route, methods, parameter, user_function in http_functions(app):
        path = to_aiohttp_path(prefix, route)
        for method in methods:
            web_app.router.add_route(method, path, _handler(parameter, user_function))

    return web_app
