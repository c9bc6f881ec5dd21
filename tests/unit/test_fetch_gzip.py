"""Compressed bodies in ``bot.ingest.fetch``: decoded in bounded steps, so a gzip bomb is refused
at the size cap without its decoded bytes ever being held in memory, and real gzip and deflate
pages (one member or several, empty ones included) still decode, and a stream that is cut short
or corrupt is an error, never a silently shorter page. Served by a real aiohttp server on
127.0.0.1, fetched through the loopback-only test network (``tests.loopnet``)."""

from __future__ import annotations

import gzip
import struct
import tracemalloc
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.ingest.errors import (
    ConnectionFailedError,
    TooLargeError,
    UndecodableBodyError,
    UnsupportedContentTypeError,
)
from bot.ingest.fetch import DEFAULT_MAX_BYTES, fetch
from tests.loopnet import LoopbackNet
from tests.webserver import LocalWebServer

# From the seed wire story (tests/fixtures/seed_kazinform.txt).
ARTICLE = (
    "<html><head><title>Eurasian integration named one of priorities of Russia, Belarus</title>"
    "</head><body><p>MINSK. October 30. KAZINFORM The development of Eurasian integration is "
    "one of the priorities of Russia and Belarus, Russian Foreign Minister Sergei Lavrov said."
    "</p></body></html>"
)
GIGABYTE = 1024 * 1024 * 1024


def zeros_gzip_bomb(decoded_size: int) -> bytes:
    """A valid gzip stream of ``decoded_size`` zero bytes, about 1,000 times smaller.

    After a full flush the compressor starts afresh, so every further 1 MB block of zeros
    compresses to the same bytes: the bomb is built from one repeated block in a fraction of a
    second instead of compressing a gigabyte. The trailer carries the real CRC and size.
    """
    block = b"\0" * (1024 * 1024)
    blocks = decoded_size // len(block)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    empty_final_block = b"\x03\x00"
    trailer = struct.pack("<II", crc, decoded_size & 0xFFFFFFFF)
    return first + repeated * (blocks - 1) + empty_final_block + trailer


@pytest.fixture
async def server() -> AsyncIterator[LocalWebServer]:
    async with LocalWebServer() as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with LoopbackNet().client(allow_private=True) as made:
        yield made


def test_the_bomb_is_a_real_gzip_stream() -> None:
    bomb = zeros_gzip_bomb(8 * 1024 * 1024)
    assert gzip.decompress(bomb) == b"\0" * (8 * 1024 * 1024)


