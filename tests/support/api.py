"""Calls the end-to-end tests make of the API, and what they read of a received webhook."""

import time
from typing import Any

import httpx

from tests.support.receiver import Received


def register_webhook(api: httpx.Client, set_id: str, url: str, **extra: Any) -> dict[str, Any]:
    """Register a webhook at `url`; the answer, secret included."""
    response = api.post(f"/translation-sets/{set_id}/webhooks", json={"url": url, **extra})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def wait_for_job(api: httpx.Client, job_id: str, timeout: float = 15.0) -> dict[str, Any]:
    """The job as soon as every delivery is final."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = api.get(f"/jobs/{job_id}").json()
        if job["status"] == "completed":
            return job
        time.sleep(0.05)
    raise TimeoutError(f"job {job_id} did not complete")


def headers_of(received: Received) -> dict[str, str]:
    """A received webhook's headers with lower-case names, as verifiers look them up."""
    return {key.lower(): value for key, value in received.headers.items()}
