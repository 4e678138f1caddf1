"""Bad input gets the right 4xx as problem+json and changes nothing."""

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest


@pytest.fixture
def set_id(api: httpx.Client, tag: str) -> str:
    response = api.post("/translation-sets", json={"id": f"bad-{tag}", "name": "Bad input"})
    assert response.status_code == 201
    created: str = response.json()["id"]
    return created


def _assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


TRANSLATION = {"resource": "r", "name": "n", "values": {"en": "x"}}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(b"{not json", 400, id="malformed-json"),
        pytest.param(b"", 400, id="empty-body"),
        pytest.param(b"[1, 2]", 400, id="not-an-object"),
        pytest.param(b"\xff\xfe", 400, id="not-utf8"),
        pytest.param(b"[" * 100_000, 400, id="deeply-nested"),
        pytest.param(b'{"resource": "r", "values": {"en": "x"}}', 400, id="missing-name"),
        pytest.param(b'{"resource": 1, "name": "n", "values": {"en": "x"}}', 400, id="wrong-type"),
        pytest.param(b'{"resource": "r", "name": "n", "values": ["x"]}', 400, id="values-not-map"),
        pytest.param(b'{"resource": "", "name": "n", "values": {}}', 400, id="empty-resource"),
        pytest.param(
            b'{"resource": "r", "name": "n", "values": {"english": "x"}}', 400, id="bad-culture"
        ),
        pytest.param(
            b'{"resource": "r", "name": "n", "values": {"en": "x", "EN": "y"}}', 400, id="en-EN"
        ),
        pytest.param(
            b'{"resource": "r", "name": "n", "values": {}, "extra": 1}', 400, id="unknown-field"
        ),
        pytest.param(
            ('{"resource": "r", "name": "n", "values": {"en": "' + "x" * 32_001 + '"}}').encode(),
            400,
            id="text-too-long",
        ),
        pytest.param(b'{"a": "' + b"x" * (1024 * 1024) + b'"}', 413, id="body-too-large"),
        pytest.param(b'{"resource": ' + b"1" * 4_301 + b"}", 400, id="integer-of-4301-digits"),
        pytest.param(b'{"values": [-' + b"9" * 5_000 + b"]}", 400, id="nested-huge-integer"),
    ],
)
def test_bad_translation_bodies(api: httpx.Client, set_id: str, body: bytes, status: int) -> None:
    """Each malformed save is refused with a problem document and stores nothing."""
    response = api.put(f"/translation-sets/{set_id}/translations", content=body)

    _assert_problem(response, status)
    assert api.get(f"/translation-sets/{set_id}/translations").json()["items"] == []


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({"content-type": "text/plain"}, 415, id="text"),
        pytest.param({"content-type": "application/xml"}, 415, id="xml"),
        pytest.param({"content-type": "multipart/form-data; boundary=x"}, 415, id="form"),
        pytest.param({"content-type": "application/x-www-form-urlencoded"}, 415, id="urlencoded"),
        pytest.param({"content-type": "Application/JSON; charset=utf-8"}, 200, id="json-any-case"),
        pytest.param({"content-type": 'application/json; charset="UTF-8"'}, 200, id="quoted"),
        pytest.param({"content-type": "application/json; charset=utf-16"}, 415, id="utf-16"),
        pytest.param({"content-type": "application/json; charset=ebcdic"}, 415, id="ebcdic"),
        pytest.param({"content-type": "application/merge-patch+json"}, 200, id="plus-json"),
        pytest.param({"content-encoding": "gzip"}, 400, id="not-really-gzip"),
    ],
)
def test_bodies_declared_as_something_else(
    api: httpx.Client, set_id: str, headers: dict[str, str], status: int
) -> None:
    """Only JSON bodies are read; a body that cannot be decoded is the client's 400."""
    body = json.dumps(TRANSLATION).encode()
    response = api.put(
        f"/translation-sets/{set_id}/translations",
        content=body,
        headers={"content-type": "application/json", **headers},
    )

    if status == 200:
        assert response.status_code == 200
    else:
        _assert_problem(response, status)


