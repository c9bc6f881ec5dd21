"""The SQLite implementation of :class:`storage.base.Storage` (aiosqlite, one connection, WAL).

One long-lived connection serves the whole process. Writes run in explicit ``BEGIN IMMEDIATE``
transactions behind an :class:`asyncio.Lock`, so coroutines sharing the connection never
interleave inside each other's transactions; reads do not wait for the lock. Other processes
(the CLI next to a running bot) are serialised by SQLite's own locking (WAL + busy_timeout).

Times are stored as integer unix seconds (UTC) and come back as aware UTC datetimes.
Schema changes are numbered SQL files in ``storage/sqlite/migrations`` applied in order at
:meth:`SQLiteStorage.open`, tracked by ``PRAGMA user_version``.

Search ranking is documented in :mod:`storage.sqlite.search`.
"""

# SQL here is assembled from constant fragments only; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiosqlite

from storage.errors import AlreadyExists, LimitExceeded, MigrationError, NotFound
from storage.models import (
    NEAR_DUPLICATE_MIN_SIMILARITY,
    AddResult,
    Article,
    ArticleSource,
    Chat,
    ChatType,
    Classification,
    DigestFrequency,
    DuplicateReason,
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
    SearchHit,
    SearchPage,
    SearchQuery,
    StoreStats,
    Subscription,
    SubscriptionKind,
    signature_similarity,
)
from storage.sqlite import percolate as percolation
from storage.sqlite import search as sq

BUSY_TIMEOUT_MS = 5000
PAGE_SIZE = 16_384
CACHE_KIB = 64 * 1024
MAX_NEAR_CANDIDATES = 64  # signatures compared per new article, at most
_MIGRATION_NAME = re.compile(r"(\d{4})_[\w-]+\.sql")

Row = sqlite3.Row | tuple[Any, ...]


def _ts(moment: datetime) -> int:
    """Unix seconds; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _dt(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _sort_at(published_at: datetime | None, ingested_at: int) -> int:
    """When a story happened, for ordering: its publication time unless missing or implausible."""
    if published_at is None:
        return ingested_at
    published = _ts(published_at)
    return published if published <= ingested_at + sq.FUTURE_SLACK_S else ingested_at


def _opt_dt(seconds: int | None) -> datetime | None:
    return None if seconds is None else _dt(seconds)


def _json(values: Iterable[object]) -> str:
    return json.dumps(list(values))


def load_migrations() -> list[tuple[int, str]]:
    """The packaged migrations as (version, SQL), checked to be numbered 1, 2, 3, ..."""
    folder = resources.files("storage.sqlite").joinpath("migrations")
    found: list[tuple[int, str]] = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    found.sort()
    if [version for version, _ in found] != list(range(1, len(found) + 1)):
        raise MigrationError(f"migrations are not numbered 1..n: {[v for v, _ in found]}")
    return found


@dataclass(slots=True)
class _BatchIndex:
    """What the current batch can be a duplicate of: stored rows plus the batch's own."""

    urls: dict[str, int]
    guids: dict[str, int]
    fingerprints: dict[str, int]
    bands: dict[int, list[int]]
    signatures: dict[int, bytes]

    def find(self, item: NewArticle) -> tuple[int, DuplicateReason] | None:
        if item.url and item.url in self.urls:
            return self.urls[item.url], "url"
        if item.guid and item.guid in self.guids:
            return self.guids[item.guid], "guid"
        if item.fingerprint in self.fingerprints:
            return self.fingerprints[item.fingerprint], "fingerprint"
        candidates = dict.fromkeys(c for band in item.bands for c in self.bands.get(band, ()))
        for candidate in list(candidates)[:MAX_NEAR_CANDIDATES]:
            signature = self.signatures.get(candidate)
            if (
                signature is not None
                and signature_similarity(signature, item.signature) >= NEAR_DUPLICATE_MIN_SIMILARITY
            ):
                return candidate, "near"
        return None

    def add(self, article_id: int, item: NewArticle) -> None:
        if item.url:
            self.urls[item.url] = article_id
        if item.guid:
            self.guids[item.guid] = article_id
        self.fingerprints[item.fingerprint] = article_id
        for band in item.bands:
            self.bands.setdefault(band, []).append(article_id)
        self.signatures[article_id] = item.signature


