"""Standard Webhooks signatures: `v1,` + base64(HMAC-SHA256(key, id.timestamp.body)).

Receivers verify with any Standard Webhooks library; see README "Verifying".
"""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_BYTES = 32
SIGNATURE_VERSION = "v1"


def generate_secret() -> str:
    """A new signing secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<signature>` entry for `body` as sent with this id and timestamp."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()

    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signature_header(
    secrets_in_force: Iterable[str], message_id: str, timestamp: int, body: bytes
) -> str:
    """The `webhook-signature` value: one entry per valid secret, space-separated."""
    return " ".join(sign(secret, message_id, timestamp, body) for secret in secrets_in_force)
