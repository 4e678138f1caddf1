"""Every input bound at its edge (accepted) and one past it (refused with a 4xx)."""

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from core.models import (
    MAX_CULTURES,
    MAX_IMPORT_ITEMS,
    MAX_NAME_LENGTH,
    MAX_TEXT_UTF16_UNITS,
)
from core.models import MAX_WEBHOOKS_PER_SET as MAX_WEBHOOKS

MIB = 1024 * 1024


@pytest.fixture
def set_id(api: httpx.Client, tag: str) -> str:
    assert (
        api.post("/translation-sets", json={"id": f"lim-{tag}", "name": "limits"}).status_code
        == 201
    )
    return f"lim-{tag}"


def _save(api: httpx.Client, set_id: str, body: dict[str, Any]) -> httpx.Response:
    return api.put(f"/translation-sets/{set_id}/translations", json=body)


def _cultures(count: int) -> dict[str, str]:
    # Private-use tags are valid BCP 47 and give as many distinct cultures as needed.
    return {f"en-x-c{index:03d}": "t" for index in range(count)}


@pytest.mark.parametrize(
    ("values", "accepted"),
    [
        pytest.param({"en": "a" * MAX_TEXT_UTF16_UNITS}, True, id="text-at-limit"),
        pytest.param({"en": "a" * (MAX_TEXT_UTF16_UNITS + 1)}, False, id="text-past-limit"),
        pytest.param({"en": "😀" * (MAX_TEXT_UTF16_UNITS // 2)}, True, id="emoji-at-limit"),
        pytest.param({"en": "😀" * (MAX_TEXT_UTF16_UNITS // 2) + "a"}, False, id="emoji-past"),
        pytest.param(_cultures(MAX_CULTURES), True, id="cultures-at-limit"),
        pytest.param(_cultures(MAX_CULTURES + 1), False, id="cultures-past-limit"),
        pytest.param({"zh-Hant-TW": "x", "sr-Latn-RS": "y", "en-US": "z"}, True, id="bcp47"),
        pytest.param({"en_US": "x"}, False, id="underscore-tag"),
        pytest.param({"xx-invalid-tag-123456789": "x"}, False, id="invalid-tag"),
    ],
)
def test_text_and_culture_bounds(
    api: httpx.Client, set_id: str, values: dict[str, str], accepted: bool
) -> None:
    """Texts count UTF-16 code units, as Table Storage does; cultures are BCP 47 tags."""
    response = _save(api, set_id, {"resource": "r", "name": "n", "values": values})

    assert response.status_code == (200 if accepted else 400), response.text[:300]


@pytest.mark.parametrize(
    ("length", "accepted"), [(MAX_NAME_LENGTH, True), (MAX_NAME_LENGTH + 1, False)]
)
def test_name_bounds(api: httpx.Client, set_id: str, length: int, accepted: bool) -> None:
    """Resource and translation names up to 512 characters, even all escaped."""
    name = "/#?" * (length // 3) + "x" * (length % 3)
    response = _save(api, set_id, {"resource": name, "name": name, "values": {"en": "x"}})

    assert response.status_code == (200 if accepted else 400)
    if accepted:
        listed = api.get(f"/translation-sets/{set_id}/translations", params={"resource": name})
        assert [item["name"] for item in listed.json()["items"]] == [name]


@pytest.mark.parametrize(
    ("count", "status"), [(MAX_IMPORT_ITEMS, 200), (MAX_IMPORT_ITEMS + 1, 400)]
)
def test_import_item_bounds(api: httpx.Client, set_id: str, count: int, status: int) -> None:
    """Up to 1,000 items per import."""
    items = [
        {"setId": set_id, "resource": "bulk", "name": f"k{index}", "values": {"en": "v"}}
        for index in range(count)
    ]

    response = api.post("/translations/import", json={"items": items}, timeout=60)

    assert response.status_code == status, response.text[:300]


@pytest.mark.parametrize(("size", "status"), [(MIB, 200), (MIB + 1, 413)])
def test_body_size_bound(api: httpx.Client, set_id: str, size: int, status: int) -> None:
    """A body of exactly 1 MiB is read; one byte more is 413, before any parsing."""
    document = json.dumps({"resource": "r", "name": "n", "values": {"en": "x"}}).encode()
    body = document + b" " * (size - len(document))

    response = api.put(
        f"/translation-sets/{set_id}/translations",
        content=body,
        headers={"content-type": "application/json"},
    )

    assert len(body) == size
    assert response.status_code == status


def test_racing_registrations_stop_at_the_webhook_limit(api: httpx.Client, set_id: str) -> None:
    """Registrations sent all at once still leave at most the limit, and no 5xx."""
    path = f"/translation-sets/{set_id}/webhooks"
    body = {"url": "http://127.0.0.1:9/hook"}

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(
            pool.map(lambda _: api.post(path, json=body).status_code, range(MAX_WEBHOOKS + 20))
        )
    stored = api.get(path).json()["items"]

    assert set(answers) <= {201, 422}
    assert answers.count(201) == len(stored)
    assert MAX_WEBHOOKS - 16 <= len(stored) <= MAX_WEBHOOKS


# Within every bound we check (6 x 30,000 UTF-16 units), yet more than Azurite
# takes: it counts non-ASCII text by its escaped JSON, six bytes a character.
WIDE_VALUES = {f"ja-x-c{index}": "日" * 30_000 for index in range(6)}


def test_values_storage_refuses_as_too_large_are_a_413_not_a_storage_failure(
    api: httpx.Client, set_id: str
) -> None:
    """Whatever the store's own measure, a value it will not hold is the client's 413."""
    response = _save(api, set_id, {"resource": "r", "name": "wide", "values": WIDE_VALUES})

    assert response.status_code in {200, 413}, response.text
    if response.status_code == 413:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert api.get(f"/translation-sets/{set_id}/translations").json()["items"] == []


def test_an_import_stopped_by_a_value_too_large_for_storage_says_what_was_saved(
    api: httpx.Client, set_id: str
) -> None:
    """The transactions before the refused one stay saved, and the answer lists them exactly."""
    items = [
        {"setId": set_id, "resource": "r", "name": f"n{index:03d}", "values": {"en": "x"}}
        for index in range(150)
    ]
    items[120]["values"] = WIDE_VALUES

    response = api.post("/translations/import", json={"items": items})

    assert response.status_code in {200, 413}, response.text
    if response.status_code == 413:
        problem = response.json()
        stored = api.get(f"/translation-sets/{set_id}/translations").json()["items"]
        assert sorted(item["name"] for item in problem["saved"]) == sorted(
            item["name"] for item in stored
        )
        assert len(problem["saved"]) + len(problem["notSaved"]) == 150
