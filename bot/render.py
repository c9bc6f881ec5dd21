"""Telegram HTML rendering: escaping, result cards, article pages, and splitting long messages.

Every outgoing text is built here from escaped pieces, so user or article text can never inject
markup. Telegram counts the 4096-character limit on the text *after* entity parsing, in UTF-16
code units; ``visible_length`` measures exactly that and ``split_html`` keeps each part within it,
breaking on paragraph boundaries first and never inside a tag or an entity.

Telegram refuses a text with nothing to show ("message text is empty"): one made only of
whitespace, control or zero-width characters. Stored text can hold long runs of those, so
``split_html`` never returns such a part, and a text with nothing at all to show becomes
``EMPTY_MESSAGE``.

Nothing a user can store makes one command send a burst of messages: an article is shown a
page at a time (``article_page``, about ``ARTICLE_PAGE_CHARS`` of text with More/Back buttons),
and titles, sources and names are shortened in every list so a page of results is one message.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from bot.chats.schedule import WEEKDAYS
from bot.ingest.model import IngestOutcome
from bot.search.model import SearchResult
from bot.urls import has_http_scheme
from storage.models import (
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    Article,
    Chat,
    Entity,
    Feed,
    SearchHit,
    StoreStats,
    Subscription,
)

MESSAGE_LIMIT = 4096
#: A query is echoed back; a pasted essay must not come back as a dozen messages.
MAX_ECHO_CHARS = 200
#: Sent instead of a text that has nothing Telegram would show.
EMPTY_MESSAGE = "(nothing to show)"
#: A title in a list (search results, /latest, /person, digests); the article page shows more.
LIST_TITLE_CHARS = 200
ARTICLE_TITLE_CHARS = 300
#: Source, place and person names in a card or list line.
NAME_CHARS = 80
#: The text of one article page (UTF-16 code units), cut at a paragraph or sentence end.
ARTICLE_PAGE_CHARS = 3000
#: A snippet under a search result (matches in bold); FTS5 bounds its words, not their length.
SNIPPET_CHARS = 400
#: A feed's URL in the admins' feed list.
FEED_URL_CHARS = 200
#: The "Mentions:" line of an article page stops after this many characters, with "and N more".
MENTIONS_CHARS = 300
_TAG = re.compile(r"<[^>]*>")
_TAG_NAME = re.compile(r"</?\s*([a-zA-Z][a-zA-Z0-9-]*)")
#: Unicode's whitespace, control and format classes.
_BLANK_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})
#: What else Telegram (tdlib's ``clean_input_string`` / ``strip_empty_characters``) drops or
#: turns into spaces: braille blank, object replacement, three combining lines, tag characters.
_BLANK_EXTRA = frozenset(
    ["\u2800", "\ufffc", "\u030a", "\u0333", "\u033f"]
    + [chr(code) for code in range(0xE0000, 0xE0080)]
)


def escape(text: str) -> str:
    """Escape text for Telegram's HTML parse mode."""
    return html.escape(text, quote=False)


def escape_attr(text: str) -> str:
    """Escape a value for an HTML attribute (href)."""
    return html.escape(text, quote=True)


def link(url: str | None, text: str) -> str:
    """A linked, escaped title; plain escaped text when there is no http(s) URL."""
    if url and has_http_scheme(url):
        return f'<a href="{escape_attr(url)}">{escape(text)}</a>'
    return escape(text)


def plain_snippet(snippet: str, mark: str = "") -> str:
    """A search snippet as plain text, matched words wrapped in ``mark``."""
    return snippet.replace(HIGHLIGHT_START, mark).replace(HIGHLIGHT_END, mark)


def snippet_html(snippet: str) -> str:
    """A search snippet as Telegram HTML with the matched words in bold."""
    out: list[str] = []
    bold = False
    for part in re.split(f"([{HIGHLIGHT_START}{HIGHLIGHT_END}])", snippet):
        if part == HIGHLIGHT_START:
            if not bold:
                out.append("<b>")
                bold = True
        elif part == HIGHLIGHT_END:
            if bold:
                out.append("</b>")
                bold = False
        else:
            out.append(escape(part))
    if bold:
        out.append("</b>")
    return "".join(out)


