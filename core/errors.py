"""One exception hierarchy for the domain.

Blueprints map these to problem+json responses; storage and HTTP client errors
are translated into them at the boundary where they happen.
"""


class DataManagerError(Exception):
    """Base of every error this service raises on purpose."""

    def problem_fields(self) -> dict[str, object]:
        """Extra members for the problem document that reports this error."""
        return {}


class SettingsError(DataManagerError):
    """The configuration cannot be used; raised at start, never per request."""


class InvalidInputError(DataManagerError):
    """The client sent something malformed (HTTP 400)."""

    def __init__(self, detail: str, errors: list[dict[str, object]] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []

    def problem_fields(self) -> dict[str, object]:
        return {"errors": self.errors}


class NotFoundError(DataManagerError):
    """The thing addressed does not exist (HTTP 404)."""


class ConflictError(DataManagerError):
    """The request clashes with the current state (HTTP 409)."""


class ChangedMeanwhileError(ConflictError):
    """A transaction relied on an entity that another request removed or changed meanwhile."""


class PayloadTooLargeError(DataManagerError):
    """The request or one of its values is larger than we store (HTTP 413)."""


class UnsupportedMediaTypeError(DataManagerError):
    """The request body is not JSON by its Content-Type (HTTP 415)."""


class UnprocessableError(DataManagerError):
    """Well-formed, but cannot be acted on (HTTP 422)."""


class StorageUnavailableError(DataManagerError):
    """Table Storage could not be reached or refused the operation (HTTP 503)."""


class ImportIncompleteError(DataManagerError):
    """An import stopped part-way; says which items were saved.

    Raised from the error that stopped it, whose status it answers with: 503
    when storage failed, 413 when storage refused an item as too large.
    """

    def __init__(
        self, reason: DataManagerError, saved: list[dict[str, str]], not_saved: list[dict[str, str]]
    ) -> None:
        super().__init__(
            f"the import stopped part-way ({reason}): {len(saved)} items saved, "
            f"{len(not_saved)} not saved"
        )
        self.saved = saved
        self.not_saved = not_saved

    def problem_fields(self) -> dict[str, object]:
        return {"saved": self.saved, "notSaved": self.not_saved}


class JobServiceClosedError(DataManagerError):
    """The job service is shutting down and takes no new work."""
