"""The README's example receiver verifies real deliveries and rejects forgeries."""

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from core.delivery import DeliveryRequest, DeliveryTarget, WebhookSender
from core.events import build_payload
from core.models import EventType
from core.signing import generate_secret
from core.url_policy import UrlPolicy
from local_host.azurite import PROJECT_ROOT, free_port, wait_for_port

SECRET = generate_secret()


@pytest.fixture(scope="module")
def example_receiver() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "examples/receiver.py", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env={"WEBHOOK_SECRET": SECRET, "PATH": ""},
        stdout=subprocess.PIPE,
        text=True,
    )
    wait_for_port(port, 15)
    yield f"http://127.0.0.1:{port}/hooks", process
    process.terminate()
    process.wait()


def _request(url: str, secret: str) -> DeliveryRequest:
    payload = build_payload(
        event_id="evt_example",
        event_type=EventType.TRANSLATION_SAVED,
        translations_set_id="web",
        data={"resource": "Pages/Home", "name": "title", "cultures": ["en"]},
        occurred_at=datetime.now(UTC),
    )
    target = DeliveryTarget(webhook_id="wh", url=url, secrets=(secret,))
    return DeliveryRequest(job_id="job", event_id="evt_example", payload=payload, target=target)


async def test_example_receiver_accepts_ours_and_rejects_a_wrong_secret(
    example_receiver: tuple[str, subprocess.Popen[str]],
) -> None:
    """204 and a VERIFIED line for a real delivery; 401 for one signed with another secret."""
    url, process = example_receiver
    sender = WebhookSender(timeout_seconds=5, url_policy=UrlPolicy(allow_private_networks=True))

    genuine = await sender.send(_request(url, SECRET), attempt=1)
    forged = await sender.send(_request(url, generate_secret()), attempt=1)
    await sender.aclose()

    assert genuine.status_code == 204
    assert forged.status_code == 401
    assert process.stdout is not None
    assert process.stdout.readline().startswith("listening on")
    assert process.stdout.readline().strip() == "VERIFIED translation.saved"
