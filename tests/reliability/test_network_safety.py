"""Network safety: the SSRF guard refuses every internal address in every spelling, before any
connection is made, and at every redirect hop; fetches keep to their size and time caps.

Nothing here sends a packet anywhere but 127.0.0.1: names that point elsewhere (10.0.0.1) exist
only in a resolver hook, and the guard must refuse them before connecting, which the recording
transport proves.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from bot.ingest.errors import (
    BlockedURLError,
    FetchError,
    FetchTimeoutError,
    TooLargeError,
)
from bot.ingest.fetch import fetch
from bot.ingest.guard import (
    FetchPolicy,
    GuardedTransport,
    check_url,
    forbidden_reason,
    parse_ip_literal,
)
from bot.sandbox import BotApiServer
from tests.conftest import start_bot, stop_bot
from tests.reliability import nasty
from tests.reliability.nasty import FUZZ
from tests.webserver import LocalWebServer

#: Names that exist only here; 10.0.0.1 is never contacted (the guard refuses first).
HOOKED_NAMES = {"intranet.test": ["10.0.0.1"], "dual.test": ["93.184.216.34", "fc00::1"]}


class HookedResolver:
    """A resolver for test names; literals must never reach it (they need no lookup)."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        assert parse_ip_literal(host) is None, f"a literal was sent to the resolver: {host}"
        self.calls.append(host)
        if host not in self.names:
            raise OSError(f"unknown test name {host}")
        return self.names[host]


class RecordingTransport(GuardedTransport):
    """The real guarded transport, recording every request that reaches it."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(str(request.url))
        return await super().handle_async_request(request)


@pytest.fixture
async def transport() -> AsyncIterator[RecordingTransport]:
    recording = RecordingTransport()
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
    ("http://255.255.255.255/", "reserved"),
    ("http://100.64.0.1/", "non-public"),
    ("http://localhost/", "loopback"),
    ("http://LOCALHOST:8080/", "loopback"),
    ("http://intranet.test/", "private address (10.0.0.1)"),
    ("http://dual.test/", "private address (fc00::1)"),
]


@pytest.mark.parametrize(("url", "reason"), INTERNAL_URLS)
async def test_the_guard_refuses_internal_addresses_in_every_spelling(
    url: str, reason: str
) -> None:
    resolver = HookedResolver(HOOKED_NAMES)
    # localhost goes to the system resolver, as it would in production.
    policy = FetchPolicy(
        resolver=resolver
        if url.split("/")[2].split(":")[0] in HOOKED_NAMES
        else FetchPolicy().resolver
    )
    with pytest.raises(BlockedURLError) as refused:
        await check_url(url, policy)
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
    assert refused == (not address.is_global), address
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


# --------------------------------------------------------------------------- before connecting


async def test_a_name_resolving_inside_is_refused_before_any_connection(
    transport: RecordingTransport,
) -> None:
    resolver = HookedResolver(HOOKED_NAMES)
    async with httpx.AsyncClient(transport=transport, follow_redirects=False) as client:
        for url in ("http://intranet.test/admin", "https://dual.test/", "http://127.1:9/"):
            with pytest.raises(BlockedURLError, match="refusing to fetch"):
                await fetch(url, client=client, allow_private=False, resolver=resolver)
    assert transport.sent == []
    assert resolver.calls == ["intranet.test", "dual.test"]


async def test_redirects_to_internal_addresses_are_refused_at_the_hop(
    server: LocalWebServer, transport: RecordingTransport
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
    resolver = HookedResolver(
        {**HOOKED_NAMES, "news.test": ["127.0.0.1"], "localhost": ["127.0.0.1", "::1"]}
    )
    async with httpx.AsyncClient(transport=transport, follow_redirects=False) as client:
        for index, target in enumerate(targets):
            server.redirect(f"/go/{index}", target, status=301 + index % 2)
            # httpx itself rejects some spellings in a Location header (0177.0.0.1); either
            # way the hop is refused before anything is sent, with the reason.
            with pytest.raises(FetchError, match=r"refusing to fetch|Invalid URL in location"):
                await fetch(
                    f"http://news.test:{port}/go/{index}",
                    client=client,
                    allow_private=False,
                    trusted_hosts={"news.test"},
                    resolver=resolver,
                )
    assert server.hits("/internal") == 0
    assert len(transport.sent) == len(targets)  # only the redirecting hops were sent
    assert all("/go/" in url for url in transport.sent)


async def test_the_running_bot_refuses_internal_urls_from_its_admins(
    tmp_path: Path, sandbox: BotApiServer, server: LocalWebServer
) -> None:
    server.page("/feed.xml", "<rss version='2.0'><channel><title>x</title></channel></rss>")
    app, _, _, _ = await start_bot(tmp_path, sandbox, fetch_allow_private=False)
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
    finally:
        await stop_bot(app)


# --------------------------------------------------------------------------- size and time caps


@pytest.mark.parametrize("announced", [True, False])
async def test_a_body_over_the_cap_is_refused_announced_or_chunked(
    server: LocalWebServer, announced: bool
) -> None:
    page = nasty.ten_mb_page()
    server.page("/big", page, chunked=not announced)
    async with httpx.AsyncClient(transport=GuardedTransport(allow_private=True)) as client:
        started = time.perf_counter()
        with pytest.raises(TooLargeError) as refused:
            await fetch(server.url("/big"), client=client, allow_private=True)
        assert time.perf_counter() - started < 5
    assert "larger than 10 MB" in refused.value.message
    assert ("announced" in refused.value.message) == announced


async def test_a_gzip_bomb_is_cut_off_at_the_cap(server: LocalWebServer) -> None:
    server.page(
        "/bomb",
        nasty.gzip_bomb(),
        headers={"Content-Encoding": "gzip"},
        chunked=True,
    )
    async with httpx.AsyncClient(transport=GuardedTransport(allow_private=True)) as client:
        with pytest.raises(TooLargeError, match="larger than 1 MB"):
            await fetch(
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
    slow_server: str, path: str
) -> None:
    async with httpx.AsyncClient(transport=GuardedTransport(allow_private=True)) as client:
        started = time.perf_counter()
        with pytest.raises(FetchTimeoutError) as late:
            await fetch(slow_server + path, client=client, allow_private=True, timeout=0.6)
        elapsed = time.perf_counter() - started
    assert 0.5 < elapsed < 2.0
    assert late.value.message == f"timed out after 0.6 s: {slow_server}{path}"
