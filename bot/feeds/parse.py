"""Feed bodies -> entries: RSS 0.9x/1.0/2.0 and Atom (feedparser), JSON Feed 1.0/1.1 (json).

``parse_feed`` is pure and synchronous (run it in a thread from async code: feedparser is
CPU-bound). It returns the entries oldest first, each with a stable guid, its canonical URL, its
text (HTML stripped) and whether that text is the whole article or only a summary.

Safety. Feeds come from strangers, so the body is checked before any XML parser sees it:

- Bodies over ``MAX_FEED_BYTES`` are refused (the fetcher caps downloads too; this guards callers
  that read feeds from elsewhere).
- A document whose prolog declares entities (``<!ENTITY`` in the DOCTYPE) is refused. feedparser
  drops nested entity definitions (so "billion laughs" expands to nothing), but it keeps "simple"
  ones, ``<!ENTITY a "AAAA...">``, and its forgiving fallback parser expands every ``&a;`` without
  limit: a 1 MB body with a 10 kB entity referenced 100,000 times becomes a gigabyte of text (the
  quadratic blow-up). Real feeds do not declare entities; a DOCTYPE that only names an external
  DTD (Netscape RSS 0.91) is fine, and external entities are never fetched by feedparser.
- A body that is not well-formed ("bozo") is still used when feedparser recovered entries from it,
  as browsers and feed readers do; when it yields none, ``FeedError`` says why.
- Every entry is read on its own: one that cannot be (whatever the reason) is left out, logged
  and listed in ``ParsedFeed.skipped``, and the others are used, so one bad item never fails
  the poll. Entry fields and the feed's title are cleaned on the way in
  (``bot.ingest.sanitize``: no lone surrogates, control or bidi characters; text capped).
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import feedparser

from bot.ingest.model import IngestError
from bot.ingest.normalize import canonical_url
from bot.ingest.sanitize import clean_chars, clean_text, clean_title

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 10 * 1024 * 1024
#: An entry whose text is at least this long is taken as the whole article (no page fetch).
FULL_TEXT_MIN_CHARS = 600

JSON_FEED_TYPES = ("application/feed+json", "application/json")


class FeedError(IngestError):
    """A body that is not a usable feed; the message says why in plain words."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One feed entry, ready to become an article.

    ``guid`` identifies the entry across polls and feeds: the entry's id when it is a URI
    (``tag:``, ``urn:``, ``https:``), else the id qualified by the feed URL (bare ids such as
    "1234" are only unique within their feed), else the canonical link, else a content hash.
    """

    guid: str
    url: str | None  # canonical URL of the article page
    title: str
    text: str  # plain text, paragraphs separated by a blank line
    published_at: datetime | None  # timezone-aware UTC; never later than the parse time
    has_full_text: bool  # text long enough to skip fetching the page


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed: its title, its format, and its entries oldest first."""

    title: str | None
    version: str  # feedparser's name ("rss20", "atom10", ...) or "json10"/"json11"
    entries: tuple[FeedEntry, ...]
    home_url: str | None = None
    skipped: tuple[str, ...] = ()  # entries left out: "entry 3: why"


# --------------------------------------------------------------------------- HTML -> text

_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "aside",
        "main",
        "nav",
        "blockquote",
        "pre",
        "figure",
        "figcaption",
        "ul",
        "ol",
        "li",
        "dl",
        "dt",
        "dd",
        "table",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "address",
    }
)
_SKIPPED_TAGS = frozenset({"script", "style", "template", "noscript", "head", "title"})


