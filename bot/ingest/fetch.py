"""Fetching pages and feeds over HTTP, safely: size and time limits, redirects, SSRF guard.

``fetch`` streams one URL with httpx and returns a ``FetchResult`` with the decoded text, or raises
a ``FetchError`` whose message says what went wrong in plain words.

Limits
    The whole fetch (every redirect hop and the body) must finish within ``timeout`` seconds.
    The body may not exceed ``max_bytes`` (10 MB): a larger Content-Length is refused before
    reading, and a chunked or compressed body is cut off as soon as it passes the cap (the cap
    counts decoded bytes, so a gzip bomb is stopped too). Only gzip and deflate are requested;
    they are decoded here from the raw stream in small steps, so memory stays bounded by the
    cap however well the body compresses (another encoding is refused). At most 5 redirects
    are followed, by hand, so that each hop is checked again; a loop is reported as such.

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
    ``fetch`` works with any ``httpx.AsyncClient`` (it checks every hop before sending), but only a
    ``make_client`` client is also safe against rebinding.
"""

from __future__ import annotations

import asyncio
import codecs
import contextvars
import ipaddress
import re
import socket
import zlib
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import charset_normalizer
import httpcore
import httpx

from bot.ingest.model import IngestError

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_TIMEOUT = 15.0
MAX_REDIRECTS = 5
USER_AGENT = "Attache/0.1 (+news reader bot)"

