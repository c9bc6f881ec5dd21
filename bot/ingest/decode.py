"""Reading a response body within its size cap, and turning its bytes into text.

It exists apart from the fetch loop because both jobs are about one response's bytes, whatever
URL or redirect produced them, and both carry their own safety argument:

Capped, bounded decompression
    The body may not exceed the cap: a larger Content-Length is refused before reading, and a
    chunked or compressed body is cut off as soon as it passes the cap (the cap counts decoded
    bytes, so a gzip bomb is stopped too). Only gzip and deflate are requested
    (``ACCEPT_ENCODING``); they are decoded here from the raw stream in small steps, so memory
    stays bounded by the cap however well the body compresses (another encoding is refused).

Charset detection
    ``detect_charset`` picks the body's encoding as browsers do: byte-order mark, then the
    Content-Type header, then ``<meta charset>`` or ``<?xml encoding?>``, then a guess.
"""

from __future__ import annotations

import codecs
import re
import zlib

import charset_normalizer
import httpx

from bot.ingest.errors import ConnectionFailedError, TooLargeError, UnsupportedContentTypeError

# --------------------------------------------------------------------------- charset


def parse_content_type(header: str | None) -> tuple[str | None, str | None]:
    """(MIME type, charset) of a Content-Type header."""
    if not header:
        return None, None
    mime = header.split(";", 1)[0].strip().lower() or None
    match = re.search(r";\s*charset\s*=\s*[\"']?([^\"';\s]+)", header, re.IGNORECASE)
    return mime, match.group(1) if match else None


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip()).name
    except LookupError:
        return None
    # As browsers do (WHATWG Encoding): Latin-1 and ASCII labels mean windows-1252.
    return "cp1252" if name in ("latin-1", "iso8859-1", "ascii") else name


