"""Imports the function app in a process of its own and reports on it as JSON.

The job backend is chosen when the app is imported, so each mode gets a fresh
interpreter: `functions` lists what the worker would index; `save` calls HTTP
functions the way the worker does, the durable client binding included.

Usage: python -m tests.durable_app_probe functions
       python -m tests.durable_app_probe save <client binding JSON>
"""

import asyncio
import json
import sys
from typing import Any

import azure.functions as func


def _functions() -> dict[str, Any]:
    from function_app import app

    report = {}
    for function in app.get_functions():
        trigger = function.get_trigger()
        report[str(function.get_function_name())] = {
            "trigger": trigger.get_binding_name() if trigger else None,
            "bindings": sorted(binding.get_binding_name() for binding in function.get_bindings()),
        }

    return report


def _request(method: str, body: Any = None, **route_params: str) -> func.HttpRequest:
    return func.HttpRequest(
        method=method,
        url="http://127.0.0.1:7071/api/probe",
        headers={"content-type": "application/json"},
        route_params=route_params,
        body=json.dumps(body).encode() if body is not None else b"",
    )


async def _save(binding: str) -> dict[str, Any]:
    """Create a set and a webhook, save a translation, read its job: all as the worker would."""
    from core.runtime import close_runtime
    from function_app import app

    call = {str(f.get_function_name()): f.get_user_function() for f in app.get_functions()}
    await call["create_translation_set"](req=_request("POST", {"id": "probe", "name": "Probe"}))
    registered = await call["register_webhook"](
        req=_request("POST", {"url": "http://127.0.0.1:9/hook"}, setId="probe")
    )
    values = {"resource": "Pages/Home", "name": "title", "values": {"en": "Hello"}}
    saved = await call["save_translation"](
        req=_request("PUT", values, setId="probe"), client=binding
    )
    job_id = json.loads(saved.get_body())["jobId"]
    job = await call["get_job"](req=_request("GET", jobId=job_id), client=binding)
    await close_runtime()

    return {
        "webhookId": json.loads(registered.get_body())["id"],
        "saveStatus": saved.status_code,
        "jobId": job_id,
        "jobStatus": job.status_code,
        "job": json.loads(job.get_body()),
    }


def main() -> None:
    report = _functions() if sys.argv[1] == "functions" else asyncio.run(_save(sys.argv[2]))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
