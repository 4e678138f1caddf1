"""Durable Functions: the notification orchestrators and the delivery activity.

Registered by function_app.py only when Durable Functions is selected, so that
the local host and `func start` without task hub storage never need the
durable extension. The orchestration itself is in blueprints/notification_flow.py.
"""

from typing import Any

import azure.functions as func

from blueprints.notification_flow import Context, Flow, notification_flow
from core.jobs.durable_activity import send_webhook, settle_deliveries
from core.orchestration import SendRequest, SettleRequest, to_wire
from core.runtime import get_runtime

bp = func.Blueprint()

# NOTE: azure.functions' durable decorators carry no type hints, hence the ignores.


@bp.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
def webhook_notification_orchestrator(context: Context) -> Flow:
    """One notification job; its instance id is the job id."""
    return (yield from notification_flow(context))


@bp.orchestration_trigger(context_name="context")  # type: ignore[untyped-decorator]
def webhook_notification_chunk_orchestrator(context: Context) -> Flow:
    """A share of a large job's webhooks, started by the job's orchestration or a larger chunk."""
    return (yield from notification_flow(context))


@bp.activity_trigger(input_name="request")  # type: ignore[untyped-decorator]
async def send_webhook_activity(request: dict[str, Any]) -> dict[str, Any]:
    """One attempt of one delivery; raises when the durable retry policy should try again."""
    runtime = await get_runtime()

    outcome = await send_webhook(
        SendRequest.model_validate(request),
        jobs=runtime.storage.jobs,
        attempts=runtime.attempts,
    )

    return to_wire(outcome)


@bp.activity_trigger(input_name="request")  # type: ignore[untyped-decorator]
async def settle_deliveries_activity(request: dict[str, Any]) -> int:
    """Record as failed the deliveries whose activities failed to the end of the last round."""
    runtime = await get_runtime()

    return await settle_deliveries(SettleRequest.model_validate(request), jobs=runtime.storage.jobs)
