"""The Table Storage connection, its tables, and the mapping of its errors."""

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from core.errors import SettingsError, StorageUnavailableError

TABLES = ("translationsets", "translations", "webhooks", "jobs")
# Azure refuses transactions of more than 100 operations (Azurite does not).
MAX_TRANSACTION_OPERATIONS = 100

Entity = dict[str, Any]
Operation = tuple[str, Entity] | tuple[str, Entity, Mapping[str, Any]]


@contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Turn azure-core failures other than not-found/exists into our own error."""
    try:
        yield
    except (ResourceNotFoundError, ResourceExistsError):
        raise
    except (HttpResponseError, AzureError) as exc:
        raise StorageUnavailableError(f"table storage failed to {action}") from exc


class TableStore:
    """One service client and a client per table, created once."""

    def __init__(self, service: TableServiceClient) -> None:
        self._service = service
        self._tables = {name: service.get_table_client(name) for name in TABLES}

    @classmethod
    async def connect(cls, connection_string: str) -> "TableStore":
        try:
            service = TableServiceClient.from_connection_string(connection_string)
        except ValueError as exc:
            raise SettingsError("the storage connection string is not valid") from exc
        store = cls(service)
        try:
            with storage_errors("create tables"):
                for name in TABLES:
                    await service.create_table_if_not_exists(name)
        except BaseException:
            await store.aclose()
            raise

        return store

    def table(self, name: str) -> TableClient:
        return self._tables[name]

    async def aclose(self) -> None:
        for client in self._tables.values():
            await client.close()
        await self._service.close()

    async def get(self, table: str, partition: str, row: str) -> TableEntity | None:
        with storage_errors("read"):
            try:
                return await self.table(table).get_entity(partition, row)
            except ResourceNotFoundError:
                return None

    async def upsert(self, table: str, entity: Entity, *, merge: bool = False) -> None:
        mode = UpdateMode.MERGE if merge else UpdateMode.REPLACE
        with storage_errors("write"):
            await self.table(table).upsert_entity(entity, mode=mode)

    async def insert(self, table: str, entity: Entity) -> bool:
        """Create the entity; False when one with the same keys exists."""
        with storage_errors("write"):
            try:
                await self.table(table).create_entity(entity)
            except ResourceExistsError:
                return False

        return True

    async def delete(self, table: str, partition: str, row: str) -> None:
        with storage_errors("delete"):
            await self.table(table).delete_entity(partition, row)

    async def query(
        self, table: str, query_filter: str, parameters: dict[str, Any] | None = None
    ) -> AsyncIterator[TableEntity]:
        with storage_errors("query"):
            async for entity in self.table(table).query_entities(
                query_filter, parameters=parameters or {}
            ):
                yield entity

    async def partition(
        self, table: str, partition: str, *, prefix: str | None = None
    ) -> AsyncIterator[TableEntity]:
        """Every entity of one partition, optionally only row keys with `prefix`."""
        query_filter = "PartitionKey eq @pk"
        parameters: dict[str, Any] = {"pk": partition}
        if prefix is not None:
            query_filter += " and RowKey ge @low and RowKey lt @high"
            parameters |= {"low": prefix, "high": prefix + "\uffff"}
        async for entity in self.query(table, query_filter, parameters):
            yield entity

    async def transact(self, table: str, operations: Sequence[Operation]) -> None:
        """Run operations of one partition in transactions of at most 100."""
        partitions = {operation[1]["PartitionKey"] for operation in operations}
        if len(partitions) > 1:
            raise ValueError("a transaction spans exactly one partition")
        for start in range(0, len(operations), MAX_TRANSACTION_OPERATIONS):
            chunk = operations[start : start + MAX_TRANSACTION_OPERATIONS]
            with storage_errors("write a batch"):
                await self.table(table).submit_transaction(chunk)
