"""The durable job service with the SDK's real client, against a loopback stand-in for the host."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from azure.durable_functions import DurableOrchestrationClient
from azure.durable_functions.models.utils import http_utils
from pydantic import SecretStr

from core.delivery import AttemptOutcome
from core.errors import ConflictError
from core.jobs.durable import (
    DurableClientMissingError,
    DurableJobService,
    TaskHubUnavailableError,
    using_client,
)
from core.models import DeliveryStatus, JobState
from core.orchestration import ORCHESTRATOR_NAME
from core.runtime import Runtime
from core.settings import Settings
from core.storage import Storage
from local_host.azurite import Azurite
from tests.durable_fake_api import FakeDurableApi
from tests.support.jobs import notification_job

SETTINGS = Settings(
    use_durable_functions=True,
    web_jobs_storage=SecretStr("UseDevelopmentStorage=true"),
    max_attempts=4,
    first_retry_interval_seconds=1.5,
    retry_window_hours=6,
)


@pytest.fixture
async def host() -> AsyncIterator[FakeDurableApi]:
    api = await FakeDurableApi().start()
    yield api
    await api.stop()
    # The SDK keeps one aiohttp session per process, bound to the loop that made it;
    # every test runs in a loop of its own.
    await http_utils._close_session()


@pytest.fixture
def client(host: FakeDurableApi) -> DurableOrchestrationClient:
    return DurableOrchestrationClient(host.binding())


@pytest.fixture
def service(storage: Storage) -> DurableJobService:
    return DurableJobService(jobs=storage.jobs, settings=SETTINGS)


async def test_scheduling_starts_the_orchestrator_with_the_job_id_and_its_input(
    service: DurableJobService,
    client: DurableOrchestrationClient,
    host: FakeDurableApi,
    storage: Storage,
) -> None:
    """One start request: the orchestrator's name, the job id as instance id, ids and policy."""
    job = notification_job("https://example.com/a", "https://example.com/b")

    with using_client(client):
        job_id = await service.schedule(job)

    assert job_id == job.id
    (start,) = host.starts
    assert start.orchestrator == ORCHESTRATOR_NAME == "webhook_notification_orchestrator"
    assert start.instance_id == job.id
    assert start.input == {
        "jobId": job.id,
        "webhookIds": ["wh0", "wh1"],
        "maxAttempts": 4,
        "firstRetryIntervalMs": 1500,
        "retryWindowSeconds": 21600.0,
        "round": 0,
        "startedAt": None,
        "attemptsMade": {},
        "settled": [],
    }
    view = await storage.jobs.get_view(job.id)
    assert view is not None
    assert [delivery.status for delivery in view.deliveries] == [DeliveryStatus.PENDING] * 2


async def test_scheduling_the_same_job_twice_starts_one_orchestration(
    service: DurableJobService, client: DurableOrchestrationClient, host: FakeDurableApi
) -> None:
    """The outbox may hand a job over twice; the second time finds it started."""
    job = notification_job("https://example.com/a")

    with using_client(client):
        await service.schedule(job)
        host.set_status(job.id, "Completed")
        again = await service.schedule(job)

    assert again == job.id
    assert len(host.starts) == 1


async def test_a_start_answered_409_counts_as_started(
    service: DurableJobService, client: DurableOrchestrationClient, host: FakeDurableApi
) -> None:
    """Another worker started the instance between our look and our start: not an error."""
    host.start_answer = 409
    job = notification_job("https://example.com/a")

    with using_client(client):
        job_id = await service.schedule(job)

    assert job_id == job.id
    assert len(host.starts) == 1


async def test_a_host_that_fails_the_start_makes_the_job_service_unavailable(
    service: DurableJobService, client: DurableOrchestrationClient, host: FakeDurableApi
) -> None:
    """500 and no instance: a TaskHubUnavailableError, which the API answers with 503."""
    host.start_answer = 500

    with using_client(client), pytest.raises(TaskHubUnavailableError):
        await service.schedule(notification_job("https://example.com/a"))


async def test_scheduling_needs_the_client_binding(service: DurableJobService) -> None:
    with pytest.raises(DurableClientMissingError):
        await service.schedule(notification_job("https://example.com/a"))


async def test_redelivery_restarts_the_finished_orchestration_for_failed_deliveries(
    service: DurableJobService,
    client: DurableOrchestrationClient,
    host: FakeDurableApi,
    storage: Storage,
) -> None:
    """wh1 failed after 3 attempts: the new run sends only wh1, counting on from attempt 3."""
    job = notification_job("https://example.com/a", "https://example.com/b")
    with using_client(client):
        await service.schedule(job)
    request = job.requests[1]
    outcome = AttemptOutcome(attempt=3, at=datetime.now(UTC), duration_ms=5, status_code=410)
    await storage.jobs.record_attempt(request, outcome, DeliveryStatus.FAILED, None)

    with using_client(client):
        host.set_status(job.id, "Running")
        with pytest.raises(ConflictError):
            await service.redeliver(job.id)
        host.set_status(job.id, "Completed")
        redelivering = await service.redeliver(job.id)

    assert redelivering == 1
    assert [start.instance_id for start in host.starts] == [job.id, job.id]
    restart = host.starts[-1].input
    assert restart["webhookIds"] == ["wh1"]
    assert restart["attemptsMade"] == {"wh1": 3}


async def test_a_redelivery_the_host_fails_to_start_can_be_asked_for_again(
    service: DurableJobService,
    client: DurableOrchestrationClient,
    host: FakeDurableApi,
    storage: Storage,
) -> None:
    """The start fails: the reopened delivery reads failed again, and a retry redelivers it."""
    job = notification_job("https://example.com/a")
    with using_client(client):
        await service.schedule(job)
    outcome = AttemptOutcome(attempt=3, at=datetime.now(UTC), duration_ms=5, status_code=503)
    await storage.jobs.record_attempt(job.requests[0], outcome, DeliveryStatus.FAILED, None)
    host.set_status(job.id, "Completed")

    with using_client(client):
        host.start_answer = 500
        with pytest.raises(TaskHubUnavailableError):
            await service.redeliver(job.id)
        between = await storage.jobs.get_view(job.id)
        host.start_answer = None
        redelivering = await service.redeliver(job.id)

    assert between is not None
    assert between.status is JobState.COMPLETED
    assert between.deliveries[0].status is DeliveryStatus.FAILED
    assert redelivering == 1
    assert host.starts[-1].input["webhookIds"] == ["wh0"]


async def test_job_views_carry_the_runtime_status_in_durable_mode(
    azurite: Azurite, client: DurableOrchestrationClient, host: FakeDurableApi
) -> None:
    """The same view as in-process, plus the orchestration's runtime status."""
    settings = SETTINGS.model_copy(
        update={"web_jobs_storage": SecretStr(azurite.connection_string)}
    )
    runtime = await Runtime.create(settings)
    job = notification_job("https://example.com/a")
    try:
        assert isinstance(runtime.jobs, DurableJobService)
        with using_client(client):
            await runtime.jobs.schedule(job)
            host.set_status(job.id, "Running")
            view = await runtime.commands.get_job(job.id)
    finally:
        await runtime.aclose()

    assert view.status is JobState.PENDING
    assert view.runtime_status == "Running"
    assert view.model_dump(mode="json", by_alias=True)["runtimeStatus"] == "Running"
