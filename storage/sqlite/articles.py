"""Articles: storing them with duplicate detection, reading them back, re-enrichment, counts.

Kept together because storing an article writes every structure a read depends on in one
transaction: the row, its full-text index entry, its tag tokens (the search filters, see
:mod:`storage.sqlite.search`), its LSH bands (near-duplicate detection), its day span (date
filters), its sources and its entity links. A duplicate (same URL, feed guid, exact text, or
near-identical text) adds no article: the new place that carried it becomes a source of the
stored story instead, and the story gains that source's tag.

Functions take the connection: writers run inside the caller's write transaction (which also
holds the duplicate lookups, so two batches never both create the same story), readers on the
reader.
"""

# SQL here is assembled from constant fragments only; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from storage.errors import NotFound
from storage.models import (
    NEAR_DUPLICATE_MIN_SIMILARITY,
    AddResult,
    Article,
    ArticleSource,
    Classification,
    DuplicateReason,
    EntityMention,
    NewArticle,
    StoreStats,
    signature_similarity,
)
from storage.sqlite import entities
from storage.sqlite import search as sq
from storage.sqlite.connection import dt, json_list, one, opt_dt, rows, scalar, ts

MAX_NEAR_CANDIDATES = 64  # signatures compared per new article, at most


def sort_at(published_at: datetime | None, ingested_at: int) -> int:
    """When a story happened, for ordering: its publication time unless missing or implausible."""
    if published_at is None:
        return ingested_at
    published = ts(published_at)
    return published if published <= ingested_at + sq.FUTURE_SLACK_S else ingested_at


# ---------------------------------------------------------------------- duplicates


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


async def _batch_index(db: aiosqlite.Connection, items: Sequence[NewArticle]) -> _BatchIndex:
    urls = json_list({i.url for i in items if i.url})
    guids = json_list({i.guid for i in items if i.guid})
    fingerprints = json_list({i.fingerprint for i in items})
    bands = json_list({band for i in items for band in i.bands})
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
        "SELECT band, article_id FROM article_bands WHERE band IN (SELECT value FROM json_each(?))",
        (bands,),
    ):
        index.bands.setdefault(band, []).append(article_id)
    candidates = {a for ids in index.bands.values() for a in ids}
    if candidates:
        for article_id, signature in await db.execute_fetchall(
            "SELECT id, signature FROM articles WHERE id IN (SELECT value FROM json_each(?))",
            (json_list(candidates),),
        ):
            index.signatures[article_id] = signature
    return index


# ---------------------------------------------------------------------- writing


async def add(db: aiosqlite.Connection, items: Sequence[NewArticle], now: int) -> list[AddResult]:
    """Store a batch (inside the caller's write transaction), stamped ``now`` (unix seconds)."""
    index = await _batch_index(db, items)
    next_id = await scalar(db, "SELECT coalesce(max(id), 0) + 1 FROM articles")
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
        await _insert_new(db, new_items, carriers, source_ids, now)
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


async def _insert_new(
    db: aiosqlite.Connection,
    new_items: Sequence[tuple[int, NewArticle]],
    carriers: dict[int, set[str]],
    source_ids: dict[str, int],
    now: int,
) -> None:
    """The rows of the batch's new stories: article, index entry, bands, day span, entities."""
    entity_ids = await entities.upsert(db, [m for _, item in new_items for m in item.entities])
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
                None if item.published_at is None else ts(item.published_at),
                now,
                sort_at(item.published_at, now),
                item.dateline_place,
                item.agency,
                item.attribution,
                item.url,
                item.source,
                item.fingerprint,
                item.signature,
                item.classification.score,
                int(item.classification.is_diplomatic),
                json_list(item.classification.reasons),
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
        sorted((band, article_id) for article_id, item in new_items for band in item.bands),
    )
    await db.executemany(
        "INSERT INTO article_days (day, first_id, last_id) VALUES (?, ?, ?)"
        " ON CONFLICT (day) DO UPDATE SET first_id = min(first_id, excluded.first_id),"
        " last_id = max(last_id, excluded.last_id)",
        _day_spans((article_id, sort_at(item.published_at, now)) for article_id, item in new_items),
    )
    await entities.link(
        db, [(article_id, item.entities) for article_id, item in new_items], entity_ids
    )


async def _source_ids(db: aiosqlite.Connection, keys: set[str]) -> dict[str, int]:
    """The ``sources`` ids of these case-folded source names, adding the new ones."""
    if not keys:
        return {}
    await db.executemany(
        "INSERT INTO sources (key) VALUES (?) ON CONFLICT (key) DO NOTHING",
        [(key,) for key in sorted(keys)],
    )
    found = await db.execute_fetchall(
        "SELECT key, id FROM sources WHERE key IN (SELECT value FROM json_each(?))",
        (json_list(keys),),
    )
    return {r[0]: r[1] for r in found}


