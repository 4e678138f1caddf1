"""Slots for attempts in flight: a bound for the whole service and a smaller one per host."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit


class DeliverySlots:
    """At most `total` attempts in flight, and at most `per_host` of them to any one host.

    A host's slot is taken before a shared one, so deliveries queueing for a
    slow or hanging host wait without holding slots that other hosts could use.
    """

    def __init__(self, *, total: int, per_host: int) -> None:
        self._total = asyncio.Semaphore(total)
        self._per_host = per_host
        # Host -> its semaphore and how many deliveries use it; dropped at zero.
        self._hosts: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        """Hold a slot for one attempt to `url` while the block runs."""
        host = _host_of(url)
        semaphore, users = self._hosts.get(host) or (asyncio.Semaphore(self._per_host), 0)
        self._hosts[host] = (semaphore, users + 1)
        try:
            async with semaphore, self._total:
                yield
        finally:
            semaphore, users = self._hosts[host]
            if users == 1:
                del self._hosts[host]
            else:
                self._hosts[host] = (semaphore, users - 1)


def _host_of(url: str) -> str:
    """Scheme, host and port: what one receiver's connections have in common."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{(parts.hostname or '').lower()}:{parts.port or ''}"
    except ValueError:
        return url
