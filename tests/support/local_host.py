"""Start the project's local host as a subprocess against a given storage."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from local_host.azurite import PROJECT_ROOT, free_port

# Fast retries so tests run in seconds; the values are still exercised as settings.
TEST_SETTINGS = {
    "BackgroundJobs__UseDurableFunctions": "false",
    "Webhooks__MaxAttempts": "3",
    "Webhooks__FirstRetryIntervalSeconds": "0.1",
    "Webhooks__TimeoutSeconds": "1.5",
    "Webhooks__AllowPrivateNetworks": "true",
}


@dataclass(frozen=True)
class LocalHost:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: str

    def logs(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()


@contextmanager
def running_local_host(
    storage: str, log_path: str, settings: dict[str, str] | None = None
) -> Iterator[LocalHost]:
    port = free_port()
    env = {**os.environ, **TEST_SETTINGS, **(settings or {}), "AzureWebJobsStorage": storage}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "local_host", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    host = LocalHost(process, f"http://127.0.0.1:{port}/api", log_path)
    try:
        _wait_ready(host)
        yield host
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(host: LocalHost, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if host.process.poll() is not None:
            raise RuntimeError(f"local host exited early:\n{host.logs()}")
        try:
            httpx.get(host.base_url + "/translation-sets", timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"local host not ready:\n{host.logs()}")
