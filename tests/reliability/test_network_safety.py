"""Network safety: the SSRF guard refuses every internal address in every spelling, before any
connection is made, and at every redirect hop; fetches keep to their size and time caps.

Nothing here can send a packet anywhere but 127.0.0.1, even with a broken guard: every fetch
goes through ``tests.loopnet`` (names resolve from a test table, never DNS; connections are opened
only to loopback addresses, and any other attempt is recorded and refused without a socket). The
tests assert that the net refused nothing, so it is the guard that stopped each address; one test
switches the guard off to show that the net holds on its own.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from bot.ingest.errors import (
    BlockedURLError,
    ConnectionFailedError,
    FetchError,
    FetchTimeoutError,
    TooLargeError,
)
from bot.ingest.guard import (
    GuardedTransport,
    check_url,
    forbidden_reason,
    parse_ip_literal,
)
from bot.sandbox import BotApiServer
from tests.conftest import start_bot, stop_bot
from tests.loopnet import LoopbackNet
from tests.reliability import nasty
from tests.reliability.nasty import FUZZ
from tests.webserver import LocalWebServer

#: Names that exist only here; 10.0.0.1 is never contacted (the guard refuses first).
HOOKED_NAMES = {"intranet.test": ["10.0.0.1"], "dual.test": ["93.184.216.34", "fc00::1"]}


class RecordingTransport(GuardedTransport):
    """The real guarded transport over the loopback-only net, recording every request."""

    def __init__(self, net: LoopbackNet) -> None:
        super().__init__(network_backend=net.backend)
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(str(request.url))
        return await super().handle_async_request(request)


@pytest.fixture
def net() -> LoopbackNet:
    return LoopbackNet(HOOKED_NAMES)


@pytest.fixture
async def transport(net: LoopbackNet) -> AsyncIterator[RecordingTransport]:
    recording = RecordingTransport(net)
    yield recording
    await recording.aclose()


@pytest.fixture
async def server() -> AsyncIterator[LocalWebServer]:
    async with LocalWebServer() as running:
        yield running


# --------------------------------------------------------------------------- address forms


INTERNAL_URLS = [
    ("http://127.0.0.1/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://2130706433/", "loopback"),
    ("http://0177.0.0.1/", "loopback"),
    ("http://0x7f.1/", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://017700000001/", "loopback"),
    ("http://127.0.0.1.:8080/", "loopback"),
    ("http://127。0。0。1/", "loopback"),  # ideographic full stops: IDNA reads them as dots
    ("http://①②⑦.0.0.1/", "loopback"),  # circled digits: IDNA folds them to 127.0.0.1
    ("http://[::1]/", "loopback"),
    ("http://[::1%25lo]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback address wrapped in IPv6"),
    ("http://[::ffff:7f00:1]/", "loopback address wrapped in IPv6"),
    ("http://[0:0:0:0:0:ffff:127.0.0.1]/", "loopback address wrapped in IPv6"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://10.0.0.1/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://192.168.0.1/", "private"),
    ("http://[fc00::1]/", "private"),
    ("http://[fd12:3456::1]/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "broadcast"),
    ("http://100.64.0.1/", "shared address (carrier-grade NAT)"),
    ("http://localhost/", "loopback"),
    ("http://LOCALHOST:8080/", "loopback"),
    ("http://intranet.test/", "private address (10.0.0.1)"),
    ("http://dual.test/", "private address (fc00::1)"),
]


@pytest.mark.parametrize(("url", "reason"), INTERNAL_URLS)
async def test_the_guard_refuses_internal_addresses_in_every_spelling(
    net: LoopbackNet, url: str, reason: str
) -> None:
    with pytest.raises(BlockedURLError) as refused:
        await check_url(url, net.policy())
    message = refused.value.message
    assert message.startswith(f"refusing to fetch {url}: it resolves to ") and reason in message


@FUZZ
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_ipv4_address_is_judged_the_same_in_every_numeric_form(value: int) -> None:
    address = ipaddress.IPv4Address(value)
    octets = [int(part) for part in str(address).split(".")]
    forms = [
        str(address),
        str(value),
        hex(value),
        "0" + format(value, "o"),
        ".".join(hex(o) for o in octets),
        ".".join("0" + format(o, "o") for o in octets),
        f"{octets[0]}.{value & 0xFFFFFF}",
        f"{octets[0]}.{octets[1]}.{value & 0xFFFF}",
    ]
    for form in forms:
        assert parse_ip_literal(form) == address, form
    refused = forbidden_reason(address) is not None
    # Never less strict than Python's tables (the guard's own table refuses more: 192.0.0.9,
    # the AS112 and AMT blocks...), and the same verdict for the address wrapped in IPv6.
    assert refused or address.is_global, address
    for wrapped in (f"::ffff:{address}", f"64:ff9b::{address}"):
        assert (forbidden_reason(ipaddress.IPv6Address(wrapped)) is not None) == refused, wrapped


@FUZZ
@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_every_non_global_ipv6_address_is_refused(value: int) -> None:
    address = ipaddress.IPv6Address(value)
    wrapped = address.ipv4_mapped or address.sixtofour or value >> 32 in (0, 0x0064FF9B << 64)
    # Never less strict than "not global" (the guard also refuses reserved ranges that Python
    # counts as global, such as ::1:0:0).
    if not wrapped and not address.is_global:
        assert forbidden_reason(address) is not None, address


# --------------------------------------------------------------------------- special-purpose blocks


#: The IANA IPv4 and IPv6 Special-Purpose Address Registries, with multicast, the IPv4 reserved
#: space and the deprecated IPv6 site-local block beside them: every address in them is refused,
#: whatever Python's ``ipaddress`` tables say (they call 192.0.0.9, fec0::1 or 3fff::1 global).
#: Written out here, apart from the guard's own table, so that a block dropped there fails here.
SPECIAL_PURPOSE_BLOCKS = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.31.196.0/24",
    "192.52.193.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "192.175.48.0/24",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "::/128",
    "::1/128",
    "::/96",
    "64:ff9b:1::/48",
    "100::/64",
    "100:0:0:1::/64",
    "2001::/23",
    "2001:db8::/32",
    "2620:4f:8000::/48",
    "3fff::/20",
    "5f00::/16",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
]
#: Addresses Python's tables count as global inside those blocks (the reason for the table).
PYTHON_GLOBAL_INSIDE = {
    "192.0.0.0/24": ["192.0.0.9", "192.0.0.10"],
    "192.31.196.0/24": ["192.31.196.1"],
    "192.52.193.0/24": ["192.52.193.1"],
    "192.88.99.0/24": ["192.88.99.1"],
    "192.175.48.0/24": ["192.175.48.1"],
    "::/96": ["::8.8.8.8"],
    "2001::/23": [
        "2001:1::1",
        "2001:1::2",
        "2001:1::3",
        "2001:3::1",
        "2001:4:112::1",
        "2001:20::1",
        "2001:30::1",
    ],
    "2620:4f:8000::/48": ["2620:4f:8000::1"],
    "3fff::/20": ["3fff::1", "3fff:fff:ffff::1"],
    "fec0::/10": ["fec0::1"],
}
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:2800:220:1::1", "2a00:1450:4001:80b::200e"]


def samples(block: str) -> list[str]:
    """The first, second, middle and last address of a block, and those Python calls global."""
    network = ipaddress.ip_network(block)
    size = network.num_addresses
    picks = {network[0], network[min(1, size - 1)], network[size // 2], network[-1]}
    extra = {ipaddress.ip_address(a) for a in PYTHON_GLOBAL_INSIDE.get(block, [])}
    return [str(a) for a in sorted(picks | extra)]


def wrapped_forms(address: ipaddress.IPv4Address) -> list[str]:
    """An IPv4 address as IPv4-mapped, NAT64 (well-known prefix) and 6to4 IPv6 addresses."""
    value = int(address)
    return [
        str(ipaddress.IPv6Address((0xFFFF << 32) | value)),
        str(ipaddress.IPv6Address((0x0064FF9B << 96) | value)),
        str(ipaddress.IPv6Address((0x2002 << 112) | (value << 80) | 1)),
    ]


@pytest.mark.parametrize("block", SPECIAL_PURPOSE_BLOCKS)
async def test_every_special_purpose_block_is_refused_before_connecting(block: str) -> None:
    addresses = samples(block)
    if isinstance(ipaddress.ip_network(block), ipaddress.IPv4Network):
        addresses += [w for a in list(addresses) for w in wrapped_forms(ipaddress.IPv4Address(a))]
    names = {f"host{index}.test": [address] for index, address in enumerate(addresses)}
    net = LoopbackNet(names)
    async with net.client() as client:
        for name, (address,) in names.items():
            with pytest.raises(
                BlockedURLError, match=rf"it resolves to .*\({re.escape(address)}\)$"
            ):
                await net.fetch(f"http://{name}/", client=client, allow_private=False)
            literal = f"[{address}]" if ":" in address else address
            with pytest.raises(BlockedURLError, match="it resolves to "):
                await check_url(f"https://{literal}/", net.policy())
    # The guard refused every one of them: the net never saw a connection attempt.
    assert net.refused == []
    assert net.backend.connected == []
    assert net.lookups == list(names)


@FUZZ
@given(st.sampled_from(SPECIAL_PURPOSE_BLOCKS), st.integers(min_value=0, max_value=2**128 - 1))
def test_every_address_of_a_special_purpose_block_is_refused(block: str, offset: int) -> None:
    network = ipaddress.ip_network(block)
    address = network[offset % network.num_addresses]
    assert forbidden_reason(address) is not None, address


async def test_public_addresses_and_their_wrapped_forms_pass() -> None:
    v4 = [a for a in PUBLIC if ":" not in a]
    public = PUBLIC + [w for a in v4 for w in wrapped_forms(ipaddress.IPv4Address(a))]
    names = {f"host{index}.test": [address] for index, address in enumerate(public)}
    net = LoopbackNet(names)
    for name, (address,) in names.items():
        assert await check_url(f"https://{name}/", net.policy()) == [ipaddress.ip_address(address)]
    # The local-use NAT64 prefix is refused even around a public address (RFC 8215).
    assert forbidden_reason(ipaddress.ip_address("64:ff9b:1::5db8:d822")) is not None


# --------------------------------------------------------------------------- the test network


async def test_the_test_network_reaches_nothing_but_loopback(server: LocalWebServer) -> None:
    # The guard is switched off (allow_private) and the names point off the machine: only the
    # net stands between this test and those addresses, and it must hold.
    outside = {
        "metadata.test": ["169.254.169.254"],
        "intranet.test": ["10.0.0.1"],
        "public.test": ["93.184.216.34"],
        "v6.test": ["2606:2800:220:1::1"],
        "mapped.test": ["::ffff:5db8:d822"],  # ::ffff:93.184.216.34
    }
    net = LoopbackNet(outside)
    server.page("/story", "<p>here</p>")
    async with net.client(allow_private=True) as client:
        for name in outside:
            with pytest.raises(ConnectionFailedError, match="only loopback addresses"):
                await net.fetch(f"http://{name}/x", client=client, allow_private=True)
        with pytest.raises(ConnectionFailedError, match="only loopback addresses"):
            await net.fetch("http://169.254.169.254/", client=client, allow_private=True)
        with pytest.raises(ConnectionFailedError, match="not a test name"):
            await net.fetch("http://example.org/", client=client, allow_private=True)
        reached = await net.fetch(server.url("/story"), client=client, allow_private=True)
    assert reached.text == "<p>here</p>"
    assert net.refused == [
        *((address, 80) for (address,) in outside.values()),
        ("169.254.169.254", 80),
    ]
    assert net.backend.connected == [("127.0.0.1", server.port)]
    # Each name was looked up by the check and again at connect time; none went to DNS.
    assert net.lookups == [*(name for name in outside for _ in range(2)), "example.org"]


# --------------------------------------------------------------------------- before connecting


async def test_a_name_resolving_inside_is_refused_before_any_connection(
    net: LoopbackNet, transport: RecordingTransport
) -> None:
    async with httpx.AsyncClient(transport=transport, follow_redirects=False) as client:
        for url in ("http://intranet.test/admin", "https://dual.test/", "http://127.1:9/"):
            with pytest.raises(BlockedURLError, match="refusing to fetch"):
                await net.fetch(url, client=client, allow_private=False)
    assert transport.sent == []
    assert net.lookups == ["intranet.test", "dual.test"]
    assert net.refused == []


async def test_redirects_to_internal_addresses_are_refused_at_the_hop(
    server: LocalWebServer,
) -> None:
    # "news.test" is a trusted public host that lives on 127.0.0.1 for the test; every place it
    # redirects to is internal and must be refused before the request is sent.
    server.page("/internal", "secret")
    port = server.port
    targets = [
        f"http://localhost:{port}/internal",
        f"http://127.1:{port}/internal",
        f"http://2130706433:{port}/internal",
        f"http://0177.0.0.1:{port}/internal",
        f"http://0x7f.1:{port}/internal",
        f"http://[::ffff:127.0.0.1]:{port}/internal",
        f"http://[::1]:{port}/internal",
        "http://intranet.test/internal",
    ]
    net = LoopbackNet({**HOOKED_NAMES, "news.test": ["127.0.0.1"]})
    transport = RecordingTransport(net)
    async with httpx.AsyncClient(transport=transport, follow_redirects=False) as client:
        for index, target in enumerate(targets):
            server.redirect(f"/go/{index}", target, status=301 + index % 2)
            # httpx itself rejects some spellings in a Location header (0177.0.0.1); either
            # way the hop is refused before anything is sent, with the reason.
            with pytest.raises(FetchError, match=r"refusing to fetch|Invalid URL in location"):
                await net.fetch(
                    f"http://news.test:{port}/go/{index}",
                    client=client,
                    allow_private=False,
                    trusted_hosts={"news.test"},
                )
    assert server.hits("/internal") == 0
    assert net.refused == []
    assert len(transport.sent) == len(targets)  # only the redirecting hops were sent
    assert all("/go/" in url for url in transport.sent)


async def test_the_running_bot_refuses_internal_urls_from_its_admins(
    tmp_path: Path, sandbox: BotApiServer, server: LocalWebServer
) -> None:
    server.page("/feed.xml", "<rss version='2.0'><channel><title>x</title></channel></rss>")
    net = LoopbackNet()
    app, _, _, _ = await start_bot(tmp_path, sandbox, http=net.client(), fetch_allow_private=False)
    try:
        admin = sandbox.create_user("Ada", user_id=900_001)
        chat = sandbox.private_chat(admin)
        for command, prefix in (
            ("/ingest http://169.254.169.254/latest/meta-data/", "Not stored: refusing to fetch"),
            (f"/ingest http://[::ffff:127.0.0.1]:{server.port}/x", "Not stored: refusing"),
            (f"/addfeed {server.url('/feed.xml', host='localhost')}", "Not added: refusing"),
        ):
            await sandbox.send_text(chat, admin, command)
            answer = await sandbox.wait_for_message(chat.id, timeout=10)
            assert answer.text.startswith(prefix), (command, answer.text)
        assert server.hits("/feed.xml") == 0
        assert net.refused == []
    finally:
        await stop_bot(app)


# --------------------------------------------------------------------------- size and time caps


@pytest.mark.parametrize("announced", [True, False])
async def test_a_body_over_the_cap_is_refused_announced_or_chunked(
    server: LocalWebServer, net: LoopbackNet, announced: bool
) -> None:
    page = nasty.ten_mb_page()
    server.page("/big", page, chunked=not announced)
    async with net.client(allow_private=True) as client:
        with pytest.raises(TooLargeError) as refused:
            await net.fetch(server.url("/big"), client=client, allow_private=True)
    assert "larger than 10 MB" in refused.value.message
    assert ("announced" in refused.value.message) == announced


async def test_a_gzip_bomb_is_cut_off_at_the_cap(server: LocalWebServer, net: LoopbackNet) -> None:
    server.page(
        "/bomb",
        nasty.gzip_bomb(),
        headers={"Content-Encoding": "gzip"},
        chunked=True,
    )
    async with net.client(allow_private=True) as client:
        with pytest.raises(TooLargeError, match="larger than 1 MB"):
            await net.fetch(
                server.url("/bomb"), client=client, allow_private=True, max_bytes=1024 * 1024
            )


async def _trickle(request: web.Request) -> web.StreamResponse:
    """A body that never ends: one byte every 50 ms."""
    response = web.StreamResponse(headers={"Content-Type": "text/html"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for _ in range(400):
        await response.write(b"x")
        await asyncio.sleep(0.05)
    return response


async def _stall(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(20)
    return web.Response(text="too late")


@pytest.fixture
async def slow_server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/trickle", _trickle)
    app.router.add_get("/stall", _stall)
    runner = web.AppRunner(
        app, handle_signals=False, handler_cancellation=True, shutdown_timeout=0.2
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert runner.addresses
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("path", ["/stall", "/trickle"])
async def test_the_time_cap_covers_headers_and_a_trickling_body(
    slow_server: str, net: LoopbackNet, path: str
) -> None:
    async with net.client(allow_private=True) as client:
        started = time.perf_counter()
        with pytest.raises(FetchTimeoutError) as late:
            await net.fetch(slow_server + path, client=client, allow_private=True, timeout=0.6)
        elapsed = time.perf_counter() - started
    # Not early (the error alone shows it was not late: both routes take 20 s to end).
    assert elapsed > 0.5
    assert late.value.message == f"timed out after 0.6 s: {slow_server}{path}"
