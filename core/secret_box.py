"""Signing secrets at rest: sealed with Fernet when an encryption key is configured.

With `Webhooks__SecretEncryptionKey` set, a listing or export of the tables
shows `fernet:...` tokens instead of secrets. Values stored before a key was
set stay readable, so a key can be introduced at any time; they are sealed the
next time they are written (rotation).
"""

from cryptography.fernet import Fernet, InvalidToken

from core.errors import SettingsError

SEALED_PREFIX = "fernet:"


class SecretBox:
    def __init__(self, key: str | None = None) -> None:
        try:
            self._fernet = Fernet(key.encode()) if key else None
        except ValueError:
            raise SettingsError(
                "Webhooks__SecretEncryptionKey must be a Fernet key: 32 bytes, url-safe base64"
            ) from None

    def seal(self, secret: str) -> str:
        if self._fernet is None:
            return secret
        return SEALED_PREFIX + self._fernet.encrypt(secret.encode()).decode("ascii")

    def open(self, stored: str) -> str:
        if not stored.startswith(SEALED_PREFIX):
            return stored
        if self._fernet is None:
            raise SettingsError("stored secrets are encrypted; set Webhooks__SecretEncryptionKey")
        try:
            return self._fernet.decrypt(stored.removeprefix(SEALED_PREFIX).encode()).decode()
        except InvalidToken:
            raise SettingsError(
                "Webhooks__SecretEncryptionKey does not open the stored secrets"
            ) from None
