"""The notification orchestrator through the SDK's own replay engine, fed host-shaped histories."""

import json
import logging
from datetime import timedelta
from typing import Any

import pytest

from blueprints import durable
from core.orchestration import (
    ACTIVITY_NAME,
    CHUNK_ORCHESTRATOR_NAME,
    HISTORY_BUDGET,
    ORCHESTRATOR_NAME,
    SETTLE_ACTIVITY_NAME,
    NotificationInput,
    chunk_size,
    to_wire,
)
from tests.durable_activity_script import ScriptedActivity
from tests.durable_host import (
    EPOCH,
    Action,
    Answer,
    Completed,
    Event,
    Failed,
    Handle,
    Instance,
    Stats,
    Work,
    orchestrator_handles,
)

WHEN_ALL = int(Action.WHEN_ALL)


@pytest.fixture(scope="module")
def handles() -> dict[str, Handle]:
    return orchestrator_handles(durable.bp)


def _job(
    count: int, *, job_id: str = "job1", max_attempts: int = 3, window_hours: float = 24
) -> dict[str, Any]:
    return to_wire(
        NotificationInput(
            job_id=job_id,
            webhook_ids=[f"wh{index:05d}" for index in range(count)],
            max_attempts=max_attempts,
            first_retry_interval_ms=2000,
            retry_window_seconds=window_hours * 3600,
        )
    )


