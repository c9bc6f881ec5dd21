"""The Storage protocol and the frozen dataclasses it takes and returns.

Nothing here knows about SQLite, SQL or Telegram: a PostgreSQL backend implements the same
protocol. Times are timezone-aware UTC ``datetime`` objects everywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol

EntityKind = Literal["person", "country", "org"]
SubscriptionKind = Literal["keyword", "person", "country", "org", "source"]
DigestFrequency = Literal["off", "instant", "hourly", "daily", "weekly"]
ChatType = Literal["private", "group", "supergroup", "channel"]
SearchOrder = Literal["relevance", "newest"]
DuplicateReason = Literal["url", "guid", "fingerprint", "near"]


# --------------------------------------------------------------------------- articles


@dataclass(frozen=True, slots=True)
class EntityMention:
    """One entity found in an article, as the extractor reports it (before it has a row id)."""

    kind: EntityKind
    canonical: str  # display form, e.g. "Sergei Lavrov"
    key: str  # stable identity key from bot.nlp.names, e.g. "person:sergei lavrov"
    aliases: tuple[str, ...]  # lookup keys under which the entity is found ("lavrov", ...)
    mentions: int
    first_offset: int


@dataclass(frozen=True, slots=True)
class Classification:
    """The diplomatic-relevance verdict for an article."""

    score: float = 0.0
    is_diplomatic: bool = False
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NewArticle:
    """An article ready to store: parsed, normalised, fingerprinted and (optionally) enriched."""

    title: str
    text: str
    url: str | None  # canonical URL (bot.ingest.normalize.canonical_url), or None for pasted text
    source: str  # human name of where it came from: agency, feed title, domain, "telegram"
    fingerprint: str  # exact fingerprint of the normalised text (hex)
    signature: bytes  # MinHash signature: packed little-endian uint32 slots (see below)
    bands: tuple[int, ...]  # LSH band keys of the signature (signed 64-bit ints)
    published_at: datetime | None = None
    lang: str = "en"
    dateline_place: str | None = None
    agency: str | None = None
    attribution: str | None = None  # e.g. "BelTA" from "BelTA reports"
    guid: str | None = None  # feed entry id, when it came from a feed
    classification: Classification = field(default_factory=Classification)
    entities: tuple[EntityMention, ...] = ()


@dataclass(frozen=True, slots=True)
class ArticleSource:
    """One place that carried an article."""

    url: str | None
    source: str
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class Article:
    """A stored article."""

    id: int
    title: str
    text: str
    url: str | None  # the first URL it was seen at
    source: str
    published_at: datetime | None
    ingested_at: datetime
    lang: str
    dateline_place: str | None
    agency: str | None
    attribution: str | None
    classification: Classification
    sources: tuple[ArticleSource, ...] = ()


@dataclass(frozen=True, slots=True)
class AddResult:
    """The outcome of storing one NewArticle."""

    article_id: int
    created: bool
    duplicate_reason: DuplicateReason | None = None  # set when created is False


# Two texts are the same story when at least this share of their MinHash slots agree
# (an estimate of the Jaccard overlap of their word shingles).
NEAR_DUPLICATE_MIN_SIMILARITY = 0.85


def signature_similarity(a: bytes, b: bytes) -> float:
    """The share of equal 4-byte slots of two MinHash signatures (0.0 if they differ in size)."""
    if len(a) != len(b) or not a:
        return 0.0
    slots = len(a) // 4
    same = sum(1 for i in range(0, len(a), 4) if a[i : i + 4] == b[i : i + 4])
    return same / slots


# --------------------------------------------------------------------------- search


@dataclass(frozen=True, slots=True)
class Term:
    """A single word; ``prefix`` means ``word*``. ``text`` holds letters/digits only."""

    text: str
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Phrase:
    """Words that must appear next to each other, in order."""

    words: tuple[str, ...]


Clause = Term | Phrase


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one of the clauses must match (``a OR b``); a plain word is a one-clause AnyOf."""

    options: tuple[Clause, ...]


