"""End to end: real HTTP to the local host, Azurite, and a real receiver."""

import json
import time

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from tests.support.api import headers_of, register_webhook, wait_for_job
from tests.support.local_host import LocalHost
from tests.support.names import FREE_TEXT_NAMES
from tests.support.receiver import Receiver


def _create_set(api: httpx.Client, tag: str) -> str:
    response = api.post("/translation-sets", json={"id": f"set-{tag}", "name": f"Set {tag}"})
    assert response.status_code == 201, response.text
    set_id: str = response.json()["id"]
    return set_id


def test_saving_a_translation_sends_one_verified_webhook(
    api: httpx.Client, receiver: Receiver, tag: str
) -> None:
    """Create set → register → save → one verified POST → job shows it delivered."""
    set_id = _create_set(api, tag)
    webhook = register_webhook(api, set_id, receiver.url(f"ok/{tag}"))

    saved = api.put(
        f"/translation-sets/{set_id}/translations",
        json={"resource": "Pages/Home", "name": "title", "values": {"en": "Hi", "de": "Hallo"}},
    )
    (received,) = receiver.wait_for(f"ok/{tag}")
    job = wait_for_job(api, saved.json()["jobId"])

    assert saved.status_code == 200
    event = StandardWebhook(webhook["secret"]).verify(received.body, headers_of(received))
    assert event["type"] == "translation.saved"
    assert event["translationsSetId"] == set_id
    assert event["data"] == {"resource": "Pages/Home", "name": "title", "cultures": ["de", "en"]}
    assert headers_of(received)["x-webhook-job-id"] == job["id"]
    assert job["eventType"] == "translation.saved"
    (delivery,) = job["deliveries"]
    assert delivery["webhookId"] == webhook["id"]
    assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == (
        "delivered",
        1,
        200,
    )
    time.sleep(0.2)
    assert len(receiver.received(f"ok/{tag}")) == 1


def test_a_set_without_webhooks_answers_a_null_job(api: httpx.Client, tag: str) -> None:
    """No subscriber, no job, no error."""
    set_id = _create_set(api, tag)

    saved = api.put(
        f"/translation-sets/{set_id}/translations",
        json={"resource": "r", "name": "n", "values": {"en": "x"}},
    )

    assert saved.status_code == 200
    assert saved.json()["jobId"] is None


def test_event_filters_decide_who_hears_what(
    api: httpx.Client, receiver: Receiver, tag: str
) -> None:
    """A webhook for deletions hears nothing of saves, and hears the deletion."""
    set_id = _create_set(api, tag)
    register_webhook(api, set_id, receiver.url(f"ok/{tag}"), events=["translation.deleted"])
    body = {"resource": "r", "name": "n", "values": {"en": "x"}}

    saved = api.put(f"/translation-sets/{set_id}/translations", json=body)
    deleted = api.delete(
        f"/translation-sets/{set_id}/translations", params={"resource": "r", "name": "n"}
    )
    (received,) = receiver.wait_for(f"ok/{tag}")

    assert saved.json()["jobId"] is None
    assert deleted.status_code == 200
    assert deleted.json()["jobId"] is not None
    assert json.loads(received.body)["type"] == "translation.deleted"
    assert json.loads(received.body)["data"] == {"resource": "r", "name": "n"}


@pytest.mark.parametrize("text", FREE_TEXT_NAMES)
def test_free_text_names_round_trip_through_the_api(api: httpx.Client, tag: str, text: str) -> None:
    """Names travel in bodies and query strings and come back exactly."""
    set_id = _create_set(api, tag)
    path = f"/translation-sets/{set_id}/translations"

    api.put(path, json={"resource": text, "name": text, "values": {"en": text}})
    listed = api.get(path, params={"resource": text}).json()["items"]
    deleted = api.delete(path, params={"resource": text, "name": text})
    after = api.get(path).json()["items"]

    assert [(item["resource"], item["name"], item["values"]) for item in listed] == [
        (text, text, {"en": text})
    ]
    assert deleted.status_code == 200
    assert after == []


