"""Which job backend is selected, and what the function app registers in each mode."""

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import azure.functions as func
import pytest
from azure.durable_functions import DurableOrchestrationClient
from azure.durable_functions.models.utils import http_utils

from blueprints.durable_client import durable_client
from core.errors import SettingsError
from core.jobs.durable import current_client
from core.jobs.selection import Backend, select_backend
from core.settings import Settings
from local_host.azurite import PROJECT_ROOT, Azurite
from tests.durable_fake_api import TASK_HUB, FakeDurableApi

HTTP_FUNCTIONS = {
    "create_translation_set",
    "list_translation_sets",
    "get_translation_set",
    "delete_translation_set",
    "save_translation",
    "list_translations",
    "delete_translation",
    "import_translations",
    "register_webhook",
    "list_webhooks",
    "delete_webhook",
    "update_webhook",
    "enable_webhook",
    "ping_webhook",
    "list_webhook_deliveries",
    "rotate_webhook_secret",
    "get_job",
    "redeliver_job",
    "get_openapi",
}
TIMER_FUNCTIONS = {"sweep_outbox"}
# The functions that start, restart or inspect notification jobs.
WITH_CLIENT = {
    "sweep_outbox",
    "delete_translation_set",
    "save_translation",
    "delete_translation",
    "import_translations",
    "get_job",
    "redeliver_job",
}
DURABLE_FUNCTIONS = {
    "webhook_notification_orchestrator": "orchestrationTrigger",
    "webhook_notification_chunk_orchestrator": "orchestrationTrigger",
    "send_webhook_activity": "activityTrigger",
    "settle_deliveries_activity": "activityTrigger",
}
# Settings that would leak into the probe from the environment running the tests.
INHERITED = ("BackgroundJobs__UseDurableFunctions", "AzureWebJobsStorage", "DataStorage")


def _probe_env(**settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in INHERITED}
    return {**env, "PYTHONPATH": str(PROJECT_ROOT), **settings}


def _probe(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.durable_app_probe", *args],
        cwd=PROJECT_ROOT,
        env=_probe_env(**settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _functions(**settings: str) -> dict[str, dict[str, Any]]:
    done = _probe("functions", **settings)
    assert done.returncode == 0, done.stderr
    functions: dict[str, dict[str, Any]] = json.loads(done.stdout)
    return functions


def _settings(**values: Any) -> Settings:
    return Settings.model_validate(values)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param({"use_durable_functions": False}, Backend.IN_PROCESS, id="false"),
        pytest.param(
            {"use_durable_functions": True, "web_jobs_storage": "UseDevelopmentStorage=true"},
            Backend.DURABLE,
            id="true-with-storage",
        ),
        pytest.param({}, Backend.IN_PROCESS, id="unset-outside-host"),
        pytest.param({"under_functions_host": True}, Backend.IN_PROCESS, id="unset-no-storage"),
        pytest.param(
            {"under_functions_host": True, "web_jobs_storage": "UseDevelopmentStorage=true"},
            Backend.DURABLE,
            id="unset-host-and-storage",
        ),
        pytest.param(
            {
                "use_durable_functions": False,
                "under_functions_host": True,
                "web_jobs_storage": "UseDevelopmentStorage=true",
            },
            Backend.IN_PROCESS,
            id="false-wins-under-host",
        ),
    ],
)
def test_the_backend_follows_the_settings(values: dict[str, Any], expected: Backend) -> None:
    assert select_backend(_settings(**values)) is expected


def test_durable_without_task_hub_storage_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="AzureWebJobsStorage"):
        select_backend(_settings(use_durable_functions=True))


def test_with_durable_on_the_app_registers_orchestrators_activity_and_client_bindings() -> None:
    functions = _functions(
        BackgroundJobs__UseDurableFunctions="true", AzureWebJobsStorage="UseDevelopmentStorage=true"
    )

    assert set(functions) == HTTP_FUNCTIONS | TIMER_FUNCTIONS | set(DURABLE_FUNCTIONS)
    for name, trigger in DURABLE_FUNCTIONS.items():
        assert functions[name] == {"trigger": trigger, "bindings": [trigger]}
    with_client = {name for name, f in functions.items() if "durableClient" in f["bindings"]}
    assert with_client == WITH_CLIENT
    assert {functions[name]["trigger"] for name in HTTP_FUNCTIONS} == {"httpTrigger"}
    assert {functions[name]["trigger"] for name in TIMER_FUNCTIONS} == {"timerTrigger"}