class _TextCollector(HTMLParser):
    """Collects an HTML fragment's text, turning block boundaries into paragraph breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


_INLINE_SPACE = re.compile(r"[^\S\n]+")
_SPACE_AROUND_NEWLINE = re.compile(r" *\n *")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def tidy_text(text: str) -> str:
    """Collapse runs of spaces, trim lines, keep at most one blank line between paragraphs."""
    text = _INLINE_SPACE.sub(" ", text)
    text = _SPACE_AROUND_NEWLINE.sub("\n", text)
    return _MANY_NEWLINES.sub("\n\n", text).strip()


_SKIPPED_ELEMENT = re.compile(
    r"<(script|style|template|noscript|head|title)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_TAG = re.compile(r"<[^>]*>")


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment (entities decoded, scripts dropped, paragraphs kept)."""
    if "<" not in html and "&" not in html:
        return tidy_text(html)
    collector = _TextCollector()
    try:
        collector.feed(html)
        collector.close()
    except AssertionError:
        # CPython's HTMLParser gives up on some malformed declarations ("<![foo[ ... ]]>"):
        # strip the tags plainly rather than lose the entry's text.
        return tidy_text(unescape(_TAG.sub(" ", _SKIPPED_ELEMENT.sub(" ", html))))
    return tidy_text("".join(collector.parts))


# --------------------------------------------------------------------------- safety checks

_ELEMENT_START = re.compile(rb"<[A-Za-z_]")
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)


def _prolog_text(body: bytes) -> bytes:
    """The document's prolog (before its first element), as ASCII-compatible bytes.

    UTF-16/32 bodies are decoded first so that an entity declaration cannot hide between NUL
    bytes; every other encoding a feed may use keeps ASCII where ASCII is.
    """
    head = body
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if body.startswith(bom):
            head = body[len(bom) :].decode(encoding, "replace").encode("utf-8", "replace")
            break
    else:
        if b"\x00" in body[:4]:
            # No BOM but NULs around "<": UTF-16/32 without a byte order mark.
            encoding = {
                b"\x00\x00\x00<": "utf-32-be",
                b"<\x00\x00\x00": "utf-32-le",
            }.get(body[:4]) or ("utf-16-be" if body[:1] == b"\x00" else "utf-16-le")
            head = body.decode(encoding, "replace").encode("utf-8", "replace")
    match = _ELEMENT_START.search(head)
    return head[: match.start()] if match else head


def check_feed_body(body: bytes) -> None:
    """Raise FeedError for bodies no parser should see: empty, too big, declaring entities."""
    if not body.strip():
        raise FeedError("the feed is empty")
    if len(body) > MAX_FEED_BYTES:
        raise FeedError(
            f"the feed is larger than {MAX_FEED_BYTES // (1024 * 1024)} MB ({len(body):,} bytes)"
        )
    if _ENTITY_DECLARATION.search(_prolog_text(body)):
        raise FeedError(
            "the feed declares XML entities in its DOCTYPE; such feeds are refused because "
            "entity expansion can exhaust memory"
        )


# --------------------------------------------------------------------------- entries

_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S")


def _guid(raw_id: str | None, url: str | None, feed_url: str, title: str, text: str) -> str:
    if raw_id:
        raw_id = raw_id.strip()
    if raw_id:
        return raw_id if _URI_SCHEME.match(raw_id) else f"{feed_url}#{raw_id}"
    if url:
        return url
    digest = hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()[:32]
    return f"sha256:{digest}"


def _canonical_or_none(url: str | None, base: str) -> str | None:
    url = clean_chars(url).strip() if url else None
    if not url:
        return None
    try:
        return canonical_url(urljoin(base, url))
    except IngestError:
        return None  # a mailto: or broken link is no page to fetch


def _entry(
    *,
    raw_id: str | None,
    link: str | None,
    title: str,
    text: str,
    published_at: datetime | None,
    feed_url: str,
    now: datetime,
) -> FeedEntry | None:
    url = _canonical_or_none(link, feed_url)
    title, text = clean_title(title), clean_text(text)
    raw_id = clean_chars(raw_id) if raw_id else None
    if not title and not text:
        return None
    if published_at is not None and published_at > now:
        # Publishers' clocks drift; an article "from tomorrow" would sort above everything.
        published_at = now
    return FeedEntry(
        guid=_guid(raw_id, url, feed_url, title, text),
        url=url,
        title=title or _first_words(text),
        text=text,
        published_at=published_at,
        has_full_text=len(text) >= FULL_TEXT_MIN_CHARS,
    )


