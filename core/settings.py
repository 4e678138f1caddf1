"""Settings, read once from the environment into one validated object.

Names follow the Functions convention `Section__Key`, so the same values work
as app settings in Azure, in local.settings.json and as environment variables.
"""

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from core.errors import SettingsError

DEV_STORAGE = "UseDevelopmentStorage=true"

# Setting name -> field name. The one place that knows the external names.
SETTING_NAMES: dict[str, str] = {
    "BackgroundJobs__UseDurableFunctions": "use_durable_functions",
    "BackgroundJobs__MaxConcurrentDeliveries": "max_concurrent_deliveries",
    "BackgroundJobs__MaxConcurrentDeliveriesPerHost": "max_concurrent_per_host",
    "BackgroundJobs__ShutdownGraceSeconds": "shutdown_grace_seconds",
    "BackgroundJobs__OutboxGraceSeconds": "outbox_grace_seconds",
    "BackgroundJobs__OutboxSweepSeconds": "outbox_sweep_seconds",
    "AzureWebJobsStorage": "web_jobs_storage",
    "DataStorage": "data_storage",
    "Webhooks__MaxAttempts": "max_attempts",
    "Webhooks__FirstRetryIntervalSeconds": "first_retry_interval_seconds",
    "Webhooks__MaxRetryAfterSeconds": "max_retry_after_seconds",
    "Webhooks__TimeoutSeconds": "timeout_seconds",
    "Webhooks__AllowPrivateNetworks": "allow_private_networks",
    "Webhooks__RetryWindowHours": "retry_window_hours",
    "Webhooks__DisableAfterHours": "disable_after_hours",
    "Webhooks__SecretRotationGraceHours": "secret_rotation_grace_hours",
    "Webhooks__SecretEncryptionKey": "secret_encryption_key",
}

# Set by the Functions host (Core Tools or Azure) for the workers it starts, and
# never by local.settings.json, which the local host also reads.
FUNCTIONS_HOST_MARKERS = (
    "AzureWebJobsScriptRoot",
    "FUNCTIONS_WORKER_DIRECTORY",
    "WEBSITE_INSTANCE_ID",
)


class Settings(BaseModel):
    """Every setting the service reads, with its default and bounds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    use_durable_functions: bool | None = None
    max_concurrent_deliveries: int = Field(default=64, ge=1, le=10_000)
    max_concurrent_per_host: int = Field(default=16, ge=1, le=10_000)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=600)
    outbox_grace_seconds: float = Field(default=10.0, gt=0, le=3600)
    outbox_sweep_seconds: float = Field(default=5.0, gt=0, le=3600)
    web_jobs_storage: SecretStr | None = None
    data_storage: SecretStr | None = None
    max_attempts: int = Field(default=3, ge=1, le=50)
    first_retry_interval_seconds: float = Field(default=2.0, gt=0, le=3600)
    max_retry_after_seconds: float = Field(default=300.0, ge=0, le=86_400)
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    allow_private_networks: bool = False
    retry_window_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    disable_after_hours: float = Field(default=72.0, gt=0)
    secret_rotation_grace_hours: float = Field(default=24.0, ge=0)
    secret_encryption_key: SecretStr | None = None
    under_functions_host: bool = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Read and validate the settings; a bad value is a SettingsError naming it."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {
            field: environ[name]
            for name, field in SETTING_NAMES.items()
            if environ.get(name, "").strip() != ""
        }
        values["under_functions_host"] = any(marker in environ for marker in FUNCTIONS_HOST_MARKERS)

        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            field_to_name = {field: name for name, field in SETTING_NAMES.items()}
            problems = "; ".join(
                f"{field_to_name.get(str(err['loc'][0]), err['loc'][0])}: {err['msg']}"
                for err in exc.errors()
            )
            raise SettingsError(f"invalid settings: {problems}") from None

    @property
    def data_connection_string(self) -> str:
        """Table Storage for translation data: DataStorage, else AzureWebJobsStorage."""
        chosen = self.data_storage or self.web_jobs_storage
        return chosen.get_secret_value() if chosen else DEV_STORAGE

    def masked(self) -> dict[str, Any]:
        """The settings in force, safe to log: secrets and connection strings hidden."""
        shown: dict[str, Any] = {}
        for name, field in SETTING_NAMES.items():
            value = getattr(self, field)
            if isinstance(value, SecretStr):
                value = "***" if value.get_secret_value() else ""
            shown[name] = value
        return shown
