"""bot.ingest.fetch against a real HTTP server on 127.0.0.1: limits, redirects, SSRF guard.

Every fetch here goes through ``tests.loopnet``: names resolve from a test table (never DNS) and
connections can reach 127.0.0.1 only, so no test can send a packet off the machine, even with a
broken guard.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest

from bot.ingest.errors import (
    BlockedURLError,
    ConnectionFailedError,
    FetchTimeoutError,
    HTTPStatusError,
    TooLargeError,
    TooManyRedirectsError,
    UnsupportedContentTypeError,
)
from bot.ingest.guard import (
    FetchPolicy,
    check_url,
    forbidden_reason,
    parse_ip_literal,
)
from tests.loopnet import LoopbackNet
from tests.webserver import LocalWebServer

ARTICLE = (
    "<html><head><title>Eurasian integration</title></head><body><p>MINSK. October 30. KAZINFORM "
    "The development of Eurasian integration is one of the priorities of Russia and Belarus."
    "</p></body></html>"
)
CYRILLIC = (
    "Министр иностранных дел России Сергей Лавров заявил о приоритетах евразийской интеграции."
)


@pytest.fixture
async def server() -> AsyncIterator[LocalWebServer]:
    async with LocalWebServer() as running:
        yield running


@pytest.fixture
def net() -> LoopbackNet:
    return LoopbackNet()


@pytest.fixture
async def client(net: LoopbackNet) -> AsyncIterator[httpx.AsyncClient]:
    async with net.client() as made:
        yield made


class FixedResolver:
    """A resolver that gives each answer in turn (the last one from then on)."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        return list(self.answers[min(len(self.calls), len(self.answers)) - 1])


# --------------------------------------------------------------------------- plain fetching


