"""Inbox items -> digest messages: grouped by subscription, near-duplicates collapsed, capped.

Pure functions over plain data: no storage, no Telegram, no clock. ``compose_digest`` takes a
chat's pending inbox rows with the articles and subscriptions they point to, and returns the
messages to send, each with the articles it shows, so delivery can mark exactly those delivered
once Telegram accepts that message.

Rules:

* Only diplomatic articles unless the chat turned that off. Pending items that a digest passes
  over (not diplomatic, or the article is gone) are *skipped*: they are marked delivered with
  the first message of that digest (or with the schedule advance when nothing is sent), so
  they do not pile up in the inbox. Turning "diplomatic only" off later does not bring them
  back; it affects what arrives from then on.
* The same story is one item: storage already merges duplicates into one article with several
  sources, and articles with the same normalised title are collapsed here too. The item says
  "+N sources" for the other places that carried it.
* The newest ``cap`` items are shown (newest first within each group); the rest stay pending
  and the digest ends with "and N more: /more".
* An article matched by several subscriptions is shown once, under the oldest subscription.
* Messages are packed item by item within Telegram's 4096-character limit, so every message
  holds whole items; a group cut by a message boundary gets its heading repeated.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bot.render import (
    LIST_TITLE_CHARS,
    MESSAGE_LIMIT,
    escape,
    format_date,
    link,
    split_html,
    truncate,
)
from bot.render import visible_length as _visible_length
from storage.models import (
    Article,
    Chat,
    InboxItem,
    Subscription,
)

DIGEST_CAP = 20
TITLE_CHARS = LIST_TITLE_CHARS  # a title is shortened alike in every list
LINE_CHARS = 180
MORE_COMMAND = "/more"

DigestKind = Literal["scheduled", "now", "more", "instant"]

_HEADERS: dict[DigestKind, str] = {
    "scheduled": "Your digest",
    "now": "Your digest",
    "more": "More from your digest",
    "instant": "New for you",
}
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class DigestArticle:
    """What a digest needs of an article (small enough to cache for thousands of articles)."""

    id: int
    title: str
    url: str | None
    source: str
    published_at: datetime | None
    ingested_at: datetime
    line: str  # one line of the text
    is_diplomatic: bool
    sources: frozenset[str] = frozenset()  # distinct places that carried it (URL or name)


def first_line(title: str, text: str, limit: int = LINE_CHARS) -> str:
    """The first line of ``text`` that is not the title, whitespace collapsed, cut at a word."""
    folded_title = " ".join(title.split()).casefold()
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line or line.casefold() == folded_title:
            continue
        if len(line) <= limit:
            return line
        cut = line[: limit - 1]
        space = cut.rfind(" ")
        if space > limit // 2:
            cut = cut[:space]
        return cut.rstrip(" ,;:-–—") + "…"
    return ""


def summarize(article: Article) -> DigestArticle:
    """The digest view of a stored article."""
    places = {s.url or s.source for s in article.sources}
    if not places:
        places = {article.url or article.source}
    return DigestArticle(
        id=article.id,
        title=article.title,
        url=article.url,
        source=article.source,
        published_at=article.published_at,
        ingested_at=article.ingested_at,
        line=first_line(article.title, article.text),
        is_diplomatic=article.classification.is_diplomatic,
        sources=frozenset(places),
    )


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One shown story: ``article`` is displayed; ``article_ids`` are all it stands for."""

    article: DigestArticle
    article_ids: tuple[int, ...]
    subscription_id: int
    extra_sources: int  # "+N sources"

    @property
    def when(self) -> datetime:
        return self.article.published_at or self.article.ingested_at


@dataclass(frozen=True, slots=True)
class DigestPart:
    """One Telegram message and the articles it shows (marked delivered once it is accepted)."""

    html: str
    article_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Digest:
    """The messages of one digest. Empty ``parts``: nothing to send."""

    chat_id: int
    parts: tuple[DigestPart, ...]
    items: tuple[DigestItem, ...]  # the shown items, in display order
    skipped_ids: tuple[int, ...] = ()  # pending articles passed over (mark with the first part)
    remaining: int = 0  # items left pending for /more
    groups: tuple[tuple[str, int], ...] = field(default=())  # (heading label, item count)

    @property
    def shown_ids(self) -> tuple[int, ...]:
        return tuple(i for part in self.parts for i in part.article_ids)


def subscription_label(sub: Subscription | None) -> str:
    """The heading of a subscription's group (plain text)."""
    if sub is None:
        return "Other matches"
    if sub.kind == "keyword":
        return f"“{sub.query}”"
    if sub.kind == "source":
        return f"From {sub.query}"
    return sub.query


@functools.lru_cache(maxsize=65_536)
def _title_key(title: str) -> str:
    # Cached, like _item_html: the same new articles appear in thousands of chats' digests.
    return " ".join(_WORD.findall(title.casefold()))


def _collapse(chosen: Mapping[int, int], articles: Mapping[int, DigestArticle]) -> list[DigestItem]:
    """One item per story: articles sharing a normalised title become one item."""
    stories: dict[str, list[int]] = {}
    for article_id in chosen:
        key = _title_key(articles[article_id].title) or f"#{article_id}"
        stories.setdefault(key, []).append(article_id)
    items: list[DigestItem] = []
    for ids in stories.values():
        ids.sort()
        # Show the copy carried most widely (then the oldest row): it is the canonical story.
        shown = max(ids, key=lambda i: (len(articles[i].sources), -i))
        places: set[str] = set()
        for article_id in ids:
            places |= articles[article_id].sources
        extra = max(len(places), len(ids)) - 1
        subscription = min(chosen[i] for i in ids)
        items.append(DigestItem(articles[shown], tuple(ids), subscription, extra))
    return items


