"""Redelivery, ping, delivery listing and endpoint health, end to end over HTTP."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook as StandardWebhook

from core.delivery import AttemptOutcome, DeliveryRequest, DeliveryTarget
from core.health import EndpointHealth
from core.models import Webhook
from core.storage import Storage
from tests.support.api import register_webhook, wait_for_job
from tests.support.local_host import LocalHost
from tests.support.receiver import Receiver

TRANSLATION = {"resource": "r", "name": "n", "values": {"en": "x"}}


def _set(api: httpx.Client, tag: str) -> str:
    response = api.post("/translation-sets", json={"id": f"wh-{tag}", "name": "webhooks"})
    assert response.status_code == 201
    return f"wh-{tag}"


def _webhook(api: httpx.Client, set_id: str, webhook_id: str) -> dict[str, Any]:
    items = api.get(f"/translation-sets/{set_id}/webhooks").json()["items"]
    (found,) = [item for item in items if item["id"] == webhook_id]
    return dict(found)


def test_redeliver_resends_failed_deliveries_with_the_same_event_id(
    api: httpx.Client, receiver: Receiver, tag: str
) -> None:
    """Three failures exhaust the attempts; a redelivery's next attempt succeeds."""
    set_id = _set(api, tag)
    register_webhook(api, set_id, receiver.url(f"fail/3/{tag}"))
    job_id = api.put(f"/translation-sets/{set_id}/translations", json=TRANSLATION).json()["jobId"]
    failed = wait_for_job(api, job_id)

    response = api.post(f"/jobs/{job_id}/redeliver")
    time.sleep(0.2)
    redelivered = wait_for_job(api, job_id)

    assert failed["deliveries"][0]["status"] == "failed"
    assert response.status_code == 202
    assert response.json() == {"jobId": job_id, "redelivering": 1}
    (delivery,) = redelivered["deliveries"]
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 4)
    ids = {received.headers["webhook-id"] for received in receiver.received(f"fail/3/{tag}")}
    assert ids == {f"evt_{job_id}"}
    assert api.post("/jobs/0123456789abcdef/redeliver").status_code == 404


def test_of_redeliveries_racing_one_reopens_the_job_and_the_rest_hear_409(
    api: httpx.Client, local_host: LocalHost, receiver: Receiver, tag: str
) -> None:
    """Eight at once: one reopens the delivery; the others hear 409, or, once it is done
    again, that nothing is left to redeliver. The receiver gets one more copy, not eight."""
    set_id, path = _set(api, tag), f"fail/3/{tag}"
    register_webhook(api, set_id, receiver.url(path))
    job_id = api.put(f"/translation-sets/{set_id}/translations", json=TRANSLATION).json()["jobId"]
    wait_for_job(api, job_id)

    def redeliver(_: int) -> tuple[int, int | None]:
        with httpx.Client(base_url=local_host.base_url, timeout=10) as client:
            response = client.post(f"/jobs/{job_id}/redeliver")
        return response.status_code, response.json().get("redelivering")

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(redeliver, range(8)))
    job = wait_for_job(api, job_id)
    time.sleep(0.3)

    assert answers.count((202, 1)) == 1
    assert all(answer in {(202, 1), (202, 0), (409, None)} for answer in answers)
    assert (job["deliveries"][0]["status"], job["deliveries"][0]["attempts"]) == ("delivered", 4)
    assert len(receiver.received(path)) == 4


def test_a_job_still_being_delivered_is_not_redelivered(
    api: httpx.Client, receiver: Receiver, tag: str
) -> None:
    """409 while deliveries are under way, as in durable mode; the job goes on as it was."""
    set_id = _set(api, tag)
    register_webhook(api, set_id, receiver.url(f"slow/1000/{tag}"))
    job_id = api.put(f"/translation-sets/{set_id}/translations", json=TRANSLATION).json()["jobId"]

    response = api.post(f"/jobs/{job_id}/redeliver")
    job = wait_for_job(api, job_id)

    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (job["deliveries"][0]["status"], job["deliveries"][0]["attempts"]) == ("delivered", 1)


