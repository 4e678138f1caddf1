"""Sending one signed webhook attempt: the single delivery function every job
service uses, in-process or durable.
"""

import asyncio
import functools
import ipaddress
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from core.logs import safe_url
from core.retry import parse_retry_after
from core.signing import signature_header
from core.url_policy import AddressRefusedError, GuardedResolver, UrlPolicy, UrlRefusedError

USER_AGENT = "DataManager-Webhooks/0.1"
# Receivers answer with whatever they like; we never read more than we report.
MAX_ERROR_TEXT = 300
MAX_CONNECTIONS = 200
# One slow host may not take every pooled connection from the others.
MAX_CONNECTIONS_PER_HOST = 50
# Where a 3xx answer's Location is kept, away from httpx's redirect handling.
LOCATION_EXTENSION = "datamanager.location"


@dataclass(frozen=True, kw_only=True)
class DeliveryTarget:
    """Where one webhook's copy of an event goes and how it is signed."""

    webhook_id: str
    url: str
    secrets: tuple[str, ...]
    legacy_secret_header: bool = False

    def __repr__(self) -> str:  # keeps secrets out of tracebacks and logs
        return f"DeliveryTarget(webhook_id={self.webhook_id!r}, url={safe_url(self.url)!r})"


@dataclass(frozen=True, kw_only=True)
class DeliveryRequest:
    job_id: str
    event_id: str
    payload: bytes
    target: DeliveryTarget
    # Where the event came from, for the webhook's health and delivery log.
    set_id: str = ""
    event_type: str = ""


@dataclass(frozen=True, kw_only=True)
class AttemptOutcome:
    """What happened on one attempt; what the retry policy and the job record read."""

    attempt: int
    at: datetime
    duration_ms: int
    status_code: int | None = None
    error_kind: str | None = None
    error: str | None = None
    retry_after: float | None = field(default=None, compare=False)

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender:
    """Owns the shared, pooled HTTP client and sends single attempts with it."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        url_policy: UrlPolicy,
        client: httpx.AsyncClient | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`tls` replaces the system's trusted authorities (tests with their own CA)."""
        self._deadline = timeout_seconds
        self._policy = url_policy
        self._client = client or httpx.AsyncClient(
            # httpx's API over aiohttp's connection handling, several times
            # faster than httpx's own pool at hundreds of concurrent requests;
            # aiohttp's resolver hook is where the URL policy checks addresses.
            transport=AiohttpTransport(client=functools.partial(_session, url_policy, tls)),
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0)),
            follow_redirects=False,
            trust_env=False,
            event_hooks={"response": [_set_location_aside]},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, request: DeliveryRequest, *, attempt: int) -> AttemptOutcome:
        """POST the signed payload once; never raises for what the receiver did."""
        started_at = datetime.now(UTC)
        clock = time.perf_counter()
        headers = self._headers(request, int(started_at.timestamp()))
        try:
            await self._check_url(request.target.url)
        except (UrlRefusedError, AddressRefusedError) as exc:
            return self._failure(attempt, started_at, clock, "refused_url", str(exc))
        try:
            # The overall deadline also covers receivers that drip bytes slowly
            # enough to keep every per-read timeout happy.
            async with asyncio.timeout(self._deadline):
                status, location, retry_after = await self._post(request, headers)
        except TimeoutError:
            return self._failure(attempt, started_at, clock, "timeout", "no answer in time")
        except httpx.TransportError as exc:
            kind = _transport_error_kind(exc)
            refused = _refused_address(exc)
            error = str(refused) if refused is not None else _describe(exc)
            return self._failure(attempt, started_at, clock, kind, error)
        except (httpx.HTTPError, aiohttp.ClientError) as exc:
            # NOTE: the transport lets aiohttp's own errors through when the
            # answer is not HTTP (a bad status line, headers over 8 KiB).
            error = f"the answer is not valid HTTP: {_one_line(exc)}"
            return self._failure(attempt, started_at, clock, "invalid_response", error)

        return AttemptOutcome(
            attempt=attempt,
            at=started_at,
            duration_ms=_elapsed_ms(clock),
            status_code=status,
            error_kind=_status_error_kind(status),
            error=_status_error(status, location),
            retry_after=parse_retry_after(retry_after),
        )

    async def _check_url(self, url: str) -> None:
        """What the resolver hook cannot see: the scheme, and hosts given as addresses."""
        self._policy.check_form(url)
        host = urlsplit(url).hostname or ""
        if _is_address(host):
            await self._policy.addresses(host, 0)

    async def _post(
        self, request: DeliveryRequest, headers: dict[str, str]
    ) -> tuple[int, str | None, str | None]:
        # Streaming without reading the body: a receiver's answer can be any
        # size and we only need its status line and headers.
        async with self._client.stream(
            "POST", request.target.url, content=request.payload, headers=headers
        ) as response:
            return (
                response.status_code,
                response.extensions.get(LOCATION_EXTENSION),
                response.headers.get("retry-after"),
            )

    @staticmethod
    def _headers(request: DeliveryRequest, timestamp: int) -> dict[str, str]:
        target = request.target
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": request.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(
                target.secrets, request.event_id, timestamp, request.payload
            ),
            "x-webhook-job-id": request.job_id,
        }
        if target.legacy_secret_header:
            headers["x-webhook-secret"] = target.secrets[0]

        return headers

    @staticmethod
    def _failure(
        attempt: int, started_at: datetime, clock: float, kind: str, error: str
    ) -> AttemptOutcome:
        return AttemptOutcome(
            attempt=attempt,
            at=started_at,
            duration_ms=_elapsed_ms(clock),
            error_kind=kind,
            error=error[:MAX_ERROR_TEXT],
        )


