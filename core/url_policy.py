"""Which webhook URLs we send to: the guard against server-side request forgery.

Users type webhook URLs; without a guard, DataManager would POST wherever they
point, including cloud metadata endpoints and services on private networks.
Unless `Webhooks__AllowPrivateNetworks` is on, a URL must be `https` and every
address its host resolves to must be a global unicast address. The check runs
at registration and again at every send, inside the HTTP client's resolver,
so the connection goes to exactly the addresses that were checked (no second
lookup that DNS rebinding could answer differently).
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

from core.errors import UnprocessableError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses it resolves to.
Resolve = Callable[[str, int], Awaitable[list[str]]]
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class UrlRefusedError(UnprocessableError):
    """The URL may not receive webhooks; the message says why."""


class AddressRefusedError(OSError):
    """Raised inside the HTTP client's resolver; carries the refusal to the sender."""


async def system_resolve(host: str, port: int) -> list[str]:
    """The host's addresses from the operating system's resolver."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refusal(address: IPAddress) -> str | None:
    """Why webhooks may not go to `address`, or None when they may."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = refusal(embedded)
        return f"{reason} (inside {address})" if reason else None
    if address.is_loopback:
        return f"{address} is a loopback address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if address.is_unspecified:
        return f"{address} is the unspecified address"
    if address.is_private or not address.is_global or _special_purpose(address):
        return f"{address} is a private or reserved address"

    return None


# IANA's IETF protocol assignments, not globally reachable; Python before 3.12.4
# (and 3.11.10) counts most of this block as global.
_SPECIAL_PURPOSE = ipaddress.ip_network("192.0.0.0/24")


def _special_purpose(address: IPAddress) -> bool:
    return address.version == 4 and address in _SPECIAL_PURPOSE


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside IPv4-mapped, 6to4, Teredo, NAT64 or compatible forms."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)

    return None


@dataclass(frozen=True)
class UrlPolicy:
    allow_private_networks: bool
    resolve: Resolve = system_resolve

    def check_form(self, url: str) -> None:
        """Scheme, host and credentials; raises UrlRefusedError."""
        try:
            parts = urlsplit(url)
            port = parts.port  # raises ValueError for a port out of range
        except ValueError as exc:
            raise UrlRefusedError(f"not a usable URL: {exc}") from None
        if port == 0:
            raise UrlRefusedError("not a usable URL: port 0 cannot be connected to")
        allowed = ("https", "http") if self.allow_private_networks else ("https",)
        if parts.scheme not in allowed:
            raise UrlRefusedError(f"the URL must use {' or '.join(allowed)}")
        if not parts.hostname:
            raise UrlRefusedError("the URL has no host")
        if parts.username or parts.password:
            raise UrlRefusedError("credentials in the URL are not accepted; use the secret")

    async def check(self, url: str) -> None:
        """The whole check, as done at registration: form, then every resolved address."""
        self.check_form(url)
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            await self.addresses(host, port)
        except AddressRefusedError as exc:
            raise UrlRefusedError(str(exc)) from None

    async def addresses(self, host: str, port: int) -> list[str]:
        """The checked addresses to connect to; AddressRefusedError when any is refused.

        One refused address refuses the host: an attacker's DNS could otherwise
        mix a public address with a private one and let chance decide.
        """
        literal = _as_address(host)
        if literal is not None:
            found = [str(literal)]
        else:
            # UnicodeError: a label IDNA cannot encode (empty, or longer than 63 characters).
            try:
                found = await self.resolve(host, port)
            except (OSError, UnicodeError) as exc:
                raise AddressRefusedError(f"{host} does not resolve: {exc}") from None
        if not found:
            raise AddressRefusedError(f"{host} does not resolve")
        if self.allow_private_networks:
            return found

        for text in found:
            reason = refusal(ipaddress.ip_address(text.split("%", 1)[0]))
            if reason:
                raise AddressRefusedError(f"{host} is refused: {reason}")

        return found


def _as_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver hook: connections only ever go to addresses the policy allowed."""

    def __init__(self, policy: UrlPolicy) -> None:
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self._policy.addresses(host, port)
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        """Nothing to release: resolution is delegated to the policy."""
