"""Deliveries recorded per second by the in-process service, against a bare client.

One job fanned out to 1,000 webhooks on a loopback receiver (another process),
with Azurite recording every attempt. The baseline is a bare aiohttp client
POSTing the same payload 1,000 times at the same concurrency, measured in the
same run; the ratio is what our signing, bookkeeping and storage cost.

Usage: python -m bench.delivery_throughput [--webhooks 1000] [--rounds 3]
"""

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

import aiohttp

from core.delivery import DeliveryTarget, WebhookSender
from core.events import build_payload, new_event_id
from core.jobs.attempts import DeliveryAttempts
from core.jobs.in_process import InProcessJobService
from core.jobs.model import NotificationJob, new_job_id
from core.models import EventType
from core.retry import RetryPolicy
from core.signing import generate_secret
from core.storage import Storage
from core.url_policy import UrlPolicy
from local_host.azurite import free_port, running_azurite, wait_for_port

CONCURRENCY = 64


def _job(url: str, webhooks: int) -> NotificationJob:
    event_id, now = new_event_id(), datetime.now(UTC)
    payload = build_payload(
        event_id=event_id,
        event_type=EventType.TRANSLATION_SAVED,
        translations_set_id="bench",
        data={"resource": "Pages/Home", "name": "title", "cultures": ["de", "en", "fr"]},
        occurred_at=now,
    )
    targets = tuple(
        DeliveryTarget(
            webhook_id=f"wh{index:05d}", url=f"{url}/{index}", secrets=(generate_secret(),)
        )
        for index in range(webhooks)
    )
    return NotificationJob(
        id=new_job_id(),
        event_id=event_id,
        event_type=EventType.TRANSLATION_SAVED,
        translations_set_id="bench",
        created_at=now,
        payload=payload,
        targets=targets,
    )


async def _bare_rate(url: str, payload: bytes, count: int) -> float:
    slots = asyncio.Semaphore(CONCURRENCY)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(index: int) -> None:
            async with slots, session.post(f"{url}/{index}", data=payload) as response:
                assert response.status == 204

        started = time.perf_counter()
        await asyncio.gather(*(post(index) for index in range(count)))
        return count / (time.perf_counter() - started)


async def _service_rate(storage: Storage, url: str, webhooks: int) -> float:
    sender = WebhookSender(timeout_seconds=10, url_policy=UrlPolicy(allow_private_networks=True))
    policy = RetryPolicy(max_attempts=3, first_interval=2, max_retry_after=60)
    service = InProcessJobService(
        jobs=storage.jobs,
        attempts=DeliveryAttempts(sender=sender, jobs=storage.jobs, policy=policy),
        max_concurrent_deliveries=CONCURRENCY,
        shutdown_grace_seconds=5,
    )
    job = _job(url, webhooks)
    try:
        started = time.perf_counter()
        await service.schedule(job)
        await service.wait_idle()
        elapsed = time.perf_counter() - started
    finally:
        await service.shutdown()
        await sender.aclose()

    view = await storage.jobs.get_view(job.id)
    delivered = sum(1 for d in view.deliveries if d.status == "delivered") if view else 0
    if delivered != webhooks:
        raise RuntimeError(f"only {delivered} of {webhooks} deliveries were recorded delivered")
    return webhooks / elapsed


async def _run(connection_string: str, url: str, webhooks: int, rounds: int) -> None:
    storage = await Storage.connect(connection_string)
    payload = _job(url, 1).payload
    bare, ours = [], []
    try:
        for round_number in range(1, rounds + 1):
            bare.append(await _bare_rate(url, payload, webhooks))
            ours.append(await _service_rate(storage, url, webhooks))
            print(
                f"round {round_number}: bare aiohttp {bare[-1]:8.1f} POST/s   "
                f"in-process service {ours[-1]:8.1f} deliveries recorded/s",
                flush=True,
            )
    finally:
        await storage.aclose()

    bare_median, ours_median = statistics.median(bare), statistics.median(ours)
    print(f"webhooks per job: {webhooks}, concurrency: {CONCURRENCY}, rounds: {rounds}")
    print(f"baseline (bare aiohttp POSTs/s, median): {bare_median:.1f}")
    print(f"in-process service (deliveries recorded/s, median): {ours_median:.1f}")
    print(f"ratio service/baseline: {ours_median / bare_median:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--webhooks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    port = free_port()
    sink = subprocess.Popen([sys.executable, "-m", "bench.sink", "--port", str(port)])
    try:
        wait_for_port(port, 15)
        with running_azurite() as azurite:
            asyncio.run(
                _run(
                    azurite.connection_string,
                    f"http://127.0.0.1:{port}/hook",
                    args.webhooks,
                    args.rounds,
                )
            )
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()
