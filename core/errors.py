"""One exception hierarchy for the domain.

Blueprints map these to problem+json responses; storage and HTTP client errors
are translated into them at the boundary where they happen.
"""


class DataManagerError(Exception):
    """Base of every error this service raises on purpose."""


class SettingsError(DataManagerError):
    """The configuration cannot be used; raised at start, never per request."""


class InvalidInputError(DataManagerError):
    """The client sent something malformed (HTTP 400)."""

    def __init__(self, detail: str, errors: list[dict[str, object]] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []


class NotFoundError(DataManagerError):
    """The thing addressed does not exist (HTTP 404)."""


class ConflictError(DataManagerError):
    """The request clashes with the current state (HTTP 409)."""


class PayloadTooLargeError(DataManagerError):
    """The request or one of its values is larger than we store (HTTP 413)."""


class UnprocessableError(DataManagerError):
    """Well-formed, but cannot be acted on (HTTP 422)."""


class StorageUnavailableError(DataManagerError):
    """Table Storage could not be reached or refused the operation (HTTP 503)."""


class JobServiceClosedError(DataManagerError):
    """The job service is shutting down and takes no new work."""
