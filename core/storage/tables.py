"""The Table Storage connection, its tables, and the mapping of its errors."""

import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableEntity, TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from core.errors import (
    ChangedMeanwhileError,
    PayloadTooLargeError,
    SettingsError,
    StorageUnavailableError,
)

TABLES = ("translationsets", "translations", "webhooks", "jobs", "outbox", "deliverylog")
# Azure refuses transactions of more than 100 operations or 4 MiB (Azurite does not).
MAX_TRANSACTION_OPERATIONS = 100
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024
# What batching aims for, leaving room for the request's own framing.
BATCH_BYTES = 3 * 1024 * 1024

# Transaction failures that mean another request changed the data first.
STALE_ERROR_CODES = frozenset(
    {"ResourceNotFound", "EntityAlreadyExists", "UpdateConditionNotSatisfied"}
)

# Refusals of what we checked ourselves: Azurite counts an entity's size by its
# escaped JSON, so non-ASCII text can pass our UTF-16 count and still be refused.
TOO_LARGE_ERROR_CODES = frozenset(
    {"EntityTooLarge", "PropertyValueTooLarge", "RequestBodyTooLarge"}
)

Entity = dict[str, Any]
Operation = tuple[str, Entity] | tuple[str, Entity, Mapping[str, Any]]


@contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Turn azure-core failures other than not-found/exists into our own error."""
    try:
        yield
    except (ResourceNotFoundError, ResourceExistsError, ResourceModifiedError):
        raise
    except HttpResponseError as exc:
        if getattr(exc, "error_code", None) in TOO_LARGE_ERROR_CODES:
            raise PayloadTooLargeError(f"table storage refused to {action}: too large") from exc
        raise StorageUnavailableError(f"table storage failed to {action}") from exc
    except AzureError as exc:
        raise StorageUnavailableError(f"table storage failed to {action}") from exc


class TableStore:
    """One service client and a client per table, created once."""

    def __init__(self, service: TableServiceClient) -> None:
        self._service = service
        self._tables = {name: service.get_table_client(name) for name in TABLES}
        # What was submitted, so tests and benchmarks can check the limits held.
        self.transactions = 0
        self.largest_transaction = 0

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
        """Delete the entity; deleting one that does not exist is not an error."""
        with storage_errors("delete"):
            await self.table(table).delete_entity(partition, row)

    async def delete_if_unchanged(self, table: str, entity: TableEntity) -> bool:
        """Delete only if nobody wrote the entity since it was read (ETag match)."""
        with storage_errors("delete"):
            try:
                await self.table(table).delete_entity(
                    entity["PartitionKey"],
                    entity["RowKey"],
                    etag=entity.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                return False

        return True

    async def update_if_unchanged(self, table: str, entity: TableEntity, changes: Entity) -> bool:
        """Merge `changes` only if nobody wrote the entity since it was read (ETag match)."""
        updated = {"PartitionKey": entity["PartitionKey"], "RowKey": entity["RowKey"], **changes}
        with storage_errors("write"):
            try:
                await self.table(table).update_entity(
                    updated,
                    mode=UpdateMode.MERGE,
                    etag=entity.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                return False

        return True

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
            # Just past every key that starts with `prefix`, whatever follows it.
            high = prefix[:-1] + chr(ord(prefix[-1]) + 1)
            parameters |= {"low": prefix, "high": high}
        async for entity in self.query(table, query_filter, parameters):
            yield entity

    async def transact(self, table: str, operations: Sequence[Operation]) -> None:
        """Run operations atomically: one entity-group transaction.

        Azure refuses more than 100 operations, more than one partition or more
        than 4 MiB in one transaction; Azurite does not, so we check here.
        """
        check_transaction(operations)
        self.transactions += 1
        self.largest_transaction = max(self.largest_transaction, len(operations))
        with storage_errors("write a transaction"):
            try:
                await self.table(table).submit_transaction(operations)
            except TableTransactionError as exc:
                # A racing request got there first (a delete of what is gone);
                # the caller knows what that means for its command.
                code = getattr(exc, "error_code", None)
                if code in STALE_ERROR_CODES:
                    raise ChangedMeanwhileError(str(code)) from exc
                raise

    async def write_batches(self, table: str, operations: Sequence[Operation]) -> None:
        """Run operations of one partition in as many transactions as they need."""
        for batch in batches(operations):
            await self.transact(table, batch)


def entity_size(entity: Mapping[str, Any]) -> int:
    """A generous estimate of an entity's size on the wire (UTF-16 strings)."""
    return 2 * len(json.dumps(entity, default=str, ensure_ascii=False)) + 64


def check_transaction(operations: Sequence[Operation]) -> None:
    if not operations:
        raise ValueError("a transaction needs at least one operation")
    if len(operations) > MAX_TRANSACTION_OPERATIONS:
        raise ValueError(f"{len(operations)} operations; a transaction holds at most 100")
    if len({operation[1]["PartitionKey"] for operation in operations}) > 1:
        raise ValueError("a transaction spans exactly one partition")
    if sum(entity_size(operation[1]) for operation in operations) > MAX_TRANSACTION_BYTES:
        raise ValueError("a transaction holds at most 4 MiB")


def batches(operations: Sequence[Operation]) -> Iterator[list[Operation]]:
    """Split into runs that each fit one transaction (count and size)."""
    batch: list[Operation] = []
    size = 0
    for operation in operations:
        cost = entity_size(operation[1])
        if batch and (len(batch) == MAX_TRANSACTION_OPERATIONS or size + cost > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(operation)
        size += cost
    if batch:
        yield batch
