"""The frozen dataclasses and literal types that storage takes and returns.

They are the vocabulary every layer shares (the Storage protocol in ``storage.base``, the
use-cases in ``bot``, the handlers): plain values with no behaviour beyond small helpers, so any
backend can produce them and any layer can hold them without importing a backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

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

    Counting stops at a cap (``storage.base.SEARCH_TOTAL_CAP``, 10,000): ``total_capped`` means
    "at least ``total``".
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
    # (bot.search.query.parse_query(query).text), so matching follows /search. Without it the
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
    only when the chat's inbox is read (``pending_digest``). ``chats`` lists only the chats on
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