def _activity_actions(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The activity calls of the first episode: WhenAll of one WhenAll per retryable call."""
    (actions,) = state["actions"]
    (fan_out,) = actions
    assert fan_out["actionType"] == WHEN_ALL
    calls = []
    for retryable in fan_out["compoundActions"]:
        assert retryable["actionType"] == WHEN_ALL
        (call,) = retryable["compoundActions"]
        calls.append(call)
    return calls


def _outcome(webhook_id: str, status: str, attempts: int, code: int) -> dict[str, Any]:
    error = None if status == "delivered" else f"HTTP {code}"
    return {
        "webhookId": webhook_id,
        "status": status,
        "attempts": attempts,
        "statusCode": code,
        "error": error,
    }


def _events(instance: Instance, kind: Event) -> list[dict[str, Any]]:
    return [event for event in instance.history if event["EventType"] == kind]


def test_first_episode_schedules_one_activity_with_retry_per_webhook(
    handles: dict[str, Handle],
) -> None:
    """Three webhooks: three send_webhook_activity calls with the configured RetryOptions."""
    instance = Instance(handles, ORCHESTRATOR_NAME, "job1", _job(3, max_attempts=4))

    state = instance.start()

    assert state["isDone"] is False
    calls = _activity_actions(state)
    assert [call["actionType"] for call in calls] == [Action.CALL_ACTIVITY_WITH_RETRY] * 3
    assert {call["functionName"] for call in calls} == {ACTIVITY_NAME}
    assert [call["retryOptions"] for call in calls] == [
        {"firstRetryIntervalInMilliseconds": 2000, "maxNumberOfAttempts": 4}
    ] * 3
    assert [json.loads(call["input"]) for call in calls] == [
        {"jobId": "job1", "webhookId": f"wh0000{index}", "round": 0, "lastAttempt": 4}
        # The first tail round is due a minute after the start, by the host's clock.
        | {"finalRound": False, "retryIntervalMs": 2000, "nextRoundAt": "2026-01-05T09:01:00Z"}
        for index in range(3)
    ]
    assert state["customStatus"] == {"round": 0, "delivered": 0, "failed": 0, "pending": 3}


async def test_completions_give_every_delivery_outcome(handles: dict[str, Handle]) -> None:
    """All three answer 200 at the first attempt: one episode later the job is complete."""
    instance = Instance(handles, ORCHESTRATOR_NAME, "job1", _job(3))

    output = await instance.run(ScriptedActivity({}))

    assert output == {
        "jobId": "job1",
        "delivered": 3,
        "failed": 0,
        "outcomes": [_outcome(f"wh0000{index}", "delivered", 1, 200) for index in range(3)],
    }
    assert instance.states[-1]["customStatus"] == {
        "round": 0,
        "delivered": 3,
        "failed": 0,
        "pending": 0,
    }
    assert len(_events(instance, Event.TASK_SCHEDULED)) == 3


async def test_a_webhook_whose_activity_fails_every_attempt_does_not_hide_the_others(
    handles: dict[str, Handle],
) -> None:
    """The activity for wh00001 fails every time, to the end of the retry window: the job
    still completes, with that delivery failed and the others delivered."""
    instance = Instance(handles, ORCHESTRATOR_NAME, "job1", _job(3, window_hours=0.25))
    activity = ScriptedActivity({"wh00001": "crash"})

    output = await instance.run(activity, batch=1)

    assert instance.done
    assert output["delivered"] == 2
    assert output["failed"] == 1
    failed = output["outcomes"][1]
    assert failed["webhookId"] == "wh00001"
    assert failed["status"] == "failed"
    assert failed["error"].startswith("Function 'send_webhook_activity' failed")
    # Rounds at 0, 1 and 11 minutes fit a 15 minute window; three attempts each.
    assert activity.attempts_of("wh00001") == [0] * 3 + [1] * 3 + [2] * 3
    assert activity.attempts_of("wh00000") == [0]
    # No activity recorded that verdict, so the orchestration has it settled.
    (settled,) = activity.settled
    assert [(o.webhook_id, o.status.value) for o in settled.outcomes] == [("wh00001", "failed")]


async def test_a_task_that_fails_early_does_not_cut_the_round_short(
    handles: dict[str, Handle],
) -> None:
    """One attempt each; wh00000's activity fails before the others answer. The round
    still waits for them, and only then is the tail's timer scheduled."""
    instance = Instance(
        handles, ORCHESTRATOR_NAME, "job1", _job(3, max_attempts=1, window_hours=0.25)
    )
    activity = ScriptedActivity({"wh00000": "crash"})
    instance.start()

    await instance.episode(instance.pending[:1], activity)  # wh00000 fails
    state = await instance.episode(instance.pending[-1:], activity)  # its retry timer fires

    assert not [a for a in state["actions"][0] if a["actionType"] == Action.CREATE_TIMER]
    output = await instance.run(activity, batch=1)
    assert [(o["status"], o["attempts"]) for o in output["outcomes"]] == [
        ("failed", 0),
        ("delivered", 1),
        ("delivered", 1),
    ]
    assert activity.attempts_of("wh00001") == [0]


async def test_a_receiver_that_stays_down_gets_the_retry_tail_and_then_fails(
    handles: dict[str, Handle],
) -> None:
    """503 on every attempt: rounds at +1 min and +11 min, each in a fresh history, then failed;
    only the failing webhook is sent again."""
    instance = Instance(handles, ORCHESTRATOR_NAME, "job1", _job(3, window_hours=0.25))
    activity = ScriptedActivity({"wh00001": "down"})

    output = await instance.run(activity)

    assert output["outcomes"][1] == _outcome("wh00001", "failed", 9, 503)
    assert activity.attempts_of("wh00001") == [0] * 3 + [1] * 3 + [2] * 3
    assert activity.attempts_of("wh00002") == [0]
    # Every episode repeats its generation's actions; each timer counts once.
    timers = dict.fromkeys(
        action["fireAt"]
        for state in instance.states
        for action in state["actions"][0]
        if action["actionType"] == Action.CREATE_TIMER
    )
    assert list(timers) == [
        (EPOCH + offset).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for offset in (timedelta(minutes=1), timedelta(minutes=11))
    ]
    assert instance.generation == 2
    continued = json.loads(instance.input_json)
    assert continued["round"] == 2
    assert continued["webhookIds"] == ["wh00001"]
    assert continued["attemptsMade"] == {"wh00001": 6}
    assert [outcome["webhookId"] for outcome in continued["settled"]] == ["wh00000", "wh00002"]


async def test_a_delivery_that_recovers_in_the_tail_is_delivered(
    handles: dict[str, Handle],
) -> None:
    """Three 503s, then 200: delivered in the first tail round, at attempt four."""
    instance = Instance(handles, ORCHESTRATOR_NAME, "job1", _job(2))
    activity = ScriptedActivity({"wh00001": "flaky:3"})

    output = await instance.run(activity)

    assert output["outcomes"] == [
        _outcome("wh00000", "delivered", 1, 200),
        _outcome("wh00001", "delivered", 4, 200),
    ]
    assert instance.generation == 1


async def test_final_failures_are_not_retried(handles: dict[str, Handle]) -> None:
    """410 Gone is final: one attempt, no tail round."""
    instance = Instance(handles, ORCHESTRATOR_NAME, "job1", _job(2))
    activity = ScriptedActivity({"wh00000": "gone"})

    output = await instance.run(activity)

    assert output["outcomes"][0] == _outcome("wh00000", "failed", 1, 410)
    assert len(activity.calls) == 2
    assert instance.generation == 0


async def test_replaying_the_same_history_gives_the_same_actions(
    handles: dict[str, Handle],
) -> None:
    """Every episode, replayed once more on the same history, answers exactly the same."""
    instance = Instance(handles, ORCHESTRATOR_NAME, "job1", _job(4, window_hours=0.25))
    activity = ScriptedActivity({"wh00001": "down", "wh00002": "flaky:1", "wh00003": "crash"})
    replays = 0

    while not instance.done:
        if not instance.started:
            instance.start()
            continue
        state = await instance.episode(instance.pending[:1], activity)
        if state["isDone"]:
            continue
        assert instance.invoke() == state
        replays += 1

    assert replays > 20


async def test_logs_are_written_once_and_never_on_replay(
    handles: dict[str, Handle], caplog: pytest.LogCaptureFixture
) -> None:
    """One start per generation and one completion, however many episodes replay them."""
    caplog.set_level(logging.INFO, logger="blueprints.notification_flow")
    instance = Instance(handles, ORCHESTRATOR_NAME, "job1", _job(3, window_hours=0.25))

    await instance.run(ScriptedActivity({"wh00001": "flaky:3"}), batch=1)

    events = [record.getMessage().split()[0] for record in caplog.records]
    assert instance.stats.episodes > 10
    assert events == [
        "orchestration.started",
        "orchestration.round_scheduled",
        "orchestration.started",
        "orchestration.completed",
    ]


async def test_a_failed_chunk_reports_its_webhooks_failed_and_the_others_delivered(
    handles: dict[str, Handle],
) -> None:
    """100 webhooks, three chunks; the second chunk's orchestration fails. Its webhooks are
    settled as failed by the job's orchestration, since nothing recorded them."""
    stats = Stats()
    instance = Instance(handles, ORCHESTRATOR_NAME, "job1", _job(100), stats=stats)
    settling = ScriptedActivity({})

    async def chunk(work: Work) -> Answer:
        if work.name == SETTLE_ACTIVITY_NAME:
            return settling(work)
        if work.instance_id == "job1:1":
            return Failed("Orchestrator function failed", "boom")
        child = Instance(
            handles, work.name, work.instance_id, work.input, parent_instance_id="job1", stats=stats
        )
        return Completed(await child.run(ScriptedActivity({})))

    output = await instance.run(chunk, batch=1)

    chunks = [
        json.loads(event["Input"]) for event in _events(instance, Event.SUB_ORCHESTRATION_CREATED)
    ]
    assert [len(share["webhookIds"]) for share in chunks] == [34, 33, 33]
    assert output["delivered"] == 67
    assert output["failed"] == 33
    assert {o["error"] for o in output["outcomes"] if o["status"] == "failed"} == {
        "Orchestrator function failed"
    }
    assert instance.states[-1]["customStatus"] == {
        "round": 0,
        "delivered": 67,
        "failed": 33,
        "pending": 0,
    }
    (settled,) = settling.settled
    assert [o.webhook_id for o in settled.outcomes] == chunks[1]["webhookIds"]


async def test_five_thousand_webhooks_fan_out_in_chunks_within_the_history_budget(
    handles: dict[str, Handle], capsys: pytest.CaptureFixture[str]
) -> None:
    """5,000 webhooks: the job fans out to chunk orchestrations of at most one chunk each, and no
    instance, the job's included, collects more than HISTORY_BUDGET events. Chunk results reach
    the job one per episode, the longest history that order can give it."""
    stats = Stats()
    root = Instance(handles, ORCHESTRATOR_NAME, "job5k", _job(5000, job_id="job5k"), stats=stats)

    async def chunk(work: Work) -> Answer:
        child = Instance(
            handles,
            work.name,
            work.instance_id,
            work.input,
            parent_instance_id="job5k",
            stats=stats,
        )
        return Completed(await child.run(ScriptedActivity({})))

    first = root.start()
    output = await root.run(chunk, batch=1)

    (fan_out,) = first["actions"][0]
    assert fan_out["actionType"] == Action.WHEN_ANY
    calls = fan_out["compoundActions"]
    shares = [json.loads(call["input"])["webhookIds"] for call in calls]
    assert {call["functionName"] for call in calls} == {CHUNK_ORCHESTRATOR_NAME}
    assert [call["instanceId"] for call in calls] == [f"job5k:{index}" for index in range(125)]
    assert max(len(share) for share in shares) == chunk_size(3) == 40
    assert [webhook for share in shares for webhook in share] == [
        f"wh{index:05d}" for index in range(5000)
    ]
    assert output["delivered"] == 5000
    assert len(output["outcomes"]) == 5000
    assert len(stats.histories) == 126
    largest_instance, largest = stats.largest()
    with capsys.disabled():
        print(
            f"\n5,000 webhooks: {len(stats.histories)} instances, {stats.episodes} episodes; "
            f"largest history {largest} events ({largest_instance}); "
            f"slowest replay {stats.slowest_replay * 1000:.1f} ms "
            f"at {stats.slowest_replay_events} events"
        )
    assert largest <= HISTORY_BUDGET


async def test_a_redelivery_hands_each_chunk_the_attempt_counts_of_its_own_share(
    handles: dict[str, Handle],
) -> None:
    """100 reopened webhooks fan out in chunks; no child input carries the others' counts."""
    job = _job(100)
    job["attemptsMade"] = {webhook_id: 3 for webhook_id in job["webhookIds"]}
    root = Instance(handles, ORCHESTRATOR_NAME, "job1", job)

    first = root.start()

    (fan_out,) = first["actions"][0]
    shares = [json.loads(call["input"]) for call in fan_out["compoundActions"]]
    assert len(shares) == 3
    for share in shares:
        assert set(share["attemptsMade"]) == set(share["webhookIds"])
    assert sum(len(share["attemptsMade"]) for share in shares) == 100


async def test_a_chunk_whose_activities_all_keep_failing_stays_within_the_budget(
    handles: dict[str, Handle], capsys: pytest.CaptureFixture[str]
) -> None:
    """The worst a chunk can see: every attempt of every delivery fails, each result and timer
    in an episode of its own, three attempts and a trailing retry timer each."""
    stats = Stats()
    instance = Instance(
        handles,
        CHUNK_ORCHESTRATOR_NAME,
        "job1:0",
        _job(chunk_size(3), window_hours=0.01),
        parent_instance_id="job1",
        stats=stats,
    )

    output = await instance.run(ScriptedActivity({}, default="crash"), batch=1)

    assert output["failed"] == chunk_size(3)
    assert len(_events(instance, Event.TASK_FAILED)) == 3 * chunk_size(3)
    (lengths,) = stats.histories.values()
    with capsys.disabled():
        print(
            f"\nworst-case chunk of {chunk_size(3)}: history {max(lengths)} events, "
            f"slowest replay {stats.slowest_replay * 1000:.1f} ms"
        )
    assert max(lengths) <= HISTORY_BUDGET