_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:\-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9._\-]+)""")


def detect_charset(raw: bytes, *, header_charset: str | None, mime: str | None) -> str:
    """The encoding of a body: BOM, then the header, then <meta>/<?xml?>, then a guess."""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return name
    declared = _codec(header_charset)
    if declared:
        return declared
    head = raw[:4096]
    match = _XML_ENCODING.match(head) or _META_CHARSET.search(head)
    declared = _codec(match.group(1).decode("ascii")) if match else None
    if declared:
        return declared
    if mime and mime.endswith("json"):
        return "utf-8"  # RFC 8259: JSON is UTF-8
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        best = charset_normalizer.from_bytes(raw[:65536]).best()
        return _codec(best.encoding if best else None) or "cp1252"
    return "utf-8"


# --------------------------------------------------------------------------- capped reading


def _human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    if size >= 1024:
        return f"{size / 1024:.3g} kB"
    return f"{size} bytes"


#: What ``fetch`` asks for and decodes itself. Only these: each is decompressed in bounded
#: steps (see ``_BoundedDecoder``); brotli or zstd would need their own streaming guards.
ACCEPT_ENCODING = "gzip, deflate"
#: Decoded bytes produced by one zlib call at most.
DECODE_STEP = 256 * 1024


class _BoundedDecoder:
    """Decodes a gzip or deflate body step by step without ever producing more than asked.

    httpx decodes each network read in one call, so one 64 kB read of a gzip bomb becomes tens
    of megabytes before any cap can look at it. Here each raw chunk is fed to zlib with
    ``max_length``, and the rest of the chunk waits in ``unconsumed_tail``: the decoded output
    never runs more than one byte past the cap. Concatenated gzip members are decoded in turn.
    """

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._zlib = self._new()
        self._sniffed = encoding != "deflate"

    def _new(self, *, raw_deflate: bool = False) -> zlib._Decompress:
        if self._encoding == "deflate":
            # RFC 9110 "deflate" is zlib-wrapped, but some servers send raw deflate (as httpx
            # also tolerates): try the wrapper first, fall back on the first chunk's error.
            return zlib.decompressobj(-zlib.MAX_WBITS if raw_deflate else zlib.MAX_WBITS)
        return zlib.decompressobj(16 + zlib.MAX_WBITS)  # 16+: gzip framing

    def decode(self, data: bytes, limit: int) -> bytes:
        """Decode ``data`` into at most ``limit`` bytes; the rest stays pending for ``more``."""
        if not self._sniffed:
            self._sniffed = True
            try:
                return self._zlib.decompress(data, limit)
            except zlib.error:
                self._zlib = self._new(raw_deflate=True)
        return self._zlib.decompress(data, limit)

    def more(self, limit: int) -> bytes:
        """Continue with input left over from the last call (at most ``limit`` bytes out)."""
        if self._zlib.unconsumed_tail:
            return self._zlib.decompress(self._zlib.unconsumed_tail, limit)
        if self._next_member():
            rest = self._zlib.unused_data
            self._zlib = self._new()
            return self._zlib.decompress(rest, limit)
        return b""

    def _next_member(self) -> bool:
        # Another gzip member follows (gzip allows several); other trailing bytes (padding
        # some servers add) are ignored, as browsers and httpx do.
        return (
            self._encoding == "gzip"
            and self._zlib.eof
            and self._zlib.unused_data.startswith(b"\x1f\x8b")
        )

    @property
    def pending(self) -> bool:
        """Whether input is still waiting to be decoded."""
        return bool(self._zlib.unconsumed_tail) or self._next_member()

    def finish(self, limit: int) -> bytes:
        return self._zlib.flush(limit) if not self._zlib.eof else b""


def _content_encodings(response: httpx.Response, url: str) -> list[str]:
    """The body's encodings in the order they were applied; refuse any we do not decode."""
    header = response.headers.get("content-encoding", "")
    encodings: list[str] = []
    for raw_name in header.split(","):
        name = raw_name.strip().lower()
        if name in ("", "identity"):
            continue
        if name == "x-gzip":
            name = "gzip"
        if name not in ("gzip", "deflate"):
            raise UnsupportedContentTypeError(
                f"unsupported content encoding {name} (only gzip and deflate are accepted): {url}",
                url=url,
            )
        encodings.append(name)
    if len(encodings) > 1:
        raise UnsupportedContentTypeError(
            f"unsupported content encoding {header.strip()} (more than one encoding): {url}",
            url=url,
        )
    return encodings


async def read_capped(response: httpx.Response, max_bytes: int, url: str) -> bytes:
    """The decoded body of ``response``; TooLargeError as soon as it passes ``max_bytes``."""
    length = response.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise TooLargeError(
            f"page is larger than {_human_size(max_bytes)} "
            f"({_human_size(int(length))} announced): {url}",
            url=url,
        )
    encodings = _content_encodings(response, url)
    decoder = _BoundedDecoder(encodings[0]) if encodings else None
    chunks: list[bytes] = []
    total = 0

    def budget() -> int:
        # One byte over the cap is enough to know it is passed; small steps keep zlib's own
        # output buffer (which briefly doubles when it is joined) small as well.
        return min(max_bytes - total + 1, DECODE_STEP)

    def take(piece: bytes) -> None:
        nonlocal total
        total += len(piece)
        if total > max_bytes:
            raise TooLargeError(f"page is larger than {_human_size(max_bytes)}: {url}", url=url)
        if piece:
            chunks.append(piece)

    try:
        # Raw bytes, decoded here in bounded steps (never ``aiter_bytes``: see _BoundedDecoder).
        async for raw in response.aiter_raw():
            if decoder is None:
                take(raw)
                continue
            take(decoder.decode(raw, budget()))
            while decoder.pending:
                piece = decoder.more(budget())
                if not piece and decoder.pending:
                    break  # a gzip member ended mid-stream: wait for more input
                take(piece)
        if decoder is not None:
            take(decoder.finish(budget()))
    except zlib.error as exc:
        raise ConnectionFailedError(
            f"the {encodings[0]} body of {url} could not be decoded: {exc}", url=url
        ) from None
    return b"".join(chunks)
