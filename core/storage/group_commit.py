"""Group commit: concurrent writes to one partition share a transaction.

Deliveries of one job record their attempts in the job's partition. Hundreds
of them finish at about the same time; instead of one round trip each, their
writes are packed into entity-group transactions of up to 100 operations.
Every caller still waits until its own writes are committed, so a recorded
attempt is as durable as with a write of its own. When a batch fails, its
units are retried one by one, so one bad unit fails only its own caller.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.storage.tables import MAX_TRANSACTION_OPERATIONS, Operation, TableStore

# How long the first write of a batch waits for company. Short enough to be
# invisible next to an HTTP round trip, long enough to gather a fan-out.
LINGER_SECONDS = 0.005


@dataclass
class _Unit:
    operations: Sequence[Operation]
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommitter:
    def __init__(self, store: TableStore, table: str) -> None:
        self._store = store
        self._table = table
        self._queues: dict[str, list[_Unit]] = {}
        # The loop keeps only weak references to tasks; these are ours.
        self._flushers: set[asyncio.Task[None]] = set()

    async def write(self, operations: Sequence[Operation]) -> None:
        """Commit these operations (one partition) atomically, batched with others."""
        if len(operations) > MAX_TRANSACTION_OPERATIONS:
            raise ValueError("a unit of operations must fit one transaction")
        partition = operations[0][1]["PartitionKey"]
        unit = _Unit(operations)
        queue = self._queues.get(partition)
        if queue is None:
            self._queues[partition] = [unit]
            flusher = asyncio.get_running_loop().create_task(self._flush(partition))
            self._flushers.add(flusher)
            flusher.add_done_callback(self._flushers.discard)
        else:
            queue.append(unit)

        await unit.done

    async def _flush(self, partition: str) -> None:
        await asyncio.sleep(LINGER_SECONDS)
        while queue := self._queues.get(partition):
            batch, size = [], 0
            while queue and size + len(queue[0].operations) <= MAX_TRANSACTION_OPERATIONS:
                unit = queue.pop(0)
                batch.append(unit)
                size += len(unit.operations)
            if not queue:
                # Writes arriving from now on start a new flusher of their own.
                del self._queues[partition]
            await self._commit(batch)

    async def _commit(self, batch: list[_Unit]) -> None:
        operations = [operation for unit in batch for operation in unit.operations]
        try:
            await self._store.transact(self._table, operations)
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0], exc)
                return
            # One bad unit fails the whole transaction; alone, the others succeed.
            await asyncio.gather(*(self._commit([unit]) for unit in batch))
            return
        except BaseException as exc:
            # Cancelled: every waiting caller learns of it, then it goes on up.
            for unit in batch:
                _settle(unit, exc)
            raise
        for unit in batch:
            _settle(unit, None)


def _settle(unit: _Unit, error: BaseException | None) -> None:
    if unit.done.done():
        return
    if error is None:
        unit.done.set_result(None)
    else:
        unit.done.set_exception(error)
