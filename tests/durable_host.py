"""The Durable Functions host's side of an orchestration, played for tests.

Core Tools cannot run here, so this stands in for the host around the SDK's
real replay engine: it keeps each instance's history as the host does (episodes
between OrchestratorStarted and OrchestratorCompleted, IsPlayed on past events,
sequence numbers as event ids), calls the orchestrator through the same entry
point the worker calls, with the same context JSON, and turns the actions it
returns into the events the host would record. Activities run with the host's
retry behaviour: after a failure a retry timer, after the timer the next
attempt, and after the last failure one more timer before the task fails.

Event ids are handed out in the order the host would: results first, in the
order they are appended, then the episode's new actions. That matches the SDK
as long as an orchestrator schedules new work only once its fan-outs are done,
which is what the notification orchestrator promises.
"""

import inspect
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

import azure.functions as func

EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TIMESTAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
# What the host sends beside the history (Azure Storage provider defaults).
CONTEXT_FIELDS = {
    "upperSchemaVersion": 1,
    "upperSchemaVersionNew": 2,
    "maximumShortTimerDuration": "6.00:00:00",
    "longRunningTimerIntervalDuration": "3.00:00:00",
    "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
}
# Simulated time an episode takes, so that history timestamps move forward.
EPISODE_TIME = timedelta(milliseconds=50)


class Event(IntEnum):
    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_CREATED = 7
    SUB_ORCHESTRATION_COMPLETED = 8
    SUB_ORCHESTRATION_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13


class Action(IntEnum):
    CALL_ACTIVITY = 0
    CALL_ACTIVITY_WITH_RETRY = 1
    CALL_SUB_ORCHESTRATOR = 2
    CONTINUE_AS_NEW = 4
    CREATE_TIMER = 5
    WHEN_ANY = 11
    WHEN_ALL = 12


@dataclass(frozen=True)
class Completed:
    result: Any


@dataclass(frozen=True)
class Failed:
    reason: str
    details: str = ""


Answer = Completed | Failed


@dataclass
class Work:
    """Something an instance waits for: an activity attempt, a timer, a sub-orchestration."""

    kind: str  # "activity", "timer", "retry_timer" or "sub_orchestration"
    event_id: int
    name: str = ""
    input: Any = None
    instance_id: str = ""
    fire_at: datetime = EPOCH
    attempt: int = 1
    max_attempts: int = 1
    retry_interval: timedelta = timedelta(0)
    retry_of: "Work | None" = None


Resolver = Callable[[Work], Answer | Awaitable[Answer]]
Handle = Callable[[func.OrchestrationContext], str]


def orchestrator_handles(blueprint: func.Blueprint) -> dict[str, Handle]:
    """The blueprint's functions by name, as the worker indexes and calls them."""
    app = func.FunctionApp()
    app.register_functions(blueprint)
    return {
        str(function.get_function_name()): function.get_user_function()
        for function in app.get_functions()
    }


@dataclass
class Stats:
    """What the test wants to know about every instance a run touched."""

    histories: dict[str, list[int]] = field(default_factory=dict)  # lengths per generation
    slowest_replay: float = 0.0
    slowest_replay_events: int = 0
    episodes: int = 0

    @property
    def largest_history(self) -> int:
        return max(max(lengths) for lengths in self.histories.values())

    def largest(self) -> tuple[str, int]:
        return max(
            ((instance, max(lengths)) for instance, lengths in self.histories.items()),
            key=lambda item: item[1],
        )


