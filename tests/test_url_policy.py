"""The SSRF guard: refused URLs at registration and at send time, allowed ones pass."""

import ipaddress
from collections.abc import AsyncIterator

import pytest

from core.delivery import DeliveryRequest, DeliveryTarget, WebhookSender
from core.signing import generate_secret
from core.url_policy import UrlPolicy, UrlRefusedError, refusal
from tests.support.receiver import Receiver

PRIVATE_NAMES = {"internal.example": ["10.1.2.3"], "mixed.example": ["93.184.216.34", "127.0.0.1"]}


async def controlled_resolve(host: str, port: int) -> list[str]:
    """A resolver the tests control, as an attacker's DNS server would be."""
    if host in PRIVATE_NAMES:
        return PRIVATE_NAMES[host]
    if host == "localhost":
        return ["127.0.0.1", "::1"]
    if host == "public.example":
        return ["93.184.216.34"]
    raise OSError(f"unknown host {host}")


STRICT = UrlPolicy(allow_private_networks=False, resolve=controlled_resolve)
RELAXED = UrlPolicy(allow_private_networks=True, resolve=controlled_resolve)

REFUSED = [
    ("http://127.0.0.1/", "https"),
    ("https://127.0.0.1/", "loopback"),
    ("https://localhost/", "loopback"),
    ("https://[::1]/", "loopback"),
    ("https://169.254.169.254/latest/meta-data/", "link-local"),
    ("https://[fd00:ec2::254]/", "private"),
    ("https://[::ffff:127.0.0.1]/", "loopback"),
    ("https://[64:ff9b::a00:1]/", "private"),
    ("https://[2002:7f00:1::]/", "loopback"),
    ("https://10.0.0.1/", "private"),
    ("https://192.168.1.20:8443/hook", "private"),
    ("https://0.0.0.0/", "unspecified"),
    ("https://[::]/", "unspecified"),
    ("https://224.0.0.1/", "multicast"),
    ("https://192.0.0.8/", "reserved"),
    ("https://public.example:0/", "port 0"),
    ("https://internal.example/hook", "private"),
    ("https://mixed.example/hook", "loopback"),
    ("https://user:pw@public.example/", "credentials"),
    ("ftp://public.example/", "https"),
    ("https://nowhere.example/", "does not resolve"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED, ids=[url for url, _ in REFUSED])
async def test_refused_at_registration_with_private_networks_off(url: str, reason: str) -> None:
    """Each URL is refused, and the refusal names why."""
    with pytest.raises(UrlRefusedError, match=reason):
        await STRICT.check(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.0.0.1/",
        "http://0.0.0.0/",
        "https://internal.example/hook",
    ],
)
async def test_the_same_urls_are_allowed_with_private_networks_on(url: str) -> None:
    """Local development may point webhooks at its own machine."""
    await RELAXED.check(url)


async def test_public_https_is_allowed_with_private_networks_off() -> None:
    """The ordinary case passes."""
    await STRICT.check("https://public.example/hooks?token=abc")


@pytest.mark.parametrize(
    ("address", "allowed"),
    [("8.8.8.8", True), ("2606:4700::1111", True), ("::ffff:8.8.8.8", True), ("100.64.0.1", False)],
)
def test_address_classification(address: str, allowed: bool) -> None:
    """Global unicast only; shared address space (CGNAT) is not global."""
    assert (refusal(ipaddress.ip_address(address)) is None) is allowed


@pytest.fixture
async def strict_sender() -> AsyncIterator[WebhookSender]:
    sender = WebhookSender(timeout_seconds=2, url_policy=STRICT)
    yield sender
    await sender.aclose()


def _request(url: str) -> DeliveryRequest:
    target = DeliveryTarget(webhook_id="wh", url=url, secrets=(generate_secret(),))
    return DeliveryRequest(job_id="job", event_id="evt", payload=b"{}", target=target)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:{port}/ok/{tag}",
        "https://[::ffff:127.0.0.1]:{port}/ok/{tag}",
        "https://internal.example:{port}/ok/{tag}",
        "http://127.0.0.1:{port}/ok/{tag}",
    ],
)
async def test_refused_at_send_time_as_a_final_failure(
    strict_sender: WebhookSender, receiver: Receiver, tag: str, url: str
) -> None:
    """A send to a refused address is a `refused_url` outcome and nothing is sent."""
    outcome = await strict_sender.send(_request(url.format(port=receiver.port, tag=tag)), attempt=1)

    assert outcome.error_kind == "refused_url"
    assert outcome.status_code is None
    assert receiver.received(f"ok/{tag}") == []


async def test_dns_rebinding_is_caught_at_connect_time(receiver: Receiver, tag: str) -> None:
    """Public at registration, loopback at send time: the send is refused."""
    answers = [["93.184.216.34"], ["127.0.0.1"]]

    async def rebinding(host: str, port: int) -> list[str]:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    policy = UrlPolicy(allow_private_networks=False, resolve=rebinding)
    url = f"https://rebind.example:{receiver.port}/ok/{tag}"
    await policy.check(url)
    sender = WebhookSender(timeout_seconds=2, url_policy=policy)

    outcome = await sender.send(_request(url), attempt=1)
    await sender.aclose()

    assert outcome.error_kind == "refused_url"
    assert "127.0.0.1" in (outcome.error or "")


async def test_the_checked_address_is_used_and_the_host_header_kept(
    receiver: Receiver, tag: str
) -> None:
    """The connection goes where the resolver said; the request still names the host."""

    async def to_loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    sender = WebhookSender(
        timeout_seconds=2, url_policy=UrlPolicy(allow_private_networks=True, resolve=to_loopback)
    )

    outcome = await sender.send(
        _request(f"http://hooks.example:{receiver.port}/ok/{tag}"), attempt=1
    )
    await sender.aclose()

    assert outcome.status_code == 200
    (received,) = receiver.received(f"ok/{tag}")
    assert received.headers["Host"] == f"hooks.example:{receiver.port}"


async def test_redirects_to_private_addresses_are_never_followed(
    receiver: Receiver, tag: str
) -> None:
    """With private networks on, a redirect to metadata is recorded, not followed."""
    sender = WebhookSender(timeout_seconds=2, url_policy=RELAXED)

    outcome = await sender.send(_request(receiver.url(f"redirect/{tag}")), attempt=1)
    await sender.aclose()

    assert (outcome.status_code, outcome.error_kind) == (302, "redirect")
    assert "169.254.169.254" in (outcome.error or "")
