"""HTML page -> ParsedArticle, with trafilatura for the main text.

The page is parsed once (lxml, through ``trafilatura.load_html``); the head gives the canonical
URL (``<link rel=canonical>``, then ``og:url``), the site name (``og:site_name``), the publication
time (``article:published_time`` and kin) and the language (``<html lang>``); trafilatura then picks
the article text out of the navigation, share buttons, related links and footer. The text goes
through ``bot.ingest.text.parse_text``, so a wire dateline opening it ("MINSK. October 30.
KAZINFORM ...") is read and cut the same way as in plain text.

Claims of a page about itself
    The canonical URL and the site name are what a page says of itself, and any page can say it
    is a Reuters story (a stored canonical URL also decides which later copy counts as a
    duplicate). So a page fetched from a URL is believed only within that URL's registrable
    domain (www.bbc.co.uk and amp.bbc.co.uk share bbc.co.uk; evil.co.uk does not, which takes
    the Public Suffix List: ``publicsuffixlist`` reads the copy bundled with it and never
    downloads one). A canonical URL on another registrable domain (or not http/https) is
    ignored, and the fetched URL is kept. A site name is kept only when it names the domain:
    the domain's own label (``bbc`` of bbc.co.uk, ``inform`` of inform.kz) is one of its words,
    or, from four letters on, part of it ("BBC News", "Kazinform", "Le Monde" for lemonde.fr);
    otherwise the source is the fetched host ("copycat.example", "127.0.0.1"). A page with no
    fetched URL (a saved file) has nothing to be checked against and is taken as it is.

Bounds: a page over ``MAX_HTML_BYTES`` is refused; scripts, styles, SVG and comments are removed
before parsing, and the remaining markup may not exceed ``MAX_MARKUP_BYTES`` (trafilatura needs
about a second per megabyte of dense markup). libxml2 stops nesting at depth 256, so deeply nested
pages cannot exhaust the stack. Parsing is CPU-bound: async callers should run ``parse_html`` in a
worker thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import trafilatura
from publicsuffixlist import PublicSuffixList

from bot.ingest.model import IngestError, ParsedArticle
from bot.ingest.normalize import url_domain
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


# --------------------------------------------------------------------------- whose page it is

#: The Public Suffix List bundled with the package (read once; thread-safe from then on).
_PSL = PublicSuffixList()
#: A domain label shorter than this must be a whole word of a site name to vouch for it.
MIN_LABEL_INSIDE_NAME = 4


def _ascii_host(url: str) -> str | None:
    """The URL's host, lower-case, without a final dot, in IDNA (ASCII) form; None if none."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".").lower()
    try:
        return host if host.isascii() else host.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def registrable_domain(url: str) -> str | None:
    """The registrable domain of a URL's host (``www.bbc.co.uk`` -> ``bbc.co.uk``), by the
    Public Suffix List; an IP address, or a host that is itself a public suffix, stands for
    itself. ``None`` when the URL has no usable host."""
    host = _ascii_host(url)
    if host is None or _is_ip(host):
        return host
    return _PSL.privatesuffix(host) or host


def _domain_label(url: str) -> str | None:
    """The part of the registrable domain before its public suffix (``bbc`` of bbc.co.uk),
    in Unicode; ``None`` for an IP address or a bare public suffix."""
    host = _ascii_host(url)
    if host is None or _is_ip(host):
        return None
    domain, suffix = _PSL.privatesuffix(host), _PSL.publicsuffix(host)
    if not domain or not suffix or len(domain) <= len(suffix) + 1:
        return None
    label = domain[: -len(suffix) - 1]
    try:
        return label.encode("ascii").decode("idna")
    except UnicodeError:
        return label


def _folded_words(text: str) -> list[str]:
    """The words of ``text``, case- and accent-folded: runs of letters and digits (marks are
    dropped, not breaks; anything else separates words)."""
    words: list[str] = []
    current: list[str] = []
    for char in unicodedata.normalize("NFKD", text.casefold()):
        kind = unicodedata.category(char)[0]
        if kind in "LN":
            current.append(char)
        elif kind != "M" and current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def _names_domain(site_name: str, url: str) -> bool:
    """Whether ``site_name`` names the registrable domain of ``url`` (see the module doc)."""
    label = _domain_label(url)
    if not label:
        return False
    folded_label = "".join(_folded_words(label))  # "le-monde" -> "lemonde"
    words = _folded_words(site_name)
    if not folded_label or not words:
        return False
    if folded_label in words:
        return True
    return len(folded_label) >= MIN_LABEL_INSIDE_NAME and folded_label in "".join(words)


def _own_canonical(canonical: str, url: str) -> str | None:
    """``canonical`` (made absolute against ``url``) if it is an http(s) URL on the registrable
    domain ``url`` was fetched from, else ``None``."""
    try:
        absolute = urljoin(url, canonical)
        scheme = urlsplit(absolute).scheme.lower()
    except ValueError:
        return None
    if scheme not in ("http", "https"):
        return None
    own = registrable_domain(url)
    return absolute if own is not None and registrable_domain(absolute) == own else None


# --------------------------------------------------------------------------- parsing


def parse_html(html: str | bytes, *, url: str | None, now: datetime) -> ParsedArticle:
    """Parse an article page. ``url`` is where it was fetched from: the page's canonical URL and
    site name are believed only within its registrable domain (see the module doc), and it is
    the URL and source otherwise. Raises ``IngestError`` for an oversized page or one without
    article text."""
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

    claimed = [_first(tree, "//link[@rel='canonical']/@href"), _meta(tree, "og:url")]
    canonicals = [candidate for candidate in claimed if candidate]
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

    if url is None:
        page_url = canonicals[0] if canonicals else None  # a saved file: nothing to check against
    else:
        owned = (_own_canonical(candidate, url) for candidate in canonicals)
        page_url = next((found for found in owned if found), url)
        if site_name is None or not _names_domain(site_name, url):
            site_name = url_domain(url)
    parsed = parse_text(
        text, now=now, source=site_name, title=title, url=page_url, published_at=published
    )
    return replace(parsed, lang=lang) if lang else parsed
