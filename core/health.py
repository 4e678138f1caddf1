"""Endpoint health: a webhook that keeps failing, or is gone, is disabled.

Each final delivery outcome updates the webhook's record: a success clears the
failure streak; a failure extends it. A webhook failing continuously for
`Webhooks__DisableAfterHours`, or answering 410 Gone, is disabled with the
reason and time recorded; disabled webhooks receive nothing until re-enabled.
"""

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from http import HTTPStatus

from core.delivery import AttemptOutcome, DeliveryRequest, DeliveryTarget
from core.errors import DataManagerError
from core.logs import log_event, safe_url
from core.models import EventType, WebhookHealth
from core.storage import WebhooksRepository

logger = logging.getLogger(__name__)


# A healthy webhook's `lastSuccessAt` is refreshed at most this often, so a
# fan-out of successes does not cost a read and a write per delivery.
SUCCESS_REFRESH = timedelta(minutes=1)


@dataclass
class EndpointHealth:
    webhooks: WebhooksRepository
    disable_after: timedelta
    # (set, webhook) -> when a success with a clean record was last written.
    _healthy_since: dict[tuple[str, str], datetime] = field(default_factory=dict)

    async def record(self, request: DeliveryRequest, outcome: AttemptOutcome) -> None:
        """Fold one final outcome into the webhook's health; storage trouble is only logged.

        Health is bookkeeping beside the delivery: failing to note it must not
        fail or repeat the delivery itself.
        """
        try:
            await self._record(request, outcome)
        except DataManagerError as exc:
            log_event(
                logger,
                "webhook.health_not_recorded",
                level=logging.WARNING,
                webhook_id=request.target.webhook_id,
                error=type(exc).__name__,
            )

    async def _record(self, request: DeliveryRequest, outcome: AttemptOutcome) -> None:
        if not request.set_id:
            return
        webhook_id = request.target.webhook_id
        key = (request.set_id, webhook_id)
        if outcome.delivered:
            if not self._recently_healthy(key, outcome.at):
                await self.webhooks.record_success(request.set_id, webhook_id, outcome.at)
                self._healthy_since[key] = outcome.at
            return
        self._healthy_since.pop(key, None)

        def change(current: WebhookHealth) -> tuple[WebhookHealth, bool]:
            return self._next(current, outcome)

        updated = await self.webhooks.update_health(request.set_id, webhook_id, change)
        if updated is not None and updated.disabled_at == outcome.at:
            log_event(
                logger,
                "webhook.disabled",
                level=logging.WARNING,
                set_id=request.set_id,
                webhook_id=webhook_id,
                url=safe_url(request.target.url),
                reason=updated.disabled_reason,
            )

    async def current_target(self, request: DeliveryRequest) -> DeliveryTarget | None:
        """Where and how a later attempt goes now; None when its webhook takes no more.

        Read again before retries, redeliveries and resumed deliveries, so that a
        webhook disabled (by hand or by its health) or deleted after the event
        receives nothing more, and one whose secret was rotated meanwhile is
        signed with the secrets in force now. A set's deletion removes the set's
        webhooks yet is still announced to them, signed as when it was scheduled.
        """
        if not request.set_id:
            return request.target
        found = await self.webhooks.get_with_secrets(request.set_id, request.target.webhook_id)
        if found is None:
            deleting = request.event_type == EventType.TRANSLATIONS_SET_DELETED.value
            return request.target if deleting else None
        webhook, secrets = found
        if not webhook.active:
            return None

        return replace(
            request.target, secrets=secrets, legacy_secret_header=webhook.legacy_secret_header
        )

    def _recently_healthy(self, key: tuple[str, str], at: datetime) -> bool:
        written = self._healthy_since.get(key)
        return written is not None and at - written < SUCCESS_REFRESH

    def _next(self, current: WebhookHealth, outcome: AttemptOutcome) -> tuple[WebhookHealth, bool]:
        if outcome.delivered:
            return WebhookHealth(
                last_success_at=outcome.at, last_failure_at=current.last_failure_at
            ), False

        failing_since = current.failing_since or outcome.at
        reason = None
        if outcome.status_code == HTTPStatus.GONE:
            reason = "the receiver answered 410 Gone"
        elif outcome.at - failing_since >= self.disable_after:
            reason = f"deliveries failed continuously since {failing_since.isoformat()}"
        if current.disabled_at is not None:
            reason = None  # already disabled; keep the first reason

        updated = current.model_copy(
            update={
                "last_failure_at": outcome.at,
                "consecutive_failures": current.consecutive_failures + 1,
                "failing_since": failing_since,
                "disabled_at": outcome.at if reason else current.disabled_at,
                "disabled_reason": reason or current.disabled_reason,
            }
        )
        return updated, reason is not None