class Instance:
    """One orchestration instance as the host keeps it, generation after generation."""

    def __init__(
        self,
        handles: dict[str, Handle],
        name: str,
        instance_id: str,
        input_: Any,
        *,
        parent_instance_id: str | None = None,
        stats: Stats | None = None,
        start: datetime = EPOCH,
    ) -> None:
        self.handles = handles
        self.name = name
        self.instance_id = instance_id
        self.parent_instance_id = parent_instance_id
        self.stats = stats or Stats()
        self.clock = start
        self.states: list[dict[str, Any]] = []
        self.output: Any = None
        self.done = False
        self.generation = 0
        self._begin(json.dumps(input_))

    # The history

    def _begin(self, input_json: str) -> None:
        self.history: list[dict[str, Any]] = []
        self.pending: list[Work] = []
        self.next_id = 0
        self.scheduled = 0
        self.input_json = input_json
        self.started = False
        self._append(Event.ORCHESTRATOR_STARTED)
        self._append(
            Event.EXECUTION_STARTED,
            OrchestrationInstance={"InstanceId": self.instance_id, "ExecutionId": self._execution},
            ParentInstance=(
                {"OrchestrationInstance": {"InstanceId": self.parent_instance_id}}
                if self.parent_instance_id
                else None
            ),
            Name=self.name,
            Version="",
            Input=input_json,
            Tags=None,
        )

    @property
    def _execution(self) -> str:
        return f"{self.instance_id}-{self.generation}"

    def _append(self, kind: Event, event_id: int = -1, **fields: Any) -> dict[str, Any]:
        event = {
            "EventType": int(kind),
            "EventId": event_id,
            "IsPlayed": False,
            "Timestamp": self.clock.strftime(TIMESTAMP),
            **fields,
        }
        self.history.append(event)
        return event

    def _allocate(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    # Episodes

    def invoke(self) -> dict[str, Any]:
        """Call the orchestrator with the whole history, as the host does for an episode."""
        last_start = max(
            index
            for index, event in enumerate(self.history)
            if event["EventType"] == Event.ORCHESTRATOR_STARTED
        )
        for index, event in enumerate(self.history):
            event["IsPlayed"] = index < last_start
        body = json.dumps(
            {
                "history": self.history,
                "input": self.input_json,
                "instanceId": self.instance_id,
                "isReplaying": last_start > 0,
                "parentInstanceId": self.parent_instance_id,
                **CONTEXT_FIELDS,
            }
        )
        started = time.perf_counter()
        state: dict[str, Any] = json.loads(self.handles[self.name](func.OrchestrationContext(body)))
        elapsed = time.perf_counter() - started
        if elapsed > self.stats.slowest_replay:
            self.stats.slowest_replay = elapsed
            self.stats.slowest_replay_events = len(self.history)
        self.stats.episodes += 1
        self.states.append(state)
        return state

    async def episode(self, work: list[Work], resolve: Resolver) -> dict[str, Any]:
        """One episode: answers to `work` arrive, the orchestrator runs, its actions are kept."""
        self.clock += EPISODE_TIME
        self._append(Event.ORCHESTRATOR_STARTED)
        scheduling: list[tuple[Event, int, dict[str, Any]]] = []
        for item in work:
            self.pending.remove(item)
            await self._arrive(item, resolve, scheduling)
        state = self.invoke()
        scheduling += self._schedule(state)
        for kind, event_id, fields in scheduling:
            self._append(kind, event_id, **fields)
        self._append(Event.ORCHESTRATOR_COMPLETED)
        self._record()
        if state["isDone"]:
            self._close(state)
        return state

    async def run(self, resolve: Resolver, *, batch: int | None = None) -> Any:
        """Episodes until the instance completes; `batch` answers per episode (None: all)."""
        while not self.done:
            if not self.started:
                self.start()
                continue
            if not self.pending:
                raise AssertionError(f"{self.instance_id} waits for nothing but is not done")
            chosen = self.pending if batch is None else self.pending[:batch]
            await self.episode(list(chosen), resolve)
        return self.output

    def start(self) -> dict[str, Any]:
        """The first episode of a generation: no answers yet, only the orchestrator's start."""
        self.started = True
        state = self.invoke()
        for kind, event_id, fields in self._schedule(state):
            self._append(kind, event_id, **fields)
        self._append(Event.ORCHESTRATOR_COMPLETED)
        self._record()
        if state["isDone"]:
            self._close(state)
        return state

    def _record(self) -> None:
        lengths = self.stats.histories.setdefault(self.instance_id, [])
        if len(lengths) <= self.generation:
            lengths.append(0)
        lengths[self.generation] = len(self.history)

    def _close(self, state: dict[str, Any]) -> None:
        continued = [
            action
            for action in _atomic(state["actions"])
            if action["actionType"] == Action.CONTINUE_AS_NEW
        ]
        self._append(Event.EXECUTION_COMPLETED, OrchestrationStatus=1, Result=None)
        self._record()
        if continued:
            # The host starts the next generation at once, with a history of its own.
            self.generation += 1
            self.clock += EPISODE_TIME
            self._begin(continued[0]["input"])
            return
        self.done = True
        self.output = state.get("output")

    # Answers

    async def _arrive(
        self, item: Work, resolve: Resolver, scheduling: list[tuple[Event, int, dict[str, Any]]]
    ) -> None:
        if item.kind in ("timer", "retry_timer"):
            self.clock = max(self.clock, item.fire_at)
            self._append(
                Event.TIMER_FIRED, TimerId=item.event_id, FireAt=item.fire_at.strftime(TIMESTAMP)
            )
            if item.kind == "retry_timer" and item.retry_of is not None:
                self._retry(item.retry_of, scheduling)
            return
        answer = resolve(item)
        if inspect.isawaitable(answer):
            answer = await answer
        if item.kind == "sub_orchestration":
            self._sub_orchestration_answer(item, answer)
            return
        self._activity_answer(item, answer, scheduling)

    def _activity_answer(
        self, item: Work, answer: Answer, scheduling: list[tuple[Event, int, dict[str, Any]]]
    ) -> None:
        if isinstance(answer, Completed):
            self._append(
                Event.TASK_COMPLETED,
                TaskScheduledId=item.event_id,
                Result=json.dumps(answer.result),
            )
            return
        self._append(
            Event.TASK_FAILED,
            TaskScheduledId=item.event_id,
            Reason=answer.reason,
            Details=answer.details,
        )
        if item.max_attempts > 0:
            timer_id = self._allocate()
            fire_at = self.clock + item.retry_interval
            scheduling.append(
                (Event.TIMER_CREATED, timer_id, {"FireAt": fire_at.strftime(TIMESTAMP)})
            )
            self.pending.append(Work("retry_timer", timer_id, fire_at=fire_at, retry_of=item))

    def _retry(self, failed: Work, scheduling: list[tuple[Event, int, dict[str, Any]]]) -> None:
        if failed.attempt >= failed.max_attempts:
            return
        task_id = self._allocate()
        scheduling.append(
            (
                Event.TASK_SCHEDULED,
                task_id,
                {"Name": failed.name, "Input": json.dumps(failed.input)},
            )
        )
        self.pending.append(
            Work(
                "activity",
                task_id,
                name=failed.name,
                input=failed.input,
                attempt=failed.attempt + 1,
                max_attempts=failed.max_attempts,
                retry_interval=failed.retry_interval,
            )
        )

    def _sub_orchestration_answer(self, item: Work, answer: Answer) -> None:
        if isinstance(answer, Completed):
            self._append(
                Event.SUB_ORCHESTRATION_COMPLETED,
                TaskScheduledId=item.event_id,
                Result=json.dumps(answer.result),
            )
            return
        self._append(
            Event.SUB_ORCHESTRATION_FAILED,
            TaskScheduledId=item.event_id,
            Reason=answer.reason,
            Details=answer.details,
        )

    # Actions

    def _schedule(self, state: dict[str, Any]) -> list[tuple[Event, int, dict[str, Any]]]:
        """Events and pending work for the actions this episode added."""
        atomic = [
            action
            for action in _atomic(state["actions"])
            if action["actionType"] != Action.CONTINUE_AS_NEW
        ]
        new, self.scheduled = atomic[self.scheduled :], len(atomic)
        return [self._schedule_one(action) for action in new]

    def _schedule_one(self, action: dict[str, Any]) -> tuple[Event, int, dict[str, Any]]:
        event_id = self._allocate()
        kind = Action(action["actionType"])
        if kind == Action.CREATE_TIMER:
            fire_at = datetime.strptime(action["fireAt"], TIMESTAMP).replace(tzinfo=UTC)
            self.pending.append(Work("timer", event_id, fire_at=fire_at))
            return Event.TIMER_CREATED, event_id, {"FireAt": action["fireAt"]}
        input_ = json.loads(action["input"]) if action.get("input") is not None else None
        if kind == Action.CALL_SUB_ORCHESTRATOR:
            self.pending.append(
                Work(
                    "sub_orchestration",
                    event_id,
                    name=action["functionName"],
                    input=input_,
                    instance_id=action["instanceId"],
                )
            )
            fields = {"Name": action["functionName"], "InstanceId": action["instanceId"]}
            return Event.SUB_ORCHESTRATION_CREATED, event_id, {**fields, "Input": action["input"]}
        retry = action.get("retryOptions", {})
        self.pending.append(
            Work(
                "activity",
                event_id,
                name=action["functionName"],
                input=input_,
                max_attempts=retry.get("maxNumberOfAttempts", 0),
                retry_interval=timedelta(
                    milliseconds=retry.get("firstRetryIntervalInMilliseconds", 0)
                ),
            )
        )
        return (
            Event.TASK_SCHEDULED,
            event_id,
            {"Name": action["functionName"], "Input": action["input"]},
        )


def _atomic(actions: list[list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    """Every non-compound action, in the order the host schedules them."""
    for group in actions:
        yield from _flatten(group)


def _flatten(actions: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for action in actions:
        if action["actionType"] in (Action.WHEN_ALL, Action.WHEN_ANY):
            yield from _flatten(action["compoundActions"])
        else:
            yield action
