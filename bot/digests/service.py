"""Digest use-cases: send every due digest, a chat's digest now (``/digest now``), the next
page (``/more``), and instant batches for chats on ``instant``.

The schedule lives in the database (``chats.next_digest_at``): ``send_due`` asks storage which
chats are due, composes each chat's digest from its pending inbox (``bot.digests.compose``) and
delivers it (``bot.digests.deliver``), which advances the chat's next time *from now*: after
downtime a chat gets one catch-up digest, not one per missed slot. ``/digest now`` and ``/more``
leave the schedule alone; what they deliver is no longer pending, so the next scheduled digest
covers only what came after.

One chat is never handled by two of these at once (``KeyedLocks``), so a ``/digest now`` racing
the minute tick cannot send the same items twice. Time comes from the injected clock.

When the process stops, ``Digests.stop`` ends runs at the next chat: chats not begun stay due,
and the application's sender stops retrying, so a stop does not wait for a whole run.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from bot.chats.schedule import next_digest_at
from bot.clock import Clock, utc_now
from bot.digests.compose import (
    DIGEST_CAP,
    Digest,
    DigestArticle,
    DigestKind,
    compose_digest,
    summarize,
)
from bot.digests.deliver import (
    DeliveryReport,
    DeliveryStorage,
    Sender,
    deliver_digest,
)
from storage.errors import NotFound
from storage.models import (
    Article,
    Chat,
    DigestFrequency,
    PendingDigest,
    Subscription,
)

log = logging.getLogger(__name__)

DUE_BATCH = 500
DEFAULT_CONCURRENCY = 16
ARTICLE_CACHE_SIZE = 50_000
WINDOW = 1.5  # pending articles read per digest, in digest caps


class DigestStorage(DeliveryStorage, Protocol):
    """The part of ``storage.base.Storage`` digests use (any Storage is one)."""

    async def get_chat(self, chat_id: int) -> Chat: ...
    async def due_chats(self, now: datetime, limit: int = 1000) -> list[Chat]: ...
    async def pending_chats(self, frequency: DigestFrequency, limit: int = 1000) -> list[Chat]: ...
    async def pending_digest(
        self, chat_id: int, *, diplomatic_only: bool, limit: int, in_flight: bool = False
    ) -> PendingDigest: ...
    async def prepare_inboxes(self, chat_ids: Sequence[int]) -> None: ...
    async def get_articles(self, article_ids: Sequence[int]) -> list[Article]: ...
    async def list_subscriptions(self, chat_id: int) -> list[Subscription]: ...


def _active(chat: Chat) -> bool:
    """Neither gone (blocked the bot, vanished) nor paused."""
    return chat.blocked_at is None and not chat.paused


class KeyedLocks:
    """One asyncio lock per chat, created on demand and dropped when nobody holds it."""

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    def users(self, key: int) -> int:
        """How many hold the key's lock or wait for it."""
        return self._locks.get(key, (None, 0))[1]

    @asynccontextmanager
    async def hold(self, key: int) -> AsyncIterator[bool]:
        """Hold the key's lock; yields whether someone else held or awaited it first (then
        what it guards may have changed while this waited)."""
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield users > 0
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class ArticleCache:
    """Digest views of articles, least recently used dropped first (many chats share articles)."""

    def __init__(self, size: int = ARTICLE_CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[int, DigestArticle] = OrderedDict()

    async def get_many(
        self,
        article_ids: Iterable[int],
        load: Callable[[Sequence[int]], Awaitable[list[Article]]],
    ) -> dict[int, DigestArticle]:
        wanted = list(dict.fromkeys(article_ids))
        found: dict[int, DigestArticle] = {}
        missing: list[int] = []
        for article_id in wanted:
            item = self._items.get(article_id)
            if item is None:
                missing.append(article_id)
            else:
                self._items.move_to_end(article_id)
                found[article_id] = item
        if missing:
            for article in await load(missing):
                view = summarize(article)
                found[article.id] = view
                self._items[article.id] = view
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return found


@dataclass(slots=True)
class RunReport:
    """Totals of one ``send_due`` / ``send_instant`` run."""

    chats: int = 0  # chats handled
    digests: int = 0  # chats that got at least one message
    messages: int = 0
    articles: int = 0  # articles marked delivered (shown or skipped)
    empty: int = 0  # chats with nothing to send (schedule advanced, no message)
    blocked: int = 0
    failed: int = 0

    def add(self, report: DeliveryReport) -> None:
        self.chats += 1
        self.messages += report.messages
        self.articles += report.articles
        self.digests += 1 if report.messages else 0
        self.empty += 1 if report.ok and not report.messages else 0
        self.blocked += 1 if report.blocked else 0
        self.failed += 1 if report.error is not None and not report.blocked else 0


OnDemandStatus = Literal["sent", "nothing", "blocked", "failed"]


@dataclass(frozen=True, slots=True)
class OnDemandResult:
    """What ``send_now`` / ``more`` did: messages sent, items left for /more."""

    status: OnDemandStatus
    messages: int = 0
    items: int = 0
    remaining: int = 0


class Digests:
    """Composes and delivers digests over one storage and one sender."""

    def __init__(
        self,
        storage: DigestStorage,
        sender: Sender,
        *,
        clock: Clock = utc_now,
        locks: KeyedLocks | None = None,
        cap: int = DIGEST_CAP,
        concurrency: int = DEFAULT_CONCURRENCY,
        cache: ArticleCache | None = None,
    ) -> None:
        self.storage = storage
        self.sender = sender
        self.clock = clock
        self.locks = locks if locks is not None else KeyedLocks()
        self.cap = cap
        self.concurrency = concurrency
        self.cache = cache if cache is not None else ArticleCache()
        self._stopping = False

    def stop(self) -> None:
        """The process is stopping: runs begin no further chat (those stay due or pending)."""
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    # ------------------------------------------------------------------ composing

    async def compose(
        self, chat: Chat, kind: DigestKind = "scheduled", *, in_flight: bool = False
    ) -> Digest:
        """The chat's digest from what is pending now (nothing is sent or marked).

        Storage hands over only the newest pending articles (``WINDOW`` times the cap, so
        that collapsing same-title stories still leaves a full digest) and counts the rest:
        a chat may have hundreds pending, and 30,000 chats' digests are composed at once."""
        pending = await self.storage.pending_digest(
            chat.id,
            diplomatic_only=chat.only_diplomatic and not in_flight,
            limit=round(self.cap * WINDOW),
            in_flight=in_flight,
        )
        if not pending.items and not pending.passed_over:
            return Digest(chat.id, (), ())
        articles = await self.cache.get_many(
            (row.article_id for row in pending.items), self.storage.get_articles
        )
        subscriptions = {s.id: s for s in await self.storage.list_subscriptions(chat.id)}
        return compose_digest(
            chat,
            pending.items,
            articles,
            subscriptions,
            kind=kind,
            cap=self.cap,
            beyond=pending.articles - len(pending.items),
            passed_over=pending.passed_over,
        )

    async def prepare(self, chats: Sequence[Chat]) -> None:
        """Bring a batch of chats' inboxes up to date in one go, before composing each."""
        await self.storage.prepare_inboxes([chat.id for chat in chats])

    # ------------------------------------------------------------------ scheduled

    async def send_due(self, now: datetime | None = None) -> RunReport:
        """Send every digest due at ``now`` (default: the clock) once; return the totals."""
        moment = now if now is not None else self.clock()

        def due(chat: Chat) -> bool:  # what ``due_chats`` selects
            return (
                _active(chat)
                and chat.digest_frequency != "off"
                and chat.next_digest_at is not None
                and chat.next_digest_at <= moment
            )

        return await self._run(
            lambda: self.storage.due_chats(moment, DUE_BATCH), "scheduled", still=due
        )

    async def send_instant(self) -> RunReport:
        """Send what is pending for chats on ``instant``, several matches batched per message."""
        return await self._run(
            lambda: self.storage.pending_chats("instant", DUE_BATCH),
            "instant",
            still=lambda chat: _active(chat) and chat.digest_frequency == "instant",
        )

    async def _run(
        self,
        fetch: Callable[[], Awaitable[list[Chat]]],
        kind: DigestKind,
        *,
        still: Callable[[Chat], bool],
    ) -> RunReport:
        report = RunReport()
        seen: set[int] = set()
        gate = asyncio.Semaphore(self.concurrency)

        async def one(chat: Chat) -> None:
            async with gate:
                if self._stopping:
                    return
                try:
                    delivered = await self._send_one(chat, kind, still)
                    if delivered is not None:
                        report.add(delivered)
                except Exception:  # one broken chat must not stop everyone else's digest
                    log.exception("digest for chat %s failed", chat.id)
                    report.chats += 1
                    report.failed += 1

        while not self._stopping:
            # Handled chats leave the due set (their schedule moved on); ones whose delivery
            # failed stay due and are retried on the next tick, not in this loop.
            batch = [chat for chat in await fetch() if chat.id not in seen]
            if not batch:
                return report
            seen.update(chat.id for chat in batch)
            await self.prepare(batch)
            await asyncio.gather(*(one(chat) for chat in batch))
        return report

    async def _resend_in_flight(self, chat: Chat, kind: DigestKind) -> DeliveryReport | None:
        """Re-send, as one message, the items of a send a crash interrupted (Telegram may or
        may not have accepted it): a crash repeats at most that one message, and its items are
        never scattered over later digests. Returns the report when that delivery failed."""
        digest = await self.compose(chat, kind, in_flight=True)
        if not digest.parts:
            return None
        report = await deliver_digest(
            self.storage,
            self.sender,
            chat,
            digest,
            next_digest_at=chat.next_digest_at,
            clock=self.clock,
        )
        return None if report.ok else report

    async def _send_one(
        self, chat: Chat, kind: DigestKind, still: Callable[[Chat], bool]
    ) -> DeliveryReport | None:
        """Deliver one chat's digest; None when, by the time its lock was free, the chat no
        longer needed one (``still`` says whether it does)."""
        async with self.locks.hold(chat.id) as waited:
            if waited:
                # Another run (the other tick, ``/digest now``, a second ``send_due``) had the
                # chat first: it may have delivered it, found it gone or moved its schedule.
                # The chat read before the wait is stale; acting on it would send to a chat
                # just found blocked, or recompose what was just delivered.
                try:
                    chat = await self.storage.get_chat(chat.id)
                except NotFound:
                    return None
                if not still(chat):
                    return None
            failed = await self._resend_in_flight(chat, kind)
            if failed is not None:
                return failed
            digest = await self.compose(chat, kind)
            upcoming = None
            if kind == "scheduled":
                upcoming = next_digest_at(
                    chat.digest_frequency,
                    chat.digest_time,
                    chat.digest_weekday,
                    chat.tz,
                    self.clock(),
                )
            return await deliver_digest(
                self.storage, self.sender, chat, digest, next_digest_at=upcoming, clock=self.clock
            )

    # ------------------------------------------------------------------ on demand

    async def send_now(self, chat_id: int) -> OnDemandResult:
        """``/digest now``: the chat's pending digest at once; the schedule is unchanged."""
        return await self._on_demand(chat_id, "now")

    async def more(self, chat_id: int) -> OnDemandResult:
        """``/more``: the next page of pending items; the schedule is unchanged."""
        return await self._on_demand(chat_id, "more")

    async def _on_demand(self, chat_id: int, kind: DigestKind) -> OnDemandResult:
        async with self.locks.hold(chat_id):
            try:
                chat = await self.storage.get_chat(chat_id)
            except NotFound:
                return OnDemandResult("nothing")
            failed = await self._resend_in_flight(chat, kind)
            if failed is not None:
                return OnDemandResult("blocked" if failed.blocked else "failed")
            digest = await self.compose(chat, kind)
            report = await deliver_digest(
                self.storage,
                self.sender,
                chat,
                digest,
                next_digest_at=chat.next_digest_at,
                clock=self.clock,
            )
        if report.blocked:
            return OnDemandResult("blocked")
        if report.error is not None:
            return OnDemandResult("failed", report.messages)
        if not digest.parts:
            return OnDemandResult("nothing")
        return OnDemandResult("sent", report.messages, len(digest.items), digest.remaining)
