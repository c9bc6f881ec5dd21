"""Ingest benchmark: SQLiteStorage.add_articles (with fingerprints, FTS and dedup) vs bare FTS5.

Articles are generated first (not timed). The storage path times computing each article's
fingerprint and MinHash signature, building NewArticle (with the corpus's persons and
diplomatic flag as an extractor and classifier would give them: entity extraction itself is
not timed, storing the links is), and storing batches of :data:`BATCH`, then the final WAL
checkpoint; the floor inserts the same titles and texts into a plain FTS5 table in one
transaction, in the same run.

Batches of 2,000: every commit rewrites the pages its random-keyed index entries (URLs,
fingerprints, LSH bands) landed on, and at 100k stories a batch of 500 already touches most
of them, so the per-article cost of a commit falls with the batch size (bulk imports should
batch as much).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.corpus import RawArticle, generate, to_new_article
from storage.models import EntityMention
from storage.sqlite import SQLiteStorage

BATCH = 2000


def person_mention(name: str) -> EntityMention:
    """The mention an extractor reports for a corpus person (aliases: full name, surname)."""
    folded = name.casefold()
    return EntityMention(
        kind="person",
        canonical=name,
        key=f"person:{folded}",
        aliases=(folded, folded.split()[-1]),
        mentions=1,
        first_offset=0,
    )


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def _store(raws: list[RawArticle], path: Path) -> tuple[float, int]:
    created = 0
    async with SQLiteStorage(path) as store:
        start = time.perf_counter()
        for offset in range(0, len(raws), BATCH):
            batch = [
                to_new_article(raw, tuple(person_mention(p) for p in raw.persons))
                for raw in raws[offset : offset + BATCH]
            ]
            created += sum(
                r.created for r in await store.add_articles(batch, now=datetime.now(UTC))
            )
        await store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        elapsed = time.perf_counter() - start
    return elapsed, created


def _bare_fts(raws: list[RawArticle], path: Path) -> float:
    _remove(path)
    db = sqlite3.connect(path)
    db.execute(
        "CREATE VIRTUAL TABLE f USING fts5(title, text,"
        " tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    start = time.perf_counter()
    with db:
        db.executemany(
            "INSERT INTO f (title, text) VALUES (?, ?)", ((r.title, r.text) for r in raws)
        )
    elapsed = time.perf_counter() - start
    db.close()
    _remove(path)
    return elapsed


def run(size: int, out_dir: Path) -> tuple[dict[str, float], Path]:
    """Build the benchmark database of ``size`` articles; return the figures and its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"bench-{size}.db"
    _remove(path)
    raws = list(generate(size))
    text_bytes = sum(len(r.title.encode()) + len(r.text.encode()) for r in raws)
    elapsed, created = asyncio.run(_store(raws, path))
    stored_bytes = sum(
        len(r.title.encode()) + len(r.text.encode())
        for r in {r.text: r for r in raws}.values()  # unique texts ~ stored articles
    )
    floor = _bare_fts(raws, out_dir / f"bare-{size}.db")
    figures = {
        "articles": size,
        "created": created,
        "mean_text_bytes": text_bytes / size,
        "storage_articles_per_s": size / elapsed,
        "bare_fts_articles_per_s": size / floor,
        "storage_vs_bare": (size / elapsed) / (size / floor),
        "db_bytes": path.stat().st_size,
        "db_bytes_per_text_byte": path.stat().st_size / stored_bytes,
    }
    return figures, path


def report(figures: dict[str, float]) -> str:
    """A small text table."""
    return "\n".join(
        [
            f"ingest: {int(figures['articles']):,} articles"
            f" ({int(figures['created']):,} stored, the rest duplicates),"
            f" mean {figures['mean_text_bytes']:.0f} bytes of text",
            f"  SQLiteStorage.add_articles (+fingerprints, FTS, dedup):"
            f" {figures['storage_articles_per_s']:8.0f} articles/s",
            f"  bare FTS5 insert (floor):                      "
            f" {figures['bare_fts_articles_per_s']:8.0f} articles/s",
            f"  storage / floor: {figures['storage_vs_bare']:.2f}",
            f"  database: {figures['db_bytes'] / 1e6:.1f} MB ="
            f" {figures['db_bytes_per_text_byte']:.2f} x the stored text",
        ]
    )
