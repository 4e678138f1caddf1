"""The durable client binding for HTTP functions that start or inspect notification jobs.

With Durable Functions selected, a decorated function also takes the host's
durable client binding and makes the client current for the request, so the
durable job service can start orchestrations with it. Otherwise the function
is left exactly as written: its signature must match its bindings, and the
local host calls it with the request alone.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import azure.functions as func

from core.jobs.durable import OrchestrationClient, using_client
from core.jobs.selection import durable_selected

CLIENT_PARAMETER = "client"

Handler = Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]


def durable_client(bp: func.Blueprint, *, enabled: bool | None = None) -> Callable[[Handler], Any]:
    """Decorate a handler of `bp`; `enabled` overrides the configured backend (tests)."""

    def decorate(handler: Handler) -> Any:
        if not (durable_selected() if enabled is None else enabled):
            return handler

        async def with_client(
            req: func.HttpRequest, client: OrchestrationClient
        ) -> func.HttpResponse:
            with using_client(client):
                return await handler(req)

        # Named like the handler, because the function's name is its name in the app.
        # NOTE: not functools.wraps: the worker reads the signature, and that
        # would make it the handler's, without the client parameter.
        with_client.__name__ = handler.__name__
        with_client.__qualname__ = handler.__qualname__
        with_client.__doc__ = handler.__doc__

        return bp.durable_client_input(client_name=CLIENT_PARAMETER)(with_client)

    return decorate
