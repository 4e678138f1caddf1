"""The outbox sweeper under the Functions host: a timer trigger.

The local host sweeps with a task of its own instead (see local_host). With
Durable Functions selected, the sweep schedules jobs as orchestrations, so the
function also takes the durable client binding.
"""

import azure.functions as func

from core.jobs.durable import OrchestrationClient, using_client
from core.jobs.selection import durable_selected
from core.runtime import get_runtime

bp = func.Blueprint()

# Every 10 seconds: records are swept once older than the outbox grace period.
SCHEDULE = "*/10 * * * * *"


async def _sweep() -> None:
    runtime = await get_runtime()
    await runtime.notifier.sweep()


if durable_selected():

    @bp.timer_trigger(arg_name="timer", schedule=SCHEDULE, use_monitor=False)
    @bp.durable_client_input(client_name="client")  # type: ignore[untyped-decorator]
    async def sweep_outbox(timer: func.TimerRequest, client: OrchestrationClient) -> None:
        with using_client(client):
            await _sweep()

else:

    @bp.timer_trigger(arg_name="timer", schedule=SCHEDULE, use_monitor=False)
    async def sweep_outbox(timer: func.TimerRequest) -> None:
        await _sweep()
