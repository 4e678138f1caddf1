"""Run the function app's HTTP functions on http://127.0.0.1:7071/api/... .

Usage: python -m local_host [--host 127.0.0.1] [--port 7071]
"""

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from core.errors import SettingsError, StorageUnavailableError
from core.logs import log_event
from core.settings import Settings
from local_host.server import QuietBadRequests, build_web_app, route_prefix
from local_host.settings_file import apply_local_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STORAGE_WAIT_SECONDS = 60.0
DURABLE_SETTING = "BackgroundJobs__UseDurableFunctions"
logger = logging.getLogger("local_host")


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    # Per-request lines from the SDKs drown the service's own events.
    for noisy in ("azure", "httpx", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("aiohttp.server").addFilter(QuietBadRequests())


async def _runtime_context(_: web.Application) -> AsyncIterator[None]:
    """Start the runtime before serving (waiting for storage) and close it after."""
    from core.runtime import close_runtime, get_runtime

    deadline = asyncio.get_running_loop().time() + STORAGE_WAIT_SECONDS
    while True:
        try:
            runtime = await get_runtime()
            break
        except StorageUnavailableError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log_event(
                logger,
                "storage.waiting",
                level=logging.WARNING,
                reason="Table Storage does not answer yet",
                gives_up_in_s=round(deadline - asyncio.get_running_loop().time()),
            )
            await asyncio.sleep(1)
    # The Functions host sweeps with a timer trigger; here a task does it.
    runtime.start_sweeping()
    yield
    await close_runtime()


def _use_in_process_jobs() -> None:
    """The local host has no durable extension: it always runs jobs in-process."""
    if os.environ.get(DURABLE_SETTING, "").strip().lower() == "true":
        log_event(
            logger,
            "local_host.durable_ignored",
            level=logging.WARNING,
            reason="Durable Functions need the Functions host (func start); jobs run in-process",
        )
    os.environ[DURABLE_SETTING] = "false"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m local_host", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "7071")))
    args = parser.parse_args()

    configure_logging()
    apply_local_settings(PROJECT_ROOT / "local.settings.json")
    _use_in_process_jobs()
    try:
        Settings.from_environ()
    except SettingsError as exc:
        sys.exit(f"local host: {exc}")
    from function_app import app  # after the settings: the app reads them at import

    web_app = build_web_app(app, route_prefix(PROJECT_ROOT / "host.json"))
    web_app.cleanup_ctx.append(_runtime_context)
    log_event(
        logger,
        "local_host.listening",
        url=f"http://{args.host}:{args.port}/api",
        keys_enforced=False,
    )
    try:
        web.run_app(web_app, host=args.host, port=args.port, print=None, access_log=None)
    except OSError as exc:
        sys.exit(f"local host: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")


if __name__ == "__main__":
    main()