# What an article URL may return. Entries: a MIME type, "type/*", or "+suffix" (e.g. "+xml").
ARTICLE_CONTENT_TYPES: tuple[str, ...] = (
    "text/html",
    "application/xhtml+xml",
    "text/plain",
    "text/xml",
    "application/xml",
    "application/json",
    "+xml",
    "+json",
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses it resolves to, as strings.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


# --------------------------------------------------------------------------- errors


class FetchError(IngestError):
    """A URL could not be fetched."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class BlockedURLError(FetchError):
    """The URL is not allowed: wrong scheme, or its host is a private/loopback/... address."""


class TooLargeError(FetchError):
    """The response body is larger than the cap."""


class TooManyRedirectsError(FetchError):
    """More redirects than allowed, or a redirect loop."""


class FetchTimeoutError(FetchError):
    """The fetch took longer than its time limit."""


class UnsupportedContentTypeError(FetchError):
    """The server sent something that is not a page or feed (an image, a PDF...)."""


class HTTPStatusError(FetchError):
    """The server answered with an error status (4xx/5xx)."""

    def __init__(
        self, message: str, *, url: str, status: int, retry_after: str | None = None
    ) -> None:
        super().__init__(message, url=url)
        self.status = status
        self.retry_after = retry_after


class ConnectionFailedError(FetchError):
    """The host could not be resolved or reached, or the connection broke."""


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A fetched response. ``not_modified`` is True for a 304 (then text and raw are empty)."""

    url: str  # the final URL, after redirects
    status: int
    content_type: str | None  # MIME type only, lower-case ("text/html")
    text: str
    raw: bytes
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    redirects: tuple[str, ...] = ()  # the URLs that redirected, in order
    headers: httpx.Headers = field(default_factory=httpx.Headers)


# --------------------------------------------------------------------------- SSRF guard


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


# --------------------------------------------------------------------------- fetch


def _human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    if size >= 1024:
        return f"{size / 1024:.3g} kB"
    return f"{size} bytes"


def _content_type(header: str | None) -> tuple[str | None, str | None]:
    """(MIME type, charset) of a Content-Type header."""
    if not header:
        return None, None
    mime = header.split(";", 1)[0].strip().lower() or None
    match = re.search(r";\s*charset\s*=\s*[\"']?([^\"';\s]+)", header, re.IGNORECASE)
    return mime, match.group(1) if match else None


def _accepted(mime: str, accept: Sequence[str]) -> bool:
    for entry in accept:
        entry = entry.lower()
        if entry.startswith("+") and mime.endswith(entry):
            return True
        if entry.endswith("/*") and mime.startswith(entry[:-1]):
            return True
        if mime == entry:
            return True
    return False


def _accept_header(accept: Sequence[str]) -> str:
    types = [entry for entry in accept if not entry.startswith("+")]
    return ", ".join([*types, "*/*;q=0.1"])


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


async def _read_capped(response: httpx.Response, max_bytes: int, url: str) -> bytes:
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


async def fetch(
    url: str,
    *,
    client: httpx.AsyncClient,
    allow_private: bool,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - one budget for all hops and the body
    accept: Sequence[str] = ARTICLE_CONTENT_TYPES,
    etag: str | None = None,
    last_modified: str | None = None,
    trusted_hosts: Collection[str] = (),
    resolver: Resolver | None = None,
    max_redirects: int = MAX_REDIRECTS,
) -> FetchResult:
    """Fetch ``url`` (following up to ``max_redirects`` redirects, each checked) and decode it.

    ``etag``/``last_modified`` make the request conditional; a 304 gives a result with
    ``not_modified=True``. ``trusted_hosts`` are host names exempt from the private-address
    refusal; ``resolver`` replaces the system resolver (for tests). Raises a ``FetchError``.
    """
    policy = FetchPolicy(
        allow_private=allow_private,
        trusted_hosts=frozenset(host.lower().rstrip(".") for host in trusted_hosts),
        resolver=resolver or system_resolver,
    )
    token = _ACTIVE_POLICY.set(policy)
    try:
        async with asyncio.timeout(timeout):
            return await _fetch(
                url,
                client=client,
                policy=policy,
                max_bytes=max_bytes,
                accept=accept,
                etag=etag,
                last_modified=last_modified,
                max_redirects=max_redirects,
            )
    except (TimeoutError, httpx.TimeoutException):
        raise FetchTimeoutError(f"timed out after {timeout:g} s: {url}", url=url) from None
    finally:
        _ACTIVE_POLICY.reset(token)


async def _fetch(
    url: str,
    *,
    client: httpx.AsyncClient,
    policy: FetchPolicy,
    max_bytes: int,
    accept: Sequence[str],
    etag: str | None,
    last_modified: str | None,
    max_redirects: int,
) -> FetchResult:
    headers = {"Accept": _accept_header(accept), "Accept-Encoding": ACCEPT_ENCODING}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current = url
    visited: list[str] = []
    for _hop in range(max_redirects + 1):
        await check_url(current, policy)
        try:
            request = client.build_request("GET", current, headers=headers)
            response = await client.send(request, stream=True, follow_redirects=False)
        except httpx.InvalidURL as exc:
            raise BlockedURLError(f"not a usable URL: {current} ({exc})", url=current) from None
        except httpx.TimeoutException:
            raise
        except httpx.HTTPError as exc:
            raise ConnectionFailedError(
                f"could not fetch {current}: {exc or type(exc).__name__}", url=current
            ) from None
        try:
            location = response.headers.get("location")
            if response.is_redirect and location:
                visited.append(current)
                current = str(response.url.join(location))
                if current in visited:
                    raise TooManyRedirectsError(
                        f"redirect loop: {current} redirects back to itself (from {url})", url=url
                    )
                continue
            return await _finish(response, current, visited, max_bytes=max_bytes, accept=accept)
        except httpx.TimeoutException:
            raise
        except httpx.HTTPError as exc:
            raise ConnectionFailedError(
                f"the connection broke while reading {current}: {exc or type(exc).__name__}",
                url=current,
            ) from None
        finally:
            await response.aclose()
    raise TooManyRedirectsError(
        f"too many redirects: {url} redirected more than {max_redirects} times", url=url
    )


async def _finish(
    response: httpx.Response,
    url: str,
    visited: list[str],
    *,
    max_bytes: int,
    accept: Sequence[str],
) -> FetchResult:
    mime, header_charset = _content_type(response.headers.get("content-type"))

    def result(text: str, raw: bytes, charset: str | None) -> FetchResult:
        return FetchResult(
            url=url,
            status=response.status_code,
            content_type=mime,
            text=text,
            raw=raw,
            charset=charset,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            not_modified=response.status_code == 304,
            redirects=tuple(visited),
            headers=response.headers,
        )

    if response.status_code == 304:
        return result("", b"", None)
    if response.status_code >= 400 or response.status_code < 200:
        reason = response.reason_phrase or "error"
        raise HTTPStatusError(
            f"the server answered {response.status_code} {reason} for {url}",
            url=url,
            status=response.status_code,
            retry_after=response.headers.get("retry-after"),
        )
    if mime is not None and not _accepted(mime, accept):
        raise UnsupportedContentTypeError(f"unsupported content type {mime}: {url}", url=url)
    raw = await _read_capped(response, max_bytes, url)
    charset = detect_charset(raw, header_charset=header_charset, mime=mime)
    if mime is None and b"\x00" in raw[:1024] and charset != "utf-16":
        raise UnsupportedContentTypeError(
            f"unsupported content type: {url} sent binary data without a content type", url=url
        )
    text = raw.decode(charset, errors="replace")
    return result(text, raw, charset)