async def test_fetches_a_page_with_its_headers(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    server.page("/story", ARTICLE, etag='"v1"', last_modified="Wed, 30 Oct 2024 10:00:00 GMT")
    result = await net.fetch(server.url("/story"), client=client, allow_private=True)
    assert result.status == 200
    assert result.content_type == "text/html"
    assert "Eurasian integration" in result.text
    assert result.raw == ARTICLE.encode()
    assert result.etag == '"v1"'
    assert result.last_modified == "Wed, 30 Oct 2024 10:00:00 GMT"
    assert result.not_modified is False
    assert "text/html" in server.requests[-1].headers["Accept"]


async def test_conditional_get_gives_not_modified(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    server.page("/feed", ARTICLE, etag='"v7"')
    first = await net.fetch(server.url("/feed"), client=client, allow_private=True)
    again = await net.fetch(server.url("/feed"), client=client, allow_private=True, etag=first.etag)
    assert server.requests[-1].headers["If-None-Match"] == '"v7"'
    assert again.status == 304
    assert again.not_modified is True
    assert again.text == ""


async def test_last_modified_conditional_get(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    stamp = "Wed, 30 Oct 2024 10:00:00 GMT"
    server.page("/feed", ARTICLE, last_modified=stamp)
    result = await net.fetch(
        server.url("/feed"), client=client, allow_private=True, last_modified=stamp
    )
    assert result.not_modified is True


async def test_gzip_body_is_decoded(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    server.page("/zipped", ARTICLE, gzip=True)
    result = await net.fetch(server.url("/zipped"), client=client, allow_private=True)
    assert result.text == ARTICLE


async def test_server_error_is_reported_with_status(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    server.fail("/broken", 503, headers={"Retry-After": "120"})
    with pytest.raises(HTTPStatusError) as caught:
        await net.fetch(server.url("/broken"), client=client, allow_private=True)
    assert caught.value.status == 503
    assert caught.value.retry_after == "120"
    assert "503" in caught.value.message


async def test_closed_port_is_a_connection_error(
    net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    async with LocalWebServer() as gone:
        url = gone.url("/x")
    with pytest.raises(ConnectionFailedError, match="could not fetch"):
        await net.fetch(url, client=client, allow_private=True)


# --------------------------------------------------------------------------- content


async def test_image_is_refused(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    server.page("/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(100), content_type="image/png")
    with pytest.raises(UnsupportedContentTypeError, match="unsupported content type image/png"):
        await net.fetch(server.url("/logo.png"), client=client, allow_private=True)


@pytest.mark.parametrize("accepted", ["application/rss+xml", "application/json", "text/plain"])
async def test_feed_and_text_types_are_accepted(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient, accepted: str
) -> None:
    server.page("/doc", "<rss/>", content_type=accepted)
    result = await net.fetch(server.url("/doc"), client=client, allow_private=True)
    assert result.content_type == accepted


async def test_cp1251_from_the_header(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    html = f"<html><body><p>{CYRILLIC}</p></body></html>"
    server.page("/ru", html, content_type="text/html; charset=windows-1251", encoding="cp1251")
    result = await net.fetch(server.url("/ru"), client=client, allow_private=True)
    assert result.charset == "cp1251"
    assert CYRILLIC in result.text


async def test_cp1251_from_the_meta_tag(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
        f"</head><body><p>{CYRILLIC}</p></body></html>"
    )
    server.page("/ru", html, content_type="text/html", encoding="cp1251")
    result = await net.fetch(server.url("/ru"), client=client, allow_private=True)
    assert CYRILLIC in result.text


async def test_undeclared_cp1251_is_detected(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    html = f"<html><body><p>{CYRILLIC * 4}</p></body></html>"
    server.page("/ru", html, content_type="text/html", encoding="cp1251")
    result = await net.fetch(server.url("/ru"), client=client, allow_private=True)
    assert CYRILLIC in result.text


# --------------------------------------------------------------------------- size and time


async def test_announced_length_over_the_cap_is_refused_before_reading(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    server.huge("/big", 11 * 1024 * 1024, announce_length=True)
    with pytest.raises(TooLargeError, match=r"page is larger than 10 MB \(11 MB announced\)"):
        await net.fetch(server.url("/big"), client=client, allow_private=True)


async def test_chunked_body_over_the_cap_is_cut_off(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    server.huge("/stream", 11 * 1024 * 1024, announce_length=False)
    with pytest.raises(TooLargeError, match="page is larger than 10 MB"):
        await net.fetch(server.url("/stream"), client=client, allow_private=True)


async def test_gzip_bomb_is_cut_off(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    server.huge("/bomb", 2 * 1024 * 1024, announce_length=True, gzip=True)
    with pytest.raises(TooLargeError, match="larger than 1 MB"):
        await net.fetch(
            server.url("/bomb"), client=client, allow_private=True, max_bytes=1024 * 1024
        )


async def test_body_under_the_cap_is_read_whole(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    server.huge("/fits", 900 * 1024, announce_length=False)
    result = await net.fetch(server.url("/fits"), client=client, allow_private=True)
    assert len(result.raw) == 900 * 1024


async def test_slow_server_times_out(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    # The page answers after 5 s: the error itself shows the fetch gave up before then.
    server.page("/slow", ARTICLE, delay=5.0)
    with pytest.raises(FetchTimeoutError, match=r"timed out after 0.3 s"):
        await net.fetch(server.url("/slow"), client=client, allow_private=True, timeout=0.3)


# --------------------------------------------------------------------------- redirects


async def test_five_redirects_are_followed(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    server.page("/final", ARTICLE)
    first = server.redirect_chain("/hop", 5, "/final")
    result = await net.fetch(server.url(first), client=client, allow_private=True)
    assert result.url == server.url("/final")
    assert len(result.redirects) == 5
    assert "Eurasian" in result.text


async def test_six_redirects_are_too_many(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    server.page("/final", ARTICLE)
    first = server.redirect_chain("/hop", 6, "/final")
    with pytest.raises(TooManyRedirectsError, match="too many redirects"):
        await net.fetch(server.url(first), client=client, allow_private=True)
    assert server.hits("/final") == 0


async def test_redirect_loop_is_refused(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    server.redirect("/a", "/b")
    server.redirect("/b", server.url("/a"))
    with pytest.raises(TooManyRedirectsError, match="redirect loop"):
        await net.fetch(server.url("/a"), client=client, allow_private=True)
    assert server.hits("/a") == 1


# --------------------------------------------------------------------------- SSRF guard


async def test_loopback_is_refused_unless_allowed(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    server.page("/story", ARTICLE)
    url = server.url("/story")
    with pytest.raises(BlockedURLError) as caught:
        await net.fetch(url, client=client, allow_private=False)
    assert caught.value.message.startswith(
        f"refusing to fetch {url}: it resolves to a loopback address"
    )
    assert server.hits("/story") == 0
    allowed = await net.fetch(url, client=client, allow_private=True)
    assert allowed.status == 200


async def test_a_name_resolving_to_loopback_is_refused(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    server.page("/story", ARTICLE)
    with pytest.raises(BlockedURLError, match="loopback"):
        await net.fetch(server.url("/story", host="localhost"), client=client, allow_private=False)
    assert server.hits("/story") == 0
    assert net.lookups == ["localhost"]
    assert net.backend.connected == []


async def test_redirect_to_loopback_is_refused_at_the_hop(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    # 127.0.0.1 stands in for a trusted public host; its redirect to "localhost" must be checked.
    server.page("/internal", "secret")
    server.redirect("/go", server.url("/internal", host="localhost"))
    with pytest.raises(BlockedURLError, match="loopback"):
        await net.fetch(
            server.url("/go"), client=client, allow_private=False, trusted_hosts={"127.0.0.1"}
        )
    assert server.hits("/go") == 1
    assert server.hits("/internal") == 0
    assert net.refused == []


async def test_dns_rebinding_is_caught_at_connect_time(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    # The check sees a public address; by the time of the connection the name points home.
    server.page("/story", ARTICLE)
    resolver = FixedResolver(["93.184.216.34"], ["127.0.0.1"])
    with pytest.raises(BlockedURLError, match="loopback"):
        await net.fetch(
            f"http://rebind.test:{server.port}/story",
            client=client,
            allow_private=False,
            resolver=resolver,
        )
    assert resolver.calls == ["rebind.test", "rebind.test"]
    assert server.hits("/story") == 0
    assert net.refused == []  # the guard refused at connect time, not the test network


async def test_connection_goes_to_the_vetted_address_with_the_host_name(
    server: LocalWebServer, net: LoopbackNet, client: httpx.AsyncClient
) -> None:
    # "news.test" exists only in our resolver: the request can only arrive through the pin.
    server.page("/story", ARTICLE)
    result = await net.fetch(
        f"http://news.test:{server.port}/story",
        client=client,
        allow_private=False,
        trusted_hosts={"news.test"},
        resolver=FixedResolver(["127.0.0.1"]),
    )
    assert result.status == 200
    assert server.requests[-1].headers["Host"] == f"news.test:{server.port}"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "a loopback address"),
        ("http://2130706433/", "a loopback address"),
        ("http://0177.0.0.1/", "a loopback address"),
        ("http://0x7f.1/", "a loopback address"),
        ("http://127.1/", "a loopback address"),
        ("http://[::1]/", "a loopback address"),
        ("http://[::ffff:127.0.0.1]/", "a loopback address wrapped in IPv6"),
        ("http://[::ffff:7f00:1]/", "a loopback address wrapped in IPv6"),
        ("http://[::127.0.0.1]/", "a loopback address wrapped in IPv6"),
        ("http://[2002:7f00:1::]/", "a loopback address wrapped in IPv6"),
        ("http://[64:ff9b::a00:1]/", "a private address wrapped in IPv6"),
        ("http://10.0.0.8/", "a private address"),
        ("http://192.168.1.1:8080/admin", "a private address"),
        ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("http://[fe80::1]/", "a link-local address"),
        ("http://224.0.0.1/", "a multicast address"),
        ("http://0.0.0.0/", "an unspecified address"),
        ("http://240.0.0.1/", "a reserved address"),
        ("http://100.64.0.1/", r"a shared address \(carrier-grade NAT\)"),
        ("http://192.0.0.9/", "an IETF protocol address"),
        ("http://[fec0::1]/", r"a site-local address \(deprecated\)"),
        ("http://[3fff::1]/", "a documentation address"),
        ("http://[::8.8.8.8]/", "a deprecated IPv4-compatible address"),
    ],
)
async def test_guard_refuses_internal_addresses_in_every_form(url: str, reason: str) -> None:
    with pytest.raises(BlockedURLError, match=f"it resolves to {reason} "):
        await check_url(url, LoopbackNet().policy())
    assert await check_url(url, LoopbackNet().policy(allow_private=True))


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/", "gopher://x/", "//x/"])
async def test_guard_refuses_other_schemes(url: str) -> None:
    with pytest.raises(BlockedURLError, match="only http and https"):
        await check_url(url, LoopbackNet().policy(allow_private=True))


async def test_guard_refuses_when_any_address_is_private() -> None:
    policy = FetchPolicy(resolver=FixedResolver(["93.184.216.34", "10.1.2.3"]))
    with pytest.raises(BlockedURLError, match="private address"):
        await check_url("https://mixed.test/", policy)


async def test_guard_passes_public_addresses() -> None:
    policy = FetchPolicy(resolver=FixedResolver(["93.184.216.34", "2606:2800:220:1::1"]))
    assert await check_url("https://public.test/story", policy) == [
        ipaddress.ip_address("93.184.216.34"),
        ipaddress.ip_address("2606:2800:220:1::1"),
    ]


def test_numeric_host_forms() -> None:
    loopback = ipaddress.IPv4Address("127.0.0.1")
    for form in ("2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "127.1", "127.0.1"):
        assert parse_ip_literal(form) == loopback, form
    assert parse_ip_literal("example.com") is None
    assert parse_ip_literal("1.2.3.4.5") is None
    assert parse_ip_literal("08.0.0.1") is None  # not octal: a name, left to DNS
    assert forbidden_reason(ipaddress.ip_address("93.184.216.34")) is None
