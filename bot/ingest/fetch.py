"""Fetching pages and feeds over HTTP: one URL in, its decoded text out, within time limits.

``fetch`` streams one URL with httpx and returns a ``FetchResult`` with the decoded text, or raises
a ``FetchError`` (``bot.ingest.errors``) whose message says what went wrong in plain words.

This module is the loop that ties the steps together: it checks each URL against the SSRF guard
(``bot.ingest.guard``, which also provides ``make_client``, the client to pass), sends the request,
follows redirects by hand, refuses error statuses and unwanted content types, and hands the body
to ``bot.ingest.decode`` to be read within its cap and decoded to text.

Limits
    The whole fetch (every redirect hop and the body) must finish within ``timeout`` seconds.
    The body may not exceed ``max_bytes`` (10 MB), counted in decoded bytes (see
    ``bot.ingest.decode``). At most 5 redirects are followed, by hand, so that each hop is
    checked again; a loop is reported as such.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import httpx

from bot.ingest.decode import ACCEPT_ENCODING, detect_charset, parse_content_type, read_capped
from bot.ingest.errors import (
    BlockedURLError,
    ConnectionFailedError,
    FetchTimeoutError,
    HTTPStatusError,
    TooManyRedirectsError,
    UnsupportedContentTypeError,
)
from bot.ingest.guard import (
    DEFAULT_TIMEOUT,
    FetchPolicy,
    Resolver,
    check_url,
    policy_in_force,
    system_resolver,
)

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5

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


# --------------------------------------------------------------------------- fetch


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
    with policy_in_force(policy):
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
    mime, header_charset = parse_content_type(response.headers.get("content-type"))

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
    raw = await read_capped(response, max_bytes, url)
    charset = detect_charset(raw, header_charset=header_charset, mime=mime)
    if mime is None and b"\x00" in raw[:1024] and charset != "utf-16":
        raise UnsupportedContentTypeError(
            f"unsupported content type: {url} sent binary data without a content type", url=url
        )
    text = raw.decode(charset, errors="replace")
    return result(text, raw, charset)