def test_a_disabled_webhook_gets_no_redelivery_until_enabled(
    api: httpx.Client, receiver: Receiver, tag: str
) -> None:
    """A later attempt to a webhook switched off is withheld and recorded as such."""
    set_id = _set(api, tag)
    webhook = register_webhook(api, set_id, receiver.url(f"fail/3/{tag}"))
    path = f"/translation-sets/{set_id}/webhooks/{webhook['id']}"
    job_id = api.put(f"/translation-sets/{set_id}/translations", json=TRANSLATION).json()["jobId"]
    wait_for_job(api, job_id)

    api.patch(path, json={"active": False})
    api.post(f"/jobs/{job_id}/redeliver")
    time.sleep(0.2)
    withheld = wait_for_job(api, job_id)["deliveries"][0]
    health = _webhook(api, set_id, webhook["id"])["health"]
    api.post(f"{path}/enable")
    api.post(f"/jobs/{job_id}/redeliver")
    time.sleep(0.2)
    delivered = wait_for_job(api, job_id)["deliveries"][0]

    assert (withheld["status"], withheld["attempts"]) == ("failed", 4)
    assert withheld["history"][-1]["errorKind"] == "webhook_inactive"
    assert health["consecutiveFailures"] == 1  # the withheld attempt is not the receiver's
    assert (delivered["status"], delivered["attempts"]) == ("delivered", 5)
    assert len(receiver.received(f"fail/3/{tag}")) == 4


def test_ping_sends_a_verifiable_ping_and_answers_its_outcome(
    api: httpx.Client, receiver: Receiver, tag: str
) -> None:
    """The outcome comes back in the response; the receiver gets `webhook.ping`."""
    set_id = _set(api, tag)
    webhook = register_webhook(api, set_id, receiver.url(f"ok/{tag}"))

    response = api.post(f"/translation-sets/{set_id}/webhooks/{webhook['id']}/ping")
    (received,) = receiver.received(f"ok/{tag}")

    assert response.status_code == 200
    assert response.json()["delivered"] is True
    assert response.json()["statusCode"] == 200
    headers = {key.lower(): value for key, value in received.headers.items()}
    event = StandardWebhook(webhook["secret"]).verify(received.body, headers)
    assert event["type"] == "webhook.ping"
    assert api.post(f"/translation-sets/{set_id}/webhooks/nope/ping").status_code == 404


def test_deliveries_are_listed_newest_first_in_pages(
    api: httpx.Client, receiver: Receiver, tag: str
) -> None:
    """Three saves, pages of two: newest first, then the rest, then no cursor."""
    set_id = _set(api, tag)
    webhook = register_webhook(api, set_id, receiver.url(f"ok/{tag}"))
    job_ids = []
    for index in range(3):
        body = {**TRANSLATION, "name": f"n{index}"}
        job_ids.append(
            api.put(f"/translation-sets/{set_id}/translations", json=body).json()["jobId"]
        )
        wait_for_job(api, job_ids[-1])
        time.sleep(0.01)
    path = f"/translation-sets/{set_id}/webhooks/{webhook['id']}/deliveries"

    first = api.get(path, params={"limit": 2}).json()
    second = api.get(path, params={"limit": 2, "cursor": first["nextCursor"]}).json()

    assert [item["jobId"] for item in first["items"] + second["items"]] == job_ids[::-1]
    assert second["nextCursor"] is None
    assert first["items"][0]["status"] == "delivered"
    assert first["items"][0]["eventType"] == "translation.saved"
    assert api.get(path, params={"limit": 0}).status_code == 400
    assert api.get(path, params={"cursor": "not-ours"}).status_code == 400


def test_a_410_disables_the_webhook_until_it_is_enabled_again(
    api: httpx.Client, receiver: Receiver, tag: str
) -> None:
    """Gone means disabled: nothing more is sent until PATCH re-enables it."""
    set_id = _set(api, tag)
    webhook = register_webhook(api, set_id, receiver.url(f"status/410/{tag}"))
    path = f"/translation-sets/{set_id}/translations"

    job = wait_for_job(api, api.put(path, json=TRANSLATION).json()["jobId"])
    disabled = _webhook(api, set_id, webhook["id"])
    while_disabled = api.put(path, json={**TRANSLATION, "name": "later"}).json()
    enabled = api.patch(
        f"/translation-sets/{set_id}/webhooks/{webhook['id']}", json={"active": True}
    )

    assert job["deliveries"][0]["attempts"] == 1
    assert disabled["active"] is False
    assert "410" in disabled["health"]["disabledReason"]
    assert disabled["health"]["consecutiveFailures"] == 1
    assert while_disabled["jobId"] is None
    assert len(receiver.received(f"status/410/{tag}")) == 1
    assert enabled.status_code == 200
    assert enabled.json()["active"] is True
    assert enabled.json()["health"]["disabledReason"] is None
    assert enabled.json()["health"]["consecutiveFailures"] == 0