def _item_html(item: DigestItem) -> str:
    return _article_html(item.article, item.extra_sources)


@functools.lru_cache(maxsize=65_536)
def _article_html(article: DigestArticle, extra_sources: int) -> str:
    title = f"<b>{link(article.url, truncate(article.title, TITLE_CHARS))}</b>"
    meta = f"<i>{escape(article.source)} · {format_date(article.published_at)}</i>"
    if extra_sources:
        plural = "s" if extra_sources != 1 else ""
        meta += f" · +{extra_sources} source{plural}"
    lines = [f"• {title}", meta]
    if article.line:
        lines.append(escape(article.line))
    return "\n".join(lines)


def _heading_html(label: str, count: int, continued: bool = False) -> str:
    suffix = " (continued)" if continued else f" · {count}"
    return f"<b>{escape(label)}</b>{suffix}"


@dataclass(slots=True)
class _Packer:
    """Fills messages block by block, never over ``limit`` visible characters."""

    limit: int
    parts: list[DigestPart] = field(default_factory=list)
    _blocks: list[str] = field(default_factory=list)
    _ids: list[int] = field(default_factory=list)
    _size: int = 0

    def fits(self, block: str) -> bool:
        return self._size + 2 + _visible_length(block) <= self.limit

    def add(self, block: str, ids: Iterable[int] = ()) -> None:
        self._size += (2 if self._blocks else 0) + _visible_length(block)
        self._blocks.append(block)
        self._ids.extend(ids)

    @property
    def empty(self) -> bool:
        return not self._blocks

    def flush(self) -> None:
        if not self._blocks:
            return
        text = "\n\n".join(self._blocks)
        # Whole items keep each message under the limit; split_html is the guard should a
        # single block ever be longer (its pieces then all wait for the last one's acceptance).
        pieces = split_html(text, self.limit)
        for piece in pieces[:-1]:
            self.parts.append(DigestPart(piece, ()))
        self.parts.append(DigestPart(pieces[-1], tuple(self._ids)))
        self._blocks, self._ids, self._size = [], [], 0


def compose_digest(
    chat: Chat,
    pending: Sequence[InboxItem],
    articles: Mapping[int, DigestArticle],
    subscriptions: Mapping[int, Subscription],
    *,
    kind: DigestKind = "scheduled",
    cap: int = DIGEST_CAP,
    limit: int = MESSAGE_LIMIT,
    beyond: int = 0,
    passed_over: Iterable[int] = (),
) -> Digest:
    """Build a chat's digest from its pending inbox rows (see the module docstring).

    ``pending`` may be only the newest of the chat's pending articles (storage picks them,
    ``Storage.pending_digest``): ``beyond`` counts the older eligible ones left out, which
    count towards "and N more" (a story there whose title repeats one shown here is counted,
    not collapsed). ``passed_over``: pending articles storage already found ineligible; they
    are skipped like the ones found here."""
    chosen: dict[int, int] = {}  # article id -> subscription it is shown under
    skipped: set[int] = set(passed_over)
    for row in pending:
        article = articles.get(row.article_id)
        if article is None or (chat.only_diplomatic and not article.is_diplomatic):
            skipped.add(row.article_id)
            continue
        known = chosen.get(row.article_id)
        if known is None or row.subscription_id < known:
            chosen[row.article_id] = row.subscription_id
    items = _collapse(chosen, articles)
    items.sort(key=lambda i: (i.when, i.article.id), reverse=True)
    shown, remaining = items[:cap], len(items) - min(len(items), cap) + max(0, beyond)

    groups: dict[int, list[DigestItem]] = {}
    for item in shown:
        groups.setdefault(item.subscription_id, []).append(item)
    # Biggest groups first; equal ones in the order they were subscribed.
    ordered = sorted(groups.items(), key=lambda g: (-len(g[1]), g[0]))
    labels = tuple(
        (subscription_label(subscriptions.get(sub_id)), len(group)) for sub_id, group in ordered
    )
    if not shown:
        return Digest(chat.id, (), (), tuple(sorted(skipped)), 0, ())

    packer = _Packer(limit)
    total = len(items) + max(0, beyond)
    packer.add(f"<b>{_HEADERS[kind]}</b> · {total} new article{'s' if total != 1 else ''}")
    display: list[DigestItem] = []
    for (label, count), (_, group) in zip(labels, ordered, strict=True):
        heading = _heading_html(label, count)
        for index, item in enumerate(group):
            block = _item_html(item)
            if index == 0:
                block = f"{heading}\n{block}"
            if not packer.empty and not packer.fits(block):
                packer.flush()
                if index > 0:
                    block = f"{_heading_html(label, count, continued=True)}\n{block}"
            packer.add(block, item.article_ids)
            display.append(item)
    if remaining:
        footer = f"and {remaining} more: {MORE_COMMAND}"
        if not packer.fits(footer):
            packer.flush()
        packer.add(footer)
    packer.flush()
    return Digest(
        chat.id,
        tuple(packer.parts),
        tuple(display),
        tuple(sorted(skipped)),
        remaining,
        labels,
    )
