"""The orchestration's plan: chunk sizes, the fan-out tree and the retry tail's schedule."""

import itertools

import pytest

from core.models import DeliveryStatus
from core.orchestration import (
    FIXED_EVENTS,
    HISTORY_BUDGET,
    MAX_FAN_OUT,
    DeliveryOutcome,
    NotificationInput,
    chunk_size,
    events_per_delivery,
    next_round,
    plan_children,
    round_offsets,
    send_requests,
)

MINUTE, HOUR = 60.0, 3600.0


def _ids(count: int) -> list[str]:
    return [f"wh{index:06d}" for index in range(count)]


@pytest.mark.parametrize(
    ("max_attempts", "expected"),
    [
        pytest.param(1, 100, id="one-attempt-capped"),
        pytest.param(3, 40, id="default"),
        pytest.param(5, 24, id="five"),
        pytest.param(50, 2, id="fifty"),
    ],
)
def test_a_chunk_is_as_large_as_the_history_budget_allows(max_attempts: int, expected: int) -> None:
    assert chunk_size(max_attempts) == expected
    assert FIXED_EVENTS + expected * events_per_delivery(max_attempts) <= HISTORY_BUDGET


def test_a_job_that_fits_one_chunk_is_not_split() -> None:
    assert plan_children(_ids(40), chunk=40) == []


def test_a_larger_job_is_cut_in_order_into_even_chunks() -> None:
    children = plan_children(_ids(100), chunk=40)

    assert [len(child) for child in children] == [34, 33, 33]
    assert [webhook for child in children for webhook in child] == _ids(100)


def test_five_thousand_webhooks_make_125_chunks_of_40() -> None:
    children = plan_children(_ids(5000), chunk=40)

    assert len(children) == 125
    assert {len(child) for child in children} == {40}


def test_beyond_one_level_of_fan_out_children_split_again() -> None:
    """20,000 webhooks in chunks of 40: three children of about 6,667, each of which
    fans out again to at most MAX_FAN_OUT chunks."""
    children = plan_children(_ids(20_000), chunk=40)
    grandchildren = [plan_children(child, chunk=40) for child in children]

    assert [len(child) for child in children] == [6667, 6667, 6666]
    assert all(len(level) <= MAX_FAN_OUT for level in grandchildren)
    assert {len(leaf) <= 40 for level in grandchildren for leaf in level} == {True}
    assert [w for level in grandchildren for leaf in level for w in leaf] == _ids(20_000)


def test_the_retry_tail_grows_within_the_window() -> None:
    """Rounds at 0, +1 min, +11 min, +1 h 11 min, +4 h 11 min, +10 h 11 min, +22 h 11 min."""
    assert round_offsets(24 * HOUR) == [
        0.0,
        1 * MINUTE,
        11 * MINUTE,
        71 * MINUTE,
        251 * MINUTE,
        611 * MINUTE,
        1331 * MINUTE,
    ]


def test_a_window_shorter_than_a_minute_has_no_tail() -> None:
    assert round_offsets(30.0) == [0.0]


def test_the_last_delay_repeats_in_a_long_window() -> None:
    offsets = round_offsets(72 * HOUR)

    assert [b - a for a, b in itertools.pairwise(offsets)][-3:] == [12 * HOUR] * 3


def _job(**values: object) -> NotificationInput:
    return NotificationInput.model_validate(
        {
            "job_id": "job1",
            "webhook_ids": ["a", "b", "c"],
            "max_attempts": 3,
            "first_retry_interval_ms": 2000,
            "retry_window_seconds": 15 * MINUTE,
            **values,
        }
    )


def test_each_round_ends_max_attempts_after_the_attempts_already_made() -> None:
    job = _job(round=1, attempts_made={"a": 3, "b": 5})

    requests = send_requests(job)

    assert [(r.webhook_id, r.last_attempt) for r in requests] == [("a", 6), ("b", 8), ("c", 3)]
    assert {r.final_round for r in requests} == {False}
    assert {r.final_round for r in send_requests(_job(round=2))} == {True}


def test_the_next_round_carries_only_deliveries_still_retrying() -> None:
    outcomes = [
        DeliveryOutcome(webhook_id="a", status=DeliveryStatus.DELIVERED, attempts=1),
        DeliveryOutcome(webhook_id="b", status=DeliveryStatus.RETRYING, attempts=3),
        DeliveryOutcome(webhook_id="c", status=DeliveryStatus.FAILED, attempts=1),
    ]

    following = next_round(_job(), outcomes)

    assert following is not None
    assert following.round == 1
    assert following.webhook_ids == ["b"]
    assert following.attempts_made == {"b": 3}
    assert [outcome.webhook_id for outcome in following.settled] == ["a", "c"]
    assert next_round(_job(), outcomes[::2]) is None
