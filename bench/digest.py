"""Digest pipeline benchmarks: ``python -m bench.digest [--matching] [--subscriptions N ...]``.

Parts: ``--matching`` (new articles matched against subscriptions), ``--composition`` (due
digests built from prepared inboxes), ``--fanout`` (every due digest composed at the matching
bench's fan-out, end to end, with peak RSS; ``--warmup 98000`` for a 100k-article database),
``--delivery`` (through the local Bot API server); all of them when no part is named. Each part
prints a small report and writes ``bench/out/digest-*.json``.

Matching (:func:`bench_matching`): a database with a warm-up corpus, ``chats`` chats and
``subscriptions`` subscriptions in a realistic mix, then batches of new articles are stored
(not timed) and matched with ``SQLiteStorage.percolate`` (timed, end to end: matches recorded
per query or entity, and the instant chats with new matches found). Matches reach a chat's
inbox lazily, when its inbox is read; that cost belongs to digest composition and is measured
apart: ``SQLiteStorage.pending_inbox`` for every chat after all articles are matched (timed,
the inbox rows every chat would get). The mix:

* ~60% keyword subscriptions over a pool of distinct queries: topics, names, places and corpus
  words; 1-3 words, some quoted phrases, some ``OR``, some prefixes and exclusions;
* ~30% persons over 2,000 persons and ~10% countries over 200 countries;
* popularity is Zipfian (exponent 1) over each pool, with the most followed items drawn at
  random, so a few queries and names have thousands of followers and most have a handful;
* 2% of the chats take ``instant`` delivery, the rest daily digests.

Articles come from :mod:`bench.corpus` (real sentences recombined); their persons and
countries are linked by name (the extractor's speed is not what is measured here).
Subscriptions are inserted in bulk, but every distinct keyword query is indexed by the same
code ``add_subscription`` runs (timed separately), and a sample of real ``add_subscription``
calls is timed too.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import json
import multiprocessing
import random
import resource
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Defaults, ExtBot

from bench.corpus import (
    CITIES,
    COUNTRIES,
    PERSONS,
    TOPICS,
    RawArticle,
    generate,
    load_sentences,
    schema_tag,
    to_new_article,
)
from bot.digests.compose import Digest
from bot.digests.deliver import SendResult
from bot.digests.service import DUE_BATCH, Digests
from bot.runtime.sender import Deliverer
from bot.sandbox import BotApiServer, RateLimits
from bot.search.query import parse_query, word_runs
from storage.models import (
    Chat,
    Classification,
    EntityKind,
    EntityMention,
    NewArticle,
    NewSubscription,
)
from storage.sqlite import SQLiteStorage
from storage.sqlite import percolate as sqlite_percolate

OUT = Path(__file__).parent / "out"
BATCH = 500
PERSON_POOL = 2000
COUNTRY_POOL = 200
KEYWORD_POOL = 10_000
SHARES = (("keyword", 0.6), ("person", 0.3), ("country", 0.1))
INSTANT_SHARE = 0.02
# What a classifier says of the corpus's meeting-and-talks stories (bench.corpus decides).


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


class _Zipf:
    """Draws items with weight 1/rank, ranks shuffled once."""

    def __init__(self, items: Sequence[str | int], rng: random.Random) -> None:
        self.items = list(items)
        rng.shuffle(self.items)
        self.cumulative = list(itertools.accumulate(1 / r for r in range(1, len(self.items) + 1)))
        self.rng = rng

    def draw(self) -> str | int:
        point = self.rng.random() * self.cumulative[-1]
        return self.items[bisect.bisect_left(self.cumulative, point)]


def keyword_pool(size: int, rng: random.Random) -> list[str]:
    """Distinct keyword queries as users type them."""
    counts = Counter(w for s in load_sentences() for w in word_runs(s) if len(w) > 3)
    common = {w for w, _ in counts.most_common(60)}  # "that", "with": nobody follows these
    words = sorted(w for w in counts if w not in common)
    sentences = load_sentences()
    pool: dict[str, None] = {}
    for topic in TOPICS:
        pool[f'"{topic}"' if " " in topic else topic] = None
    for name in (*PERSONS, *COUNTRIES, *CITIES):
        pool[name.split()[-1].lower()] = None
    while len(pool) < size:
        roll = rng.random()
        if roll < 0.15:  # a phrase from the text
            run = word_runs(rng.choice(sentences))
            start = rng.randrange(max(1, len(run) - 2))
            query = '"' + " ".join(run[start : start + 2]) + '"'
        elif roll < 0.3:
            query = " OR ".join(rng.sample(words, rng.choice((2, 3))))
        elif roll < 0.37:
            word = rng.choice(words)
            query = word[: max(4, len(word) - 3)] + "*"
        elif roll < 0.42:
            query = f"{rng.choice(COUNTRIES).lower()} -{rng.choice(words)}"
        else:
            query = " ".join(rng.sample(words, rng.choice((1, 1, 2, 3))))
        pool[query] = None
    return list(pool)


def _mentions(raw: RawArticle) -> tuple[EntityMention, ...]:
    text = f"{raw.title}\n{raw.text}"
    found = []
    kinds: tuple[tuple[EntityKind, tuple[str, ...]], ...] = (
        ("person", PERSONS),
        ("country", COUNTRIES),
    )
    for kind, names in kinds:
        for name in names:
            offset = text.find(name)
            if offset >= 0:
                key = f"{kind}:{name.casefold()}"
                found.append(
                    EntityMention(kind, name, key, (name.casefold(),), text.count(name), offset)
                )
    return tuple(found)


def _articles(raws: Sequence[RawArticle]) -> list[NewArticle]:
    return [to_new_article(raw, _mentions(raw)) for raw in raws]


async def _populate(
    store: SQLiteStorage, subscriptions: int, chats: int, rng: random.Random
) -> dict[str, float]:
    """Chats, entities and subscriptions in bulk; distinct keyword queries indexed for real."""
    db = store.db
    now = int(time.time())
    created_at = now - 3600
    await db.execute("BEGIN IMMEDIATE")
    await db.executemany(
        "INSERT INTO chats (id, type, tz, created_at, digest_frequency) VALUES (?, ?, ?, ?, ?)",
        [
            (
                1_000_000 + c,
                "private",
                "UTC",
                created_at,
                "instant" if rng.random() < INSTANT_SHARE else "daily",
            )
            for c in range(chats)
        ],
    )
    entity_ids: dict[str, list[int]] = {}
    for kind, real, pool in (
        ("person", PERSONS, PERSON_POOL),
        ("country", COUNTRIES, COUNTRY_POOL),
    ):
        names = list(real) + [f"Bench {kind} {i}" for i in range(pool - len(real))]
        await db.executemany(
            "INSERT INTO entities (kind, canonical, key) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO NOTHING",
            [(kind, n, f"{kind}:{n.casefold()}") for n in names],
        )
        rows = await db.execute_fetchall("SELECT id FROM entities WHERE kind = ?", (kind,))
        entity_ids[kind] = [int(r[0]) for r in rows]
    queries = keyword_pool(KEYWORD_POOL, rng)
    draws: dict[str, _Zipf] = {
        "keyword": _Zipf(queries, rng),
        "person": _Zipf(entity_ids["person"], rng),
        "country": _Zipf(entity_ids["country"], rng),
    }
    query_ids: dict[str, int | None] = {}
    register_s = 0.0
    rows_by_key: dict[tuple[int, str], tuple[object, ...]] = {}
    for kind, share in SHARES:
        goal = len(rows_by_key) + round(subscriptions * share)
        while len(rows_by_key) < goal:
            chat = 1_000_000 + rng.randrange(chats)
            item = draws[kind].draw()
            if kind == "keyword":
                query = str(item)
                if query not in query_ids:
                    start = time.perf_counter()
                    query_ids[query] = await sqlite_percolate.register_query(
                        db, parse_query(query).text
                    )
                    register_s += time.perf_counter() - start
                key = f"keyword:{query.casefold()}"
                row: tuple[object, ...] = (
                    chat,
                    kind,
                    query,
                    None,
                    key,
                    created_at,
                    query_ids[query],
                )
            else:
                key = f"{kind}:#{item}"
                row = (chat, kind, f"entity {item}", item, key, created_at, None)
            rows_by_key.setdefault((chat, key), row)
    await db.executemany(
        "INSERT INTO subscriptions"
        " (chat_id, kind, query, entity_id, dedup_key, created_at, query_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        list(rows_by_key.values()),
    )
    await db.execute("COMMIT")
    await db.execute("ANALYZE")
    # The real path, one call at a time, for a sample.
    sample = 200
    start = time.perf_counter()
    for i in range(sample):
        query = queries[rng.randrange(len(queries))]
        await store.ensure_chat(900 + i, "private", None, "UTC", now=datetime.now(UTC))
        await store.add_subscription(
            NewSubscription(900 + i, "keyword", query, text=parse_query(query).text),
            10,
            now=datetime.now(UTC),
        )
    add_ms = (time.perf_counter() - start) / sample * 1000
    return {
        "distinct_keyword_queries": len(query_ids),
        "register_query_ms": register_s / max(1, len(query_ids)) * 1000,
        "add_subscription_ms": add_ms,
    }


async def _run_matching(
    path: Path, subscriptions: int, chats: int, articles: int, warmup: int, seed: int
) -> dict[str, float]:
    _remove(path)
    rng = random.Random(seed)
    raws = list(generate(warmup + articles, seed=seed))
    async with SQLiteStorage(path) as store:
        for offset in range(0, warmup, BATCH):
            await store.add_articles(
                _articles(raws[offset : min(offset + BATCH, warmup)]), now=datetime.now(UTC)
            )
        while (await store.percolate(BATCH, now=datetime.now(UTC))).articles:
            pass
        figures = await _populate(store, subscriptions, chats, rng)
        # Subscriptions are older than everything from here on; drain the sample's queue.
        counts = await store.db.execute_fetchall(
            "SELECT kind, count(*) FROM subscriptions GROUP BY kind"
        )
        matched = match_rows = 0
        chats_notified: set[int] = set()
        elapsed = 0.0
        batches: list[float] = []
        phases = _PhaseTimer(store)
        for offset in range(warmup, warmup + articles, BATCH):
            await store.add_articles(
                _articles(raws[offset : offset + BATCH]), now=datetime.now(UTC)
            )
            start = time.perf_counter()
            with phases:
                result = await store.percolate(BATCH, now=datetime.now(UTC))
            took = time.perf_counter() - start
            elapsed += took
            batches.append(took)
            matched += result.articles
            match_rows += result.matches
            chats_notified.update(result.chats)
        # What digest composition pays: every chat's inbox read, so its matches expanded.
        start = time.perf_counter()
        instant_pending = len(await store.pending_chats("instant", 1_000_000))
        pending_chats_s = time.perf_counter() - start
        chat_ids = [int(r[0]) for r in await store.db.execute_fetchall("SELECT id FROM chats")]
        inbox_rows = 0
        start = time.perf_counter()
        for chat_id in chat_ids:
            inbox_rows += len(await store.pending_inbox(chat_id))
        expansion_s = time.perf_counter() - start
        start = time.perf_counter()
        for chat_id in chat_ids:
            await store.pending_inbox(chat_id)
        reread_s = time.perf_counter() - start
    _remove(path)
    figures.update(
        {
            "subscriptions": subscriptions,
            "chats": chats,
            **{f"subscriptions_{k}": float(n) for k, n in counts},
            "articles": matched,
            "articles_per_s": matched / elapsed,
            "batch_ms_max": max(batches) * 1000,
            "matching_articles_per_s": matched / phases.seconds["match"],
            "recording_s": phases.seconds["record"],
            "match_rows": match_rows,
            "match_rows_per_article": match_rows / max(1, matched),
            "chats_notified": len(chats_notified),
            "pending_chats_instant": instant_pending,
            "pending_chats_s": pending_chats_s,
            "expansion_chats": len(chat_ids),
            "expansion_s": expansion_s,
            "reread_s": reread_s,
            "inbox_rows": inbox_rows,
            "inbox_rows_per_article": inbox_rows / max(1, matched),
            "inbox_rows_per_s": inbox_rows / expansion_s,
        }
    )
    return figures


class _PhaseTimer:
    """Splits percolation time into matching (candidates + verification by the full-text
    engine) and recording (match rows, instant chats), by statement."""

    MATCH = ("percolate_candidates", "percolate_query_hits (query_id", "percolate_fts (rowid")
    RECORD = ("INTO matches", "subscription_matches")

    def __init__(self, store: SQLiteStorage) -> None:
        self.db = store.db
        self.seconds = {"match": 0.0, "record": 0.0, "other": 0.0}
        self._execute = self.db.execute

    async def _timed(self, sql: str, parameters: object = None) -> object:
        phase = (
            "match"
            if any(m in sql for m in self.MATCH)
            else "record"
            if any(m in sql for m in self.RECORD)
            else "other"
        )
        start = time.perf_counter()
        try:
            return await self._execute(sql, parameters)
        finally:
            self.seconds[phase] += time.perf_counter() - start

    def __enter__(self) -> None:
        self.db.execute = self._timed  # type: ignore[method-assign,assignment]

    def __exit__(self, *_: object) -> None:
        self.db.execute = self._execute  # type: ignore[method-assign]


def bench_matching(
    sizes: Sequence[int] = (10_000, 100_000),
    *,
    articles: int = 5000,
    warmup: int = 2000,
    chats_per_subscription: float = 0.3,
    seed: int = 2024,
    out_dir: Path = OUT,
) -> list[dict[str, float]]:
    """Match ``articles`` new articles against each number of subscriptions; the figures."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for size in sizes:
        chats = max(1, round(size * chats_per_subscription))
        results.append(
            asyncio.run(
                _run_matching(
                    out_dir / f"digest-matching-{size}-{schema_tag()}.db",
                    size,
                    chats,
                    articles,
                    warmup,
                    seed,
                )
            )
        )
    return results


