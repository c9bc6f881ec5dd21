"""The SSRF guard: which hosts may be fetched, and an HTTP client that connects only to them.

It exists apart from the fetch loop because the same checks run in two places: ``check_url``
vets every URL (each redirect hop) before a request is sent, and the network backend of
``make_client``'s transport vets the host again at connect time. Everything here is about
addresses; nothing reads a response.

SSRF guard
    Only http and https. The host is resolved (``asyncio`` getaddrinfo) and the URL is refused when
    ANY of its addresses is loopback, private, link-local, multicast, reserved, unspecified or
    otherwise not globally routable, including IPv4 addresses wrapped in IPv6 (``::ffff:127.0.0.1``,
    ``::127.0.0.1``, 6to4, NAT64) and the numeric host forms C resolvers accept
    (``2130706433``, ``0177.0.0.1``, ``0x7f.1``). ``allow_private=True`` (``FETCH_ALLOW_PRIVATE``,
    for tests and intranet deployments) or naming the host in ``trusted_hosts`` lifts the refusal.

DNS rebinding
    Checking a name and then letting the HTTP library resolve it again leaves a window in which the
    name can start pointing at 127.0.0.1. ``make_client`` builds a client whose transport closes
    it: its network backend resolves the name itself at connect time, checks every address, and
    opens the TCP connection to a vetted address. The Host header, TLS SNI and certificate checks
    still use the name, because httpx passes the URL's host to the backend only for the socket.
    ``bot.ingest.fetch.fetch`` works with any ``httpx.AsyncClient`` (it checks every hop before
    sending), but only a ``make_client`` client is also safe against rebinding. The policy of the
    fetch in progress reaches the backend through ``policy_in_force``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

from bot.ingest.errors import BlockedURLError, ConnectionFailedError

#: The client's per-operation timeout, and ``fetch``'s budget for a whole fetch.
DEFAULT_TIMEOUT = 15.0
USER_AGENT = "Attache/0.1 (+news reader bot)"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses it resolves to, as strings.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


# --------------------------------------------------------------------------- address checks


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host string denotes by itself, in any form a C resolver accepts.

    ``"[::1]"``, ``"127.0.0.1"``, ``"2130706433"``, ``"0177.0.0.1"``, ``"0x7f.1"`` and
    ``"127.1"`` are all addresses; ``"example.com"`` is not (``None``).
    """
    bare = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    parts = bare.removesuffix(".").split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        if re.fullmatch(r"0[xX][0-9a-fA-F]*", part):
            numbers.append(int(part[2:] or "0", 16))
        elif re.fullmatch(r"0[0-7]*", part):
            numbers.append(int(part, 8))
        elif re.fullmatch(r"[1-9][0-9]*", part):
            numbers.append(int(part))
        else:
            return None
    *head, last = numbers
    if any(number > 255 for number in head) or last >= 256 ** (4 - len(head)):
        return None
    value = 0
    for number in head:
        value = value * 256 + number
    value = (value << (8 * (4 - len(head)))) | last
    return ipaddress.IPv4Address(value)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    as_int = int(address)
    if as_int >> 32 == 0 and as_int > 1:  # deprecated IPv4-compatible form ::a.b.c.d
        return ipaddress.IPv4Address(as_int)
    if as_int >> 32 == 0x0064FF9B << 64:  # NAT64 well-known prefix 64:ff9b::/96
        return ipaddress.IPv4Address(as_int & 0xFFFFFFFF)
    return None


def forbidden_reason(address: IPAddress) -> str | None:
    """Why an address may not be fetched ("a loopback address"...), or ``None`` if it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = forbidden_reason(embedded)
            return f"{inner} wrapped in IPv6" if inner else None
    checks = (
        (address.is_loopback, "a loopback address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "a non-public address"),
    )
    for matched, reason in checks:
        if matched:
            return reason
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (IPv4 and IPv6)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Which addresses may be fetched, and how names are resolved."""

    allow_private: bool = False
    trusted_hosts: frozenset[str] = frozenset()
    resolver: Resolver = system_resolver

    def trusts(self, host: str) -> bool:
        return self.allow_private or host.lower().rstrip(".") in self.trusted_hosts


_ACTIVE_POLICY: contextvars.ContextVar[FetchPolicy | None] = contextvars.ContextVar(
    "attache_fetch_policy", default=None
)


@contextlib.contextmanager
def policy_in_force(policy: FetchPolicy) -> Iterator[None]:
    """Make ``policy`` the one the pinned transport applies while the block runs."""
    token = _ACTIVE_POLICY.set(policy)
    try:
        yield
    finally:
        _ACTIVE_POLICY.reset(token)


async def vet_host(host: str, port: int, policy: FetchPolicy, *, url: str) -> list[IPAddress]:
    """Resolve ``host`` and return its addresses; raise BlockedURLError if any is forbidden
    (unless the policy trusts the host) or ConnectionFailedError if it does not resolve."""
    literal = parse_ip_literal(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            resolved = await policy.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise ConnectionFailedError(
                f"could not resolve the host {host!r} of {url}: {exc}", url=url
            ) from None
        addresses = [ipaddress.ip_address(text.split("%", 1)[0]) for text in resolved]
        if not addresses:
            raise ConnectionFailedError(f"the host {host!r} of {url} has no address", url=url)
    if policy.trusts(host):
        return addresses
    for address in addresses:
        reason = forbidden_reason(address)
        if reason:
            raise BlockedURLError(
                f"refusing to fetch {url}: it resolves to {reason} ({address})", url=url
            )
    return addresses


async def check_url(url: str, policy: FetchPolicy) -> list[IPAddress]:
    """Check a URL's scheme and host against the policy; return its vetted addresses."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise BlockedURLError(f"not a usable URL: {url!r} ({exc})", url=url) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"not {scheme}:" if scheme else "and this one has no scheme"
        raise BlockedURLError(
            f"refusing to fetch {url}: only http and https URLs can be fetched, {shown}",
            url=url,
        )
    if not host:
        raise BlockedURLError(f"refusing to fetch {url}: the URL has no host", url=url)
    return await vet_host(host, port or (443 if scheme == "https" else 80), policy, url=url)


# --------------------------------------------------------------------------- pinned transport


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves and vets the host at connect time, then connects to a vetted address."""

    def __init__(self, default_policy: FetchPolicy) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._default_policy = default_policy

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend signature
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        policy = _ACTIVE_POLICY.get() or self._default_policy
        addresses = await vet_host(host, port, policy, url=f"{host}:{port}")
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend signature
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used for fetching")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport that connects only to vetted addresses (see the module docstring)."""

    def __init__(self, *, allow_private: bool = False, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits(max_connections=50, max_keepalive_connections=10)
        super().__init__(limits=limits, trust_env=False)
        # httpx offers no hook for the network backend, so the pool it built is replaced by the
        # same pool with ours (httpx ~0.28 keeps it in `_pool`).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=_GuardedBackend(FetchPolicy(allow_private=allow_private)),
        )


def make_client(
    *, allow_private: bool = False, timeout: float = DEFAULT_TIMEOUT, user_agent: str = USER_AGENT
) -> httpx.AsyncClient:
    """An AsyncClient for ``fetch``: pinned connections, no automatic redirects, no env proxies."""
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_private=allow_private),
        follow_redirects=False,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": user_agent},
        trust_env=False,
    )
