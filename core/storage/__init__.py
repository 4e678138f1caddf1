"""The repository layer: the only code that talks to azure-data-tables."""

from core.secret_box import SecretBox
from core.storage.jobs import JobsRepository
from core.storage.outbox import OutboxRepository
from core.storage.sets import SetsRepository
from core.storage.tables import TableStore
from core.storage.translations import TranslationsRepository
from core.storage.webhooks import WebhooksRepository

__all__ = [
    "JobsRepository",
    "OutboxRepository",
    "SetsRepository",
    "Storage",
    "TableStore",
    "TranslationsRepository",
    "WebhooksRepository",
]


class Storage:
    """All repositories over one Table Storage account."""

    def __init__(self, store: TableStore, secret_box: SecretBox | None = None) -> None:
        box = secret_box or SecretBox()
        self.store = store
        self.sets = SetsRepository(store)
        self.translations = TranslationsRepository(store)
        self.webhooks = WebhooksRepository(store, box)
        self.jobs = JobsRepository(store, box)
        self.outbox = OutboxRepository(store)

    @classmethod
    async def connect(
        cls, connection_string: str, secret_box: SecretBox | None = None
    ) -> "Storage":
        return cls(await TableStore.connect(connection_string), secret_box)

    async def aclose(self) -> None:
        await self.store.aclose()