def _day_spans(ids_and_times: Iterable[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(day, smallest id, largest id) per UTC day of ``sort_at``, for ``article_days``."""
    spans: dict[int, tuple[int, int]] = {}
    for article_id, moment in ids_and_times:
        day = sq.day_number(moment)
        first, last = spans.get(day, (article_id, article_id))
        spans[day] = (min(first, article_id), max(last, article_id))
    return [(day, first, last) for day, (first, last) in sorted(spans.items())]


async def replace_enrichment(
    db: aiosqlite.Connection,
    article_id: int,
    classification: Classification,
    mentions: Sequence[EntityMention],
) -> None:
    """Inside the caller's write transaction: new classification, entity links and tags."""
    cursor = await db.execute(
        "UPDATE articles SET diplomatic_score = ?, is_diplomatic = ?, reasons = ? WHERE id = ?",
        (
            classification.score,
            int(classification.is_diplomatic),
            json_list(classification.reasons),
            article_id,
        ),
    )
    if cursor.rowcount == 0:
        raise NotFound(f"article {article_id}")
    await db.execute("DELETE FROM article_entities WHERE article_id = ?", (article_id,))
    entity_ids = await entities.upsert(db, mentions)
    await entities.link(db, [(article_id, mentions)], entity_ids)
    source_ids = [
        r[0]
        for r in await db.execute_fetchall(
            "SELECT DISTINCT s.id FROM article_sources a_s"
            " JOIN sources s ON s.key = a_s.source_key WHERE a_s.article_id = ?",
            (article_id,),
        )
    ]
    tags = sq.article_tags(
        source_ids, classification.is_diplomatic, (entity_ids[m.key] for m in mentions)
    )
    # Only a changed tag list re-indexes the article (the update trigger).
    await db.execute(
        "UPDATE articles SET tags = ? WHERE id = ? AND tags != ?", (tags, article_id, tags)
    )


# ---------------------------------------------------------------------- reading

_COLUMNS = (
    "id, title, text, url, source, published_at, ingested_at, lang, dateline_place, agency,"
    " attribution, diplomatic_score, is_diplomatic, reasons"
)


async def select(db: aiosqlite.Connection, where: str, params: Sequence[object]) -> list[Article]:
    """Articles with their sources (two statements; a source committed in between may show)."""
    found = await rows(db, f"SELECT {_COLUMNS} FROM articles {where}", params)
    if not found:
        return []
    sources: dict[int, list[ArticleSource]] = {}
    for article_id, url, source, seen_at in await rows(
        db,
        "SELECT article_id, url, source, seen_at FROM article_sources"
        " WHERE article_id IN (SELECT value FROM json_each(?)) ORDER BY id",
        (json_list(r[0] for r in found),),
    ):
        sources.setdefault(article_id, []).append(ArticleSource(url, source, dt(seen_at)))
    return [
        Article(
            id=r[0],
            title=r[1],
            text=r[2],
            url=r[3],
            source=r[4],
            published_at=opt_dt(r[5]),
            ingested_at=dt(r[6]),
            lang=r[7],
            dateline_place=r[8],
            agency=r[9],
            attribution=r[10],
            classification=Classification(r[11], bool(r[12]), tuple(json.loads(r[13]))),
            sources=tuple(sources.get(r[0], ())),
        )
        for r in found
    ]


async def get(db: aiosqlite.Connection, article_id: int) -> Article:
    found = await select(db, "WHERE id = ?", (article_id,))
    if not found:
        raise NotFound(f"article {article_id}")
    return found[0]


async def get_many(db: aiosqlite.Connection, article_ids: Sequence[int]) -> list[Article]:
    """The articles that exist, in the order asked."""
    found = await select(
        db, "WHERE id IN (SELECT value FROM json_each(?))", (json_list(article_ids),)
    )
    by_id = {a.id: a for a in found}
    return [by_id[i] for i in article_ids if i in by_id]


async def batch_after(db: aiosqlite.Connection, last_id: int, size: int) -> list[Article]:
    """The next ``size`` articles after ``last_id``, in storage order (for iteration)."""
    return await select(db, "WHERE id > ? ORDER BY id LIMIT ?", (last_id, size))


async def count(db: aiosqlite.Connection) -> int:
    return await scalar(db, "SELECT count(*) FROM articles")


async def stats(db: aiosqlite.Connection) -> StoreStats:
    """Counts, and the database size as SQLite allocates it (pages in use times page size)."""
    row = await one(
        db,
        "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM article_sources),"
        " (SELECT count(*) FROM entities), (SELECT count(*) FROM chats),"
        " (SELECT count(*) FROM subscriptions), (SELECT count(*) FROM feeds),"
        " (SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size())",
    )
    assert row is not None  # an aggregate always returns a row
    return StoreStats(*row)
