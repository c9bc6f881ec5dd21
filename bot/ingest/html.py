"""HTML page -> ParsedArticle, with trafilatura for the main text.

The page is parsed once (lxml, through ``trafilatura.load_html``); the head gives the canonical
URL (``<link rel=canonical>``, then ``og:url``), the site name (``og:site_name``), the publication
time (``article:published_time`` and kin) and the language (``<html lang>``); trafilatura then picks
the article text out of the navigation, share buttons, related links and footer. The text goes
through ``bot.ingest.text.parse_text``, so a wire dateline opening it ("MINSK. October 30.
KAZINFORM ...") is read and cut the same way as in plain text.

Bounds: a page over ``MAX_HTML_BYTES`` is refused; scripts, styles, SVG and comments are removed
before parsing, and the remaining markup may not exceed ``MAX_MARKUP_BYTES`` (trafilatura needs
about a second per megabyte of dense markup). libxml2 stops nesting at depth 256, so deeply nested
pages cannot exhaust the stack. Parsing is CPU-bound: async callers should run ``parse_html`` in a
worker thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import trafilatura

from bot.ingest.model import IngestError, ParsedArticle
from bot.ingest.text import parse_text

MAX_HTML_BYTES = 10 * 1024 * 1024
MAX_MARKUP_BYTES = 2 * 1024 * 1024

_NOISE = r"<script\b.*?</script\s*>|<style\b.*?</style\s*>|<svg\b.*?</svg\s*>|<!--.*?-->"
_NOISE_TEXT = re.compile(_NOISE, re.IGNORECASE | re.DOTALL)
_NOISE_BYTES = re.compile(_NOISE.encode(), re.IGNORECASE | re.DOTALL)
_PUBLISHED_META = (
    "article:published_time",
    "og:article:published_time",
    "datePublished",
    "pubdate",
    "publishdate",
    "date",
    "dc.date",
    "DC.date.issued",
)


def _first(tree: Any, xpath: str) -> str | None:
    for value in tree.xpath(xpath):
        text = str(value).strip()
        if text:
            return text
    return None


def _meta(tree: Any, name: str) -> str | None:
    # <meta property="og:x"> and <meta name="x"> are both common; compare names case-blind.
    lowered = name.lower()
    return _first(
        tree,
        "//meta[translate(@property, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
        f"='{lowered}' or translate(@name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', "
        f"'abcdefghijklmnopqrstuvwxyz')='{lowered}' or @itemprop='{name}']/@content",
    )


def _parse_datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _published(tree: Any, extracted_date: str | None) -> datetime | None:
    for name in _PUBLISHED_META:
        found = _parse_datetime(_meta(tree, name))
        if found:
            return found
    found = _parse_datetime(_first(tree, "//article//time/@datetime | //time/@datetime"))
    return found or _parse_datetime(extracted_date)


def _lang(tree: Any) -> str | None:
    lang = _first(tree, "/html/@lang") or _meta(tree, "og:locale")
    if not lang:
        return None
    code = re.split(r"[-_]", lang.strip().lower(), maxsplit=1)[0]
    return code if code.isalpha() and 2 <= len(code) <= 3 else None


def parse_html(html: str | bytes, *, url: str | None, now: datetime) -> ParsedArticle:
    """Parse an article page. ``url`` is where it was fetched from (used when the page names no
    canonical URL). Raises ``IngestError`` for an oversized page or one without article text."""
    size = len(html.encode("utf-8")) if isinstance(html, str) else len(html)
    if size > MAX_HTML_BYTES:
        raise IngestError(
            f"the page is too large to read: {size / 1048576:.1f} MB "
            f"(at most {MAX_HTML_BYTES // 1048576} MB)"
        )
    # Text stays text (already decoded by the caller); bytes stay bytes, so lxml can honour the
    # page's own <meta charset>.
    markup: str | bytes = (
        _NOISE_TEXT.sub("", html) if isinstance(html, str) else _NOISE_BYTES.sub(b"", html)
    )
    if len(markup) > MAX_MARKUP_BYTES:
        raise IngestError(
            f"the page has too much markup to read: {len(markup) / 1048576:.1f} MB without "
            f"scripts and styles (at most {MAX_MARKUP_BYTES // 1048576} MB)"
        )
    if not markup.strip():
        raise IngestError("the page is empty")
    # trafilatura's loader: lxml with its HTML parser settings (and a charset guess for bytes).
    tree = trafilatura.load_html(markup)
    if tree is None:
        raise IngestError("the page could not be parsed as HTML")

    canonical = _first(tree, "//link[@rel='canonical']/@href") or _meta(tree, "og:url")
    site_name = _meta(tree, "og:site_name") or _meta(tree, "application-name")
    published = _published(tree, None)
    lang = _lang(tree)

    document = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
        deduplicate=False,
    )
    text = getattr(document, "text", None) if document is not None else None
    if not text or not text.strip():
        raise IngestError("no article text was found on the page")
    title = getattr(document, "title", None) or None
    if published is None:
        published = _parse_datetime(getattr(document, "date", None))
    if site_name is None:
        site_name = getattr(document, "sitename", None) or None

    page_url = url
    if canonical:
        page_url = canonical if url is None else urljoin(url, canonical)
    parsed = parse_text(
        text, now=now, source=site_name, title=title, url=page_url, published_at=published
    )
    return replace(parsed, lang=lang) if lang else parsed
