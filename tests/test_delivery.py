"""One attempt against a real loopback receiver: bytes, headers, timeouts, redirects."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from core.delivery import AttemptOutcome, DeliveryRequest, DeliveryTarget, WebhookSender
from core.events import build_payload
from core.models import EventType
from core.retry import RetryPolicy, Verdict
from core.signing import generate_secret
from core.url_policy import UrlPolicy
from tests.support.receiver import Receiver
from tests.support.tls import issue, tls_receiver


@pytest.fixture
async def sender() -> AsyncIterator[WebhookSender]:
    created = WebhookSender(timeout_seconds=1.5, url_policy=UrlPolicy(allow_private_networks=True))
    yield created
    await created.aclose()


def _request(url: str, *, legacy: bool = False, text: str = "Hallo 👋\u2028") -> DeliveryRequest:
    payload = build_payload(
        event_id="evt_delivery",
        event_type=EventType.TRANSLATION_SAVED,
        translations_set_id="web",
        data={"resource": "Pages/Home", "name": "title", "text": text},
        occurred_at=datetime.now(UTC),
    )
    target = DeliveryTarget(
        webhook_id="wh1", url=url, secrets=(generate_secret(),), legacy_secret_header=legacy
    )
    return DeliveryRequest(job_id="job1", event_id="evt_delivery", payload=payload, target=target)


async def test_delivery_sends_the_signed_bytes_with_every_header(
    sender: WebhookSender, receiver: Receiver, tag: str
) -> None:
    """The receiver gets the exact payload, verifiable with the standard library."""
    request = _request(receiver.url(f"ok/{tag}"))

    outcome = await sender.send(request, attempt=1)
    (received,) = receiver.received(f"ok/{tag}")

    assert outcome.delivered
    assert outcome.status_code == 200
    assert received.body == request.payload
    headers = {key.lower(): value for key, value in received.headers.items()}
    assert headers["webhook-id"] == "evt_delivery"
    assert headers["x-webhook-job-id"] == "job1"
    assert headers["user-agent"].startswith("DataManager-Webhooks/")
    assert headers["content-type"] == "application/json"
    assert "x-webhook-secret" not in headers
    verified = StandardWebhook(request.target.secrets[0]).verify(received.body, headers)
    assert verified["data"]["text"] == "Hallo 👋\u2028"


async def test_legacy_secret_header_only_when_registered_so(
    sender: WebhookSender, receiver: Receiver, tag: str
) -> None:
    """Webhooks registered with the legacy option also get the raw secret."""
    request = _request(receiver.url(f"ok/{tag}"), legacy=True)

    await sender.send(request, attempt=1)
    (received,) = receiver.received(f"ok/{tag}")

    headers = {key.lower(): value for key, value in received.headers.items()}
    assert headers["x-webhook-secret"] == request.target.secrets[0]


async def test_a_receiver_that_hangs_is_cut_off_at_the_timeout(
    sender: WebhookSender, receiver: Receiver, tag: str
) -> None:
    """No answer within the per-attempt timeout is a timeout outcome."""
    started = time.monotonic()

    outcome = await sender.send(_request(receiver.url(f"hang/{tag}")), attempt=1)

    assert outcome.error_kind == "timeout"
    assert time.monotonic() - started < 3.0


async def test_a_receiver_that_drips_bytes_cannot_hold_an_attempt_past_the_deadline(
    sender: WebhookSender, receiver: Receiver
) -> None:
    """One byte a second keeps read timeouts happy; the overall deadline still ends it."""
    started = time.monotonic()

    outcome = await sender.send(_request(receiver.drip_url), attempt=1)

    assert outcome.error_kind == "timeout"
    assert time.monotonic() - started < 3.0


async def test_redirects_are_not_followed_and_say_where_they_pointed(
    sender: WebhookSender, receiver: Receiver, tag: str
) -> None:
    """A 3xx is a failed attempt recorded with its Location."""
    outcome = await sender.send(_request(receiver.url(f"redirect/{tag}")), attempt=1)

    assert outcome.status_code == 302
    assert outcome.error_kind == "redirect"
    assert outcome.error is not None
    assert "169.254.169.254" in outcome.error


async def test_connection_refused_is_a_connect_error(sender: WebhookSender) -> None:
    """Nothing listening is a retryable connect error, not an exception."""
    outcome = await sender.send(_request("http://127.0.0.1:9/"), attempt=1)

    assert outcome.error_kind == "connect_error"
    assert outcome.error is not None
    assert outcome.error.startswith("connection refused by 127.0.0.1:")
    assert outcome.status_code is None


async def _send_to_raw_receiver(sender: WebhookSender, answer: bytes) -> AttemptOutcome:
    """One attempt against a receiver that reads the request and writes `answer`, as is."""

    async def answer_as_is(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65_536)
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer_as_is, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        return await sender.send(_request(f"http://127.0.0.1:{port}/hook"), attempt=1)


@pytest.mark.parametrize(
    "location",
    [
        "javascript:alert(1)",
        "mailto:a@b",
        "http://xn--/",
        "http://x.example:99999/",
        "//x:-1/",
        "http://[::1/",
        "http://x:abc/",
        "http://a\x1bb/",
    ],
)
async def test_a_redirect_to_a_location_nobody_could_follow_is_still_a_final_redirect(
    sender: WebhookSender, location: str
) -> None:
    """The Location is reported, never parsed for following: one attempt, final."""
    answer = f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"

    outcome = await _send_to_raw_receiver(sender, answer.encode("latin-1"))

    assert (outcome.status_code, outcome.error_kind) == (302, "redirect")
    assert outcome.error is not None
    assert outcome.error.startswith("HTTP 302 redirect to ")
    policy = RetryPolicy(max_attempts=3, first_interval=1, max_retry_after=1)
    assert policy.verdict(outcome) is Verdict.FAIL


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"NOT HTTP AT ALL\r\n\r\n", id="no-status-line"),
        pytest.param(b"HTTP/1.1 abc Nope\r\n\r\n", id="bad-status-code"),
        pytest.param(
            b"HTTP/1.1 302 Found\r\nLocation: http://x/" + b"a" * 100_000 + b"\r\n\r\n",
            id="header-over-8-KiB",
        ),
    ],
)
async def test_an_answer_that_is_not_http_is_a_retryable_failure_not_an_exception(
    sender: WebhookSender, answer: bytes
) -> None:
    """Garbage from a receiver is recorded as `invalid_response`, which the policy retries."""
    outcome = await _send_to_raw_receiver(sender, answer)

    assert outcome.status_code is None
    assert outcome.error_kind == "invalid_response"
    assert outcome.error is not None
    assert outcome.error.startswith("the answer is not valid HTTP: ")
    assert len(outcome.error) <= 300
    policy = RetryPolicy(max_attempts=3, first_interval=1, max_retry_after=1)
    assert policy.verdict(outcome) is Verdict.RETRY


async def test_retry_after_is_read_from_the_answer(
    sender: WebhookSender, receiver: Receiver, tag: str
) -> None:
    """A 429's Retry-After reaches the policy."""
    outcome = await sender.send(_request(receiver.url(f"retry-after/7/{tag}")), attempt=1)

    assert outcome.status_code == 429
    assert outcome.retry_after == 7.0
    assert json.loads(_request("x").payload)["type"] == "translation.saved"


async def test_https_goes_to_the_checked_address_with_the_original_name() -> None:
    """The name resolves once, to the address the policy checked; TLS still verifies the
    certificate for the name (SNI) and the Host header keeps it."""
    authority = issue("hooks.test")
    resolved: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]

    policy = UrlPolicy(allow_private_networks=True, resolve=resolve)
    trusting = WebhookSender(timeout_seconds=3, url_policy=policy, tls=authority.client_context())
    untrusting = WebhookSender(timeout_seconds=3, url_policy=policy)
    async with tls_receiver(authority) as receiver:
        url = f"https://hooks.test:{receiver.port}/hook"
        delivered = await trusting.send(_request(url), attempt=1)
        refused = await untrusting.send(_request(url), attempt=1)
    await trusting.aclose()
    await untrusting.aclose()

    assert delivered.status_code == 200, delivered.error
    assert receiver.server_names[0] == "hooks.test"
    assert receiver.hosts == [f"hooks.test:{receiver.port}"]
    assert set(resolved) == {"hooks.test"}
    assert refused.error_kind == "tls_error"
    assert refused.error is not None
    assert "certificate" in refused.error.lower()