def test_enable_endpoint_and_bad_patches(api: httpx.Client, receiver: Receiver, tag: str) -> None:
    """POST .../enable works like PATCH; unknown fields and ids are refused."""
    set_id = _set(api, tag)
    webhook = register_webhook(api, set_id, receiver.url(f"ok/{tag}"))
    path = f"/translation-sets/{set_id}/webhooks/{webhook['id']}"

    paused = api.patch(path, json={"active": False, "description": "paused"})
    enabled = api.post(f"{path}/enable")

    assert (paused.json()["active"], paused.json()["description"]) == (False, "paused")
    assert enabled.json()["active"] is True
    assert api.patch(path, json={"secret": "x"}).status_code == 400
    assert api.patch(f"/translation-sets/{set_id}/webhooks/nope", json={}).status_code == 404


def test_patch_sets_clears_or_keeps_the_event_filter(
    api: httpx.Client, receiver: Receiver, tag: str
) -> None:
    """A list narrows it; [] or null means every event again; leaving it out keeps it."""
    set_id = _set(api, tag)
    webhook_id = register_webhook(api, set_id, receiver.url("ok"))["id"]
    path = f"/translation-sets/{set_id}/webhooks/{webhook_id}"

    narrowed = api.patch(path, json={"events": ["translation.saved"]}).json()["events"]
    kept = api.patch(path, json={"description": "only saves"}).json()["events"]
    cleared_by_empty = api.patch(path, json={"events": []}).json()["events"]
    api.patch(path, json={"events": ["translation.deleted"]})
    cleared_by_null = api.patch(path, json={"events": None}).json()["events"]

    assert narrowed == kept == ["translation.saved"]
    assert cleared_by_empty is None
    assert cleared_by_null is None


async def test_continuous_failure_for_the_configured_hours_disables(
    storage: Storage, receiver: Receiver, tag: str
) -> None:
    """Failures spread over more than DisableAfterHours disable; a success in between resets."""
    set_id = f"health-{tag}"
    webhook = Webhook(
        id=f"wh{tag}",
        translations_set_id=set_id,
        url=receiver.url("ok"),
        events=None,
        description="",
        active=True,
        legacy_secret_header=False,
        created_at=datetime.now(UTC),
    )
    await storage.webhooks.create(webhook, "whsec_AAAA")
    health = EndpointHealth(webhooks=storage.webhooks, disable_after=timedelta(hours=72))
    target = DeliveryTarget(webhook_id=webhook.id, url=webhook.url, secrets=("whsec_AAAA",))
    request = DeliveryRequest(job_id="j", event_id="e", payload=b"{}", target=target, set_id=set_id)
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def failure(hours: float) -> AttemptOutcome:
        return AttemptOutcome(
            attempt=1, at=start + timedelta(hours=hours), duration_ms=1, status_code=500
        )

    await health.record(request, failure(0))
    await health.record(request, failure(71))
    still_active = await storage.webhooks.get(set_id, webhook.id)
    await health.record(request, failure(72))
    disabled = await storage.webhooks.get(set_id, webhook.id)

    assert still_active is not None
    assert still_active.active is True
    assert still_active.health.consecutive_failures == 2
    assert disabled is not None
    assert disabled.active is False
    assert disabled.health.failing_since == start
    assert disabled.health.disabled_reason is not None
    assert "continuously" in disabled.health.disabled_reason


async def test_a_deleted_webhook_still_hears_of_its_sets_deletion_only(
    storage: Storage, receiver: Receiver, tag: str
) -> None:
    """Retries to a deleted webhook stop, except the announcement of its set's deletion."""
    set_id = f"gone-{tag}"
    target = DeliveryTarget(webhook_id=f"wh{tag}", url=receiver.url("ok"), secrets=("whsec_AA",))
    health = EndpointHealth(webhooks=storage.webhooks, disable_after=timedelta(hours=72))

    def request(event_type: str) -> DeliveryRequest:
        return DeliveryRequest(
            job_id="j",
            event_id="e",
            payload=b"{}",
            target=target,
            set_id=set_id,
            event_type=event_type,
        )

    saved = await health.current_target(request("translation.saved"))
    set_deleted = await health.current_target(request("translations_set.deleted"))

    assert saved is None
    assert set_deleted == target
