"""The Storage protocol: everything Attaché persists, as async methods over ``storage.models``.

Nothing here knows about SQLite, SQL or Telegram: a second backend implements the same protocol
and passes the same contract suite (``tests/storage/contract``). The docstrings below are the
contract; where they describe an order, a count or a match rule, a backend must keep it.

Rules every method follows:

* **Time** is passed in. Storage never reads the clock: a method that stamps a row takes
  ``now`` (keyword-only) or an explicit moment. Times are timezone-aware UTC ``datetime``
  objects (a naive one is read as UTC) and are kept to the whole second: what comes back is
  the moment given, without microseconds.
* **Errors** are ``storage.errors`` only (a backend maps its driver's errors at its boundary):
  ``NotFound``, ``AlreadyExists``, ``LimitExceeded``, ``QueryTooExpensive`` where documented,
  and ``Unavailable``, ``Corrupt``, ``MigrationError``, ``ConstraintViolation`` or plain
  ``StorageError`` for failures of the database itself.
* **Writes are atomic**: each writing method is one transaction; when it raises, nothing of it
  was kept. Processes sharing one database (a bot and the CLI) see each other's commits.
* **Reads see committed data only**: never the rows of a write in progress (which may yet be
  rolled back), and always every write committed before the read started, including the
  caller's own (a read after ``await ensure_chat(...)`` sees the chat).
* **Concurrent use**: one instance is shared by every coroutine of an event loop; reads do not
  wait for writes, and a slow read does not hold up the others.

Full-text search (``search`` and keyword matching in ``percolate``) reads text like SQLite FTS5's
``porter unicode61 remove_diacritics 2`` tokenizer, which every backend must reproduce:

* a *token* is a maximal run of Unicode letters and digits (``unicode61``: categories L*, N* and
  Co); everything else (spaces, punctuation, hyphens, apostrophes, underscores, symbols,
  emoji, and combining marks other than the Latin diacritics below) separates tokens:
  ``U.S.-Thai`` is ``u s thai``, ``Lavrov's`` is ``lavrov s``, ``3.5`` is ``3 5``, ``s͓x``
  is ``s x``; an unspaced CJK run is one token;
* tokens are case-folded, and diacritics are removed from Latin letters (``Zürich`` =
  ``zurich``, ``café`` = ``cafe``, ``Łódź`` = ``łodz``), not from other scripts (``провёл``
  keeps its ``ё``) nor from letters that are not a base letter plus a mark (``ø``, ``æ``,
  ``ß``); those accents written as combining marks (25 marks from U+0300 to U+0331) are
  dropped without splitting the word;
* each token is then stemmed with the English Porter stemmer (``discussing``, ``discussed`` and
  ``discusses`` are ``discuss``; ``integrated`` and ``integration`` are ``integr``); tokens of
  other scripts pass unchanged in practice.

The words of a query are tokenised the same way: a ``Term`` that becomes several tokens
(``U.S.``) is a phrase of them; a ``Phrase`` matches its tokens adjacent and in order; a prefix
``Term`` (``word*``) is tokenised and stemmed like any word, then matches every stored token
that starts with the result (``integration*`` finds "integrated"; ``integrat*`` finds nothing,
because "integrated" is stored as ``integr``). Words match an article's title and text only.
A ``TextQuery`` matches when every ``required`` group has a matching option and no ``excluded``
clause matches; clauses that are blank are dropped, and a text query left with no clause
matches nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Protocol

from storage.models import (
    AddResult,
    Article,
    Chat,
    ChatType,
    Classification,
    DigestFrequency,
    Entity,
    EntityKind,
    EntityMention,
    Feed,
    NewArticle,
    NewSubscription,
    PendingDigest,
    PercolateResult,
    PollOutcome,
    SearchPage,
    SearchQuery,
    StoreStats,
    Subscription,
)

# Counting search matches stops here: ``SearchPage.total`` is exact below it.
SEARCH_TOTAL_CAP = 10_000

# --------------------------------------------------------------------------- protocol


class Storage(Protocol):
    """Everything Attaché persists. Implementations are async and safe to share in one loop."""

    # lifecycle
    async def open(self) -> None:
        """Connect, creating or upgrading the schema (MigrationError when the database is
        newer than this code); calling it again is harmless."""
        ...

    async def close(self) -> None: ...

    # articles
    async def add_articles(self, items: Sequence[NewArticle], *, now: datetime) -> list[AddResult]:
        """Store articles in one transaction, stamped ``now`` (``Article.ingested_at``, the
        sources' ``seen_at``); one result per item, in order.

        An item is a duplicate of a stored story (or of an earlier item of the same batch),
        checked in this order: the same URL (any URL recorded for the story), the same feed
        guid, the same text fingerprint, or a near-identical text (MinHash signatures agreeing
        on at least ``NEAR_DUPLICATE_MIN_SIMILARITY`` of their slots, among stories sharing an
        LSH band with it). A duplicate creates no article: it is reported with its reason and
        the stored story's id, and the place that carried it is recorded as a new source of
        that story (which ``source:`` filters and ``seen_guids`` then find), except that a
        duplicate by URL records nothing new, and a story without URL records each source name
        once. New articles are queued for ``percolate``; merged duplicates are not."""
        ...

    async def get_article(self, article_id: int) -> Article:
        """Return one article with every source that carried it (first one first); raise
        NotFound."""
        ...

    async def get_articles(self, article_ids: Sequence[int]) -> list[Article]:
        """Return the articles that exist, in the order asked."""
        ...

    async def search(self, query: SearchQuery) -> SearchPage:
        """One page of the articles matching ``query``.

        Matching: ``text`` as described in this module's docstring; ``since``/``until`` are
        inclusive UTC dates of the article's *sort time*: its publication time, or its storage
        time when it has none or when it lies more than a day after storage (not believed);
        ``source``: a case-insensitive substring of the name of any source that carried the
        story (every recorded source, not only the first); ``entity_groups``: every group
        must have one of its entities mentioned (an empty group matches nothing);
        ``diplomatic_only``: classified diplomatic.

        Order. ``newest``: most recently **stored** first (storage order, the order of
        ``add_articles`` calls and of items within one), not publication time; so are searches
        without words (filters only). ``relevance`` (with words): the newest 1,000 matches in
        storage order are ranked by BM25 over title (weight 4) and text (weight 1), divided by
        ``1 + age / 14 days``, where age is how much older the article's sort time is than the
        newest candidate's (ties: newer stored first); positions past those 1,000 continue in
        storage order. So a match in the title outranks one in the text, and a small edge in
        relevance does not outrank a much newer story.

        Paging: ``limit`` hits from ``offset``. ``total`` counts every match, not only the
        page, exactly up to ``SEARCH_TOTAL_CAP`` (10,000); with more matches ``total`` is
        10,000 and ``total_capped`` is set (a caller shows "10,000+"). ``total`` is never
        below ``offset`` plus the hits returned (up to the cap): a page asked past the last
        match reports ``offset``.

        Snippets: with words, a passage of about 30 tokens around the matches, each matched
        word between ``HIGHLIGHT_START`` and ``HIGHLIGHT_END``, ``…`` where text was cut;
        without words, the first 30 words of the text (``…`` when longer).

        Cost: a search the backend cannot answer within its time budget is stopped and raises
        ``QueryTooExpensive`` (the query is too broad; nothing is returned). Any ``date`` is a
        valid ``since``/``until``."""
        ...

    def iter_articles(self, batch_size: int = 500) -> AsyncIterator[Article]:
        """Every stored article, in storage order (oldest stored first), read ``batch_size``
        at a time (for reindexing: the caller may write between items)."""
        ...

    async def replace_enrichment(
        self,
        article_id: int,
        classification: Classification,
        entities: Sequence[EntityMention],
    ) -> None:
        """Replace an article's entities and classification (used by reindex); searches by
        entity or ``diplomatic_only`` follow at once. Raise NotFound."""
        ...

    async def stats(self) -> StoreStats:
        """Counts (``sources``: recorded places that carried stories, one per article and
        source) and ``db_bytes``, the space the database takes as the backend measures it."""
        ...

    # entities
    async def find_entities(
        self, alias_keys: Sequence[str], kind: EntityKind | None = None
    ) -> list[Entity]:
        """Entities having any of these alias keys (of ``kind``, when given), most-mentioned
        first (ties: oldest first); each with its aliases sorted and its article count."""
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
        self,
        chat_id: int,
        chat_type: ChatType,
        title: str | None,
        default_tz: str,
        *,
        now: datetime,
    ) -> Chat:
        """Return the chat, creating it if new with the ``Chat`` defaults, ``default_tz``, no
        ``next_digest_at`` (the caller schedules) and ``created_at`` = ``now``. For a known
        chat the type and title are refreshed and ``blocked_at`` is cleared (a chat that
        talks to the bot is not blocking it); its settings are kept."""
        ...

    async def get_chat(self, chat_id: int) -> Chat:
        """Return one chat; raise NotFound."""
        ...

    async def save_chat(self, chat: Chat) -> None:
        """Persist a chat's settings (all fields but id and created_at); raise NotFound."""
        ...

    async def forget_chat(self, chat_id: int) -> None:
        """Delete a chat with its subscriptions and inbox (nothing if unknown)."""
        ...

    # subscriptions
    async def add_subscription(
        self, sub: NewSubscription, limit: int, *, now: datetime
    ) -> Subscription:
        """Create a subscription made at ``now`` (``created_at``). Raise NotFound for an
        unknown chat, AlreadyExists when the chat has the same one (same kind and entity, or
        same kind and query, compared case-folded with runs of spaces as one), LimitExceeded
        when it has ``limit`` already. Keyword subscriptions match by ``sub.text`` (parsed as
        ``/search`` parses it) or, without it, the query's words, all required."""
        ...

    async def list_subscriptions(self, chat_id: int) -> list[Subscription]:
        """The chat's subscriptions, oldest first."""
        ...

    async def get_subscription(self, chat_id: int, subscription_id: int) -> Subscription:
        """Return a chat's subscription; raise NotFound (also when it is another chat's)."""
        ...

    async def delete_subscription(self, chat_id: int, subscription_id: int) -> bool:
        """Delete one of this chat's subscriptions (with its pending items); whether it
        existed."""
        ...

    async def delete_all_subscriptions(self, chat_id: int) -> int:
        """Delete the chat's subscriptions; how many there were."""
        ...

    # inbox and digests
    async def percolate(self, limit: int = 500, *, now: datetime) -> PercolateResult:
        """Match up to ``limit`` stored, not yet matched articles (oldest stored first) and
        record the matches (``matched_at`` = ``now``), in one transaction.

        Guarantees: every article ``add_articles`` created is matched exactly once, whichever
        process stored it and whichever calls ``percolate`` (a crash leaves the batch for the
        next call; merged duplicates are never matched again). A keyword subscription matches
        an article exactly when ``search`` with the same ``TextQuery`` finds it; a person,
        country or organisation subscription matches the articles linked to its entity (under
        any alias); source subscriptions match nothing. An article is news only to
        subscriptions made no later than it was stored (``created_at <= ingested_at``); a
        chat collects nothing while it is blocked (not even after it comes back). The
        matches reach each chat's inbox no later than its next ``pending_digest`` /
        ``pending_chats`` / ``prepare_inboxes``, one item per (article, matching
        subscription). ``articles`` is 0 when nothing was waiting; see PercolateResult for
        ``matches`` and ``chats``."""
        ...

    async def pending_digest(
        self, chat_id: int, *, diplomatic_only: bool, limit: int, in_flight: bool = False
    ) -> PendingDigest:
        """The chat's pending (undelivered) inbox as a digest needs it, up to date with every
        match recorded so far: ``items`` are the newest ``limit`` eligible pending articles
        by **publication time, or storage time for undated ones**, newest first (ties: the
        later stored first), one per article under its oldest matching subscription (lowest
        id) with its earliest ``matched_at``; ``articles`` counts every eligible pending
        article; with ``diplomatic_only``, only diplomatic articles are eligible and
        ``passed_over`` lists the other pending ones (ascending ids; a backend may instead
        never record such matches for a chat that takes diplomatic ones only). ``in_flight``:
        only the items marked by ``mark_sending`` and not delivered (a send a crash may have
        interrupted)."""
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
        """In one transaction: mark the chat's pending items for these articles delivered at
        ``delivered_at`` (every subscription's item of each article; items delivered before
        keep their time; other chats' items are untouched) and set the chat's next digest
        time (``None``: none scheduled), even when no item was pending. Delivered items are
        never pending again. The items are those the chat's inbox held when last read
        (``pending_digest``, ``prepare_inboxes``; see ``percolate``): digests mark what they
        read, and a match not read yet may stay pending."""
        ...

    async def mark_sending(
        self, chat_id: int, article_ids: Sequence[int], at: datetime | None
    ) -> None:
        """Mark the chat's pending items for these articles as being sent (``at``), or clear
        the mark (``None``) after a send that Telegram refused. Marked items stay pending
        until ``mark_delivered``; after a crash ``pending_digest(in_flight=True)`` finds
        them."""
        ...

    async def due_chats(self, now: datetime, limit: int = 1000) -> list[Chat]:
        """Chats whose next digest time is at or before ``now`` (not paused, not blocked, not
        ``off``), earliest first (ties: lowest id), at most ``limit``."""
        ...

    async def pending_chats(self, frequency: DigestFrequency, limit: int = 1000) -> list[Chat]:
        """Chats on ``frequency`` with pending items or matches (not paused, not blocked),
        by id, at most ``limit``: for instant delivery."""
        ...

    async def mark_blocked(self, chat_id: int, at: datetime) -> None:
        """The chat blocked the bot at ``at``: no digests are due for it and it collects no
        matches until ``ensure_chat`` clears the mark."""
        ...

    # feeds
    async def add_feed(
        self, url: str, title: str | None, interval_s: int, *, now: datetime
    ) -> Feed:
        """Create an enabled feed, first poll due at ``now``; raise AlreadyExists for the
        same URL."""
        ...

    async def list_feeds(self) -> list[Feed]:
        """Every feed, oldest first."""
        ...

    async def remove_feed(self, feed_id: int) -> bool:
        """Delete a feed; whether it existed."""
        ...

    async def due_feeds(self, now: datetime) -> list[Feed]:
        """Enabled feeds whose next poll is at or before ``now``, earliest first (ties: lowest
        id)."""
        ...

    async def record_poll(self, outcome: PollOutcome, at: datetime) -> Feed:
        """Write what a poll at ``at`` learned and return the feed as stored; raise NotFound.
        Success: failures back to 0, no last error, ``last_success_at`` = ``at``, and the
        etag, last-modified and title replaced only when the outcome has them. Failure:
        failures + 1, ``last_error`` set, validators kept. Either way ``next_poll_at`` is the
        outcome's, and ``disable`` disables the feed (record_poll never enables one)."""
        ...

    async def seen_guids(self, guids: Sequence[str]) -> set[str]:
        """Which of these feed entry ids are stored already (with a story, or as a source of
        one)."""
        ...
