"""Scripted answers of `send_webhook_activity`, for driving the orchestrator through replays.

They follow the activity's contract (core/jobs/durable_activity.py): a count of
recorded attempts per webhook gives the attempt number, a retryable failure
raises until the attempt that ends the round, and every other outcome returns.
`settle_deliveries_activity` is answered too, and what it was asked to settle kept.
"""

import json
from collections import Counter
from collections.abc import Callable

from core.models import DeliveryStatus
from core.orchestration import (
    SETTLE_ACTIVITY_NAME,
    DeliveryOutcome,
    SendRequest,
    SettleRequest,
    to_wire,
)
from tests.durable_host import Answer, Completed, Failed, Work

# How a receiver behaves: "ok", "gone" (410, final), "down" (503 on every
# attempt), "crash" (the activity itself fails: storage trouble), or
# "flaky:<n>" (503 for the first n attempts, then 200).
Behaviour = Callable[[str], str]


class ScriptedActivity:
    def __init__(self, behaviour: Behaviour | dict[str, str], default: str = "ok") -> None:
        self._behaviour: Behaviour = (
            (lambda webhook_id: behaviour.get(webhook_id, default))
            if isinstance(behaviour, dict)
            else behaviour
        )
        self.attempts: Counter[str] = Counter()
        self.calls: list[SendRequest] = []
        self.settled: list[SettleRequest] = []

    def __call__(self, work: Work) -> Answer:
        if work.name == SETTLE_ACTIVITY_NAME:
            self.settled.append(SettleRequest.model_validate(work.input))
            return Completed(len(self.settled[-1].outcomes))
        request = SendRequest.model_validate(work.input)
        self.calls.append(request)
        kind = self._behaviour(request.webhook_id)
        if kind == "crash":
            return Failed(
                "Function 'send_webhook_activity' failed with an unhandled exception.",
                "TaskHubUnavailableError: table storage failed to write a batch",
            )
        self.attempts[request.webhook_id] += 1
        attempt = self.attempts[request.webhook_id]

        if kind == "ok" or (kind.startswith("flaky:") and attempt > int(kind.split(":")[1])):
            return _done(request, DeliveryStatus.DELIVERED, attempt, 200)
        if kind == "gone":
            return _done(request, DeliveryStatus.FAILED, attempt, 410)
        if attempt < request.last_attempt:
            return Failed(
                "Function 'send_webhook_activity' failed with an unhandled exception.",
                f"RetryableDeliveryError: attempt {attempt} failed: HTTP 503",
            )
        final = DeliveryStatus.FAILED if request.final_round else DeliveryStatus.RETRYING
        return _done(request, final, attempt, 503)

    def attempts_of(self, webhook_id: str) -> list[int]:
        """Rounds in which `webhook_id` was sent, one entry per call."""
        return [call.round for call in self.calls if call.webhook_id == webhook_id]


def _done(request: SendRequest, status: DeliveryStatus, attempt: int, code: int) -> Completed:
    outcome = DeliveryOutcome(
        webhook_id=request.webhook_id,
        status=status,
        attempts=attempt,
        status_code=code,
        error=None if status is DeliveryStatus.DELIVERED else f"HTTP {code}",
    )
    # Through JSON, as the host hands results over.
    return Completed(json.loads(json.dumps(to_wire(outcome))))
