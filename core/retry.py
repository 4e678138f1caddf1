"""The one retry policy shared by the in-process service and the orchestrator.

It decides which outcomes are worth another attempt and how long to wait;
the timing math itself (exponential growth with jitter) is tenacity's.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import tenacity

if TYPE_CHECKING:
    from core.delivery import AttemptOutcome
    from core.settings import Settings

RETRYABLE_STATUS_CODES = frozenset({408, 429})
# A TLS failure is retried too: certificates get renewed and fixed within hours,
# and so is an answer that is not HTTP, which a proxy being redeployed may give.
RETRYABLE_ERROR_KINDS = frozenset(
    {"timeout", "connect_error", "tls_error", "network_error", "invalid_response"}
)
# Jitter is a fraction of the first interval: enough to spread a burst, small
# enough that "2 s, 4 s, 8 s" still describes what happens.
JITTER_FRACTION = 0.1
MAX_BACKOFF_SECONDS = 3600.0


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAIL = "fail"


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    max_attempts: int
    first_interval: float
    max_retry_after: float

    @classmethod
    def from_settings(cls, settings: "Settings") -> "RetryPolicy":
        return cls(
            max_attempts=settings.max_attempts,
            first_interval=settings.first_retry_interval_seconds,
            max_retry_after=settings.max_retry_after_seconds,
        )

    def verdict(self, outcome: "AttemptOutcome") -> Verdict:
        """Delivered on 2xx; retry network trouble, 408, 429 and 5xx; fail the rest."""
        code = outcome.status_code
        if code is not None and 200 <= code < 300:
            return Verdict.DELIVERED
        if code is not None and (code in RETRYABLE_STATUS_CODES or 500 <= code < 600):
            return Verdict.RETRY
        if code is None and outcome.error_kind in RETRYABLE_ERROR_KINDS:
            return Verdict.RETRY

        return Verdict.FAIL

    def delay_after(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based).

        A receiver's Retry-After wins when it asks for longer than the backoff,
        up to `max_retry_after`, so one receiver cannot park a delivery forever.
        """
        state = tenacity.RetryCallState(None, None, (), {})  # type: ignore[arg-type]
        state.attempt_number = attempt
        backoff = self._backoff(state)
        if retry_after is None:
            return backoff

        return max(backoff, min(retry_after, self.max_retry_after))

    @property
    def _backoff(self) -> tenacity.wait.wait_base:
        return tenacity.wait_exponential_jitter(
            multiplier=self.first_interval,
            exp_base=2,
            jitter=self.first_interval * JITTER_FRACTION,
            max=MAX_BACKOFF_SECONDS,
        )


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    # ASCII digits only: str.isdigit() also accepts "²", which float() refuses.
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)

    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
