"""Security end to end: refused URLs, secret rotation, secrets sealed at rest, no leaks."""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from core.storage import Storage
from local_host.azurite import Azurite
from tests.support.api import headers_of, wait_for_job
from tests.support.local_host import LocalHost, running_local_host
from tests.support.receiver import Receiver

# A key made for these tests only; Fernet keys are 32 url-safe base64 bytes.
TEST_KEY = "3b8eBIJW4hBy1kc0X6yr4UQR3JJdiuDq3CPaLX1N1cE="
GRACE_SECONDS = 3.0


@pytest.fixture(scope="module")
def strict_host(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHost]:
    log = tmp_path_factory.mktemp("strict") / "host.log"
    settings = {"Webhooks__AllowPrivateNetworks": "false"}
    with running_local_host(azurite.connection_string, str(log), settings) as host:
        yield host


@pytest.fixture(scope="module")
def sealed_host(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHost]:
    log = tmp_path_factory.mktemp("sealed") / "host.log"
    settings = {
        "Webhooks__SecretEncryptionKey": TEST_KEY,
        "Webhooks__SecretRotationGraceHours": str(GRACE_SECONDS / 3600),
    }
    with running_local_host(azurite.connection_string, str(log), settings) as host:
        yield host
    assert "whsec_" not in host.logs()
    assert TEST_KEY not in host.logs()


def _client(host: LocalHost) -> httpx.Client:
    return httpx.Client(base_url=host.base_url, timeout=10)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "https"),
        ("https://127.0.0.1/", "loopback"),
        ("https://localhost/", "loopback"),
        ("https://[::1]/", "loopback"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[::ffff:127.0.0.1]/", "loopback"),
        ("https://10.0.0.1/", "private"),
        ("https://0.0.0.0/", "unspecified"),
    ],
)
def test_registration_refuses_private_targets_with_a_422_naming_the_reason(
    strict_host: LocalHost, tag: str, url: str, reason: str
) -> None:
    """With private networks off, the API answers 422 problem+json and stores nothing."""
    api = _client(strict_host)
    set_id = f"strict-{tag}"
    api.post("/translation-sets", json={"id": set_id, "name": "strict"})

    response = api.post(f"/translation-sets/{set_id}/webhooks", json={"url": url})

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert reason in response.json()["detail"]
    assert api.get(f"/translation-sets/{set_id}/webhooks").json()["items"] == []


def test_rotation_signs_with_both_secrets_during_grace_then_only_the_new_one(
    sealed_host: LocalHost, receiver: Receiver, tag: str
) -> None:
    """During grace either secret verifies; afterwards only the new one does."""
    api, set_id = _client(sealed_host), f"rot-{tag}"
    api.post("/translation-sets", json={"id": set_id, "name": "rotation"})
    created = api.post(
        f"/translation-sets/{set_id}/webhooks", json={"url": receiver.url(f"ok/{tag}")}
    )
    old, webhook_id = created.json()["secret"], created.json()["id"]
    body = {"resource": "r", "name": "n", "values": {"en": "x"}}

    rotated = api.post(f"/translation-sets/{set_id}/webhooks/{webhook_id}/rotate-secret")
    new = rotated.json()["secret"]
    api.put(f"/translation-sets/{set_id}/translations", json=body)
    during = receiver.wait_for(f"ok/{tag}", count=1)[-1]
    time.sleep(GRACE_SECONDS + 0.5)
    api.put(f"/translation-sets/{set_id}/translations", json=body)
    after = receiver.wait_for(f"ok/{tag}", count=2)[-1]

    assert rotated.status_code == 200
    assert new != old
    assert len(headers_of(during)["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        StandardWebhook(secret).verify(during.body, headers_of(during))
    assert len(headers_of(after)["webhook-signature"].split(" ")) == 1
    StandardWebhook(new).verify(after.body, headers_of(after))
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(old).verify(after.body, headers_of(after))
    listed = api.get(f"/translation-sets/{set_id}/webhooks").text
    assert old not in listed
    assert new not in listed


def test_a_job_from_before_a_rotation_is_redelivered_with_the_secrets_in_force_now(
    sealed_host: LocalHost, receiver: Receiver, tag: str
) -> None:
    """Redelivery of an older job reads the webhook again: the new secret verifies it."""
    api, set_id, path = _client(sealed_host), f"rotold-{tag}", f"fail/3/{tag}"
    api.post("/translation-sets", json={"id": set_id, "name": "rotation"})
    created = api.post(f"/translation-sets/{set_id}/webhooks", json={"url": receiver.url(path)})
    old, webhook_id = created.json()["secret"], created.json()["id"]
    body = {"resource": "r", "name": "n", "values": {"en": "x"}}
    job_id = api.put(f"/translation-sets/{set_id}/translations", json=body).json()["jobId"]
    first = receiver.wait_for(path, count=3)[0]
    wait_for_job(api, job_id)

    new = api.post(f"/translation-sets/{set_id}/webhooks/{webhook_id}/rotate-secret").json()
    redelivered = api.post(f"/jobs/{job_id}/redeliver")
    again = receiver.wait_for(path, count=4)[-1]

    assert redelivered.status_code == 202
    assert len(headers_of(first)["webhook-signature"].split(" ")) == 1
    assert len(headers_of(again)["webhook-signature"].split(" ")) == 2
    for secret in (new["secret"], old):
        StandardWebhook(secret).verify(again.body, headers_of(again))
    assert wait_for_job(api, job_id)["deliveries"][0]["status"] == "delivered"


async def test_secrets_are_sealed_at_rest_when_a_key_is_set(
    sealed_host: LocalHost, azurite: Azurite, receiver: Receiver, tag: str
) -> None:
    """Reading the tables directly shows Fernet tokens, not the secret."""
    api, set_id = _client(sealed_host), f"seal-{tag}"
    api.post("/translation-sets", json={"id": set_id, "name": "sealed"})
    created = api.post(
        f"/translation-sets/{set_id}/webhooks", json={"url": receiver.url(f"ok/{tag}")}
    )
    job_id = api.put(
        f"/translation-sets/{set_id}/translations",
        json={"resource": "r", "name": "n", "values": {"en": "x"}},
    ).json()["jobId"]
    receiver.wait_for(f"ok/{tag}")
    secret = created.json()["secret"]

    storage = await Storage.connect(azurite.connection_string)
    webhook_rows = [row async for row in storage.store.partition("webhooks", set_id)]
    job_rows = [row async for row in storage.store.partition("jobs", job_id)]
    await storage.aclose()

    dumped = repr(webhook_rows) + repr(job_rows)
    assert secret not in dumped
    assert secret.removeprefix("whsec_") not in dumped
    assert webhook_rows[0]["Secret"].startswith("fernet:")


def test_no_secret_in_any_log_line_of_the_shared_host(
    local_host: LocalHost, tmp_path: Path
) -> None:
    """The end-to-end host's log, after all tests that ran before, holds no secret."""
    assert "whsec_" not in local_host.logs()