def visible_text(fragment: str) -> str:
    """The text of an HTML fragment after entity parsing (tags removed, entities decoded)."""
    return html.unescape(_TAG.sub("", fragment))


def utf16_length(text: str) -> int:
    """Length of plain text in UTF-16 code units (how Telegram counts)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def visible_length(fragment: str) -> int:
    """Length of an HTML fragment after entity parsing, in UTF-16 code units."""
    return utf16_length(visible_text(fragment))


def is_blank_char(char: str) -> bool:
    """Whether Telegram shows nothing for ``char``: whitespace, control, zero-width, format."""
    return char in _BLANK_EXTRA or unicodedata.category(char) in _BLANK_CATEGORIES


def is_blank(text: str) -> bool:
    """Whether plain ``text`` has nothing Telegram would show (it refuses such a message)."""
    return all(is_blank_char(char) for char in text)


def format_date(value: datetime | None) -> str:
    return value.strftime("%d %b %Y") if value else "undated"


def hit_card(
    hit: SearchHit,
    number: int | None = None,
    *,
    title_chars: int = LIST_TITLE_CHARS,
    source_chars: int = NAME_CHARS,
    with_snippet: bool = True,
) -> str:
    """One search result: linked title (shortened), source and date, snippet with matches in
    bold."""
    prefix = f"{number}. " if number is not None else ""
    head = f"{prefix}<b>{link(hit.url, truncate(hit.title, title_chars))}</b>"
    source = escape(truncate(hit.source, source_chars))
    meta = f"<i>{source} · {format_date(hit.published_at)}</i> · /article_{hit.id}"
    snippet = snippet_html(truncate(hit.snippet, SNIPPET_CHARS)) if with_snippet else ""
    return f"{head}\n{meta}\n{snippet}" if snippet else f"{head}\n{meta}"


@dataclass(frozen=True, slots=True)
class _Unit:
    """A piece of the message: a tag, a word, or a run of whitespace (where it may break)."""

    text: str
    kind: Literal["tag", "word", "space"]
    visible: int


def _units(fragment: str) -> list[_Unit]:
    units: list[_Unit] = []
    for token in re.split(r"(<[^>]*>)", fragment):
        if not token:
            continue
        if token.startswith("<"):
            units.append(_Unit(token, "tag", 0))
            continue
        for piece in re.findall(r"\S+|\s+", token):
            kind: Literal["word", "space"] = "space" if piece[0].isspace() else "word"
            units.append(_Unit(piece, kind, visible_length(piece)))
    return units


def _hard_split(unit: _Unit, limit: int) -> list[_Unit]:
    """Split one over-long word on character boundaries (never inside an entity)."""
    pieces: list[_Unit] = []
    current: list[str] = []
    size = 0
    for char in html.unescape(unit.text):
        width = 2 if ord(char) > 0xFFFF else 1  # UTF-16 code units
        if size + width > limit:
            pieces.append(_Unit(escape("".join(current)), unit.kind, size))
            current, size = [], 0
        current.append(char)
        size += width
    if current:
        pieces.append(_Unit(escape("".join(current)), unit.kind, size))
    return pieces


def _tag_name(tag: str) -> str:
    match = _TAG_NAME.match(tag)
    return match.group(1).lower() if match else ""


def _best_cut(chunk: Sequence[_Unit]) -> int:
    """Index after which to cut: the last paragraph break, else line break, else space, else
    the whole chunk."""
    for brk in ("\n\n", "\n", ""):
        for i in range(len(chunk) - 1, 0, -1):
            if chunk[i].kind == "space" and brk in chunk[i].text:
                return i + 1
    return len(chunk)


def split_html(fragment: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split Telegram HTML into parts of at most ``limit`` visible characters, each one that
    Telegram accepts; never an empty list (``EMPTY_MESSAGE`` when nothing would show).

    Parts end at a paragraph break where possible, else a line break, else a space; tags open
    at a cut are closed at the end of the part and reopened at the start of the next. A part
    with nothing to show (only whitespace, control or zero-width characters, which Telegram
    refuses as empty) is dropped: it carries nothing a reader would see.
    """
    if visible_length(fragment) <= limit:
        return [fragment] if not is_blank(visible_text(fragment)) else [EMPTY_MESSAGE]
    budget = max(16, limit)
    units: list[_Unit] = []
    for unit in _units(fragment):
        units.extend(_hard_split(unit, budget) if unit.visible > budget else [unit])

    parts: list[str] = []
    stack: list[str] = []  # open tags, as written
    current: list[_Unit] = []
    visible = 0
    start_stack: list[str] = []

    def close_tags(tags: Sequence[str]) -> str:
        return "".join(f"</{_tag_name(t)}>" for t in reversed(tags))

    def emit(chunk: Iterable[_Unit], opened: Sequence[str], still_open: Sequence[str]) -> None:
        body = "".join(opened) + "".join(u.text for u in chunk) + close_tags(still_open)
        body = body.strip()
        if not is_blank(visible_text(body)):
            parts.append(body)

    for unit in units:
        while unit.kind != "tag" and visible + unit.visible > budget and current:
            cut = _best_cut(current)
            head, tail = current[:cut], current[cut:]
            # Replay the tags of the head to know which are open at the cut.
            open_at_cut = list(start_stack)
            for u in head:
                _apply_tag(open_at_cut, u)
            emit(head, start_stack, open_at_cut)
            start_stack = open_at_cut
            current = tail
            visible = sum(u.visible for u in current)
        current.append(unit)
        visible += unit.visible
        _apply_tag(stack, unit)
    emit(current, start_stack, stack)
    return parts or [EMPTY_MESSAGE]


