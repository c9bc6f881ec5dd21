"""A network that reaches nothing but this machine, for the tests of the URL guard.

The guard tests hand the guard hostile addresses (10.0.0.1, 169.254.169.254, 192.0.0.9...) and
check that it refuses them. If a change broke the guard, such a test must fail without a packet
having left the machine: no DNS query, no TCP SYN. So every fetch in those tests goes through a
``LoopbackNet``:

- ``net.resolve`` answers from a table of test names and raises for any other name: the system
  resolver, and so DNS, is never asked.
- ``net.backend`` is the network backend under the guarded transport (``make_client``'s
  ``network_backend``): it opens TCP connections to loopback addresses only (127.0.0.0/8, ::1),
  and records and refuses every other attempt, a host name included, without touching a socket.

The guard still does all of its own work above the backend; the net sits below it. A test that
asserts ``net.refused == []`` shows that the guard stopped an address, not the net.

    net = LoopbackNet({"intranet.test": ["10.0.0.1"]})
    async with net.client() as client:
        with pytest.raises(BlockedURLError):
            await net.fetch("http://intranet.test/", client=client, allow_private=False)
    assert net.refused == []
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Mapping, Sequence

import httpcore
import httpx

from bot.ingest.fetch import DEFAULT_MAX_BYTES, FetchResult, fetch
from bot.ingest.guard import (
    DEFAULT_TIMEOUT,
    FetchPolicy,
    Resolver,
    make_client,
    parse_ip_literal,
)

#: Names every LoopbackNet knows (the production resolver would read them from /etc/hosts).
LOCAL_NAMES: dict[str, list[str]] = {"localhost": ["127.0.0.1", "::1"]}


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address literal (a name is not)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LoopbackOnlyBackend(httpcore.AsyncNetworkBackend):
    """Connects to loopback addresses only; records and refuses every other attempt."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()
        self.refused: list[tuple[str, int]] = []
        self.connected: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend signature
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if not is_loopback(host):
            self.refused.append((host, port))
            raise httpcore.ConnectError(
                f"test network: only loopback addresses can be reached, not {host}"
            )
        self.connected.append((host, port))
        return await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's backend signature
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.refused.append((path, 0))
        raise httpcore.ConnectError("test network: no unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class LoopbackNet:
    """Test names, a resolver that knows only them, and clients that reach only 127.0.0.1."""

    def __init__(self, names: Mapping[str, Sequence[str]] | None = None) -> None:
        self.names = {**LOCAL_NAMES, **{k.lower(): list(v) for k, v in (names or {}).items()}}
        self.backend = LoopbackOnlyBackend()
        self.lookups: list[str] = []

    @property
    def refused(self) -> list[tuple[str, int]]:
        """Every (address, port) the net refused to connect to."""
        return self.backend.refused

    async def resolve(self, host: str, port: int) -> list[str]:
        """The test addresses of ``host``; OSError for a name that is not a test name.

        Address literals need no lookup: one that reaches a resolver is a bug of the guard."""
        assert parse_ip_literal(host) is None, (
            f"an address literal was sent to the resolver: {host}"
        )
        self.lookups.append(host)
        key = host.lower().rstrip(".")
        if key not in self.names:
            raise OSError(f"test network: {host!r} is not a test name")
        return list(self.names[key])

    def policy(
        self, *, allow_private: bool = False, trusted_hosts: Collection[str] = ()
    ) -> FetchPolicy:
        return FetchPolicy(
            allow_private=allow_private,
            trusted_hosts=frozenset(trusted_hosts),
            resolver=self.resolve,
        )

    def client(self, *, allow_private: bool = False, timeout: float = 10.0) -> httpx.AsyncClient:
        """``make_client``'s guarded client, over the loopback-only backend."""
        return make_client(
            allow_private=allow_private, timeout=timeout, network_backend=self.backend
        )

    async def fetch(
        self,
        url: str,
        *,
        client: httpx.AsyncClient,
        allow_private: bool,
        resolver: Resolver | None = None,
        trusted_hosts: Collection[str] = (),
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - fetch's own budget
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResult:
        """``fetch`` with this net's resolver (unless the test passes its own)."""
        return await fetch(
            url,
            client=client,
            allow_private=allow_private,
            resolver=resolver or self.resolve,
            trusted_hosts=trusted_hosts,
            max_bytes=max_bytes,
            timeout=timeout,
            etag=etag,
            last_modified=last_modified,
        )