def matching_report(results: Sequence[dict[str, float]]) -> str:
    lines = ["matching (SQLiteStorage.percolate, batches of 500 new articles)"]
    for r in results:
        lines.append(
            f"  {int(r['subscriptions']):>7,} subscriptions ({int(r['subscriptions_keyword']):,}"
            f" keyword / {int(r['distinct_keyword_queries']):,} distinct,"
            f" {int(r['subscriptions_person']):,} person,"
            f" {int(r['subscriptions_country']):,} country) over {int(r['chats']):,} chats:"
            f" {r['articles_per_s']:7,.0f} articles/s end to end (matching alone"
            f" {r['matching_articles_per_s']:,.0f}/s), {r['match_rows_per_article']:.0f} query or"
            f" entity matches/article, {int(r['chats_notified']):,} instant chats notified,"
            f" slowest batch"
            f" {r['batch_ms_max']:.0f} ms; add_subscription {r['add_subscription_ms']:.2f} ms"
        )
        lines.append(
            f"    expansion into inboxes (pending_inbox for all {int(r['expansion_chats']):,}"
            f" chats after {int(r['articles']):,} articles): {r['expansion_s']:.1f} s for"
            f" {int(r['inbox_rows']):,} inbox rows ({r['inbox_rows_per_article']:,.0f}/article,"
            f" {r['inbox_rows_per_s']:,.0f}/s); read again with nothing new"
            f" {r['reread_s']:.1f} s; pending_chats('instant') {r['pending_chats_s'] * 1000:.0f} ms"
            f" ({int(r['pending_chats_instant']):,} chats)"
        )
    if len(results) >= 2:
        first, last = results[0], results[-1]
        growth = last["subscriptions"] / first["subscriptions"]
        slowdown = first["articles_per_s"] / last["articles_per_s"]
        lines.append(
            f"  {growth:.0f}x subscriptions -> {slowdown:.2f}x time per article"
            f" ({'linear or better' if slowdown <= growth else 'WORSE than linear'});"
            f" inbox rows grew {last['inbox_rows'] / max(1, first['inbox_rows']):.2f}x,"
            f" expansion time {last['expansion_s'] / max(1e-9, first['expansion_s']):.2f}x"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- composition


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _own_peak_rss_mb() -> float:
    """Peak resident memory of this program image: Linux's ``VmHWM``. ``ru_maxrss`` would do,
    but a process started by fork and exec keeps the parent's peak at the fork in it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return _peak_rss_mb()


async def _digest_world(
    path: Path,
    chats: int,
    articles: int,
    items_per_chat: int,
    seed: int,
    due: datetime,
    diplomatic_share: float = 0.85,
) -> list[int]:
    """A database with ``articles`` articles, ``chats`` due chats, three subscriptions each and
    ``items_per_chat`` pending inbox rows each (written in bulk). Returns the chat ids."""
    _remove(path)
    rng = random.Random(seed)
    raws = list(generate(articles, seed=seed))
    async with SQLiteStorage(path) as store:
        ids: list[int] = []
        for offset in range(0, articles, BATCH):
            batch = _articles(raws[offset : offset + BATCH])
            batch = [
                replace(
                    a,
                    classification=Classification(0.8, rng.random() < diplomatic_share, ("bench",)),
                )
                for a in batch
            ]
            ids.extend(r.article_id for r in await store.add_articles(batch, now=datetime.now(UTC)))
        while (await store.percolate(BATCH, now=datetime.now(UTC))).articles:
            pass
        ids = sorted(set(ids))
        db = store.db
        created = int(time.time()) - 3600
        chat_ids = [5_000_000 + c for c in range(chats)]
        await db.execute("BEGIN IMMEDIATE")
        await db.executemany(
            "INSERT INTO chats (id, type, tz, created_at, next_digest_at) VALUES (?, ?, ?, ?, ?)",
            [(c, "private", "Europe/Minsk", created, int(due.timestamp())) for c in chat_ids],
        )
        subs: list[tuple[object, ...]] = []
        for c in chat_ids:
            for k, (kind, query) in enumerate(
                (("keyword", rng.choice(TOPICS)), ("person", rng.choice(PERSONS)),
                 ("country", rng.choice(COUNTRIES)))
            ):  # fmt: skip
                subs.append((c, kind, query, f"{kind}:{query}:{k}", created))
        await db.executemany(
            "INSERT INTO subscriptions (chat_id, kind, query, dedup_key, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            subs,
        )
        rows = await db.execute_fetchall("SELECT id, chat_id FROM subscriptions")
        by_chat: dict[int, list[int]] = {}
        for sub_id, chat_id in rows:
            by_chat.setdefault(int(chat_id), []).append(int(sub_id))
        inbox = []
        for c in chat_ids:
            for article_id in rng.sample(ids, items_per_chat):
                inbox.append((c, article_id, rng.choice(by_chat[c]), created))
        await db.executemany(
            "INSERT OR IGNORE INTO inbox (chat_id, article_id, subscription_id, matched_at)"
            " VALUES (?, ?, ?, ?)",
            inbox,
        )
        await db.execute("COMMIT")
        await db.execute("ANALYZE")
    return chat_ids


class _NoSend:
    """A sender that refuses to be used: composition is measured without delivery."""

    async def send(self, chat_id: int, html_text: str, *, is_group: bool = False) -> SendResult:
        raise AssertionError("composition must not send")


async def _run_composition(
    path: Path, chats: int, articles: int, items: int, seed: int
) -> dict[str, float]:
    due = datetime.now(UTC) - timedelta(minutes=1)
    start = time.perf_counter()
    await _digest_world(path, chats, articles, items, seed, due)
    setup_s = time.perf_counter() - start
    async with SQLiteStorage(path) as store:
        digests = Digests(store, _NoSend(), clock=lambda: datetime.now(UTC))
        parts = shown = composed = 0
        start = time.perf_counter()
        offset = 0
        while True:
            # every due chat, in the order send_due takes them (here without advancing them)
            rows = list(
                await store.db.execute_fetchall(
                    "SELECT id FROM chats WHERE next_digest_at <= ? ORDER BY next_digest_at, id"
                    " LIMIT ? OFFSET ?",
                    (int(due.timestamp()), 500, offset),
                )
            )
            if not rows:
                break
            offset += len(rows)
            for (chat_id,) in rows:
                chat = await store.get_chat(int(chat_id))
                digest = await digests.compose(chat)
                composed += 1
                parts += len(digest.parts)
                shown += len(digest.items)
        compose_s = time.perf_counter() - start
    _remove(path)
    return {
        "chats": composed,
        "articles": articles,
        "items_per_chat": items,
        "setup_s": setup_s,
        "compose_s": compose_s,
        "chats_per_s": composed / compose_s,
        "messages": parts,
        "items_shown": shown,
        "peak_rss_mb": _peak_rss_mb(),
    }


def bench_composition(
    chats: int = 30_000, *, articles: int = 5000, items: int = 12, seed: int = 7,
    out_dir: Path = OUT,
) -> dict[str, float]:  # fmt: skip
    """Compose the due digests of ``chats`` chats (inbox read, articles, grouping, HTML)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"digest-composition-{chats}-{schema_tag()}.db"
    return asyncio.run(_run_composition(path, chats, articles, items, seed))


def composition_report(r: dict[str, float]) -> str:
    return (
        f"composition: {int(r['chats']):,} due chats x {int(r['items_per_chat'])} pending items"
        f" over {int(r['articles']):,} articles: {r['compose_s']:.1f} s"
        f" ({r['chats_per_s']:,.0f} chats/s), {int(r['messages']):,} messages,"
        f" {int(r['items_shown']):,} items shown (target <= 30 s);"
        f" peak RSS {r['peak_rss_mb']:.0f} MB; setup {r['setup_s']:.0f} s"
    )


# --------------------------------------------------------------------------- fan-out


def _fanout_path(out_dir: Path, subscriptions: int, warmup: int, articles: int, seed: int) -> Path:
    return out_dir / f"digest-fanout-{subscriptions}-{warmup}-{articles}-{seed}-{schema_tag()}.db"


async def _build_fanout(
    path: Path, subscriptions: int, chats: int, warmup: int, articles: int, seed: int
) -> dict[str, float]:
    """The matching bench's world, kept in ``path``: ``warmup`` older articles, the
    subscriptions, then ``articles`` new articles stored and matched (by ``percolate``, as
    ingest does), with every chat not on ``instant`` due for its daily digest."""
    building = path.with_name(path.name + ".building")
    _remove(building)
    rng = random.Random(seed)
    raws = generate(warmup + articles, seed=seed)
    start = time.perf_counter()
    async with SQLiteStorage(building) as store:
        for offset in range(0, warmup, BATCH):
            chunk = list(itertools.islice(raws, min(BATCH, warmup - offset)))
            await store.add_articles(_articles(chunk), now=datetime.now(UTC))
            while (await store.percolate(BATCH, now=datetime.now(UTC))).articles:
                pass
        warmup_s = time.perf_counter() - start
        figures = await _populate(store, subscriptions, chats, rng)
        start = time.perf_counter()
        matched = 0
        for _ in range(0, articles, BATCH):
            await store.add_articles(
                _articles(list(itertools.islice(raws, BATCH))), now=datetime.now(UTC)
            )
            matched += (await store.percolate(BATCH, now=datetime.now(UTC))).articles
        percolate_s = time.perf_counter() - start
        due = int(time.time()) - 60
        await store.db.execute(
            "UPDATE chats SET next_digest_at = ? WHERE digest_frequency != 'instant'", (due,)
        )
        await store.db.execute("ANALYZE")
    building.rename(path)
    figures.update({"warmup_s": warmup_s, "new_articles": matched, "percolate_s": percolate_s})
    return figures


async def _compose_all(path: Path) -> dict[str, float]:
    """Compose every due chat's digest through ``Digests.compose`` (nothing sent), timed."""
    async with SQLiteStorage(path) as store:
        total_articles = await store.count_articles()
        subscriptions = await _scalar_of(store, "SELECT count(*) FROM subscriptions")
        digests = Digests(store, _NoSend(), clock=lambda: datetime.now(UTC))
        now = datetime.now(UTC)
        composed = parts = shown = remaining = skipped = 0
        start = time.perf_counter()
        # Every due chat (in send_due's order), taken at once: nothing is sent, so no
        # schedule moves on and send_due's re-query would find the same chats again.
        gate = asyncio.Semaphore(digests.concurrency)

        async def one(chat: Chat) -> Digest:
            async with gate:  # send_due's concurrency: SQLite works while Python composes
                return await digests.compose(chat)

        due = await store.due_chats(now, 1_000_000)
        for offset in range(0, len(due), DUE_BATCH):
            batch = due[offset : offset + DUE_BATCH]
            await digests.prepare(batch)  # as send_due does for each batch it takes
            for digest in await asyncio.gather(*(one(chat) for chat in batch)):
                composed += 1
                parts += len(digest.parts)
                shown += len(digest.items)
                remaining += digest.remaining
                skipped += len(digest.skipped_ids)
        compose_s = time.perf_counter() - start
    return {
        "articles_total": total_articles,
        "subscriptions_total": subscriptions,
        "chats": composed,
        "compose_s": compose_s,
        "chats_per_s": composed / compose_s,
        "messages": parts,
        "items_shown": shown,
        "items_remaining": remaining,
        "items_skipped": skipped,
        "peak_rss_mb": _own_peak_rss_mb(),
        "ru_maxrss_mb": _peak_rss_mb(),
    }


async def _scalar_of(store: SQLiteStorage, sql: str) -> int:
    rows = list(await store.db.execute_fetchall(sql))
    return int(rows[0][0])


def _compose_in_child(path: str) -> dict[str, float]:
    """Run in a fresh process, so its peak RSS is composition's alone."""
    return asyncio.run(_compose_all(Path(path)))


def bench_fanout(
    subscriptions: int = 100_000,
    *,
    articles: int = 2000,
    warmup: int = 2000,
    chats_per_subscription: float = 0.3,
    seed: int = 2024,
    out_dir: Path = OUT,
) -> dict[str, float]:
    """Compose every due digest at the matching bench's fan-out, end to end.

    The world (built once and kept in ``bench/out``, as it takes minutes at 100k articles):
    ``warmup`` older articles, ``subscriptions`` subscriptions over their chats, then
    ``articles`` new articles stored and matched. Each run works on a copy, in a fresh process
    (its peak RSS is the figure): every due chat's digest composed through ``Digests.compose``
    -- the chat's inbox expanded and read, its articles loaded, the messages built.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    cached = _fanout_path(out_dir, subscriptions, warmup, articles, seed)
    figures: dict[str, float] = {}
    if not cached.exists():
        chats = max(1, round(subscriptions * chats_per_subscription))
        start = time.perf_counter()
        figures = asyncio.run(_build_fanout(cached, subscriptions, chats, warmup, articles, seed))
        figures["build_s"] = time.perf_counter() - start
    work = out_dir / "digest-fanout-work.db"
    _remove(work)
    shutil.copyfile(cached, work)
    try:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            figures.update(pool.submit(_compose_in_child, str(work)).result())
    finally:
        _remove(work)
    figures.update({"subscriptions": subscriptions, "new_articles": articles, "warmup": warmup})
    return figures


def fanout_report(r: dict[str, float]) -> str:
    return (
        f"fan-out composition: {int(r['chats']):,} due chats, {int(r['subscriptions_total']):,}"
        f" subscriptions, {int(r['articles_total']):,} articles ({int(r['new_articles']):,} new"
        f" since the last digest): {r['compose_s']:.1f} s ({r['chats_per_s']:,.0f} chats/s;"
        f" target <= 30 s), {int(r['messages']):,} messages, {int(r['items_shown']):,} items"
        f" shown, {int(r['items_remaining']):,} left for /more, {int(r['items_skipped']):,}"
        f" skipped; peak RSS {r['peak_rss_mb']:.0f} MB (target <= 500)"
    )


# --------------------------------------------------------------------------- delivery


async def _run_delivery(path: Path, messages: int, seed: int) -> dict[str, float]:
    token = "123456:attache-bench"
    due = datetime.now(UTC) - timedelta(minutes=1)
    chat_ids = await _digest_world(path, messages, 400, 3, seed, due, diplomatic_share=1.0)
    async with (
        BotApiServer(token=token, rate_limits=RateLimits()) as server,
        SQLiteStorage(path) as store,
    ):
        for chat_id in chat_ids:
            server.private_chat(server.create_user(f"Reader {chat_id}", user_id=chat_id))
        bot: ExtBot[int] = ExtBot(
            token,
            base_url=server.base_url,
            defaults=Defaults(parse_mode=ParseMode.HTML),
            rate_limiter=AIORateLimiter(max_retries=3),
        )
        async with bot:
            digests = Digests(store, Deliverer(bot), clock=lambda: datetime.now(UTC))
            start = time.perf_counter()
            report = await digests.send_due()
            wall_s = time.perf_counter() - start
        sent = [e.at for e in server.sent_log if e.method == "sendMessage"]
        requests = server.request_counts["sendmessage"]
    _remove(path)
    span = max(sent) - min(sent) if len(sent) > 1 else 0.0
    return {
        "messages": len(sent),
        "chats": report.chats,
        "failed": report.failed,
        "requests": requests,
        "flood_429": requests - len(sent),
        "wall_s": wall_s,
        "sustained_per_s": (len(sent) - 1) / span if span else 0.0,
        "peak_rss_mb": _peak_rss_mb(),
    }


def bench_delivery(
    messages: int = 2000, *, seed: int = 11, out_dir: Path = OUT
) -> dict[str, float]:
    """Send ``messages`` one-message digests through the local Bot API server enforcing
    Telegram's limits (30/s overall, 1/s per chat), as ``send_due`` does in the bot."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"digest-delivery-{messages}-{schema_tag()}.db"
    return asyncio.run(_run_delivery(path, messages, seed))


def delivery_report(r: dict[str, float]) -> str:
    return (
        f"delivery: {int(r['messages']):,} messages to {int(r['chats']):,} chats in"
        f" {r['wall_s']:.1f} s: sustained {r['sustained_per_s']:.1f} msg/s (target >= 27),"
        f" {int(r['flood_429'])} answered 429 (target 0), {int(r['failed'])} failed;"
        f" peak RSS {r['peak_rss_mb']:.0f} MB"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--matching", action="store_true", help="run the matching part")
    parser.add_argument(
        "--subscriptions", type=int, action="append", help="subscriptions (repeatable)"
    )
    parser.add_argument("--articles", type=int, help="new articles matched (5,000; fan-out: 2,000)")
    parser.add_argument("--composition", action="store_true", help="run the composition part")
    parser.add_argument("--delivery", action="store_true", help="run the delivery part")
    parser.add_argument("--chats", type=int, default=30_000, help="due chats composed")
    parser.add_argument("--messages", type=int, default=2000, help="messages delivered")
    parser.add_argument("--fanout", action="store_true", help="run the fan-out composition part")
    parser.add_argument(
        "--warmup", type=int, default=2000, help="older articles in the fan-out world"
    )
    args = parser.parse_args(argv)
    run_all = not (args.matching or args.composition or args.delivery or args.fanout)
    if args.fanout or run_all:
        sizes = args.subscriptions or (100_000,)
        fanout = [
            bench_fanout(size, articles=args.articles or 2000, warmup=args.warmup) for size in sizes
        ]
        for figures in fanout:
            print(fanout_report(figures), flush=True)
        (OUT / "digest-fanout.json").write_text(json.dumps(fanout, indent=2) + "\n")
    if args.composition or run_all:
        composition = bench_composition(args.chats)
        print(composition_report(composition), flush=True)
        (OUT / "digest-composition.json").write_text(json.dumps(composition, indent=2) + "\n")
    if args.delivery or run_all:
        delivery = bench_delivery(args.messages)
        print(delivery_report(delivery), flush=True)
        (OUT / "digest-delivery.json").write_text(json.dumps(delivery, indent=2) + "\n")
    if args.matching or run_all:
        results = bench_matching(
            args.subscriptions or (10_000, 100_000), articles=args.articles or 5000
        )
        print(matching_report(results), flush=True)
        (OUT / "digest-matching.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