def _apply_tag(stack: list[str], unit: _Unit) -> None:
    if unit.kind != "tag":
        return
    name = _tag_name(unit.text)
    if unit.text.startswith("</"):
        for i in range(len(stack) - 1, -1, -1):
            if _tag_name(stack[i]) == name:
                del stack[i]
                break
    elif not unit.text.endswith("/>"):
        stack.append(unit.text)


# --------------------------------------------------------------------------- cards


#: How a page of results gives way when it would not fit one message: first the snippets go,
#: then titles and sources get shorter. (title, source, snippet?)
_RESULTS_SHRINK = (
    (LIST_TITLE_CHARS, NAME_CHARS, True),
    (LIST_TITLE_CHARS, NAME_CHARS, False),
    (80, 40, False),
    (40, 20, False),
)


def results_page(
    heading: str,
    hits: Sequence[SearchHit],
    *,
    total: int,
    page: int,
    page_size: int = 5,
    total_capped: bool = False,
    limit: int = MESSAGE_LIMIT,
) -> str:
    """A page of search results under an escaped heading, numbered across pages, within
    ``limit`` visible characters (one message) whatever the titles and snippets hold."""
    first = (page - 1) * page_size + 1
    count = f"{total:,}+" if total_capped else f"{total:,}"
    head = f"<b>{escape(truncate(heading, LIST_TITLE_CHARS))}</b> · "
    head += f"{count} result{'s' if total != 1 else ''}"
    text = head
    for title_chars, source_chars, with_snippet in _RESULTS_SHRINK:
        cards = [
            hit_card(
                hit,
                first + i,
                title_chars=title_chars,
                source_chars=source_chars,
                with_snippet=with_snippet,
            )
            for i, hit in enumerate(hits)
        ]
        text = "\n\n".join([head, *cards])
        if visible_length(text) <= limit:
            break
    return text


def _name_list(names: Sequence[str], max_chars: int) -> str:
    """``A, B, C and 12 more``: names (each shortened) until about ``max_chars``, escaped."""
    shown: list[str] = []
    size = 0
    for name in names:
        name = truncate(name, NAME_CHARS)
        if shown and size + 2 + len(name) > max_chars:
            break
        size += (2 if shown else 0) + len(name)
        shown.append(name)
    rest = len(names) - len(shown)
    return escape(", ".join(shown)) + (f" and {rest} more" if rest else "")