def test_one_job_lists_every_outcome_and_the_healthy_one_is_not_delayed(
    api: httpx.Client, receiver: Receiver, tag: str
) -> None:
    """Failing, hanging and healthy receivers on one job: all three outcomes shown."""
    set_id = _create_set(api, tag)
    for kind in ("status/500", "hang", "ok"):
        register_webhook(api, set_id, receiver.url(f"{kind}/{tag}"))
    started = time.monotonic()

    saved = api.put(
        f"/translation-sets/{set_id}/translations",
        json={"resource": "r", "name": "n", "values": {"en": "x"}},
    )
    (healthy,) = receiver.wait_for(f"ok/{tag}")
    job = wait_for_job(api, saved.json()["jobId"])

    assert healthy.at - started < 1.5  # one hanging attempt alone takes 1.5 s
    statuses = {delivery["url"].rsplit("/", 2)[-2]: delivery for delivery in job["deliveries"]}
    assert statuses["500"]["status"] == "failed"
    assert statuses["500"]["attempts"] == 3
    assert statuses["hang"]["status"] == "failed"
    assert statuses["hang"]["attempts"] == 3
    assert statuses["ok"]["status"] == "delivered"


def test_deleting_a_set_tells_its_webhooks_and_removes_its_data(
    api: httpx.Client, receiver: Receiver, tag: str
) -> None:
    """The deletion event still reaches the set's webhooks; the set is gone."""
    set_id = _create_set(api, tag)
    webhook = register_webhook(api, set_id, receiver.url(f"ok/{tag}"))
    api.put(
        f"/translation-sets/{set_id}/translations",
        json={"resource": "r", "name": "n", "values": {"en": "x"}},
    )

    deleted = api.delete(f"/translation-sets/{set_id}")
    received = receiver.wait_for(f"ok/{tag}", count=2)

    assert deleted.status_code == 200
    event = StandardWebhook(webhook["secret"]).verify(received[-1].body, headers_of(received[-1]))
    assert event["type"] == "translations_set.deleted"
    assert event["data"]["translationsDeleted"] == 1
    assert api.get(f"/translation-sets/{set_id}").status_code == 404
    assert api.get(f"/translation-sets/{set_id}/webhooks").status_code == 404


def test_import_notifies_each_affected_set_once(
    api: httpx.Client, receiver: Receiver, tag: str
) -> None:
    """Items across two sets: each set's webhook gets one `translations.imported`."""
    first, second = _create_set(api, f"{tag}a"), _create_set(api, f"{tag}b")
    register_webhook(api, first, receiver.url(f"ok/{tag}a"))
    register_webhook(api, second, receiver.url(f"ok/{tag}b"))
    items = [
        {"setId": set_id, "resource": "r", "name": f"n{index}", "values": {"en": str(index)}}
        for set_id in (first, second)
        for index in range(3)
    ]

    imported = api.post("/translations/import", json={"items": items})
    (to_first,) = receiver.wait_for(f"ok/{tag}a")
    (to_second,) = receiver.wait_for(f"ok/{tag}b")

    assert imported.status_code == 200, imported.text
    assert imported.json()["imported"] == 6
    assert len(imported.json()["jobIds"]) == 2
    for received, set_id in ((to_first, first), (to_second, second)):
        event = json.loads(received.body)
        assert (event["type"], event["translationsSetId"]) == ("translations.imported", set_id)
        assert event["data"]["count"] == 3


def test_secrets_are_shown_once_and_never_listed_or_logged(
    api: httpx.Client, local_host: LocalHost, receiver: Receiver, tag: str
) -> None:
    """Only the registration response carries the secret."""
    set_id = _create_set(api, tag)
    webhook = register_webhook(api, set_id, receiver.url(f"ok/{tag}"), legacySecretHeader=True)
    saved = api.put(
        f"/translation-sets/{set_id}/translations",
        json={"resource": "r", "name": "n", "values": {"en": "x"}},
    )
    job = wait_for_job(api, saved.json()["jobId"])

    listed = api.get(f"/translation-sets/{set_id}/webhooks")

    assert webhook["secret"].startswith("whsec_")
    assert webhook["secret"] not in listed.text
    assert "secret" not in listed.json()["items"][0]
    assert webhook["secret"] not in json.dumps(job)
    assert webhook["secret"] not in local_host.logs()


def test_culture_codes_are_stored_in_their_conventional_case(api: httpx.Client, tag: str) -> None:
    """Tags are case-insensitive: `EN-us` is saved, listed and announced as `en-US`."""
    set_id = f"case-{tag}"
    api.post("/translation-sets", json={"id": set_id, "name": "case"})
    values = {"EN-us": "a", "ZH-hant-tw": "b", "sr-latn-RS": "c", "en-X-Private": "d"}

    saved = api.put(
        f"/translation-sets/{set_id}/translations",
        json={"resource": "r", "name": "n", "values": values},
    )
    (listed,) = api.get(f"/translation-sets/{set_id}/translations").json()["items"]

    assert saved.status_code == 200
    assert sorted(listed["values"]) == ["en-US", "en-x-private", "sr-Latn-RS", "zh-Hant-TW"]