class SQLiteStorage:
    """Attaché's store in one SQLite file. Use ``async with SQLiteStorage(path) as store:``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("storage is not open; call open() first")
        return self._db

    async def open(self) -> None:
        if self._db is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; we BEGIN/COMMIT explicitly.
        db = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            # Larger pages pack ~2 kB article rows with less slack (only effective while the
            # file is new, before WAL mode is set); a bigger cache keeps the index hot.
            await db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            await db.execute(f"PRAGMA cache_size = {-CACHE_KIB}")
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await db.execute("PRAGMA foreign_keys = ON")
            await db.execute("PRAGMA synchronous = NORMAL")
            await self._migrate(db)
        except BaseException:
            await db.close()
            raise
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

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

    @staticmethod
    async def _migrate(db: aiosqlite.Connection) -> None:
        migrations = load_migrations()
        current = await _scalar(db, "PRAGMA user_version")
        if current > len(migrations):
            raise MigrationError(
                f"database schema version {current} is newer than this code "
                f"(knows {len(migrations)}); upgrade Attaché"
            )
        for version, script in migrations[current:]:
            try:
                # One transaction per migration; user_version moves with it.
                await db.executescript(
                    f"BEGIN IMMEDIATE;\n{script}\n;PRAGMA user_version = {version};\nCOMMIT;"
                )
            except sqlite3.Error as exc:
                if db.in_transaction:
                    await db.execute("ROLLBACK")
                raise MigrationError(f"migration {version:04d} failed: {exc}") from exc

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._write_lock:
            db = self.db
            await db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")

    async def _rows(self, sql: str, params: Sequence[object] | dict[str, object] = ()) -> list[Row]:
        return list(await self.db.execute_fetchall(sql, params))

    async def _one(self, sql: str, params: Sequence[object] | dict[str, object] = ()) -> Row | None:
        rows = await self._rows(sql, params)
        return rows[0] if rows else None

    # ------------------------------------------------------------------ articles

    async def add_articles(self, items: Sequence[NewArticle]) -> list[AddResult]:
        if not items:
            return []
        now = int(time.time())
        async with self._transaction() as db:
            index = await self._batch_index(db, items)
            next_id = await _scalar(db, "SELECT coalesce(max(id), 0) + 1 FROM articles")
            results: list[AddResult] = []
            new_items: list[tuple[int, NewArticle]] = []
            source_rows: list[tuple[object, ...]] = []
            carriers: dict[int, set[str]] = {}  # story -> case-folded sources in this batch
            for item in items:
                found = index.find(item)
                if found is not None:
                    article_id, reason = found
                    results.append(AddResult(article_id, created=False, duplicate_reason=reason))
                    guid = None if reason == "guid" else item.guid
                    source_rows.append(
                        (article_id, item.url, item.source, item.source.casefold(), guid, now)
                    )
                    if reason != "url":  # a known URL records no new source row (nor tag)
                        carriers.setdefault(article_id, set()).add(item.source.casefold())
                    continue
                article_id = next_id
                next_id += 1
                index.add(article_id, item)
                new_items.append((article_id, item))
                results.append(AddResult(article_id, created=True))
                source_rows.append(
                    (article_id, item.url, item.source, item.source.casefold(), item.guid, now)
                )
                carriers.setdefault(article_id, set()).add(item.source.casefold())
            source_ids = await _source_ids(db, {key for keys in carriers.values() for key in keys})
            if new_items:
                entity_ids = await self._upsert_entities(
                    db, [m for _, item in new_items for m in item.entities]
                )
                tags = {
                    article_id: sq.article_tags(
                        (source_ids[key] for key in carriers[article_id]),
                        item.classification.is_diplomatic,
                        (entity_ids[m.key] for m in item.entities),
                    )
                    for article_id, item in new_items
                }
                await db.executemany(
                    "INSERT INTO articles (id, title, text, lang, published_at, ingested_at,"
                    " sort_at, dateline_place, agency, attribution, url, source, fingerprint,"
                    " signature, diplomatic_score, is_diplomatic, reasons, tags)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            article_id,
                            item.title,
                            item.text,
                            item.lang,
                            None if item.published_at is None else _ts(item.published_at),
                            now,
                            _sort_at(item.published_at, now),
                            item.dateline_place,
                            item.agency,
                            item.attribution,
                            item.url,
                            item.source,
                            item.fingerprint,
                            item.signature,
                            item.classification.score,
                            int(item.classification.is_diplomatic),
                            _json(item.classification.reasons),
                            tags[article_id],
                        )
                        for article_id, item in new_items
                    ],
                )
                await db.executemany(
                    "INSERT INTO articles_fts (rowid, title, text, tags) VALUES (?, ?, ?, ?)",
                    [(a, item.title, item.text, tags[a]) for a, item in new_items],
                )
                await db.executemany(
                    "INSERT OR IGNORE INTO article_bands (band, article_id) VALUES (?, ?)",
                    sorted(
                        (band, article_id) for article_id, item in new_items for band in item.bands
                    ),
                )
                await db.executemany(
                    "INSERT INTO article_days (day, first_id, last_id) VALUES (?, ?, ?)"
                    " ON CONFLICT (day) DO UPDATE SET first_id = min(first_id, excluded.first_id),"
                    " last_id = max(last_id, excluded.last_id)",
                    _day_spans(
                        (article_id, _sort_at(item.published_at, now))
                        for article_id, item in new_items
                    ),
                )
                await self._link_entities(
                    db, [(article_id, item.entities) for article_id, item in new_items], entity_ids
                )
            # A stored story carried by a new source gets that source's tag (this re-indexes it).
            created = {article_id for article_id, _ in new_items}
            await db.executemany(
                "UPDATE articles SET tags = ltrim(tags || ' ' || ?1) WHERE id = ?2"
                " AND instr(' ' || tags || ' ', ' ' || ?1 || ' ') = 0",
                [
                    (sq.source_tag(source_ids[key]), article_id)
                    for article_id, keys in carriers.items()
                    if article_id not in created
                    for key in sorted(keys)
                ],
            )
            await db.executemany(
                "INSERT OR IGNORE INTO article_sources"
                " (article_id, url, source, source_key, guid, seen_at) VALUES (?, ?, ?, ?, ?, ?)",
                source_rows,
            )
        return results

    @staticmethod
    async def _batch_index(db: aiosqlite.Connection, items: Sequence[NewArticle]) -> _BatchIndex:
        urls = _json({i.url for i in items if i.url})
        guids = _json({i.guid for i in items if i.guid})
        fingerprints = _json({i.fingerprint for i in items})
        bands = _json({band for i in items for band in i.bands})
        index = _BatchIndex(
            urls={
                r[0]: r[1]
                for r in await db.execute_fetchall(
                    "SELECT url, article_id FROM article_sources"
                    " WHERE url IN (SELECT value FROM json_each(?))",
                    (urls,),
                )
            },
            guids={
                r[0]: r[1]
                for r in await db.execute_fetchall(
                    "SELECT guid, article_id FROM article_sources"
                    " WHERE guid IN (SELECT value FROM json_each(?))",
                    (guids,),
                )
            },
            fingerprints={
                r[0]: r[1]
                for r in await db.execute_fetchall(
                    "SELECT fingerprint, id FROM articles"
                    " WHERE fingerprint IN (SELECT value FROM json_each(?))",
                    (fingerprints,),
                )
            },
            bands={},
            signatures={},
        )
        for band, article_id in await db.execute_fetchall(
            "SELECT band, article_id FROM article_bands"
            " WHERE band IN (SELECT value FROM json_each(?))",
            (bands,),
        ):
            index.bands.setdefault(band, []).append(article_id)
        candidates = {a for ids in index.bands.values() for a in ids}
        if candidates:
            for article_id, signature in await db.execute_fetchall(
                "SELECT id, signature FROM articles WHERE id IN (SELECT value FROM json_each(?))",
                (_json(candidates),),
            ):
                index.signatures[article_id] = signature
        return index

    @staticmethod
    async def _upsert_entities(
        db: aiosqlite.Connection, mentions: Sequence[EntityMention]
    ) -> dict[str, int]:
        """Store the mentioned entities and their aliases; return their ids by key."""
        if not mentions:
            return {}
        await db.executemany(
            "INSERT INTO entities (kind, canonical, key) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO NOTHING",
            [(m.kind, m.canonical, m.key) for m in mentions],
        )
        ids = {
            r[0]: r[1]
            for r in await db.execute_fetchall(
                "SELECT key, id FROM entities WHERE key IN (SELECT value FROM json_each(?))",
                (_json({m.key for m in mentions}),),
            )
        }
        await db.executemany(
            "INSERT OR IGNORE INTO entity_aliases (alias_key, entity_id) VALUES (?, ?)",
            [(alias, ids[m.key]) for m in mentions for alias in m.aliases],
        )
        return ids

    @staticmethod
    async def _link_entities(
        db: aiosqlite.Connection,
        links: Sequence[tuple[int, Sequence[EntityMention]]],
        ids: dict[str, int],
    ) -> None:
        if not any(found for _, found in links):
            return
        await db.executemany(
            "INSERT OR IGNORE INTO article_entities"
            " (article_id, entity_id, mentions, first_offset) VALUES (?, ?, ?, ?)",
            [
                (article_id, ids[m.key], m.mentions, m.first_offset)
                for article_id, found in links
                for m in found
            ],
        )

    _ARTICLE_COLUMNS = (
        "id, title, text, url, source, published_at, ingested_at, lang, dateline_place, agency,"
        " attribution, diplomatic_score, is_diplomatic, reasons"
    )

    async def _articles(self, where: str, params: Sequence[object]) -> list[Article]:
        rows = await self._rows(f"SELECT {self._ARTICLE_COLUMNS} FROM articles {where}", params)
        if not rows:
            return []
        sources: dict[int, list[ArticleSource]] = {}
        for article_id, url, source, seen_at in await self._rows(
            "SELECT article_id, url, source, seen_at FROM article_sources"
            " WHERE article_id IN (SELECT value FROM json_each(?)) ORDER BY id",
            (_json(r[0] for r in rows),),
        ):
            sources.setdefault(article_id, []).append(ArticleSource(url, source, _dt(seen_at)))
        return [
            Article(
                id=r[0],
                title=r[1],
                text=r[2],
                url=r[3],
                source=r[4],
                published_at=_opt_dt(r[5]),
                ingested_at=_dt(r[6]),
                lang=r[7],
                dateline_place=r[8],
                agency=r[9],
                attribution=r[10],
                classification=Classification(r[11], bool(r[12]), tuple(json.loads(r[13]))),
                sources=tuple(sources.get(r[0], ())),
            )
            for r in rows
        ]

    async def get_article(self, article_id: int) -> Article:
        found = await self._articles("WHERE id = ?", (article_id,))
        if not found:
            raise NotFound(f"article {article_id}")
        return found[0]

    async def get_articles(self, article_ids: Sequence[int]) -> list[Article]:
        found = await self._articles(
            "WHERE id IN (SELECT value FROM json_each(?))", (_json(article_ids),)
        )
        by_id = {a.id: a for a in found}
        return [by_id[i] for i in article_ids if i in by_id]

    async def iter_articles(self, batch_size: int = 500) -> AsyncIterator[Article]:
        last = 0
        while True:
            batch = await self._articles("WHERE id > ? ORDER BY id LIMIT ?", (last, batch_size))
            if not batch:
                return
            for article in batch:
                yield article
            last = batch[-1].id

    async def count_articles(self) -> int:
        return await _scalar(self.db, "SELECT count(*) FROM articles")

    async def replace_enrichment(
        self,
        article_id: int,
        classification: Classification,
        entities: Sequence[EntityMention],
    ) -> None:
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE articles SET diplomatic_score = ?, is_diplomatic = ?, reasons = ?"
                " WHERE id = ?",
                (
                    classification.score,
                    int(classification.is_diplomatic),
                    _json(classification.reasons),
                    article_id,
                ),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"article {article_id}")
            await db.execute("DELETE FROM article_entities WHERE article_id = ?", (article_id,))
            entity_ids = await self._upsert_entities(db, entities)
            await self._link_entities(db, [(article_id, entities)], entity_ids)
            source_ids = [
                r[0]
                for r in await db.execute_fetchall(
                    "SELECT DISTINCT s.id FROM article_sources a_s"
                    " JOIN sources s ON s.key = a_s.source_key WHERE a_s.article_id = ?",
                    (article_id,),
                )
            ]
            tags = sq.article_tags(
                source_ids, classification.is_diplomatic, (entity_ids[m.key] for m in entities)
            )
            # Only a changed tag list re-indexes the article (the update trigger).
            await db.execute(
                "UPDATE articles SET tags = ? WHERE id = ? AND tags != ?",
                (tags, article_id, tags),
            )

    async def stats(self) -> StoreStats:
        row = await self._one(
            "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM article_sources),"
            " (SELECT count(*) FROM entities), (SELECT count(*) FROM chats),"
            " (SELECT count(*) FROM subscriptions), (SELECT count(*) FROM feeds),"
            " (SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size())"
        )
        assert row is not None  # an aggregate always returns a row
        return StoreStats(*row)

    # ------------------------------------------------------------------ search

    async def search(self, query: SearchQuery) -> SearchPage:
        limit, offset = max(0, query.limit), max(0, query.offset)
        plan = sq.plan(query)
        if plan is None:
            return SearchPage(total=0, hits=())
        pages: list[sq.Sql] = []
        if query.order == "relevance" and plan.words is not None:
            ranked_end = min(offset + limit, sq.RANK_WINDOW)
            if offset < ranked_end:
                pages.append(sq.relevance_page(plan, ranked_end - offset, offset, with_total=True))
            if offset + limit > sq.RANK_WINDOW:
                start = max(offset, sq.RANK_WINDOW)
                pages.append(
                    sq.newest_page(plan, offset + limit - start, start, with_total=not pages)
                )
        elif limit:
            # Newest first; also every search without words (filters only, or nothing).
            pages.append(sq.newest_page(plan, limit, offset, with_total=True))
        rows: list[Row] = []
        counted: int | None = None
        for page in pages:
            found = await self._rows(page.sql, page.params)
            if found and counted is None:
                counted = found[0][7]  # the count column of the first statement
            rows += found
        if counted is None and (offset or not pages):
            count = sq.count(plan)
            counted = await _scalar(self.db, count.sql, count.params)
        if plan.words is None:
            hits = [_hit(r, _opening(r[6])) for r in rows]
        else:
            hits = [_hit(r, r[6]) for r in rows]
        total = max(counted or 0, min(offset + len(hits), sq.TOTAL_CAP))
        return SearchPage(total=total, hits=tuple(hits), total_capped=total >= sq.TOTAL_CAP)

    # ------------------------------------------------------------------ entities

    async def _entities(self, where: str, params: Sequence[object], order: str) -> list[Entity]:
        rows = await self._rows(
            "SELECT e.id, e.kind, e.canonical, e.key,"
            " (SELECT count(*) FROM article_entities ae WHERE ae.entity_id = e.id) AS n"
            f" FROM entities e {where} ORDER BY {order}",
            params,
        )
        if not rows:
            return []
        aliases: dict[int, list[str]] = {}
        for entity_id, alias in await self._rows(
            "SELECT entity_id, alias_key FROM entity_aliases"
            " WHERE entity_id IN (SELECT value FROM json_each(?)) ORDER BY alias_key",
            (_json(r[0] for r in rows),),
        ):
            aliases.setdefault(entity_id, []).append(alias)
        return [
            Entity(
                id=r[0],
                kind=_entity_kind(r[1]),
                canonical=r[2],
                key=r[3],
                aliases=tuple(aliases.get(r[0], ())),
                articles=r[4],
            )
            for r in rows
        ]

    async def find_entities(
        self, alias_keys: Sequence[str], kind: EntityKind | None = None
    ) -> list[Entity]:
        where = (
            "WHERE e.id IN (SELECT entity_id FROM entity_aliases"
            " WHERE alias_key IN (SELECT value FROM json_each(?)))"
        )
        params: list[object] = [_json(alias_keys)]
        if kind is not None:
            where += " AND e.kind = ?"
            params.append(kind)
        return await self._entities(where, params, "n DESC, e.id")

    async def get_entity(self, entity_id: int) -> Entity:
        found = await self._entities("WHERE e.id = ?", (entity_id,), "e.id")
        if not found:
            raise NotFound(f"entity {entity_id}")
        return found[0]

    async def ensure_entity(self, mention: EntityMention) -> Entity:
        async with self._transaction() as db:
            ids = await self._upsert_entities(db, [mention])
        return await self.get_entity(ids[mention.key])

    async def article_entities(self, article_id: int) -> list[Entity]:
        return await self._entities(
            "JOIN article_entities link ON link.entity_id = e.id WHERE link.article_id = ?",
            (article_id,),
            "link.first_offset, e.id",
        )

    # ------------------------------------------------------------------ chats

    _CHAT_COLUMNS = (
        "id, type, title, tz, digest_frequency, digest_time, digest_weekday, next_digest_at,"
        " only_diplomatic, paused, blocked_at, created_at"
    )

    async def ensure_chat(
        self, chat_id: int, chat_type: ChatType, title: str | None, default_tz: str
    ) -> Chat:
        """Also clears ``blocked_at``: a chat that talks to the bot is not blocking it.

        A new chat has no ``next_digest_at``: the caller schedules its first digest.
        """
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO chats (id, type, title, tz, created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET title = excluded.title, type = excluded.type,"
                " blocked_at = NULL",
                (chat_id, chat_type, title, default_tz, int(time.time())),
            )
        return await self.get_chat(chat_id)

    async def get_chat(self, chat_id: int) -> Chat:
        row = await self._one(f"SELECT {self._CHAT_COLUMNS} FROM chats WHERE id = ?", (chat_id,))
        if row is None:
            raise NotFound(f"chat {chat_id}")
        return _chat(row)

    async def save_chat(self, chat: Chat) -> None:
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE chats SET type = ?, title = ?, tz = ?, digest_frequency = ?,"
                " digest_time = ?, digest_weekday = ?, next_digest_at = ?, only_diplomatic = ?,"
                " paused = ?, blocked_at = ? WHERE id = ?",
                (
                    chat.type,
                    chat.title,
                    chat.tz,
                    chat.digest_frequency,
                    chat.digest_time,
                    chat.digest_weekday,
                    None if chat.next_digest_at is None else _ts(chat.next_digest_at),
                    int(chat.only_diplomatic),
                    int(chat.paused),
                    None if chat.blocked_at is None else _ts(chat.blocked_at),
                    chat.id,
                ),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"chat {chat.id}")

    async def forget_chat(self, chat_id: int) -> None:
        async with self._transaction() as db:
            await db.execute("DELETE FROM chats WHERE id = ?", (chat_id,))

    async def due_chats(self, now: datetime, limit: int = 1000) -> list[Chat]:
        rows = await self._rows(
            f"SELECT {self._CHAT_COLUMNS} FROM chats WHERE next_digest_at IS NOT NULL"
            " AND next_digest_at <= ? AND paused = 0 AND blocked_at IS NULL"
            " AND digest_frequency != 'off' ORDER BY next_digest_at, id LIMIT ?",
            (_ts(now), limit),
        )
        return [_chat(r) for r in rows]

    async def pending_chats(self, frequency: DigestFrequency, limit: int = 1000) -> list[Chat]:
        rows = await self._rows(
            f"SELECT {self._CHAT_COLUMNS} FROM chats WHERE digest_frequency = ? AND paused = 0"
            " AND blocked_at IS NULL AND (EXISTS (SELECT 1 FROM inbox WHERE inbox.chat_id ="
            f" chats.id AND inbox.delivered_at IS NULL) OR {percolation.UNEXPANDED})"
            " ORDER BY id LIMIT ?",
            (frequency, limit),
        )
        return [_chat(r) for r in rows]

    async def mark_blocked(self, chat_id: int, at: datetime) -> None:
        async with self._transaction() as db:
            await db.execute("UPDATE chats SET blocked_at = ? WHERE id = ?", (_ts(at), chat_id))

    # ------------------------------------------------------------------ subscriptions

    _SUB_COLUMNS = "id, chat_id, kind, query, entity_id, created_at"

    async def add_subscription(self, sub: NewSubscription, limit: int) -> Subscription:
        dedup_key = (
            f"{sub.kind}:#{sub.entity_id}"
            if sub.entity_id is not None
            else f"{sub.kind}:{' '.join(sub.query.casefold().split())}"
        )
        async with self._transaction() as db:
            if await _scalar(db, "SELECT count(*) FROM chats WHERE id = ?", (sub.chat_id,)) == 0:
                raise NotFound(f"chat {sub.chat_id}")
            if await _scalar(
                db,
                "SELECT count(*) FROM subscriptions WHERE chat_id = ? AND dedup_key = ?",
                (sub.chat_id, dedup_key),
            ):
                raise AlreadyExists(f"subscription {sub.kind} {sub.query!r}")
            count = await _scalar(
                db, "SELECT count(*) FROM subscriptions WHERE chat_id = ?", (sub.chat_id,)
            )
            if count >= limit:
                raise LimitExceeded(f"chat {sub.chat_id} has {count} subscriptions (max {limit})")
            query_id = None
            if sub.kind == "keyword":
                # Indexed for matching; the anchors go with the last subscription (a trigger).
                text = sub.text if sub.text is not None else percolation.plain_words(sub.query)
                query_id = await percolation.register_query(db, text)
            cursor = await db.execute(
                "INSERT INTO subscriptions"
                " (chat_id, kind, query, entity_id, dedup_key, created_at, query_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    sub.chat_id,
                    sub.kind,
                    sub.query,
                    sub.entity_id,
                    dedup_key,
                    int(time.time()),
                    query_id,
                ),
            )
            new_id = cursor.lastrowid
        assert new_id is not None  # set by a successful INSERT
        return await self.get_subscription(sub.chat_id, new_id)

    async def list_subscriptions(self, chat_id: int) -> list[Subscription]:
        rows = await self._rows(
            f"SELECT {self._SUB_COLUMNS} FROM subscriptions WHERE chat_id = ? ORDER BY id",
            (chat_id,),
        )
        return [_subscription(r) for r in rows]

    async def get_subscription(self, chat_id: int, subscription_id: int) -> Subscription:
        row = await self._one(
            f"SELECT {self._SUB_COLUMNS} FROM subscriptions WHERE id = ? AND chat_id = ?",
            (subscription_id, chat_id),
        )
        if row is None:
            raise NotFound(f"subscription {subscription_id}")
        return _subscription(row)

    async def delete_subscription(self, chat_id: int, subscription_id: int) -> bool:
        async with self._transaction() as db:
            cursor = await db.execute(
                "DELETE FROM subscriptions WHERE id = ? AND chat_id = ?",
                (subscription_id, chat_id),
            )
            return cursor.rowcount > 0

    async def delete_all_subscriptions(self, chat_id: int) -> int:
        async with self._transaction() as db:
            cursor = await db.execute("DELETE FROM subscriptions WHERE chat_id = ?", (chat_id,))
            return cursor.rowcount

    async def all_subscriptions(self) -> AsyncIterator[Subscription]:
        last = 0
        while True:
            rows = await self._rows(
                "SELECT s.id, s.chat_id, s.kind, s.query, s.entity_id, s.created_at"
                " FROM subscriptions s JOIN chats c ON c.id = s.chat_id"
                " WHERE c.blocked_at IS NULL AND s.id > ? ORDER BY s.id LIMIT 1000",
                (last,),
            )
            if not rows:
                return
            for row in rows:
                yield _subscription(row)
            last = rows[-1][0]

    # ------------------------------------------------------------------ inbox

    async def percolate(self, limit: int = 500) -> PercolateResult:
        """Matching is documented in :mod:`storage.sqlite.percolate`."""
        async with self._transaction() as db:
            return await percolation.percolate(db, limit, int(time.time()))

    async def add_inbox(self, items: Sequence[InboxItem]) -> int:
        if not items:
            return 0
        async with self._transaction() as db:
            before = db.total_changes
            await db.executemany(
                "INSERT OR IGNORE INTO inbox"
                " (chat_id, article_id, subscription_id, matched_at, delivered_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        i.chat_id,
                        i.article_id,
                        i.subscription_id,
                        _ts(i.matched_at),
                        None if i.delivered_at is None else _ts(i.delivered_at),
                    )
                    for i in items
                ],
            )
            return db.total_changes - before

    async def pending_inbox(self, chat_id: int) -> list[InboxItem]:
        """First expands the chat's new matches into inbox rows (see
        :mod:`storage.sqlite.percolate`), in the same transaction as the read."""
        async with self._transaction() as db:
            await percolation.expand_chat(db, chat_id)
            rows = await db.execute_fetchall(
                "SELECT chat_id, article_id, subscription_id, matched_at FROM inbox"
                " WHERE chat_id = ? AND delivered_at IS NULL ORDER BY matched_at, article_id,"
                " subscription_id",
                (chat_id,),
            )
        return [InboxItem(r[0], r[1], r[2], _dt(r[3])) for r in rows]

    async def pending_digest(
        self, chat_id: int, *, diplomatic_only: bool, limit: int, in_flight: bool = False
    ) -> PendingDigest:
        """Expands the chat's new matches first, if any (diplomatic ones only when asked: the
        others are never written), then reads the newest ``limit`` eligible articles with the
        counts in one statement (30,000 chats are composed at once: round trips count)."""
        if not await percolation.up_to_date(self.db, chat_id):
            async with self._transaction() as db:
                await percolation.expand_chats(db, (chat_id,), diplomatic_only)
        flag = int(diplomatic_only)
        # inbox_pending covers chat_id, matched_at and the key (article, subscription); the
        # window count runs over every eligible article before LIMIT, the passed-over list
        # (usually empty: diplomatic-only expansion writes no such rows) is computed once.
        passed_sql = (
            "SELECT json_group_array(DISTINCT p.article_id) FROM inbox p INDEXED BY inbox_pending"
            " CROSS JOIN articles b ON b.id = p.article_id WHERE p.chat_id = ?"
            " AND p.delivered_at IS NULL AND b.is_diplomatic = 0 AND ? = 1"
        )
        rows = await self._rows(
            "SELECT i.article_id, min(i.subscription_id), min(i.matched_at), count(*) OVER (),"
            f" ({passed_sql}) FROM inbox i INDEXED BY inbox_pending CROSS JOIN articles a"
            " ON a.id = i.article_id WHERE i.chat_id = ? AND i.delivered_at IS NULL"
            " AND (? = 0 OR a.is_diplomatic = 1) AND (? = 0 OR i.sending_at IS NOT NULL)"
            " GROUP BY i.article_id"
            " ORDER BY coalesce(a.published_at, a.ingested_at) DESC, i.article_id DESC LIMIT ?",
            (chat_id, flag, chat_id, flag, int(in_flight), max(1, limit)),
        )
        if rows:
            count, passed = int(rows[0][3]), json.loads(rows[0][4])
        else:
            count, passed = 0, []
            if diplomatic_only:
                passed = json.loads((await self._rows(passed_sql, (chat_id, flag)))[0][0])
        items = tuple(InboxItem(chat_id, r[0], r[1], _dt(r[2])) for r in rows[: max(0, limit)])
        return PendingDigest(items, count, tuple(sorted(int(i) for i in passed)))

    async def prepare_inboxes(self, chat_ids: Sequence[int]) -> None:
        if not chat_ids:
            return
        async with self._transaction() as db:
            await percolation.expand_chats(db, chat_ids, None)

    async def mark_delivered(
        self,
        chat_id: int,
        article_ids: Sequence[int],
        delivered_at: datetime,
        next_digest_at: datetime | None,
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE inbox SET delivered_at = ? WHERE chat_id = ? AND delivered_at IS NULL"
                " AND article_id IN (SELECT value FROM json_each(?))",
                (_ts(delivered_at), chat_id, _json(article_ids)),
            )
            await db.execute(
                "UPDATE chats SET next_digest_at = ? WHERE id = ?",
                (None if next_digest_at is None else _ts(next_digest_at), chat_id),
            )

    async def mark_sending(
        self, chat_id: int, article_ids: Sequence[int], at: datetime | None
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE inbox SET sending_at = ? WHERE chat_id = ? AND delivered_at IS NULL"
                " AND article_id IN (SELECT value FROM json_each(?))",
                (None if at is None else _ts(at), chat_id, _json(article_ids)),
            )

    # ------------------------------------------------------------------ feeds

    _FEED_COLUMNS = (
        "id, url, title, etag, last_modified, interval_s, next_poll_at, failures, last_error,"
        " last_success_at, enabled"
    )

    async def add_feed(self, url: str, title: str | None, interval_s: int) -> Feed:
        try:
            async with self._transaction() as db:
                cursor = await db.execute(
                    "INSERT INTO feeds (url, title, interval_s, next_poll_at) VALUES (?, ?, ?, ?)",
                    (url, title, interval_s, int(time.time())),
                )
                new_id = cursor.lastrowid
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists(f"feed {url}") from exc
        assert new_id is not None  # set by a successful INSERT
        return await self.get_feed(new_id)

    async def list_feeds(self) -> list[Feed]:
        return [_feed(r) for r in await self._rows(f"SELECT {self._FEED_COLUMNS} FROM feeds")]

    async def get_feed(self, feed_id: int) -> Feed:
        row = await self._one(f"SELECT {self._FEED_COLUMNS} FROM feeds WHERE id = ?", (feed_id,))
        if row is None:
            raise NotFound(f"feed {feed_id}")
        return _feed(row)

    async def remove_feed(self, feed_id: int) -> bool:
        async with self._transaction() as db:
            cursor = await db.execute("DELETE FROM feeds WHERE id = ?", (feed_id,))
            return cursor.rowcount > 0

    async def due_feeds(self, now: datetime) -> list[Feed]:
        rows = await self._rows(
            f"SELECT {self._FEED_COLUMNS} FROM feeds WHERE enabled = 1 AND next_poll_at <= ?"
            " ORDER BY next_poll_at, id",
            (_ts(now),),
        )
        return [_feed(r) for r in rows]

    async def record_poll(self, outcome: PollOutcome, at: datetime) -> Feed:
        """A success resets failures and keeps validators the server did not resend."""
        async with self._transaction() as db:
            if outcome.ok:
                sql = (
                    "UPDATE feeds SET next_poll_at = :next, failures = 0, last_error = NULL,"
                    " last_success_at = :at, etag = coalesce(:etag, etag),"
                    " last_modified = coalesce(:modified, last_modified),"
                    " title = coalesce(:title, title), enabled = enabled AND NOT :disable"
                    " WHERE id = :id"
                )
            else:
                sql = (
                    "UPDATE feeds SET next_poll_at = :next, failures = failures + 1,"
                    " last_error = :error, enabled = enabled AND NOT :disable WHERE id = :id"
                )
            cursor = await db.execute(
                sql,
                {
                    "next": _ts(outcome.next_poll_at),
                    "at": _ts(at),
                    "etag": outcome.etag,
                    "modified": outcome.last_modified,
                    "title": outcome.title,
                    "error": outcome.error,
                    "disable": int(outcome.disable),
                    "id": outcome.feed_id,
                },
            )
            if cursor.rowcount == 0:
                raise NotFound(f"feed {outcome.feed_id}")
        return await self.get_feed(outcome.feed_id)

    async def seen_guids(self, guids: Sequence[str]) -> set[str]:
        rows = await self._rows(
            "SELECT guid FROM article_sources WHERE guid IN (SELECT value FROM json_each(?))",
            (_json(guids),),
        )
        return {r[0] for r in rows}


# ---------------------------------------------------------------------- writing helpers


async def _source_ids(db: aiosqlite.Connection, keys: set[str]) -> dict[str, int]:
    """The ``sources`` ids of these case-folded source names, adding the new ones."""
    if not keys:
        return {}
    await db.executemany(
        "INSERT INTO sources (key) VALUES (?) ON CONFLICT (key) DO NOTHING",
        [(key,) for key in sorted(keys)],
    )
    rows = await db.execute_fetchall(
        "SELECT key, id FROM sources WHERE key IN (SELECT value FROM json_each(?))", (_json(keys),)
    )
    return {r[0]: r[1] for r in rows}


def _day_spans(ids_and_times: Iterable[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(day, smallest id, largest id) per UTC day of ``sort_at``, for ``article_days``."""
    spans: dict[int, tuple[int, int]] = {}
    for article_id, sort_at in ids_and_times:
        day = sq.day_number(sort_at)
        first, last = spans.get(day, (article_id, article_id))
        spans[day] = (min(first, article_id), max(last, article_id))
    return [(day, first, last) for day, (first, last) in sorted(spans.items())]