def _article_head(article: Article, entities: Sequence[Entity], *, full: bool) -> str:
    """The linked, shortened title; with ``full``, where and when, names and sources too."""
    title = article.title if not is_blank(article.title) else "(untitled)"
    lines = [f"<b>{link(article.url, truncate(title, ARTICLE_TITLE_CHARS))}</b>"]
    if not full:
        return lines[0]
    meta = [escape(truncate(article.source, NAME_CHARS)), format_date(article.published_at)]
    if article.dateline_place:
        meta.insert(0, escape(truncate(article.dateline_place, NAME_CHARS)))
    lines.append(f"<i>{' · '.join(meta)}</i>")
    named = [e.canonical for e in entities if e.kind in ("person", "country", "org")]
    if named:
        lines.append("Mentions: " + _name_list(named, MENTIONS_CHARS))
    if article.classification.is_diplomatic:
        lines.append(f"Diplomatic ({article.classification.score:.2f})")
    others = {s.url for s in article.sources if s.url and s.url != article.url}
    if others:
        lines.append(f"Also carried by {len(others)} other source(s)")
    return "\n".join(lines)


def article_html(article: Article, entities: Sequence[Entity] = ()) -> str:
    """A whole stored article: linked title, where and when, the names in it, the text (for
    a reader that takes any length; the bot sends ``article_page``)."""
    paragraphs = [escape(p.strip()) for p in article.text.split("\n") if not is_blank(p)]
    return _article_head(article, entities, full=True) + "\n\n" + "\n\n".join(paragraphs)


#: A sentence ends at . ! ? or … (closing quotes and brackets included) before a space.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*(?=\s)")
#: Room kept for the footer: "Page 999999 of 999999 · /article_999999999999" and blank lines.
_FOOTER_RESERVE = 64


def _prefix_within(text: str, units: int) -> int:
    """How many characters of ``text`` fit in ``units`` UTF-16 code units."""
    size = 0
    for index, char in enumerate(text):
        size += 2 if ord(char) > 0xFFFF else 1
        if size > units:
            return index
    return len(text)