@dataclass(frozen=True, slots=True)
class TextQuery:
    """A parsed, safe full-text query: every ``required`` group matches and no ``excluded``."""

    required: tuple[AnyOf, ...]
    excluded: tuple[Clause, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What storage.search needs. ``entity_groups``: each group any-of, all groups required."""

    text: TextQuery | None = None
    since: date | None = None
    until: date | None = None  # inclusive
    source: str | None = None
    entity_groups: tuple[tuple[int, ...], ...] = ()
    diplomatic_only: bool = False
    order: SearchOrder = "relevance"
    limit: int = 5
    offset: int = 0


# Snippets mark matched words with these control characters; render.py turns them into <b>.
HIGHLIGHT_START = "\x02"
HIGHLIGHT_END = "\x03"


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result."""

    id: int
    title: str
    url: str | None
    source: str
    published_at: datetime | None
    snippet: str  # plain text with HIGHLIGHT_START/END around matched words
    is_diplomatic: bool = False


@dataclass(frozen=True, slots=True)
class SearchPage:
    """A page of results and the total number of matches.

    Counting stops at a cap (10,000 for SQLite): ``total_capped`` means "at least ``total``".
    """

    total: int
    hits: tuple[SearchHit, ...]
    total_capped: bool = False


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Counts for ``attache stats`` and ``/stats``."""

    articles: int
    sources: int
    entities: int
    chats: int
    subscriptions: int
    feeds: int
    db_bytes: int


# --------------------------------------------------------------------------- entities


@dataclass(frozen=True, slots=True)
class Entity:
    """A stored entity (person, country, organisation) with its aliases."""

    id: int
    kind: EntityKind
    canonical: str
    key: str
    aliases: tuple[str, ...]
    articles: int  # how many stored articles mention it


# --------------------------------------------------------------------------- chats


@dataclass(frozen=True, slots=True)
class Chat:
    """A Telegram chat (private, group, channel) and its digest settings."""

    id: int
    type: ChatType
    title: str | None
    tz: str  # IANA zone name
    digest_frequency: DigestFrequency = "daily"
    digest_time: str = "09:00"  # local HH:MM
    digest_weekday: int = 0  # 0 = Monday, for weekly digests
    next_digest_at: datetime | None = None  # UTC; None when no digest is scheduled
    only_diplomatic: bool = True
    paused: bool = False
    blocked_at: datetime | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewSubscription:
    """A subscription to create. ``entity_id`` is set for person/country/org subscriptions."""

    chat_id: int
    kind: SubscriptionKind
    query: str  # the user's words, normalised for display
    entity_id: int | None = None
    # For keyword subscriptions: the query parsed exactly as /search parses it
    # (bot.search_query.parse_query(query).text), so matching follows /search. Without it the
    # query is read as plain words, every one required.
    text: TextQuery | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    """A stored subscription."""

    id: int
    chat_id: int
    kind: SubscriptionKind
    query: str
    entity_id: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A matched article waiting for (or already given) delivery to a chat."""

    chat_id: int
    article_id: int
    subscription_id: int
    matched_at: datetime
    delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PendingDigest:
    """What a digest needs of a chat's pending inbox, without every pending item.

    A digest shows a few dozen of possibly hundreds of pending articles, so the backend picks
    the newest eligible ones (diplomatic only, when asked) and counts the rest."""

    # The newest eligible pending articles (by publication time, else storage time), newest
    # first, at most the ``limit`` asked: one item per article, under the oldest subscription
    # that matched it.
    items: tuple[InboxItem, ...]
    # Eligible pending articles in all (those in ``items`` included).
    articles: int
    # Pending articles a digest passes over (not diplomatic, when only diplomatic ones are
    # wanted): marked delivered with the digest's first message. A backend may also leave such
    # matches out of the inbox altogether; they are then never pending.
    passed_over: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class PercolateResult:
    """What one ``Storage.percolate`` call did.

    ``matches`` counts (shared query or entity, article) pairs matched, not inbox rows: a
    backend may record matches once per query or entity and materialise a chat's inbox rows
    only when the chat's inbox is read (``pending_inbox``). ``chats`` lists only the chats on
    ``instant`` frequency (not paused, not blocked) that got new matches, for the instant
    delivery job; chats on scheduled digests are not listed (their digest reads the inbox)."""

    articles: int
    matches: int
    chats: tuple[int, ...] = ()  # instant chats with new matches only


# --------------------------------------------------------------------------- feeds


@dataclass(frozen=True, slots=True)
class Feed:
    """A polled RSS/Atom/JSON feed."""

    id: int
    url: str
    title: str | None
    etag: str | None
    last_modified: str | None
    interval_s: int
    next_poll_at: datetime
    failures: int
    last_error: str | None
    last_success_at: datetime | None
    enabled: bool


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """What one poll of a feed learned, written back with ``record_poll``."""

    feed_id: int
    ok: bool
    next_poll_at: datetime
    etag: str | None = None
    last_modified: str | None = None
    title: str | None = None
    error: str | None = None
    disable: bool = False


# --------------------------------------------------------------------------- protocol


class Storage(Protocol):
    """Everything Attaché persists. Implementations are async and safe to share in one loop."""

    # lifecycle
    async def open(self) -> None: ...
    async def close(self) -> None: ...

    # articles
    async def add_articles(self, items: Sequence[NewArticle]) -> list[AddResult]:
        """Store articles in one transaction, merging duplicates (same URL, guid, text, or
        near-identical text) into the stored story while recording the new source."""
        ...

    async def get_article(self, article_id: int) -> Article:
        """Return one article; raise NotFound."""
        ...

    async def get_articles(self, article_ids: Sequence[int]) -> list[Article]:
        """Return the articles that exist, in the order asked."""
        ...

    async def search(self, query: SearchQuery) -> SearchPage: ...

    def iter_articles(self, batch_size: int = 500) -> AsyncIterator[Article]:
        """Every stored article, oldest first (for reindexing)."""
        ...

    async def count_articles(self) -> int: ...

    async def replace_enrichment(
        self,
        article_id: int,
        classification: Classification,
        entities: Sequence[EntityMention],
    ) -> None:
        """Replace an article's entities and classification (used by reindex)."""
        ...

    async def stats(self) -> StoreStats: ...

    # entities
    async def find_entities(
        self, alias_keys: Sequence[str], kind: EntityKind | None = None
    ) -> list[Entity]:
        """Entities having any of these alias keys, most-mentioned first."""
        ...

    async def get_entity(self, entity_id: int) -> Entity:
        """Return one entity; raise NotFound."""
        ...

    async def ensure_entity(self, mention: EntityMention) -> Entity:
        """Return the entity with the mention's key, creating it when new (no article needed:
        a subscription may name it first); the mention's aliases are added either way."""
        ...

    async def article_entities(self, article_id: int) -> list[Entity]:
        """The entities an article mentions, in order of first mention."""
        ...

    # chats
    async def ensure_chat(
        self, chat_id: int, chat_type: ChatType, title: str | None, default_tz: str
    ) -> Chat:
        """Return the chat, creating it with defaults if new (title refreshed if changed)."""
        ...

    async def get_chat(self, chat_id: int) -> Chat:
        """Return one chat; raise NotFound."""
        ...

    async def save_chat(self, chat: Chat) -> None:
        """Persist a chat's settings (all fields but id and created_at)."""
        ...

    async def forget_chat(self, chat_id: int) -> None:
        """Delete a chat with its subscriptions and inbox."""
        ...

    # subscriptions
    async def add_subscription(self, sub: NewSubscription, limit: int) -> Subscription:
        """Create a subscription; raise AlreadyExists or LimitExceeded."""
        ...

    async def list_subscriptions(self, chat_id: int) -> list[Subscription]: ...

    async def get_subscription(self, chat_id: int, subscription_id: int) -> Subscription:
        """Return a chat's subscription; raise NotFound (also when it is another chat's)."""
        ...

    async def delete_subscription(self, chat_id: int, subscription_id: int) -> bool: ...

    async def delete_all_subscriptions(self, chat_id: int) -> int: ...

    def all_subscriptions(self) -> AsyncIterator[Subscription]:
        """Every subscription of every chat that is not blocked (to build the match index)."""
        ...

    # inbox and digests
    async def percolate(self, limit: int = 500) -> PercolateResult:
        """Match up to ``limit`` stored, not yet matched articles against the subscriptions
        that existed when each article was stored; record the matches and mark the articles
        matched, in one transaction (a crash leaves them for the next call). The matches
        reach each chat's inbox no later than its next ``pending_inbox`` / ``pending_chats``.
        ``articles`` is 0 when nothing was waiting; see PercolateResult for ``chats``."""
        ...

    async def add_inbox(self, items: Sequence[InboxItem]) -> int:
        """Insert matches, ignoring ones already there; return how many were new."""
        ...

    async def pending_inbox(self, chat_id: int) -> list[InboxItem]:
        """The chat's undelivered items, oldest match first: one per (article, matching
        subscription), including every match recorded so far (a backend that records matches
        lazily materialises the chat's inbox rows first, in the same transaction)."""
        ...

    async def pending_digest(
        self, chat_id: int, *, diplomatic_only: bool, limit: int, in_flight: bool = False
    ) -> PendingDigest:
        """The chat's pending inbox as a digest needs it (see PendingDigest), up to date with
        every match recorded so far, as ``pending_inbox``. ``in_flight``: only the items
        marked by ``mark_sending`` and not delivered (a send a crash may have interrupted)."""
        ...

    async def prepare_inboxes(self, chat_ids: Sequence[int]) -> None:
        """Bring these chats' inboxes up to date with every match recorded so far, in one go,
        as ``pending_digest`` would for each (by each chat's stored ``only_diplomatic``): for
        a batch of due chats, before their digests are composed one by one. A backend that
        writes every chat's inbox at match time has nothing to do."""
        ...

    async def mark_delivered(
        self,
        chat_id: int,
        article_ids: Sequence[int],
        delivered_at: datetime,
        next_digest_at: datetime | None,
    ) -> None:
        """In one transaction: mark the chat's items for these articles delivered and set
        the chat's next digest time."""
        ...

    async def mark_sending(
        self, chat_id: int, article_ids: Sequence[int], at: datetime | None
    ) -> None:
        """Mark the chat's pending items for these articles as being sent (``at``), or clear
        the mark (``None``) after a send that Telegram refused."""
        ...

    async def due_chats(self, now: datetime, limit: int = 1000) -> list[Chat]:
        """Chats whose next digest time has come (not paused, not blocked)."""
        ...

    async def pending_chats(self, frequency: DigestFrequency, limit: int = 1000) -> list[Chat]:
        """Chats on ``frequency`` with undelivered inbox items (not paused, not blocked),
        for instant delivery."""
        ...

    async def mark_blocked(self, chat_id: int, at: datetime) -> None: ...

    # feeds
    async def add_feed(self, url: str, title: str | None, interval_s: int) -> Feed:
        """Create a feed; raise AlreadyExists for the same URL."""
        ...

    async def list_feeds(self) -> list[Feed]: ...

    async def get_feed(self, feed_id: int) -> Feed: ...

    async def remove_feed(self, feed_id: int) -> bool: ...

    async def due_feeds(self, now: datetime) -> list[Feed]: ...

    async def record_poll(self, outcome: PollOutcome, at: datetime) -> Feed: ...

    async def seen_guids(self, guids: Sequence[str]) -> set[str]:
        """Which of these feed entry ids are stored already."""
        ...
