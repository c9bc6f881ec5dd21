"""``SQLiteStorage``: the SQLite implementation of :class:`storage.base.Storage`.

The one public class of the backend, and deliberately thin: each method picks the connection
and transaction its work needs (see :mod:`storage.sqlite.connection`: writes in one
``BEGIN IMMEDIATE`` transaction on the writer, reads on the reader, which sees committed data
only) and delegates the SQL to the module of its concern (:mod:`~storage.sqlite.articles`,
:mod:`~storage.sqlite.search`, :mod:`~storage.sqlite.entities`, :mod:`~storage.sqlite.chats`,
:mod:`~storage.sqlite.percolate`, :mod:`~storage.sqlite.inbox`, :mod:`~storage.sqlite.feeds`).
Keeping the transaction choice here, in one place, is what makes the isolation rules easy to
check. Driver errors leave as :mod:`storage.errors`.

A few methods are not part of the Storage protocol (production code does not use them): they
stay here for tests and benchmarks of this backend (``pending_inbox``, ``add_inbox``,
``all_subscriptions``, ``get_feed``, ``count_articles``, and ``db``, the writer connection
itself).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self

import aiosqlite

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
    InboxItem,
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
from storage.sqlite import articles, chats, entities, feeds, inbox, percolate, search
from storage.sqlite.connection import READERS, Database, ts


class SQLiteStorage:
    """Attaché's store in one SQLite file. Use ``async with SQLiteStorage(path) as store:``.

    ``search_budget_s``: a search still running after this many seconds is stopped inside
    SQLite and raises QueryTooExpensive (see :mod:`storage.sqlite.search`); ``readers``: reader
    connections at most; ``clock``: monotonic seconds for that budget (tests pass their own);
    ``create=False``: the database must exist (NoDatabase otherwise) and nothing is created.
    """

    def __init__(
        self,
        path: Path,
        *,
        search_budget_s: float = search.TIME_BUDGET_S,
        readers: int = READERS,
        clock: Callable[[], float] = time.monotonic,
        create: bool = True,
    ) -> None:
        self._database = Database(path, readers=readers, clock=clock, create=create)
        self._search_budget_s = search_budget_s

    @property
    def path(self) -> Path:
        return self._database.path

    @property
    def db(self) -> aiosqlite.Connection:
        """The writer connection, for tests and benchmarks about SQLite itself."""
        return self._database.writer

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        await self._database.open()

    async def close(self) -> None:
        await self._database.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ articles

    async def add_articles(self, items: Sequence[NewArticle], *, now: datetime) -> list[AddResult]:
        if not items:
            return []
        async with self._database.write() as db:
            return await articles.add(db, items, ts(now))

    async def get_article(self, article_id: int) -> Article:
        async with self._database.read() as db:
            return await articles.get(db, article_id)

    async def get_articles(self, article_ids: Sequence[int]) -> list[Article]:
        async with self._database.read() as db:
            return await articles.get_many(db, article_ids)

    async def iter_articles(self, batch_size: int = 500) -> AsyncIterator[Article]:
        # One read per batch: nothing is held while the caller works on a batch.
        last = 0
        while True:
            async with self._database.read() as db:
                batch = await articles.batch_after(db, last, batch_size)
            if not batch:
                return
            for article in batch:
                yield article
            last = batch[-1].id

    async def count_articles(self) -> int:
        """Not in the protocol (tests, benchmarks): how many articles are stored."""
        async with self._database.read() as db:
            return await articles.count(db)

    async def replace_enrichment(
        self,
        article_id: int,
        classification: Classification,
        entities: Sequence[EntityMention],
    ) -> None:
        async with self._database.write() as db:
            await articles.replace_enrichment(db, article_id, classification, entities)

    async def stats(self) -> StoreStats:
        async with self._database.read() as db:
            return await articles.stats(db)

    async def search(self, query: SearchQuery) -> SearchPage:
        """Ranking and filters are documented in :mod:`storage.sqlite.search`. Its statements
        (pages and count) read one snapshot, so the total agrees with the hits, within one
        time budget (QueryTooExpensive past it)."""
        async with self._database.read(snapshot=True, budget_s=self._search_budget_s) as db:
            return await search.run(db, query)

    # ------------------------------------------------------------------ entities

    async def find_entities(
        self, alias_keys: Sequence[str], kind: EntityKind | None = None
    ) -> list[Entity]:
        async with self._database.read() as db:
            return await entities.find(db, alias_keys, kind)

    async def get_entity(self, entity_id: int) -> Entity:
        async with self._database.read() as db:
            return await entities.get(db, entity_id)

    async def ensure_entity(self, mention: EntityMention) -> Entity:
        async with self._database.write() as db:
            ids = await entities.upsert(db, [mention])
            return await entities.get(db, ids[mention.key])

    async def article_entities(self, article_id: int) -> list[Entity]:
        async with self._database.read() as db:
            return await entities.of_article(db, article_id)

    # ------------------------------------------------------------------ chats

    async def ensure_chat(
        self,
        chat_id: int,
        chat_type: ChatType,
        title: str | None,
        default_tz: str,
        *,
        now: datetime,
    ) -> Chat:
        """Also clears ``blocked_at``: a chat that talks to the bot is not blocking it.

        A new chat has no ``next_digest_at``: the caller schedules its first digest.
        """
        async with self._database.write() as db:
            await chats.ensure(db, chat_id, chat_type, title, default_tz, now)
            return await chats.get(db, chat_id)

    async def get_chat(self, chat_id: int) -> Chat:
        async with self._database.read() as db:
            return await chats.get(db, chat_id)

    async def save_chat(self, chat: Chat) -> None:
        async with self._database.write() as db:
            await chats.save(db, chat)

    async def forget_chat(self, chat_id: int) -> None:
        async with self._database.write() as db:
            await chats.forget(db, chat_id)

    async def due_chats(self, now: datetime, limit: int = 1000) -> list[Chat]:
        async with self._database.read() as db:
            return await chats.due(db, now, limit)

    async def pending_chats(self, frequency: DigestFrequency, limit: int = 1000) -> list[Chat]:
        async with self._database.read() as db:
            return await inbox.pending_chats(db, frequency, limit)

    async def mark_blocked(self, chat_id: int, at: datetime) -> None:
        async with self._database.write() as db:
            await chats.mark_blocked(db, chat_id, at)

    # ------------------------------------------------------------------ subscriptions

    async def add_subscription(
        self, sub: NewSubscription, limit: int, *, now: datetime
    ) -> Subscription:
        async with self._database.write() as db:
            new_id = await chats.add_subscription(db, sub, limit, now)
            return await chats.get_subscription(db, sub.chat_id, new_id)

    async def list_subscriptions(self, chat_id: int) -> list[Subscription]:
        async with self._database.read() as db:
            return await chats.list_subscriptions(db, chat_id)

    async def get_subscription(self, chat_id: int, subscription_id: int) -> Subscription:
        async with self._database.read() as db:
            return await chats.get_subscription(db, chat_id, subscription_id)

    async def delete_subscription(self, chat_id: int, subscription_id: int) -> bool:
        async with self._database.write() as db:
            return await chats.delete_subscription(db, chat_id, subscription_id)

    async def delete_all_subscriptions(self, chat_id: int) -> int:
        async with self._database.write() as db:
            return await chats.delete_all_subscriptions(db, chat_id)

    async def all_subscriptions(self) -> AsyncIterator[Subscription]:
        """Not in the protocol (tests): every subscription of every chat not blocked."""
        last = 0
        while True:
            async with self._database.read() as db:
                batch = await chats.subscriptions_after(db, last, 1000)
            if not batch:
                return
            for sub in batch:
                yield sub
            last = batch[-1].id

    # ------------------------------------------------------------------ inbox

    async def percolate(self, limit: int = 500, *, now: datetime) -> PercolateResult:
        """Matching is documented in :mod:`storage.sqlite.percolate`."""
        async with self._database.write() as db:
            return await percolate.percolate(db, limit, ts(now))

    async def add_inbox(self, items: Sequence[InboxItem]) -> int:
        """Not in the protocol (tests): insert inbox rows, ignoring ones already there;
        how many were new."""
        if not items:
            return 0
        async with self._database.write() as db:
            return await inbox.add(db, items)

    async def pending_inbox(self, chat_id: int) -> list[InboxItem]:
        """Not in the protocol (tests): the chat's undelivered rows, oldest match first, one
        per (article, matching subscription). Expands the chat's new matches first (see
        :mod:`storage.sqlite.percolate`), in the same transaction as the read."""
        async with self._database.write() as db:
            return await inbox.pending(db, chat_id)

    async def pending_digest(
        self, chat_id: int, *, diplomatic_only: bool, limit: int, in_flight: bool = False
    ) -> PendingDigest:
        """Expands the chat's new matches first, if any (diplomatic ones only when asked: the
        others are never written), then reads the digest (see :func:`inbox.digest`)."""
        async with self._database.read() as db:
            if await percolate.up_to_date(db, chat_id):
                return await inbox.digest(db, chat_id, diplomatic_only, limit, in_flight)
        async with self._database.write() as db:
            await percolate.expand_chats(db, (chat_id,), diplomatic_only)
        async with self._database.read() as db:
            return await inbox.digest(db, chat_id, diplomatic_only, limit, in_flight)

    async def prepare_inboxes(self, chat_ids: Sequence[int]) -> None:
        if not chat_ids:
            return
        async with self._database.write() as db:
            await percolate.expand_chats(db, chat_ids, None)

    async def mark_delivered(
        self,
        chat_id: int,
        article_ids: Sequence[int],
        delivered_at: datetime,
        next_digest_at: datetime | None,
    ) -> None:
        async with self._database.write() as db:
            await inbox.mark_delivered(db, chat_id, article_ids, delivered_at, next_digest_at)

    async def mark_sending(
        self, chat_id: int, article_ids: Sequence[int], at: datetime | None
    ) -> None:
        async with self._database.write() as db:
            await inbox.mark_sending(db, chat_id, article_ids, at)

    # ------------------------------------------------------------------ feeds

    async def add_feed(
        self, url: str, title: str | None, interval_s: int, *, now: datetime
    ) -> Feed:
        async with self._database.write() as db:
            feed_id = await feeds.add(db, url, title, interval_s, now)
            return await feeds.get(db, feed_id)

    async def list_feeds(self) -> list[Feed]:
        async with self._database.read() as db:
            return await feeds.list_all(db)

    async def get_feed(self, feed_id: int) -> Feed:
        """Not in the protocol (tests): one feed; raise NotFound."""
        async with self._database.read() as db:
            return await feeds.get(db, feed_id)

    async def remove_feed(self, feed_id: int) -> bool:
        async with self._database.write() as db:
            return await feeds.remove(db, feed_id)

    async def due_feeds(self, now: datetime) -> list[Feed]:
        async with self._database.read() as db:
            return await feeds.due(db, now)

    async def record_poll(self, outcome: PollOutcome, at: datetime) -> Feed:
        async with self._database.write() as db:
            await feeds.record_poll(db, outcome, at)
            return await feeds.get(db, outcome.feed_id)

    async def seen_guids(self, guids: Sequence[str]) -> set[str]:
        async with self._database.read() as db:
            return await feeds.seen_guids(db, guids)