async def test_gigabyte_gzip_bomb_is_refused_in_bounded_memory(
    server: LocalWebServer, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = zeros_gzip_bomb(GIGABYTE)
    compressed = len(bomb)
    assert compressed < 2 * 1024 * 1024
    server.page(
        "/bomb.xml",
        bomb,
        content_type="application/rss+xml",
        headers={"Content-Encoding": "gzip"},
        chunked=True,  # streamed in 64 kB chunks with no Content-Length to refuse up front
    )
    del bomb
    raw_reads: list[int] = []  # sizes of the compressed pieces the fetch took off the wire
    read_raw = httpx.Response.aiter_raw

    async def counted(self: httpx.Response, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        async for chunk in read_raw(self, chunk_size):
            raw_reads.append(len(chunk))
            yield chunk

    monkeypatch.setattr(httpx.Response, "aiter_raw", counted)

    tracemalloc.start()
    try:
        with pytest.raises(TooLargeError, match="page is larger than 10 MB") as caught:
            await fetch(server.url("/bomb.xml"), client=client, allow_private=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    print(f"1 GB gzip bomb: refused, peak {peak / 1e6:.1f} MB traced")
    assert caught.value.url == server.url("/bomb.xml")
    # Work done, not time taken: the 10 MB cap is ~10 kB of this stream, so the fetch stops
    # within its first network reads (64 kB at most each) instead of reading and decoding the
    # rest of the gigabyte (about 1 MB compressed).
    assert raw_reads and sum(raw_reads) < compressed // 4, f"{sum(raw_reads):,} bytes read"
    # The decoded bytes kept are at most the 10 MB cap (plus one byte); little else is live.
    assert peak < 20 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    assert peak > DEFAULT_MAX_BYTES // 2  # the cap's worth of text was really decoded


async def test_gzip_page_still_decodes_and_only_gzip_deflate_are_asked_for(
    server: LocalWebServer, client: httpx.AsyncClient
) -> None:
    server.page("/story", ARTICLE, gzip=True, chunked=True)
    result = await fetch(server.url("/story"), client=client, allow_private=True)
    assert result.text == ARTICLE
    assert server.requests[-1].headers["Accept-Encoding"] == "gzip, deflate"


async def test_multi_member_gzip_and_trailing_padding_decode(
    server: LocalWebServer, client: httpx.AsyncClient
) -> None:
    head, tail = ARTICLE[:100], ARTICLE[100:]
    body = gzip.compress(head.encode()) + gzip.compress(tail.encode()) + b"\0" * 8
    server.page("/members", body, headers={"Content-Encoding": "gzip"})
    result = await fetch(server.url("/members"), client=client, allow_private=True)
    assert result.text == ARTICLE


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
async def test_deflate_page_decodes_wrapped_or_raw(
    server: LocalWebServer, client: httpx.AsyncClient, wbits: int
) -> None:
    compressor = zlib.compressobj(6, zlib.DEFLATED, wbits)
    body = compressor.compress(ARTICLE.encode()) + compressor.flush()
    server.page("/deflated", body, headers={"Content-Encoding": "deflate"})
    result = await fetch(server.url("/deflated"), client=client, allow_private=True)
    assert result.text == ARTICLE


async def test_deflate_bomb_is_refused_too(
    server: LocalWebServer, client: httpx.AsyncClient
) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS)
    block = b"\0" * (1024 * 1024)
    body = b"".join(compressor.compress(block) for _ in range(32)) + compressor.flush()
    server.page("/deflate-bomb", body, headers={"Content-Encoding": "deflate"}, chunked=True)
    with pytest.raises(TooLargeError, match="larger than 1 MB"):
        await fetch(
            server.url("/deflate-bomb"), client=client, allow_private=True, max_bytes=1024 * 1024
        )


async def test_brotli_and_unknown_encodings_are_refused_clearly(
    server: LocalWebServer, client: httpx.AsyncClient
) -> None:
    server.page("/br", b"\x8b\x02\x80hello\x03", headers={"Content-Encoding": "br"})
    with pytest.raises(UnsupportedContentTypeError, match="unsupported content encoding br"):
        await fetch(server.url("/br"), client=client, allow_private=True)
    server.page("/twice", gzip.compress(gzip.compress(ARTICLE.encode())))
    server.routes["/twice"].headers["Content-Encoding"] = "gzip, gzip"
    with pytest.raises(UnsupportedContentTypeError, match="more than one encoding"):
        await fetch(server.url("/twice"), client=client, allow_private=True)


async def test_corrupt_gzip_is_reported_as_undecodable(
    server: LocalWebServer, client: httpx.AsyncClient
) -> None:
    server.page(
        "/corrupt", b"\x1f\x8b\x08\x00garbage-not-deflate", headers={"Content-Encoding": "gzip"}
    )
    with pytest.raises(UndecodableBodyError, match=r"gzip body of .* could not be decoded"):
        await fetch(server.url("/corrupt"), client=client, allow_private=True)


# --------------------------------------------------------------------------- members and ends

#: The article in pieces, with empty members where servers and concatenating tools leave them.
PARTS = [
    pytest.param([ARTICLE[:100], "", ARTICLE[100:]], id="empty-middle"),
    pytest.param(["", ARTICLE], id="empty-first"),
    pytest.param([ARTICLE, ""], id="empty-last"),
    pytest.param([ARTICLE[:50], "", "", ARTICLE[50:150], "", ARTICLE[150:]], id="empty-runs"),
]
#: Chunk sizes the server streams in: one chunk, and chunks that split magic numbers, headers,
#: zlib's two header bytes and trailers at every place.
CHUNKS = [
    pytest.param(64 * 1024, id="whole"),
    pytest.param(1, id="1-byte-chunks"),
    pytest.param(7, id="7-byte-chunks"),
]


@pytest.mark.parametrize("chunk_size", CHUNKS)
@pytest.mark.parametrize("parts", PARTS)
async def test_every_gzip_member_is_decoded_empty_ones_included(
    server: LocalWebServer, client: httpx.AsyncClient, parts: list[str], chunk_size: int
) -> None:
    body = b"".join(gzip.compress(part.encode()) for part in parts)
    assert gzip.decompress(body) == ARTICLE.encode()  # what the standard library makes of it
    route = server.page("/members", body, headers={"Content-Encoding": "gzip"}, chunked=True)
    route.chunk_size = chunk_size
    result = await fetch(server.url("/members"), client=client, allow_private=True)
    assert result.text == ARTICLE


def _gzip_cut(data: bytes, cut: int) -> bytes:
    return gzip.compress(data)[:cut]


def _deflate(data: bytes, wbits: int) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return compressor.compress(data) + compressor.flush()


_WHOLE = gzip.compress(ARTICLE.encode())
_BAD_CRC = _WHOLE[:-8] + bytes([_WHOLE[-8] ^ 0xFF]) + _WHOLE[-7:]


@pytest.mark.parametrize("chunk_size", CHUNKS)
@pytest.mark.parametrize(
    ("encoding", "body", "problem"),
    [
        pytest.param("gzip", _WHOLE[:-4], "ends early", id="gzip-without-size"),
        pytest.param("gzip", _WHOLE[:-8], "ends early", id="gzip-without-trailer"),
        pytest.param("gzip", _WHOLE[: len(_WHOLE) // 2], "ends early", id="gzip-half"),
        pytest.param("gzip", _WHOLE[:5], "ends early", id="gzip-header-only"),
        pytest.param(
            "gzip",
            gzip.compress(b"first member") + _gzip_cut(b"second member", 15),
            "ends early",
            id="gzip-second-member-cut",
        ),
        pytest.param(
            "gzip",
            gzip.compress(b"") + gzip.compress(b"") + _gzip_cut(ARTICLE.encode(), 30),
            "ends early",
            id="gzip-cut-after-empty-members",
        ),
        pytest.param("gzip", _BAD_CRC, "could not be decoded", id="gzip-bad-crc"),
        pytest.param(
            "deflate",
            _deflate(ARTICLE.encode(), zlib.MAX_WBITS)[:-4],
            "ends early",
            id="deflate-without-checksum",
        ),
        pytest.param(
            "deflate",
            _deflate(ARTICLE.encode(), -zlib.MAX_WBITS)[:40],
            "ends early",
            id="raw-deflate-cut",
        ),
    ],
)
async def test_a_cut_or_corrupt_stream_is_an_error_not_a_shorter_page(
    server: LocalWebServer,
    client: httpx.AsyncClient,
    encoding: str,
    body: bytes,
    problem: str,
    chunk_size: int,
) -> None:
    route = server.page("/cut", body, headers={"Content-Encoding": encoding}, chunked=True)
    route.chunk_size = chunk_size
    with pytest.raises(UndecodableBodyError, match=f"{encoding} body of .* {problem}") as caught:
        await fetch(server.url("/cut"), client=client, allow_private=True)
    assert caught.value.url == server.url("/cut")
    assert isinstance(caught.value, ConnectionFailedError)  # what callers already handle


@pytest.mark.parametrize("chunk_size", CHUNKS)
@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
async def test_deflate_decodes_however_it_is_chunked(
    server: LocalWebServer, client: httpx.AsyncClient, wbits: int, chunk_size: int
) -> None:
    route = server.page(
        "/deflated", _deflate(ARTICLE.encode(), wbits), headers={"Content-Encoding": "deflate"}
    )
    route.chunked, route.chunk_size = True, chunk_size
    result = await fetch(server.url("/deflated"), client=client, allow_private=True)
    assert result.text == ARTICLE
