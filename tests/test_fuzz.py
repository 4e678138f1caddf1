"""Fuzzing: schemathesis sends generated requests, valid and not, to every documented operation.

It loads the document the local host serves, so what is fuzzed is what is
published. Every response must be below 500 and match the document: a
documented status, its content type and its schema. Half the requests are aimed
at a set, webhook and job that exist, so they get past the 404s into the
handlers; webhooks created by those requests are never notified, and the one
that is points at the loopback receiver.

FUZZ_MAX_EXAMPLES raises the number of generated requests per operation and mode.
"""

import functools
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.local_host import LocalHost
from tests.support.receiver import Receiver

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "30"))
# Negative cases mostly stop at validation: fewer of them teach as much.
MAX_NEGATIVE_EXAMPLES = max(1, MAX_EXAMPLES // 2)
REQUEST_TIMEOUT_SECONDS = 10.0
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
IMPORT_PATH = "/translations/import"

AnyCase = Case[Any]
Operation = APIOperation[Any, Any, Any, Any]


@dataclass
class Tally:
    """What the run sent and what failed, for the summary line."""

    operations: int = 0
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def summary(self, seconds: float) -> str:
        classes = Counter(f"{status // 100}xx" for status in self.statuses.elements())
        by_class = ", ".join(f"{name} {count}" for name, count in sorted(classes.items()))
        return (
            f"fuzzing: {self.operations} operations, {self.requests} requests ({by_class}), "
            f"{len(self.failures)} failures in {seconds:.1f} s"
        )


@dataclass(frozen=True)
class Batch:
    """Cases to draw for one operation: how many, and whether they are meant to be invalid."""

    strategy: st.SearchStrategy[AnyCase]
    examples: int
    negative: bool = False


def _seed(api: httpx.Client, receiver: Receiver) -> dict[str, str]:
    """A fresh set with a translation, a webhook on the loopback receiver and a job.

    Keyed by the parameter names that address them, so requests can be aimed there.
    """
    set_id = f"fuzz-{uuid.uuid4().hex[:12]}"
    translation = {"resource": "Pages/Home", "name": "title"}
    assert api.post("/translation-sets", json={"id": set_id, "name": "fuzz"}).status_code == 201
    webhook = api.post(
        f"/translation-sets/{set_id}/webhooks", json={"url": receiver.url(f"ok/{set_id}")}
    )
    saved = api.put(
        f"/translation-sets/{set_id}/translations", json={**translation, "values": {"en": "x"}}
    )

    return {
        "setId": set_id,
        "webhookId": webhook.json()["id"],
        "jobId": saved.json()["jobId"],
        **translation,
    }


def _aimed(case: AnyCase, known: Mapping[str, str]) -> AnyCase:
    """The same request, addressed to the seeded set, translation, webhook and job."""
    for parameters in (case.path_parameters, case.query):
        for name in list(parameters or {}):
            if name in known:
                parameters[name] = known[name]
    if case.operation.path == IMPORT_PATH and isinstance(case.body, dict):
        items = case.body.get("items")
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                item["setId"] = known["setId"]

    return case


def _run(batch: Batch, send: Callable[[AnyCase], None]) -> None:
    """Draw up to `batch.examples` cases and send each; failures are tallied, not raised."""

    @settings(
        max_examples=batch.examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        # Slow or large generation is no defect of the API under test.
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @given(batch.strategy)
    def explore(case: AnyCase) -> None:
        send(case)

    try:
        explore()
    except Unsatisfiable:
        # An operation that takes no input has no invalid request to make.
        if not batch.negative:
            raise


def _sender(session: requests.Session, base_url: str, tally: Tally) -> Callable[[AnyCase], None]:
    def send(case: AnyCase) -> None:
        response = case.call(base_url=base_url, session=session, timeout=REQUEST_TIMEOUT_SECONDS)
        tally.requests += 1
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            tally.failures.append(str(group))

    return send


def _batches(operation: Operation, known: Mapping[str, str]) -> list[Batch]:
    """The documented examples, then generated valid and invalid requests."""
    aim = functools.partial(_aimed, known=known)
    batches = [Batch(example.map(aim), 1) for example in operation.get_strategies_from_examples()]
    for mode, examples in (
        (GenerationMode.POSITIVE, MAX_EXAMPLES),
        (GenerationMode.NEGATIVE, MAX_NEGATIVE_EXAMPLES),
    ):
        generated = operation.as_strategy(generation_mode=mode)
        batches.append(
            Batch(
                st.one_of(generated, generated.map(aim)),
                examples,
                negative=mode is GenerationMode.NEGATIVE,
            )
        )

    return batches


@pytest.mark.timeout(300)
def test_fuzzing_finds_no_server_errors_and_no_schema_mismatches(
    local_host: LocalHost,
    api: httpx.Client,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Generated requests to every operation get documented, schema-conforming answers."""
    schema = schemathesis.openapi.from_url(f"{local_host.base_url}/openapi.json")
    tally, started = Tally(), time.monotonic()

    with requests.Session() as session:
        send = _sender(session, local_host.base_url, tally)
        for path in schema:
            for operation in schema[path].values():
                tally.operations += 1
                for batch in _batches(operation, _seed(api, receiver)):
                    _run(batch, send)

    with capsys.disabled():
        print("\n" + tally.summary(time.monotonic() - started))
    assert tally.operations == sum(len(schema[path]) for path in schema)
    assert tally.failures == [], "\n\n".join(tally.failures[:5])


@pytest.mark.parametrize(
    "limit",
    [
        pytest.param("²", id="superscript-digit"),
        pytest.param("٣", id="arabic-indic-digit"),
        pytest.param("9" * 5_000, id="more-digits-than-int-takes"),
    ],
)
def test_a_page_size_in_other_digits_is_refused(
    api: httpx.Client, receiver: Receiver, limit: str
) -> None:
    """Found near the fuzzer: digits that str.isdigit() takes but int() refuses were a 500."""
    known = _seed(api, receiver)

    response = api.get(
        f"/translation-sets/{known['setId']}/webhooks/{known['webhookId']}/deliveries",
        params={"limit": limit},
    )

    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(f"http://{'a' * 64}.example/", id="label-over-63"),
        pytest.param("http://a..b/", id="empty-label"),
    ],
)
def test_a_webhook_host_idna_cannot_encode_is_refused(
    api: httpx.Client, receiver: Receiver, url: str
) -> None:
    """Found near the fuzzer: resolving such a name raises UnicodeError (was 500)."""
    known = _seed(api, receiver)

    response = api.post(f"/translation-sets/{known['setId']}/webhooks", json={"url": url})

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
