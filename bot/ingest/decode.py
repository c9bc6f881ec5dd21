"""Reading a response body within its size cap, and turning its bytes into text.

It exists apart from the fetch loop because both jobs are about one response's bytes, whatever
URL or redirect produced them, and both carry their own safety argument:

Capped, bounded decompression
    The body may not exceed the cap: a larger Content-Length is refused before reading, and a
    chunked or compressed body is cut off as soon as it passes the cap (the cap counts decoded
    bytes, so a gzip bomb is stopped too). Only gzip and deflate are requested
    (``ACCEPT_ENCODING``); they are decoded here from the raw stream in small steps, so memory
    stays bounded by the cap however well the body compresses (another encoding is refused).
    Every member of a multi-member gzip body is decoded, empty ones included, and a compressed
    stream that is corrupt or stops before its end is an ``UndecodableBodyError``: a cut transfer
    never passes for a shorter page.

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

from bot.ingest.errors import TooLargeError, UndecodableBodyError, UnsupportedContentTypeError

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


_GZIP_MAGIC = b"\x1f\x8b"


class _BoundedDecoder:
    """Decodes a gzip or deflate body step by step without ever producing more than asked.

    httpx decodes each network read in one call, so one 64 kB read of a gzip bomb becomes tens
    of megabytes before any cap can look at it. Here raw bytes are ``feed``-ed in, and ``read``
    hands them to zlib with ``max_length``: the decoded output never runs more than one byte
    past the cap, and what zlib has not taken yet waits in ``_input``.

    A gzip body may hold several members one after another (RFC 1952 §2.2), empty ones included;
    each is decoded in turn. Bytes after the last member that do not start another one (padding
    some servers add) are dropped, as browsers and httpx do. A stream that stops before its end
    (no end-of-stream block, no trailer, half a member) is an error at ``finish``: a cut transfer
    must not pass for a shorter page.
    """

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        # gzip framing (16+); a deflate body's framing is read off its first two bytes.
        self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding == "gzip" else None
        self._input = b""  # received and not yet taken by zlib
        self._ended = False  # the current member (or deflate stream) reached its end
        self._padding = False  # bytes that start no member followed the end: drop the rest
        self._more_out = False  # the last step filled its limit: zlib may hold more output
        self._received = 0

    def feed(self, data: bytes) -> None:
        self._received += len(data)
        if not self._padding:
            self._input += data

    def read(self, limit: int) -> bytes:
        """At most ``limit`` decoded bytes of what was fed; ``b""`` when more input is needed."""
        while True:
            if self._ended and not self._next_member():
                return b""
            if self._zlib is None:
                if len(self._input) < 2:
                    return b""
                self._zlib = _deflate_decompressor(self._input)
            if not self._input and not self._more_out:
                return b""
            data, self._input = self._input, b""
            out = self._zlib.decompress(data, limit)
            self._more_out = len(out) >= limit
            if self._zlib.eof:
                self._ended, self._more_out = True, False
                self._input = self._zlib.unused_data
            else:
                self._input = self._zlib.unconsumed_tail
            if out:
                return out
            if not self._ended:
                return b""  # every byte fed was taken: the rest of the stream is still to come
            # A member ended without output (an empty one): go on with what follows it.

    def _next_member(self) -> bool:
        """After the end of a member: whether another gzip member starts, and start it."""
        if self._encoding == "gzip" and self._input.startswith(_GZIP_MAGIC):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
            self._ended = False
            return True
        if self._encoding == "gzip" and _GZIP_MAGIC.startswith(self._input):
            return False  # nothing, or the first byte of a member: wait for more
        self._input, self._padding = b"", True
        return False

    def finish(self, url: str) -> None:
        """Raise UndecodableBodyError if the body stopped before its compressed stream ended."""
        if self._ended or not self._received:
            return  # whole (an empty body has nothing to decode and nothing to lose)
        raise UndecodableBodyError(
            f"the {self._encoding} body of {url} ends early: its compressed stream stops after "
            f"{_human_size(self._received)}, before its end (a cut or broken transfer)",
            url=url,
        )


def _deflate_decompressor(head: bytes) -> zlib._Decompress:
    """RFC 9110 "deflate" is zlib-wrapped (RFC 1950), but some servers send raw deflate (as
    httpx also tolerates): a valid zlib header (method 8, window, check bits, no preset
    dictionary) says which."""
    cmf, flg = head[0], head[1]
    wrapped = cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0 and not flg & 0x20
    return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)


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
            decoder.feed(raw)
            while piece := decoder.read(budget()):
                take(piece)
    except zlib.error as exc:
        raise UndecodableBodyError(
            f"the {encodings[0]} body of {url} could not be decoded: {exc}", url=url
        ) from None
    if decoder is not None:
        decoder.finish(url)
    return b"".join(chunks)
