"""Signatures follow Standard Webhooks exactly: a known answer, and an independent verifier."""

import base64
import json
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from core.events import build_payload
from core.models import EventType
from core.signing import SECRET_BYTES, generate_secret, sign, signature_header

KNOWN_SECRET = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
KNOWN_ID = "evt_0001"
KNOWN_TIMESTAMP = 1767225600
KNOWN_BODY = (
    '{"id":"evt_0001","type":"translation.saved",'
    '"data":{"name":"greeting","text":"Grüß dich 👋\u2028"}}'
).encode()
KNOWN_SIGNATURE = "v1,4UIAihz+6ce0aDQCej7mkOLfWvreUorrzECVIBI4Cl0="


def _headers(message_id: str, timestamp: int, signature: str) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_signature_matches_the_known_answer() -> None:
    """A fixed secret, id, timestamp and body give one fixed signature."""
    assert sign(KNOWN_SECRET, KNOWN_ID, KNOWN_TIMESTAMP, KNOWN_BODY) == KNOWN_SIGNATURE


def test_generated_secrets_are_prefixed_base64_of_32_random_bytes() -> None:
    """Secrets are `whsec_` + base64 of 32 bytes, and never repeat."""
    first, second = generate_secret(), generate_secret()

    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == SECRET_BYTES
    assert first != second


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Hello", id="ascii"),
        pytest.param("Grüß dich, 日本語, Ελληνικά", id="non-ascii"),
        pytest.param("party 🎉👩‍👩‍👧", id="emoji"),
        pytest.param("line\u2028separator\u2029paragraph", id="u2028"),
        pytest.param('quote " backslash \\ tab \t', id="escapes"),
    ],
)
def test_independent_library_verifies_our_payloads(text: str) -> None:
    """Payloads built and signed by us verify with the standardwebhooks library."""
    secret = generate_secret()
    body = build_payload(
        event_id="evt_1",
        event_type=EventType.TRANSLATION_SAVED,
        translations_set_id="web",
        data={"resource": "Pages/Home", "name": "title", "text": text},
        occurred_at=datetime.now(UTC),
    )
    now = int(datetime.now(UTC).timestamp())

    verified = StandardWebhook(secret).verify(
        body, _headers("evt_1", now, sign(secret, "evt_1", now, body))
    )

    assert verified["data"]["text"] == text


def test_several_secrets_give_space_separated_signatures_each_verifiable() -> None:
    """During rotation, either secret verifies the same delivery."""
    old, new = generate_secret(), generate_secret()
    now = int(datetime.now(UTC).timestamp())
    header = signature_header([new, old], "evt_2", now, b"{}")

    assert len(header.split(" ")) == 2
    for secret in (old, new):
        assert StandardWebhook(secret).verify(b"{}", _headers("evt_2", now, header)) == {}


@pytest.mark.parametrize(
    ("change", "value"),
    [
        pytest.param("body", b'{"tampered":true}', id="body-changed"),
        pytest.param("id", "evt_other", id="id-changed"),
        pytest.param("secret", generate_secret(), id="other-secret"),
    ],
)
def test_verification_fails_when_anything_signed_changes(change: str, value: object) -> None:
    """Changing the body, the id or the secret breaks the signature."""
    secret = generate_secret()
    now = int(datetime.now(UTC).timestamp())
    body = json.dumps({"ok": True}).encode()
    signature = sign(secret, "evt_3", now, body)
    verify_secret, verify_id, verify_body = secret, "evt_3", body
    if change == "body":
        verify_body = value  # type: ignore[assignment]
    elif change == "id":
        verify_id = value  # type: ignore[assignment]
    else:
        verify_secret = value  # type: ignore[assignment]

    with pytest.raises(WebhookVerificationError):
        StandardWebhook(verify_secret).verify(verify_body, _headers(verify_id, now, signature))