# ---------------------------------------------------------------------- row mapping


async def _scalar(
    db: aiosqlite.Connection, sql: str, params: Sequence[object] | dict[str, object] = ()
) -> int:
    rows = list(await db.execute_fetchall(sql, params))
    value = rows[0][0] if rows else 0
    return int(value or 0)


def _opening(text: str, words: int = sq.SNIPPET_TOKENS) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (sq.ELLIPSIS if len(parts) > words else "")


def _hit(row: Row, snippet: str) -> SearchHit:
    return SearchHit(
        id=row[0],
        title=row[1],
        url=row[2],
        source=row[3],
        published_at=_opt_dt(row[4]),
        snippet=snippet,
        is_diplomatic=bool(row[5]),
    )


_ENTITY_KINDS: dict[str, EntityKind] = {"person": "person", "country": "country", "org": "org"}
_CHAT_TYPES: dict[str, ChatType] = {
    "private": "private",
    "group": "group",
    "supergroup": "supergroup",
    "channel": "channel",
}
_FREQUENCIES: dict[str, DigestFrequency] = {
    f: f for f in ("off", "instant", "hourly", "daily", "weekly")
}
_SUB_KINDS: dict[str, SubscriptionKind] = {
    k: k for k in ("keyword", "person", "country", "org", "source")
}


def _entity_kind(value: str) -> EntityKind:
    return _ENTITY_KINDS[value]


def _chat(row: Row) -> Chat:
    return Chat(
        id=row[0],
        type=_CHAT_TYPES[row[1]],
        title=row[2],
        tz=row[3],
        digest_frequency=_FREQUENCIES[row[4]],
        digest_time=row[5],
        digest_weekday=row[6],
        next_digest_at=_opt_dt(row[7]),
        only_diplomatic=bool(row[8]),
        paused=bool(row[9]),
        blocked_at=_opt_dt(row[10]),
        created_at=_opt_dt(row[11]),
    )


def _subscription(row: Row) -> Subscription:
    return Subscription(
        id=row[0],
        chat_id=row[1],
        kind=_SUB_KINDS[row[2]],
        query=row[3],
        entity_id=row[4],
        created_at=_dt(row[5]),
    )


def _feed(row: Row) -> Feed:
    return Feed(
        id=row[0],
        url=row[1],
        title=row[2],
        etag=row[3],
        last_modified=row[4],
        interval_s=row[5],
        next_poll_at=_dt(row[6]),
        failures=row[7],
        last_error=row[8],
        last_success_at=_opt_dt(row[9]),
        enabled=bool(row[10]),
    )
