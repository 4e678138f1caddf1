"""kill -9 in the middle of a stream of saves loses no notification.

The local host runs against Azurite with two webhooks on a slow receiver;
saves stream in from several threads; half-way the host is killed with
SIGKILL and started again, and the saves that got no answer are sent again
under new names, so that each name stands for one event. Every save that
was committed (whether or not its client heard back) must reach both
webhooks at least once; repeats carry the same `webhook-id`.
"""

import json
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from local_host.azurite import Azurite
from tests.support.local_host import running_local_host
from tests.support.receiver import Receiver

SAVES = 200
KILL_AFTER = 100
CRASH_SETTINGS = {
    "BackgroundJobs__OutboxGraceSeconds": "1",
    "BackgroundJobs__OutboxSweepSeconds": "0.5",
    "BackgroundJobs__MaxConcurrentDeliveries": "8",
    "Webhooks__MaxAttempts": "10",
    "Webhooks__FirstRetryIntervalSeconds": "0.2",
    "Webhooks__TimeoutSeconds": "5",
}


def _save(base_url: str, set_id: str, index: int, name: str = "key") -> bool:
    body = {"resource": "crash", "name": f"{name}-{index:03d}", "values": {"en": str(index)}}
    try:
        response = httpx.put(
            f"{base_url}/translation-sets/{set_id}/translations", json=body, timeout=10
        )
    except httpx.TransportError:
        return False
    return response.status_code == 200


def test_kill_9_mid_stream_loses_no_committed_save(
    azurite: Azurite,
    receiver: Receiver,
    tag: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """0 missing after a SIGKILL and a restart; duplicates share their webhook-id."""
    set_id, paths = f"crash-{tag}", [f"slow/400/{tag}a", f"slow/400/{tag}b"]
    storage = azurite.connection_string

    with running_local_host(storage, str(tmp_path / "first.log"), CRASH_SETTINGS) as first:
        api = httpx.Client(base_url=first.base_url, timeout=10)
        assert (
            api.post("/translation-sets", json={"id": set_id, "name": "crash"}).status_code == 201
        )
        for path in paths:
            api.post(f"/translation-sets/{set_id}/webhooks", json={"url": receiver.url(path)})
        unanswered = set(range(SAVES))
        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = {pool.submit(_save, first.base_url, set_id, i): i for i in range(SAVES)}
            for future, index in futures.items():
                if future.result():
                    unanswered.discard(index)
                if SAVES - len(unanswered) == KILL_AFTER:
                    first.process.kill()
        first.process.wait()
        acknowledged = SAVES - len(unanswered)
        before_restart = sum(len(receiver.received(path)) for path in paths)

    with running_local_host(storage, str(tmp_path / "second.log"), CRASH_SETTINGS) as second:
        api = httpx.Client(base_url=second.base_url, timeout=10)
        resent = sorted(unanswered)
        for index in resent:
            assert _save(second.base_url, set_id, index, name="again")
        items = api.get(f"/translation-sets/{set_id}/translations").json()["items"]
        committed = {item["name"] for item in items}

        def heard(path: str) -> dict[str, set[str]]:
            ids: dict[str, set[str]] = defaultdict(set)
            for received in receiver.received(path):
                ids[json.loads(received.body)["data"]["name"]].add(received.headers["webhook-id"])
            return ids

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if all(committed <= set(heard(path)) for path in paths):
                break
            time.sleep(0.25)

    missing = sum(len(committed - set(heard(path))) for path in paths)
    received_total = sum(len(receiver.received(path)) for path in paths)
    duplicates = received_total - sum(len(heard(path)) for path in paths)
    with capsys.disabled():
        print(
            f"\ncrash test: saves sent={SAVES} acknowledged={acknowledged} "
            f"resent={len(resent)} committed={len(committed)} webhooks=2 "
            f"received before restart={before_restart} received={received_total} "
            f"missing={missing} duplicates={duplicates}"
        )

    assert acknowledged >= KILL_AFTER
    assert len(committed) >= SAVES
    assert missing == 0
    for path in paths:
        assert all(len(ids) == 1 for ids in heard(path).values())