class _Entries:
    """The entries of one feed as they are read, each on its own: an entry that raises is left
    out (logged, and listed in ``skipped``) and the others are kept."""

    def __init__(self, feed_url: str) -> None:
        self.feed_url = feed_url
        self.entries: list[FeedEntry] = []
        self.skipped: list[str] = []

    def add(self, number: int, read: Callable[[Any], FeedEntry | None], item: Any) -> None:
        try:
            entry = read(item)
        except Exception as exc:
            reason = f"entry {number}: could not be read ({type(exc).__name__}: {exc})"[:300]
            log.warning("feed %s: %s", self.feed_url, reason, exc_info=True)
            self.skipped.append(reason)
            return
        if entry is not None:
            self.entries.append(entry)


def _feed_title(title: str) -> str | None:
    return clean_title(title) or None


def _first_words(text: str, limit: int = 80) -> str:
    first = text.split("\n", 1)[0]
    return first if len(first) <= limit else first[:limit].rsplit(" ", 1)[0] + "…"


def _oldest_first(entries: Iterable[FeedEntry], now: datetime) -> tuple[FeedEntry, ...]:
    # Feeds list newest first by convention, so among equal (or missing) dates the later position
    # in the document is the older entry. An undated entry counts as published now.
    indexed = list(enumerate(entries))
    indexed.sort(key=lambda pair: (pair[1].published_at or now, -pair[0]))
    return tuple(entry for _, entry in indexed)


# --------------------------------------------------------------------------- feedparser


def _detail_text(detail: Mapping[str, Any] | None, fallback: str = "") -> str:
    if not detail:
        return html_to_text(fallback)
    value = str(detail.get("value") or "")
    kind = str(detail.get("type") or "text/html")
    return html_to_text(value) if "html" in kind else tidy_text(value)


def _struct_to_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in value[:6])
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _updated(raw: Mapping[str, Any]) -> Any:
    # ``raw.get("updated_parsed")`` on an entry without one hands back ``published_parsed`` with
    # a DeprecationWarning (feedparser issue 310); ``in`` asks for the key itself.
    return raw["updated_parsed"] if "updated_parsed" in raw else None  # noqa: SIM401 - see above


def _describe_bozo(exc: object) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.replace("<unknown>:", "line ")


