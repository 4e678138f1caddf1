"""Which job service runs notification jobs: Durable Functions or the in-process fallback.

The choice decides which functions the app registers, so it is made once, when
the function app is imported, and logged once.
"""

import functools
import logging
from enum import StrEnum

from core.errors import SettingsError
from core.logs import log_event
from core.settings import Settings

logger = logging.getLogger(__name__)


class Backend(StrEnum):
    DURABLE = "durable"
    IN_PROCESS = "in_process"


def select_backend(settings: Settings) -> Backend:
    """Durable when asked for, or when unset under the Functions host with task hub storage.

    Asking for durable without `AzureWebJobsStorage` is a SettingsError rather
    than a quiet fallback: the operator asked for durability and would not get it.
    """
    has_storage = settings.web_jobs_storage is not None
    if settings.use_durable_functions is True:
        if not has_storage:
            raise SettingsError(
                "BackgroundJobs__UseDurableFunctions is true but AzureWebJobsStorage is not set; "
                "Durable Functions needs it for its task hub"
            )
        return Backend.DURABLE
    if settings.use_durable_functions is None and settings.under_functions_host and has_storage:
        return Backend.DURABLE

    return Backend.IN_PROCESS


@functools.cache
def configured_backend() -> Backend:
    """The backend chosen from this process's settings, logged the first time it is asked for."""
    settings = Settings.from_environ()
    backend = select_backend(settings)
    log_event(
        logger,
        "jobs.backend_selected",
        backend=backend.value,
        setting=settings.use_durable_functions,
        under_functions_host=settings.under_functions_host,
        task_hub_storage=settings.web_jobs_storage is not None,
    )

    return backend


def durable_selected() -> bool:
    return configured_backend() is Backend.DURABLE
