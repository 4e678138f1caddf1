"""The retry policy: which outcomes retry, and how long to wait."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from core.delivery import AttemptOutcome
from core.retry import RetryPolicy, Verdict, parse_retry_after

POLICY = RetryPolicy(max_attempts=3, first_interval=2.0, max_retry_after=60.0)
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _outcome(status: int | None = None, kind: str | None = None) -> AttemptOutcome:
    return AttemptOutcome(attempt=1, at=NOW, duration_ms=1, status_code=status, error_kind=kind)


@pytest.mark.parametrize(
    ("status", "kind", "expected"),
    [
        pytest.param(200, None, Verdict.DELIVERED, id="200"),
        pytest.param(204, None, Verdict.DELIVERED, id="204"),
        pytest.param(408, "http_status", Verdict.RETRY, id="408"),
        pytest.param(429, "http_status", Verdict.RETRY, id="429"),
        pytest.param(500, "http_status", Verdict.RETRY, id="500"),
        pytest.param(503, "http_status", Verdict.RETRY, id="503"),
        pytest.param(None, "timeout", Verdict.RETRY, id="timeout"),
        pytest.param(None, "connect_error", Verdict.RETRY, id="connect"),
        pytest.param(None, "network_error", Verdict.RETRY, id="network"),
        pytest.param(None, "invalid_response", Verdict.RETRY, id="not-http"),
        pytest.param(599, "http_status", Verdict.RETRY, id="599"),
        pytest.param(600, "http_status", Verdict.FAIL, id="600-is-no-server-error"),
        pytest.param(99, "http_status", Verdict.FAIL, id="99"),
        pytest.param(400, "http_status", Verdict.FAIL, id="400"),
        pytest.param(404, "http_status", Verdict.FAIL, id="404"),
        pytest.param(410, "http_status", Verdict.FAIL, id="410"),
        pytest.param(301, "redirect", Verdict.FAIL, id="301"),
        pytest.param(302, "redirect", Verdict.FAIL, id="302"),
        pytest.param(None, "invalid_url", Verdict.FAIL, id="invalid-url"),
    ],
)
def test_verdict_per_outcome(status: int | None, kind: str | None, expected: Verdict) -> None:
    """Network trouble, 408, 429 and 5xx retry; other 4xx and any 3xx are final."""
    assert POLICY.verdict(_outcome(status, kind)) is expected


def test_delays_double_from_the_first_interval_with_small_jitter() -> None:
    """2 s, 4 s, 8 s, each plus at most 10 % of the first interval."""
    delays = [POLICY.delay_after(attempt) for attempt in (1, 2, 3)]

    for delay, base in zip(delays, (2.0, 4.0, 8.0), strict=True):
        assert base <= delay <= base + 0.2


def test_retry_after_longer_than_backoff_is_honoured_up_to_the_cap() -> None:
    """A receiver may ask for more time, but not for more than the cap."""
    assert POLICY.delay_after(1, retry_after=30.0) == 30.0
    assert POLICY.delay_after(1, retry_after=3600.0) == 60.0
    assert 2.0 <= POLICY.delay_after(1, retry_after=0.5) <= 2.2


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("120", 120.0, id="seconds"),
        pytest.param(format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0, id="date"),
        pytest.param(format_datetime(NOW - timedelta(seconds=90), usegmt=True), 0.0, id="past"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("²", None, id="superscript-digit"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_retry_after_header_forms(header: str | None, expected: float | None) -> None:
    """Retry-After is read as delta-seconds or an HTTP date."""
    assert parse_retry_after(header, now=NOW) == expected