def test_validation_problems_point_at_the_field(api: httpx.Client, set_id: str) -> None:
    """The problem lists where validation failed, without echoing input."""
    response = api.put(
        f"/translation-sets/{set_id}/translations", json={"resource": "r", "name": 5, "values": {}}
    )

    body = _assert_problem(response, 400)
    assert ["name"] in [error["loc"] for error in body["errors"]]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        pytest.param(
            "PUT",
            "/translation-sets/nope/translations",
            {"json": TRANSLATION},
            404,
            id="save-unknown-set",
        ),
        pytest.param("GET", "/translation-sets/nope", {}, 404, id="get-unknown-set"),
        pytest.param("GET", "/translation-sets/%27or%201%3D1", {}, 404, id="odd-set-id"),
        pytest.param("DELETE", "/translation-sets/nope", {}, 404, id="delete-unknown-set"),
        pytest.param("GET", "/jobs/0123456789abcdef", {}, 404, id="unknown-job"),
        pytest.param("GET", "/jobs/..", {}, 404, id="dotted-job"),
        pytest.param(
            "POST",
            "/translation-sets/nope/webhooks",
            {"json": {"url": "http://127.0.0.1/"}},
            404,
            id="webhook-unknown-set",
        ),
        pytest.param("GET", "/no/such/route", {}, 404, id="unknown-route"),
        pytest.param("PATCH", "/translation-sets", {}, 405, id="wrong-method"),
        pytest.param(
            "POST",
            "/translations/import",
            {"json": {"items": [{**TRANSLATION, "setId": "nope"}]}},
            404,
            id="import-unknown-set",
        ),
        pytest.param(
            "POST", "/translations/import", {"json": {"items": []}}, 400, id="import-empty"
        ),
        pytest.param(
            "POST",
            "/translation-sets",
            {"json": {"name": "x", "id": "has space"}},
            400,
            id="bad-set-id",
        ),
        pytest.param("POST", "/translation-sets", {"json": {}}, 400, id="set-without-name"),
    ],
)
def test_requests_that_address_nothing_or_say_nothing(
    api: httpx.Client, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    """Unknown things are 404, missing or wrong fields are 400, never 500."""
    _assert_problem(api.request(method, path, **kwargs), status)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"url": "not a url"}, id="not-a-url"),
        pytest.param({"url": "ftp://example.com/"}, id="ftp"),
        pytest.param(
            {"url": "http://127.0.0.1/", "events": ["translation.exploded"]}, id="unknown-event"
        ),
        pytest.param({"url": "http://127.0.0.1/", "legacySecretHeader": "yes"}, id="flag-not-bool"),
    ],
)
def test_bad_webhook_registrations(api: httpx.Client, set_id: str, body: dict[str, Any]) -> None:
    """Registrations that could never deliver are refused and nothing is stored."""
    response = api.post(f"/translation-sets/{set_id}/webhooks", json=body)

    _assert_problem(response, 400)
    assert api.get(f"/translation-sets/{set_id}/webhooks").json()["items"] == []


def test_creating_a_set_twice_conflicts(api: httpx.Client, set_id: str) -> None:
    """A chosen id that is taken is a 409."""
    _assert_problem(api.post("/translation-sets", json={"id": set_id, "name": "again"}), 409)


def test_deleting_needs_both_query_parameters(api: httpx.Client, set_id: str) -> None:
    """`resource` and `name` are required to delete one translation."""
    path = f"/translation-sets/{set_id}/translations"

    _assert_problem(api.delete(path, params={"resource": "r"}), 400)
    _assert_problem(api.delete(path, params={"resource": "r", "name": "missing"}), 404)


def test_an_import_with_one_oversized_item_saves_nothing(api: httpx.Client, set_id: str) -> None:
    """Every item is checked before any is written."""
    items = [{**TRANSLATION, "setId": set_id}, {**TRANSLATION, "name": "big", "setId": set_id}]
    items[1]["values"] = {f"x-{i:03d}": "a" * 31_000 for i in range(30)}

    response = api.post("/translations/import", json={"items": items})

    assert response.status_code in (400, 413)
    assert api.get(f"/translation-sets/{set_id}/translations").json()["items"] == []


def test_an_import_of_names_that_grow_when_stored_is_saved_whole(
    api: httpx.Client, set_id: str
) -> None:
    """Emoji count twice in UTF-16 and control characters six times in JSON: still fits."""
    emoji = [
        {"setId": set_id, "resource": "😀" * 512, "name": f"{i:06d}" + "😀" * 506, "values": {}}
        for i in range(16)
    ]
    controls = [
        {"setId": set_id, "resource": "\u0001" * 512, "name": f"{i:03d}" + "\u0002" * 509}
        | {"values": {"en": "x"}}
        for i in range(120)
    ]

    response = api.post("/translations/import", json={"items": emoji + controls})
    listed = api.get(f"/translation-sets/{set_id}/translations").json()["items"]

    assert response.status_code == 200, response.text[:300]
    assert response.json()["imported"] == 136
    assert len(listed) == 136


def test_racing_deletes_answer_one_success_and_404s(api: httpx.Client, set_id: str) -> None:
    """Whoever loses a race to delete the same thing hears 404, not a storage failure."""
    translations = f"/translation-sets/{set_id}/translations"
    assert api.put(translations, json=TRANSLATION).status_code == 200
    one = {"resource": "r", "name": "n"}

    with ThreadPoolExecutor(max_workers=5) as pool:
        translation_answers = list(
            pool.map(lambda _: api.delete(translations, params=one).status_code, range(5))
        )
        set_answers = list(
            pool.map(lambda _: api.delete(f"/translation-sets/{set_id}").status_code, range(5))
        )

    assert sorted(translation_answers) == [200, 404, 404, 404, 404]
    assert sorted(set_answers) == [200, 404, 404, 404, 404]