def test_with_durable_off_the_app_registers_no_durable_function_or_binding() -> None:
    functions = _functions(BackgroundJobs__UseDurableFunctions="false")

    assert set(functions) == HTTP_FUNCTIONS | TIMER_FUNCTIONS
    assert {binding for f in functions.values() for binding in f["bindings"]} == {
        "httpTrigger",
        "http",
        "timerTrigger",
    }


def test_durable_asked_for_without_storage_stops_the_app_at_import() -> None:
    done = _probe("functions", BackgroundJobs__UseDurableFunctions="true")

    assert done.returncode != 0
    assert "SettingsError" in done.stderr
    assert "AzureWebJobsStorage" in done.stderr


@pytest.fixture
async def host() -> AsyncIterator[FakeDurableApi]:
    api = await FakeDurableApi().start()
    yield api
    await api.stop()
    await http_utils._close_session()


async def test_a_decorated_handler_gets_the_client_for_its_request(host: FakeDurableApi) -> None:
    """The worker passes the binding as JSON; the handler finds the SDK client current."""
    bp = func.Blueprint()
    seen: list[Any] = []

    @bp.route(route="probe", methods=["POST"])
    @durable_client(bp, enabled=True)
    async def probe(req: func.HttpRequest) -> func.HttpResponse:
        seen.append(current_client())
        return func.HttpResponse("ok")

    app = func.FunctionApp()
    app.register_functions(bp)
    (function,) = app.get_functions()
    request = func.HttpRequest(method="POST", url="http://localhost/api/probe", body=b"")

    response = await function.get_user_function()(req=request, client=host.binding())

    assert response.get_body() == b"ok"
    assert function.get_function_name() == "probe"
    assert sorted(b.get_binding_name() for b in function.get_bindings()) == [
        "durableClient",
        "http",
        "httpTrigger",
    ]
    (client,) = seen
    assert isinstance(client, DurableOrchestrationClient)
    assert client._orchestration_bindings.task_hub_name == TASK_HUB
    assert current_client() is None


async def test_saving_a_translation_in_durable_mode_starts_its_orchestration(
    azurite: Azurite, host: FakeDurableApi
) -> None:
    """The real HTTP functions, called as the worker calls them with the client binding:
    the save answers with the job id, the host is asked to start that orchestration, and the
    job reads back in the usual shape with the orchestration's runtime status."""
    probe = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.durable_app_probe",
        "save",
        host.binding(),
        cwd=PROJECT_ROOT,
        env=_probe_env(
            BackgroundJobs__UseDurableFunctions="true",
            AzureWebJobsStorage=azurite.connection_string,
            Webhooks__AllowPrivateNetworks="true",
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(probe.communicate(), timeout=60)
    assert probe.returncode == 0, stderr.decode()
    report = json.loads(stdout)

    assert report["saveStatus"] == 200
    (start,) = host.starts
    assert start.orchestrator == "webhook_notification_orchestrator"
    assert start.instance_id == report["jobId"]
    assert start.input["webhookIds"] == [report["webhookId"]]
    job = report["job"]
    assert report["jobStatus"] == 200
    assert job["id"] == report["jobId"]
    assert job["status"] == "pending"
    assert job["runtimeStatus"] == "Pending"
    assert job["eventType"] == "translation.saved"
    assert job["translationsSetId"] == "probe"
    assert [delivery["status"] for delivery in job["deliveries"]] == ["pending"]


def test_host_json_names_the_task_hub_and_keeps_replays_quiet() -> None:
    host = json.loads((PROJECT_ROOT / "host.json").read_text(encoding="utf-8"))

    durable_task = host["extensions"]["durableTask"]
    levels = host["logging"]["logLevel"]

    assert durable_task["hubName"] == "DataManager"
    assert durable_task["maxConcurrentActivityFunctions"] >= 1
    assert durable_task["maxConcurrentOrchestratorFunctions"] >= 1
    assert durable_task["tracing"]["traceReplayEvents"] is False
    for name in DURABLE_FUNCTIONS:
        assert levels[f"Function.{name}"] == "Warning"
        assert levels[f"Function.{name}.User"] == "Information"