_XML_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding=["']([A-Za-z0-9._-]+)["']""")


def _repair_utf8(body: bytes, content_type: str | None) -> bytes:
    """Replace invalid bytes in a body that says (or defaults to) UTF-8 with U+FFFD.

    Left alone, feedparser retries such a body as windows-1252 and turns every curly quote of
    the feed into mojibake ("Ministersâ€™") to save two bad bytes.
    """
    if body[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or b"\x00" in body[:4]:
        return body
    declared = _XML_DECLARED_ENCODING.match(body)
    charset = re.search(r"charset=([\w.-]+)", content_type or "", re.IGNORECASE)
    encoding = charset.group(1) if charset else declared.group(1).decode() if declared else "utf-8"
    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        return body
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        decoded = body.decode("utf-8", "replace")
        bad = decoded.count("\ufffd")
        valid_non_ascii = len(decoded) - len(decoded.encode("ascii", "ignore")) - bad
        # Mostly valid UTF-8 with a few broken bytes: repair. No valid multi-byte characters at
        # all: an undeclared Latin-1/Windows-1252 feed, which feedparser's fallback reads right.
        if valid_non_ascii >= bad:
            return decoded.encode("utf-8")
    return body


def _parse_xml_feed(body: bytes, url: str, content_type: str | None, now: datetime) -> ParsedFeed:
    body = _repair_utf8(body, content_type)
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # BytesIO, not bytes: feedparser treats a bare string as a possible URL or file path.
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)

    def read(raw: Mapping[str, Any]) -> FeedEntry | None:
        contents = [_detail_text(c) for c in raw.get("content") or ()]
        summary = _detail_text(raw.get("summary_detail"), str(raw.get("summary") or ""))
        return _entry(
            raw_id=raw.get("id"),
            link=raw.get("link"),
            title=_detail_text(raw.get("title_detail"), str(raw.get("title") or "")),
            text=max([*contents, summary], key=len),
            published_at=_struct_to_datetime(raw.get("published_parsed") or _updated(raw)),
            feed_url=url,
            now=now,
        )

    found = _Entries(url)
    for number, raw in enumerate(parsed.entries, start=1):
        found.add(number, read, raw)
    entries = found.entries
    version = str(parsed.get("version") or "")
    if not entries:
        if parsed.get("bozo"):
            reason = _describe_bozo(parsed.get("bozo_exception"))
            raise FeedError(f"not a readable feed ({reason}), and no entries could be recovered")
        if not version:
            raise FeedError("not a feed: no RSS, Atom or JSON Feed document was found")
    feed = parsed.feed
    title = _detail_text(feed.get("title_detail"), str(feed.get("title") or ""))
    return ParsedFeed(
        title=_feed_title(title),
        version=version,
        entries=_oldest_first(entries, now),
        home_url=_canonical_or_none(feed.get("link"), url),
        skipped=tuple(found.skipped),
    )


# --------------------------------------------------------------------------- JSON Feed


def _iso_datetime(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return None  # "9999-12-31T23:00-01:00" is past the year 9999 in UTC: no usable date


def _str_or_none(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # JSON Feed 1.0 readers met numeric ids in the wild
    return None


def _parse_json_feed(body: bytes, url: str, now: datetime) -> ParsedFeed:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise FeedError(f"not a readable JSON Feed: {exc}") from None
    if not isinstance(document, dict):
        raise FeedError("not a JSON Feed: the document is not a JSON object")
    version = str(document.get("version") or "")
    if not version.startswith("https://jsonfeed.org/version/"):
        raise FeedError("not a JSON Feed: no jsonfeed.org version")
    items = document.get("items")
    if not isinstance(items, list):
        raise FeedError("not a JSON Feed: it has no list of items")

    def read(item: object) -> FeedEntry | None:
        if not isinstance(item, dict):
            return None
        html = _str_or_none(item.get("content_html"))
        texts = [
            html_to_text(html) if html else "",
            tidy_text(_str_or_none(item.get("content_text")) or ""),
            html_to_text(_str_or_none(item.get("summary")) or ""),
        ]
        return _entry(
            raw_id=_str_or_none(item.get("id")),
            link=_str_or_none(item.get("url")) or _str_or_none(item.get("external_url")),
            title=html_to_text(_str_or_none(item.get("title")) or ""),
            text=max(texts, key=len),
            published_at=_iso_datetime(item.get("date_published"))
            or _iso_datetime(item.get("date_modified")),
            feed_url=url,
            now=now,
        )

    found = _Entries(url)
    for number, item in enumerate(items, start=1):
        found.add(number, read, item)
    title = _str_or_none(document.get("title"))
    return ParsedFeed(
        title=_feed_title(html_to_text(title)) if title else None,
        version="json" + version.rsplit("/", 1)[-1].replace(".", ""),
        entries=_oldest_first(found.entries, now),
        home_url=_canonical_or_none(_str_or_none(document.get("home_page_url")), url),
        skipped=tuple(found.skipped),
    )


def _looks_like_json(body: bytes, content_type: str | None) -> bool:
    if content_type and any(t in content_type.lower() for t in JSON_FEED_TYPES):
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


# --------------------------------------------------------------------------- entry point


def parse_feed(body: bytes, *, url: str, content_type: str | None, now: datetime) -> ParsedFeed:
    """Parse an RSS, Atom or JSON Feed body fetched from ``url``; raise FeedError if unusable.

    ``now`` (timezone-aware) bounds publication dates and dates undated entries for ordering.
    """
    check_feed_body(body)
    if _looks_like_json(body, content_type):
        return _parse_json_feed(body, url, now)
    return _parse_xml_feed(body, url, content_type, now)
