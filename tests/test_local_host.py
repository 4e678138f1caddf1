"""The local host's own HTTP edges: what it refuses before a function runs, and what it logs."""

import asyncio
import socket
from collections.abc import AsyncIterator

import azure.functions as func
import httpx
import pytest
from aiohttp.test_utils import TestServer

from local_host import server
from tests.support.local_host import LocalHost


@pytest.fixture
async def echo_host(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TestServer]:
    """The local host's web app around a one-function FunctionApp, with a short body wait."""
    monkeypatch.setattr(server, "BODY_READ_SECONDS", 0.5)
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="echo", methods=["POST"])
    async def echo(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(req.get_body(), status_code=200)

    test_server = TestServer(server.build_web_app(app, "api"), host="127.0.0.1")
    await test_server.start_server()
    yield test_server
    await test_server.close()


def _raw(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes; the answer's status line, headers and body, once they are in."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(request)
        answer = b""
        while not _complete(answer) and (chunk := connection.recv(65_536)):
            answer += chunk
    return answer


def _complete(answer: bytes) -> bool:
    head, separator, body = answer.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


async def test_a_body_that_stops_arriving_is_a_408_problem(echo_host: TestServer) -> None:
    """Content-Length promises 100 bytes, 7 come: the host answers once its wait is over."""
    request = (
        b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"a": 1'
    )

    answer = await asyncio.to_thread(_raw, echo_host.port or 0, request)

    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"application/problem+json" in answer


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    echo_host: TestServer,
) -> None:
    """No need to wait for a body that could never be taken."""
    request = b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n"

    answer = await asyncio.to_thread(_raw, echo_host.port or 0, request, 2.0)

    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"application/problem+json" in answer


def test_a_query_parameter_given_twice_reads_as_both_values_never_as_one(
    api: httpx.Client, tag: str
) -> None:
    """As under the Functions host: `name=n1&name=zzz` is "n1,zzz", which names nothing."""
    set_id = f"twice-{tag}"
    api.post("/translation-sets", json={"id": set_id, "name": "twice"})
    api.put(
        f"/translation-sets/{set_id}/translations",
        json={"resource": "r", "name": "n1", "values": {"en": "x"}},
    )

    response = api.delete(f"/translation-sets/{set_id}/translations?resource=r&name=n1&name=zzz")

    assert response.status_code == 404
    assert "n1,zzz" in response.json()["detail"]
    assert len(api.get(f"/translation-sets/{set_id}/translations").json()["items"]) == 1


def test_a_request_the_host_cannot_parse_is_logged_by_name_without_its_text(
    local_host: LocalHost,
) -> None:
    """What a malformed request carried (a key in its query string) stays out of the log."""
    port = httpx.URL(local_host.base_url).port or 0

    answer = _raw(port, b"GET /api/translation-sets?code=whsec_INURL HTTP/9.9\r\nHost: x\r\n\r\n")

    assert answer.startswith(b"HTTP/1.")
    assert b" 400 " in answer.split(b"\r\n", 1)[0] or b" 505 " in answer.split(b"\r\n", 1)[0]
    logs = local_host.logs()
    assert "whsec_INURL" not in logs
    assert "http.bad_request" in logs
