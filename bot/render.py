"""Telegram HTML rendering: escaping, result cards, and splitting long messages safely.

Every outgoing text is built here from escaped pieces, so user or article text can never inject
markup. Telegram counts the 4096-character limit on the text *after* entity parsing, in UTF-16
code units; ``visible_length`` measures exactly that and ``split_html`` keeps each part within it,
breaking on paragraph boundaries first and never inside a tag or an entity.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
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
_TAG = re.compile(r"<[^>]*>")
_TAG_NAME = re.compile(r"</?\s*([a-zA-Z][a-zA-Z0-9-]*)")
_BREAKS = ("\n\n", "\n", " ")


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


def visible_length(fragment: str) -> int:
    """Length of an HTML fragment after entity parsing, in UTF-16 code units."""
    text = html.unescape(_TAG.sub("", fragment))
    return len(text.encode("utf-16-le")) // 2


def format_date(value: datetime | None) -> str:
    return value.strftime("%d %b %Y") if value else "undated"


def hit_card(hit: SearchHit, number: int | None = None) -> str:
    """One search result: linked title, source and date, snippet with matches in bold."""
    prefix = f"{number}. " if number is not None else ""
    head = f"{prefix}<b>{link(hit.url, hit.title)}</b>"
    meta = f"<i>{escape(hit.source)} · {format_date(hit.published_at)}</i> · /article_{hit.id}"
    snippet = snippet_html(hit.snippet)
    return f"{head}\n{meta}\n{snippet}" if snippet else f"{head}\n{meta}"


@dataclass(frozen=True, slots=True)
class _Unit:
    """A piece of the message: a tag, or a run of text ending at a possible break."""

    text: str
    is_tag: bool
    visible: int


def _units(fragment: str) -> list[_Unit]:
    units: list[_Unit] = []
    for token in re.split(r"(<[^>]*>)", fragment):
        if not token:
            continue
        if token.startswith("<"):
            units.append(_Unit(token, True, 0))
            continue
        # Keep each whitespace run attached to the word before it so breaks fall after it.
        for piece in re.findall(r"\S+\s*|\s+", token):
            units.append(_Unit(piece, False, visible_length(piece)))
    return units


def _hard_split(unit: _Unit, limit: int) -> list[_Unit]:
    """Split one over-long word on character boundaries (never inside an entity)."""
    pieces: list[_Unit] = []
    current: list[str] = []
    size = 0
    for char in html.unescape(unit.text):
        width = 2 if ord(char) > 0xFFFF else 1  # UTF-16 code units
        if size + width > limit:
            pieces.append(_Unit(escape("".join(current)), False, size))
            current, size = [], 0
        current.append(char)
        size += width
    if current:
        pieces.append(_Unit(escape("".join(current)), False, size))
    return pieces


def _tag_name(tag: str) -> str:
    match = _TAG_NAME.match(tag)
    return match.group(1).lower() if match else ""


def split_html(fragment: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split Telegram HTML into parts of at most ``limit`` visible characters.

    Parts end at a paragraph break where possible, else a line break, else a space; tags open
    at a cut are closed at the end of the part and reopened at the start of the next.
    """
    if visible_length(fragment) <= limit:
        return [fragment]
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
        body = body.strip("\n ")
        if visible_length(body) > 0:
            parts.append(body)

    def best_cut(chunk: list[_Unit]) -> int:
        """Index after which to cut: the last paragraph break, else line break, else space."""
        for brk in _BREAKS:
            for i in range(len(chunk) - 1, -1, -1):
                if not chunk[i].is_tag and chunk[i].text.endswith(brk):
                    return i + 1
        return len(chunk)

    for unit in units:
        while not unit.is_tag and visible + unit.visible > budget and current:
            cut = best_cut(current)
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
    return parts


def _apply_tag(stack: list[str], unit: _Unit) -> None:
    if not unit.is_tag:
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


def results_page(
    heading: str,
    hits: Sequence[SearchHit],
    *,
    total: int,
    page: int,
    page_size: int = 5,
    total_capped: bool = False,
) -> str:
    """A page of search results under an escaped heading, numbered across pages."""
    first = (page - 1) * page_size + 1
    count = f"{total:,}+" if total_capped else f"{total:,}"
    head = f"<b>{escape(heading)}</b> · {count} result{'s' if total != 1 else ''}"
    cards = [hit_card(hit, first + i) for i, hit in enumerate(hits)]
    text = "\n\n".join([head, *cards])
    if visible_length(text) > MESSAGE_LIMIT:
        # Snippets are the only part of unbounded total size; drop them rather than split a page.
        cards = [hit_card(replace(hit, snippet=""), first + i) for i, hit in enumerate(hits)]
        text = "\n\n".join([head, *cards])
    return text


def article_html(article: Article, entities: Sequence[Entity] = ()) -> str:
    """A whole stored article: linked title, where and when, the names in it, the text."""
    meta = [escape(article.source), format_date(article.published_at)]
    if article.dateline_place:
        meta.insert(0, escape(article.dateline_place))
    lines = [f"<b>{link(article.url, article.title)}</b>", f"<i>{' · '.join(meta)}</i>"]
    named = [e.canonical for e in entities if e.kind in ("person", "country", "org")]
    if named:
        lines.append("Mentions: " + escape(", ".join(named)))
    if article.classification.is_diplomatic:
        lines.append(f"Diplomatic ({article.classification.score:.2f})")
    others = {s.url for s in article.sources if s.url and s.url != article.url}
    if others:
        lines.append(f"Also carried by {len(others)} other source(s)")
    paragraphs = [escape(p.strip()) for p in article.text.split("\n") if p.strip()]
    return "\n".join(lines) + "\n\n" + "\n\n".join(paragraphs)


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
    lines = [f"<b>{escape(entity.canonical)}</b>"]
    if variants:
        lines.append("Also found as: " + escape(", ".join(variants)))
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
    """What storing an article found: title, persons, countries, diplomatic score."""
    if not outcome.created:
        return (
            f"Already stored (same story as #{outcome.article_id}): "
            f"<b>{escape(outcome.title)}</b>. /article_{outcome.article_id}"
        )
    lines = [f"Stored #{outcome.article_id}: <b>{escape(outcome.title)}</b>"]
    if outcome.persons:
        lines.append("Persons: " + escape(", ".join(outcome.persons)))
    if outcome.countries:
        lines.append("Countries: " + escape(", ".join(outcome.countries)))
    if outcome.orgs:
        lines.append("Organisations: " + escape(", ".join(outcome.orgs)))
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
        escape(feed.url),
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


def search_results(result: SearchResult, page_size: int, heading: str | None = None) -> str:
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