def _cut(text: str, units: int, *, whole_sentences: bool) -> int:
    """Where to cut ``text`` so that the head fits in ``units`` UTF-16 code units: after the
    last sentence end that fits (0 when none does and ``whole_sentences``). Otherwise a sentence
    end in the first half gives way to the last space in the second half, else to the budget
    itself (one unbroken run of characters)."""
    end = _prefix_within(text, units)
    cut = 0
    for match in _SENTENCE_END.finditer(text, 0, end + 1):
        cut = match.end()
    if whole_sentences or cut > end // 2:
        return cut
    return next((i for i in range(end - 1, end // 2, -1) if text[i].isspace()), end)


def paginate(text: str, budget: int = ARTICLE_PAGE_CHARS) -> list[str]:
    """Plain text as pages of at most ``budget`` UTF-16 code units, paragraphs joined by a
    blank line. A paragraph that does not fit ends the page, unless the page is less than
    two-thirds full: then the page is filled up to a sentence end. A paragraph longer than a
    page is cut at sentence ends. Paragraphs with nothing to show are left out; a text with
    nothing to show has no pages."""
    pages: list[str] = []
    current: list[str] = []
    size = 0

    def add(piece: str) -> None:
        nonlocal size
        size += (2 if current else 0) + utf16_length(piece)
        current.append(piece)

    def flush() -> None:
        nonlocal current, size
        if current:
            pages.append("\n\n".join(current))
        current, size = [], 0

    for line in text.split("\n"):
        rest = line.strip()
        while not is_blank(rest):
            room = budget - size - (2 if current else 0)
            if utf16_length(rest) <= room:
                add(rest)
                break
            if current:
                cut = _cut(rest, room, whole_sentences=True) if room >= budget // 3 else 0
                if not cut:
                    flush()
                    continue
            else:
                cut = _cut(rest, budget, whole_sentences=False)
            head, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
            if not is_blank(head):
                add(head)
            flush()
    flush()
    return pages


@dataclass(frozen=True, slots=True)
class ArticlePage:
    """One message of an article: ``number`` of ``count`` pages."""

    html: str
    number: int
    count: int


def article_page(
    article: Article, entities: Sequence[Entity] = (), page: int = 1
) -> ArticlePage | None:
    """Page ``page`` of a stored article as one message, or None when there is no such page.

    Page 1 has the title, where and when, the names and sources; later pages the title. The
    text budget is ``ARTICLE_PAGE_CHARS``, less whatever a long page-1 heading needs, so every
    page fits one message. The footer says "Page k of n", and ``/article_ID`` when the
    article has no link to open.
    """
    first_head = _article_head(article, entities, full=True)
    room = MESSAGE_LIMIT - visible_length(first_head) - _FOOTER_RESERVE
    pages = paginate(article.text, min(ARTICLE_PAGE_CHARS, room)) or [""]
    if not 1 <= page <= len(pages):
        return None
    head = first_head if page == 1 else _article_head(article, entities, full=False)
    footer = [f"Page {page} of {len(pages)}"] if len(pages) > 1 else []
    if not (article.url and has_http_scheme(article.url)):
        footer.append(f"/article_{article.id}")
    blocks = [head, escape(pages[page - 1]), " · ".join(footer)]
    return ArticlePage("\n\n".join(b for b in blocks if b), page, len(pages))


def entity_label(entity: Entity) -> str:
    """``Sergei Lavrov (12 articles)`` as plain text, for buttons."""
    count = f"{entity.articles} article{'s' if entity.articles != 1 else ''}"
    return f"{entity.canonical} ({count})"


def alias_names(entity: Entity) -> list[str]:
    """The entity's other names for display: lookup keys are folded, so title-case them."""
    seen = {entity.canonical.lower()}
    names: list[str] = []
    for alias in entity.aliases:
        name = " ".join(word.capitalize() for word in alias.split())
        if name.lower() not in seen:
            seen.add(name.lower())
            names.append(name)
    return names


def person_card(entity: Entity) -> str:
    """A person's canonical name and the other names they are found under."""
    variants = alias_names(entity)
    lines = [f"<b>{escape(truncate(entity.canonical, NAME_CHARS))}</b>"]
    if variants:
        lines.append("Also found as: " + _name_list(variants, MENTIONS_CHARS))
    lines.append(f"{entity.articles} article{'s' if entity.articles != 1 else ''}")
    return "\n".join(lines)


def subscription_line(sub: Subscription) -> str:
    """``#3 person: Sergei Lavrov`` (escaped)."""
    return f"#{sub.id} {escape(sub.kind)}: <b>{escape(sub.query)}</b>"


def truncate(text: str, limit: int) -> str:
    """Plain text cut to ``limit`` characters with an ellipsis (for buttons and headings)."""
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def digest_card(chat: Chat, label: str, zone_label: str, next_local: str | None) -> str:
    """A chat's digest settings and when the next digest comes, in its own zone."""
    frequency = chat.digest_frequency
    when = {
        "off": "off",
        "instant": "as soon as a match arrives",
        "hourly": f"every hour at minute {chat.digest_time[-2:]}",
        "daily": f"daily at {chat.digest_time}",
        "weekly": f"every {WEEKDAYS[chat.digest_weekday % 7]} at {chat.digest_time}",
    }[frequency]
    lines = [
        f"<b>Digest for {escape(label)}</b>",
        f"When: {escape(when)}",
        f"Time zone: {escape(zone_label)} (change with /timezone)",
        f"Only diplomatic news: {'yes' if chat.only_diplomatic else 'no'}",
    ]
    if chat.paused:
        lines.append("Paused: yes — nothing is sent until you resume")
    elif next_local:
        lines.append(f"Next digest: {escape(next_local)}")
    return "\n".join(lines)


def ingest_card(outcome: IngestOutcome) -> str:
    """What storing an article found: title, persons, countries, diplomatic score (title and
    name lists shortened, so the card is one short message)."""
    title = escape(truncate(outcome.title, ARTICLE_TITLE_CHARS))
    if not outcome.created:
        return (
            f"Already stored (same story as #{outcome.article_id}): "
            f"<b>{title}</b>. /article_{outcome.article_id}"
        )
    lines = [f"Stored #{outcome.article_id}: <b>{title}</b>"]
    if outcome.persons:
        lines.append("Persons: " + _name_list(outcome.persons, MENTIONS_CHARS))
    if outcome.countries:
        lines.append("Countries: " + _name_list(outcome.countries, MENTIONS_CHARS))
    if outcome.orgs:
        lines.append("Organisations: " + _name_list(outcome.orgs, MENTIONS_CHARS))
    verdict = "diplomatic" if outcome.is_diplomatic else "not diplomatic"
    lines.append(f"Diplomatic score: {outcome.diplomatic_score:.2f} ({verdict})")
    lines.append(f"/article_{outcome.article_id}")
    return "\n".join(lines)


def _feed_time(value: datetime, zone: str) -> str:
    return f"{value.astimezone(ZoneInfo(zone)):%d %b %Y, %H:%M}"


def feed_card(feed: Feed, zone: str, *, now: datetime | None = None) -> str:
    """One feed for admins: id and title, URL, schedule and health, times shown in ``zone``.

    ``now`` turns a next poll in the past into "due now" (the poller picks it up within a
    minute) rather than an old time that looks like a stuck feed.
    """
    every = feed.interval_s // 60
    title = escape(truncate(feed.title or feed.url, 120))
    state = "enabled" if feed.enabled else "<b>disabled</b> (remove it, add it again once it works)"
    lines = [
        f"<b>#{feed.id} {title}</b>",
        escape(truncate(feed.url, FEED_URL_CHARS)),
        f"Every {every} min · {state}",
        "Last success: "
        + (_feed_time(feed.last_success_at, zone) if feed.last_success_at else "never"),
    ]
    if feed.enabled:
        due = now is not None and feed.next_poll_at <= now
        lines.append("Next poll: " + ("due now" if due else _feed_time(feed.next_poll_at, zone)))
    if feed.failures:
        lines.append(f"Failures in a row: {feed.failures}")
    if feed.last_error:
        lines.append(f"Last error: {escape(truncate(feed.last_error, 300))}")
    return "\n".join(lines)


def feeds_page(feeds: Sequence[Feed], zone: str, *, now: datetime | None = None) -> str:
    """Every feed's card under a heading that names the time zone of the times shown."""
    if not feeds:
        return "No feeds yet. Add one with <code>/addfeed URL [minutes]</code>."
    count = f"{len(feeds)} feed{'s' if len(feeds) != 1 else ''}"
    head = f"<b>Feeds</b> · {count} · times in {escape(zone)}"
    return "\n\n".join([head, *(feed_card(feed, zone, now=now) for feed in feeds)])


def search_results(
    result: SearchResult,
    page_size: int,
    heading: str | None = None,
    *,
    limit: int = MESSAGE_LIMIT,
) -> str:
    """A page of search results with the query's notes, or "nothing found" with suggestions."""
    notes = "".join(f"\n<i>Note: {escape(w)}</i>" for w in result.warnings)
    shown = truncate(result.query, MAX_ECHO_CHARS)
    if result.total == 0:
        return (
            f"No articles match <b>{escape(shown)}</b>.\n"
            "Try fewer or broader words, a prefix such as <code>diplom*</code>, "
            "or alternatives with OR." + notes
        )
    text = results_page(
        heading or f"Search: {shown}",
        result.hits,
        total=result.total,
        total_capped=result.total_capped,
        page=result.page,
        page_size=page_size,
        limit=limit - visible_length(notes),
    )
    return text + notes


def stats_card(stats: StoreStats) -> str:
    """What the database holds, for ``/stats``."""
    rows = [
        ("Articles", stats.articles),
        ("Sources", stats.sources),
        ("Entities", stats.entities),
        ("Chats", stats.chats),
        ("Subscriptions", stats.subscriptions),
        ("Feeds", stats.feeds),
    ]
    lines = ["<b>Database</b>", *(f"{name}: {value:,}" for name, value in rows)]
    lines.append(f"Size: {stats.db_bytes / 1_048_576:.1f} MB")
    return "\n".join(lines)
