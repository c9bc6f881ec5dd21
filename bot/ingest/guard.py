"""The SSRF guard: which hosts may be fetched, and an HTTP client that connects only to them.

It exists apart from the fetch loop because the same checks run in two places: ``check_url``
vets every URL (each redirect hop) before a request is sent, and the network backend of
``make_client``'s transport vets the host again at connect time. Everything here is about
addresses; nothing reads a response.

SSRF guard
    Only http and https. The host is resolved (``asyncio`` getaddrinfo) and the URL is refused when
    ANY of its addresses is in a block of the IANA IPv4 or IPv6 Special-Purpose Address Registry
    (``_SPECIAL_PURPOSE``: loopback, private, link-local, shared, documentation, benchmarking,
    anycast service blocks, multicast, reserved...), or is not global by Python's ``ipaddress``
    tables, or is an IPv6 address outside 2000::/3. The table is written out because Python's
    tables lag the registries and differ between versions (3.11 calls 192.0.0.9, fec0::1 and
    3fff::1 global). IPv4 addresses wrapped in IPv6 (``::ffff:127.0.0.1``, ``::127.0.0.1``, 6to4,
    NAT64) are judged as themselves, and the host is read as a C resolver would: the numeric
    forms (``2130706433``, ``0177.0.0.1``, ``0x7f.1``) and IDNA spellings (``127。0。0。1``) are
    addresses, never names to look up. ``allow_private=True`` (``FETCH_ALLOW_PRIVATE``, for tests
    and intranet deployments) or naming the host in ``trusted_hosts`` lifts the refusal.

DNS rebinding
    Checking a name and then letting the HTTP library resolve it again leaves a window in which the
    name can start pointing at 127.0.0.1. ``make_client`` builds a client whose transport closes
    it: its network backend resolves the name itself at connect time, checks every address, and
    opens the TCP connection to a vetted address (through httpcore's AnyIO backend, or the
    ``network_backend`` a test passes: one that can reach nothing but 127.0.0.1, so that a broken
    guard cannot send a packet off the machine). The Host header, TLS SNI and certificate checks
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


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Every block of the IANA IPv4 and IPv6 Special-Purpose Address Registries, with the IPv4
#: multicast and reserved space and the deprecated IPv6 site-local block beside them, and what
#: to call an address in it. They are refused outright, whatever the ``ipaddress`` tables of the
#: Python at hand say (3.11 counts 192.0.0.9, the AS112 and AMT anycast blocks, fec0::/10 and
#: 3fff::/20 as global). The most specific block names the address. Not listed because their
#: verdict is that of the IPv4 address they carry: ::ffff:0:0/96 (IPv4-mapped, RFC 4291),
#: 64:ff9b::/96 (NAT64 well-known prefix, RFC 6052) and 2002::/16 (6to4, RFC 3056).
_SPECIAL_PURPOSE: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(block), what)
    for block, what in (
        # IPv4 Special-Purpose Address Registry
        ("0.0.0.0/8", "a 'this network' address"),  # RFC 791 §3.2
        ("0.0.0.0/32", "an unspecified address"),  # "this host on this network", RFC 1122
        ("10.0.0.0/8", "a private address"),  # Private-Use, RFC 1918
        ("100.64.0.0/10", "a shared address (carrier-grade NAT)"),  # RFC 6598
        ("127.0.0.0/8", "a loopback address"),  # RFC 1122 §3.2.1.3
        ("169.254.0.0/16", "a link-local address"),  # RFC 3927
        ("172.16.0.0/12", "a private address"),  # Private-Use, RFC 1918
        # IETF Protocol Assignments, RFC 6890 §2.1: the IPv4 service continuity prefix
        # 192.0.0.0/29 (DS-Lite, RFC 7335), the dummy address 192.0.0.8 (RFC 7600), PCP and
        # TURN anycast 192.0.0.9-10 (RFC 7723, 8155), NAT64 discovery 192.0.0.170-171 (RFC 8880):
        # the whole /24.
        ("192.0.0.0/24", "an IETF protocol address"),
        ("192.0.2.0/24", "a documentation address"),  # TEST-NET-1, RFC 5737
        ("192.31.196.0/24", "an AS112 anycast address"),  # AS112-v4, RFC 7535
        ("192.52.193.0/24", "an AMT anycast address"),  # AMT, RFC 7450
        ("192.88.99.0/24", "a 6to4 relay anycast address"),  # deprecated, RFC 7526
        ("192.168.0.0/16", "a private address"),  # Private-Use, RFC 1918
        ("192.175.48.0/24", "an AS112 anycast address"),  # Direct Delegation AS112, RFC 7534
        ("198.18.0.0/15", "a benchmarking address"),  # RFC 2544
        ("198.51.100.0/24", "a documentation address"),  # TEST-NET-2, RFC 5737
        ("203.0.113.0/24", "a documentation address"),  # TEST-NET-3, RFC 5737
        ("224.0.0.0/4", "a multicast address"),  # IPv4 Multicast Address Space, RFC 5771
        ("240.0.0.0/4", "a reserved address"),  # Reserved, RFC 1112 §4
        ("255.255.255.255/32", "a broadcast address"),  # Limited Broadcast, RFC 919 §7
        # IPv6 Special-Purpose Address Registry
        ("::/128", "an unspecified address"),  # RFC 4291
        ("::1/128", "a loopback address"),  # RFC 4291
        ("::/96", "a deprecated IPv4-compatible address"),  # RFC 4291 §2.5.5.1
        ("64:ff9b:1::/48", "a local-use NAT64 address"),  # RFC 8215
        ("100::/64", "a discard-only address"),  # RFC 6666
        ("100:0:0:1::/64", "a dummy address"),  # RFC 9780
        # IETF Protocol Assignments, RFC 2928: Teredo 2001::/32 (RFC 4380, which carries a
        # server and an obfuscated client IPv4 address: refused, not unwrapped), the PCP, TURN
        # and DNS-SD SRP anycast addresses 2001:1::1-3 (RFC 7723, 8155, 9665), benchmarking
        # 2001:2::/48 (RFC 5180), AMT 2001:3::/32 (RFC 7450), AS112-v6 2001:4:112::/48 (RFC
        # 7535), ORCHID 2001:10::/28 (RFC 4843, deprecated), ORCHIDv2 2001:20::/28 (RFC 7343),
        # drone remote ID tags 2001:30::/28 (RFC 9374): the whole /23.
        ("2001::/23", "an IETF protocol address"),
        ("2001:db8::/32", "a documentation address"),  # RFC 3849
        ("2620:4f:8000::/48", "an AS112 anycast address"),  # Direct Delegation AS112, RFC 7534
        ("3fff::/20", "a documentation address"),  # RFC 9637
        ("5f00::/16", "an SRv6 segment identifier"),  # RFC 9602
        ("fc00::/7", "a private address"),  # Unique-Local, RFC 4193
        ("fe80::/10", "a link-local address"),  # RFC 4291
        ("fec0::/10", "a site-local address (deprecated)"),  # RFC 3879
        ("ff00::/8", "a multicast address"),  # RFC 4291
    )
)
#: The same, most specific block first, apart for each address family.
_BY_FAMILY = {
    version: sorted(
        ((net, what) for net, what in _SPECIAL_PURPOSE if net.version == version),
        key=lambda entry: -entry[0].prefixlen,
    )
    for version in (4, 6)
}
#: IANA allocates IPv6 global unicast from 2000::/3 only; the rest is reserved or special.
_IPV6_UNICAST = ipaddress.IPv6Network("2000::/3")
#: Prefixes whose addresses are reached through the IPv4 address they carry (see above).
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    as_int = int(address)
    if as_int >> 32 == 0 and as_int > 1:  # deprecated IPv4-compatible form ::a.b.c.d
        return ipaddress.IPv4Address(as_int)
    if address in _NAT64:
        return ipaddress.IPv4Address(as_int & 0xFFFFFFFF)
    return None


def special_purpose(address: IPAddress) -> str | None:
    """What the special-purpose block holding ``address`` is ("a documentation address"...),
    or ``None`` if it is in none."""
    for network, what in _BY_FAMILY[address.version]:
        if address in network:
            return what
    return None


def forbidden_reason(address: IPAddress) -> str | None:
    """Why an address may not be fetched ("a loopback address"...), or ``None`` if it is public.

    In order: an IPv4 address wrapped in IPv6 is judged as itself; then the special-purpose
    table; then, as a second net, Python's own tables; and an IPv6 address outside 2000::/3 is
    refused in any case.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = forbidden_reason(embedded)
            if inner:
                return f"{inner} wrapped in IPv6"
            if any(address in prefix for prefix in (_IPV4_MAPPED, _NAT64, _SIX_TO_FOUR)):
                return None  # a public IPv4 address, reached through it
    what = special_purpose(address)
    if what:
        return what
    checks = (
        (address.is_loopback, "a loopback address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "a non-public address"),
        (
            isinstance(address, ipaddress.IPv6Address) and address not in _IPV6_UNICAST,
            "an address outside the IPv6 unicast space",
        ),
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
    try:
        # What the resolver is asked is the name in IDNA form, as ``socket.getaddrinfo`` encodes
        # it: "127。0。0。1" and "①②⑦.0.0.1" are the address 127.0.0.1, never a name to look up.
        name = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError as exc:
        raise ConnectionFailedError(
            f"could not resolve the host {host!r} of {url}: {exc}", url=url
        ) from None
    literal = parse_ip_literal(name)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            resolved = await policy.resolver(name, port)
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

    def __init__(
        self, default_policy: FetchPolicy, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self._inner = inner or httpcore.AnyIOBackend()
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

    def __init__(
        self,
        *,
        allow_private: bool = False,
        limits: httpx.Limits | None = None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        """``network_backend`` opens the TCP connections to the vetted addresses (httpcore's
        AnyIO backend by default); tests pass one that can reach nothing but 127.0.0.1."""
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
            network_backend=_GuardedBackend(
                FetchPolicy(allow_private=allow_private), network_backend
            ),
        )


def make_client(
    *,
    allow_private: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    user_agent: str = USER_AGENT,
    network_backend: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.AsyncClient:
    """An AsyncClient for ``fetch``: pinned connections, no automatic redirects, no env proxies.

    ``network_backend`` is passed to ``GuardedTransport`` (tests only)."""
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_private=allow_private, network_backend=network_backend),
        follow_redirects=False,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": user_agent},
        trust_env=False,
    )
