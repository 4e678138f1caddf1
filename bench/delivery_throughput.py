"""Deliveries recorded per second by the in-process service, against a bare client.

One job fanned out to 1,000 registered webhooks on a loopback receiver (another
process), through the service wired as the app wires it: signing, recording
every attempt in Azurite, the delivery log and endpoint health. The baseline is
a bare aiohttp client POSTing the same payload 1,000 times at the same
concurrency, measured in the same run; the ratio is what our signing,
bookkeeping and storage cost. Each round also prints how many storage
transactions the job took; under cProfile the service spends most of its
time waiting on them (Azurite serves one at a time), not on HTTP.

Usage: python -m bench.delivery_throughput [--webhooks 1000] [--rounds 3]
"""

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import aiohttp

from core.delivery import DeliveryTarget
from core.events import build_payload, new_event_id
from core.jobs.in_process import InProcessJobService
from core.jobs.model import NotificationJob, new_job_id
from core.models import EventType, Webhook
from core.runtime import Runtime
from core.settings import Settings
from core.signing import generate_secret
from local_host.azurite import free_port, running_azurite, wait_for_port

CONCURRENCY = 64


def _job(set_id: str, url: str, webhooks: int, secret: str) -> NotificationJob:
    event_id, now = new_event_id(), datetime.now(UTC)
    payload = build_payload(
        event_id=event_id,
        event_type=EventType.TRANSLATION_SAVED,
        translations_set_id=set_id,
        data={"resource": "Pages/Home", "name": "title", "cultures": ["de", "en", "fr"]},
        occurred_at=now,
    )
    targets = tuple(
        DeliveryTarget(webhook_id=f"wh{index:05d}", url=f"{url}/{index}", secrets=(secret,))
        for index in range(webhooks)
    )
    return NotificationJob(
        id=new_job_id(),
        event_id=event_id,
        event_type=EventType.TRANSLATION_SAVED,
        translations_set_id=set_id,
        created_at=now,
        payload=payload,
        targets=targets,
    )


async def _register(runtime: Runtime, set_id: str, job: NotificationJob) -> None:
    """The job's webhooks, stored as registrations, so health updates find them."""
    now = datetime.now(UTC)
    for target in job.targets:
        webhook = Webhook(
            id=target.webhook_id,
            translations_set_id=set_id,
            url=target.url,
            events=None,
            description="bench",
            active=True,
            legacy_secret_header=False,
            created_at=now,
        )
        await runtime.storage.webhooks.create(webhook, target.secrets[0])


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


async def _service_rate(connection_string: str, url: str, webhooks: int) -> tuple[float, int]:
    """One job through the in-process service, wired exactly as the app wires it."""
    settings = Settings.model_validate(
        {
            "use_durable_functions": False,
            "web_jobs_storage": connection_string,
            "allow_private_networks": True,
            "max_concurrent_deliveries": CONCURRENCY,
            # Every webhook here is on one host; the bare client has no bound per host.
            "max_concurrent_per_host": CONCURRENCY,
        }
    )
    runtime = await Runtime.create(settings)
    set_id = f"bench-{uuid.uuid4().hex[:8]}"
    job = _job(set_id, url, webhooks, generate_secret())
    await _register(runtime, set_id, job)
    assert isinstance(runtime.jobs, InProcessJobService)
    transactions = runtime.storage.store.transactions
    try:
        started = time.perf_counter()
        await runtime.jobs.schedule(job)
        await runtime.jobs.wait_idle()
        elapsed = time.perf_counter() - started
        transactions = runtime.storage.store.transactions - transactions
        view = await runtime.storage.jobs.get_view(job.id)
    finally:
        await runtime.aclose()

    delivered = sum(1 for d in view.deliveries if d.status == "delivered") if view else 0
    if delivered != webhooks:
        raise RuntimeError(f"only {delivered} of {webhooks} deliveries were recorded delivered")
    return webhooks / elapsed, transactions


async def _run(connection_string: str, url: str, webhooks: int, rounds: int) -> None:
    payload = _job("bench", url, 1, generate_secret()).payload
    bare, ours = [], []
    for round_number in range(1, rounds + 1):
        bare.append(await _bare_rate(url, payload, webhooks))
        rate, transactions = await _service_rate(connection_string, url, webhooks)
        ours.append(rate)
        print(
            f"round {round_number}: bare aiohttp {bare[-1]:8.1f} POST/s   "
            f"in-process service {ours[-1]:8.1f} deliveries recorded/s   "
            f"storage transactions {transactions}",
            flush=True,
        )

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