async def _set_location_aside(response: httpx.Response) -> None:
    """Move a receiver's Location out of the headers, into the response's extensions.

    NOTE: httpx builds the redirect request of every 3xx, even with redirects
    off, and a Location it cannot parse (`javascript:`, a bad port or IDNA
    label) raises instead of answering. We never follow it; we only report it.
    """
    location = response.headers.pop("location", None)
    if location is not None:
        response.extensions[LOCATION_EXTENSION] = location


def _session(policy: UrlPolicy, tls: ssl.SSLContext | None) -> aiohttp.ClientSession:
    """The pooled session under the transport, created on first use in the running loop."""
    connector = aiohttp.TCPConnector(
        limit=MAX_CONNECTIONS,
        limit_per_host=MAX_CONNECTIONS_PER_HOST,
        resolver=GuardedResolver(policy),
        ssl=tls if tls is not None else True,
    )
    return aiohttp.ClientSession(connector=connector, trust_env=False)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _transport_error_kind(exc: httpx.TransportError) -> str:
    """Name what went wrong, looking through the transport's mapping to aiohttp's error.

    The transport maps every aiohttp connection error to a connect timeout,
    so a refused connection would otherwise read as a timeout.
    """
    cause = exc.__cause__ or exc
    if _refused_address(cause) is not None:
        return "refused_url"
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return "invalid_url"
    if isinstance(cause, TimeoutError | httpx.TimeoutException):
        return "timeout"
    if isinstance(cause, aiohttp.ClientSSLError):
        return "tls_error"
    if isinstance(cause, aiohttp.ClientConnectorError | httpx.ConnectError):
        return "connect_error"

    return "network_error"


def _refused_address(error: BaseException) -> AddressRefusedError | None:
    """The policy's refusal, if that is what a connection error comes down to."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, AddressRefusedError):
            return seen
        inner = getattr(seen, "os_error", None)
        seen = inner if isinstance(inner, BaseException) and inner is not seen else seen.__cause__
    return None


def _elapsed_ms(clock: float) -> int:
    return round((time.perf_counter() - clock) * 1000)


def _describe(exc: Exception) -> str:
    """The error in a receiver's terms, read from aiohttp's error behind the transport's."""
    cause = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
    if isinstance(cause, aiohttp.ClientConnectorError) and isinstance(
        cause.os_error, ConnectionRefusedError
    ):
        return f"connection refused by {cause.host}:{cause.port}"
    if isinstance(cause, aiohttp.ClientSSLError):
        return f"TLS with {cause.host}:{cause.port} failed: {cause.os_error}"

    return f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__


def _one_line(exc: Exception) -> str:
    """The error's message with its line breaks and indents folded into single spaces."""
    text = " ".join(str(getattr(exc, "message", None) or exc).split())
    return text or type(exc).__name__


def _status_error_kind(status: int) -> str | None:
    if 200 <= status < 300:
        return None
    return "redirect" if 300 <= status < 400 else "http_status"


def _status_error(status: int, location: str | None) -> str | None:
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        # Redirects are never followed: the target was checked, its Location was not.
        return f"HTTP {status} redirect to {safe_url(location) if location else 'nowhere'}"

    return f"HTTP {status}"
