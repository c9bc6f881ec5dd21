"""SQLite only: how percolation is built (storage.sqlite.percolate), not what it does (that is
tests/storage/contract/test_percolate.py): the index's own tokenizer, the anchors of keyword
queries, matches recorded per query and expanded into a chat's inbox lazily, and crash safety
of both steps (a process killed inside its transaction)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from bot.search.query import parse_query
from storage.models import Classification, NewSubscription, PercolateResult, SearchQuery
from storage.sqlite import SQLiteStorage
from storage.sqlite.percolate import TOKENIZE, tokenize
from tests.storage.contract.support import NOW, TARGETS, drain, make_article

ROOT = Path(__file__).parents[3]


async def _scalar(store: SQLiteStorage, sql: str, params: tuple[object, ...] = ()) -> int:
    rows = await store.db.execute_fetchall(sql, params)
    return int(next(iter(rows))[0])


async def _cursor(store: SQLiteStorage, chat_id: int) -> tuple[int, int]:
    """A chat's expansion cursor and the newest match."""
    rows = await store.db.execute_fetchall(
        "SELECT expanded_seq, (SELECT coalesce(max(seq), 0) FROM matches) FROM chats WHERE id = ?",
        (chat_id,),
    )
    cursor, newest = next(iter(rows))
    return int(cursor), int(newest)


async def _stored_inbox_rows(store: SQLiteStorage, chat_id: int) -> int:
    return await _scalar(store, "SELECT count(*) FROM inbox WHERE chat_id = ?", (chat_id,))


async def _anchor_count(store: SQLiteStorage) -> tuple[int, int]:
    queries = await _scalar(store, "SELECT count(*) FROM match_queries")
    anchors = await _scalar(store, "SELECT count(*) FROM match_anchors")
    return queries, anchors


# --------------------------------------------------------------------------- tokens and anchors


async def test_tokens_come_from_the_index_tokenizer(store: SQLiteStorage) -> None:
    rows = await store.db.execute_fetchall(
        "SELECT sql FROM sqlite_master WHERE name = 'articles_fts'"
    )
    assert TOKENIZE in next(iter(rows))[0]
    tokens = await tokenize(store.db, ["Integrated Nations'", "Zürich café", "Лавров"])
    assert tokens == [["integr", "nation"], ["zurich", "cafe"], ["лавров"]]


async def test_rarest_group_is_the_anchor(two_chats: SQLiteStorage) -> None:
    store = two_chats
    await store.add_articles([make_article(t, x) for t, x in TARGETS], now=NOW)
    await drain(store)
    for query in ("russia OR belarus tsikhanouskaya", '"union state" secur*'):
        text = parse_query(query).text
        await store.add_subscription(NewSubscription(1, "keyword", query, text=text), 10, now=NOW)
    anchors = await store.db.execute_fetchall(
        "SELECT q.expression, a.prefix, a.term FROM match_anchors a"
        " JOIN match_queries q ON q.id = a.query_id ORDER BY q.id, a.term"
    )
    assert [tuple(r[1:]) for r in anchors] == [(0, "tsikhanouskaya"), (0, "union")]


async def test_subscriptions_share_and_release_their_anchors(two_chats: SQLiteStorage) -> None:
    store = two_chats
    text = parse_query("nato OR osce").text
    one = await store.add_subscription(
        NewSubscription(1, "keyword", "nato OR osce", text=text), 9, now=NOW
    )
    two = await store.add_subscription(
        NewSubscription(2, "keyword", "NATO or OSCE", text=text), 9, now=NOW
    )
    assert await _anchor_count(store) == (1, 2)  # one query row, one anchor per option
    await store.delete_subscription(1, one.id)
    assert await _anchor_count(store) == (1, 2)  # still followed by chat 2
    await store.delete_subscription(2, two.id)
    assert await _anchor_count(store) == (0, 0)

    await store.add_subscription(NewSubscription(1, "keyword", "sanctions"), 9, now=NOW)
    await store.add_subscription(NewSubscription(1, "keyword", '"union state"'), 9, now=NOW)
    await store.add_subscription(NewSubscription(2, "keyword", "secur*"), 9, now=NOW)
    assert await _anchor_count(store) == (3, 3)
    assert await store.delete_all_subscriptions(1) == 2
    assert await _anchor_count(store) == (1, 1)
    await store.forget_chat(2)
    assert await _anchor_count(store) == (0, 0)
    await store.add_articles([make_article(*TARGETS[5])], now=NOW)  # "... security ..."
    assert await drain(store) == PercolateResult(1, 0, ())


# --------------------------------------------------------------------------- lazy inbox rows


async def test_matching_writes_no_inbox_rows_reading_does(two_chats: SQLiteStorage) -> None:
    store = two_chats
    for chat_id in (1, 2):
        await store.add_subscription(NewSubscription(chat_id, "keyword", "eurasian"), 9, now=NOW)
    await store.add_articles([make_article(t, x) for t, x in TARGETS], now=NOW)
    outcome = await drain(store)
    assert await _scalar(store, "SELECT count(*) FROM matches") == 1  # one query, two chats
    assert await _stored_inbox_rows(store, 1) == 0  # nothing written per chat at match time
    rows = await store.pending_inbox(1)
    assert len(rows) == outcome.matches == await _stored_inbox_rows(store, 1)
    cursor, newest = await _cursor(store, 1)
    assert cursor == newest
    assert await _stored_inbox_rows(store, 2) == 0  # chat 2 not read yet


async def test_diplomatic_only_expansion_stores_nothing_to_pass_over(
    two_chats: SQLiteStorage,
) -> None:
    store = two_chats
    await store.ensure_chat(3, "private", None, "UTC", now=NOW)
    for chat_id in (1, 3):
        for query in ("eurasian", "integration", "thailand OR osce OR lavrov"):
            text = parse_query(query).text
            await store.add_subscription(
                NewSubscription(chat_id, "keyword", query, text=text), 10, now=NOW
            )
    articles = [
        replace(make_article(t, x), classification=Classification(0.9, n % 2 == 0))
        for n, (t, x) in enumerate(TARGETS)
    ]
    stored = [r.article_id for r in await store.add_articles(articles, now=NOW)]
    await drain(store)
    rows = await store.pending_inbox(1)  # every match, as rows
    diplomatic = {a for a in (i.article_id for i in rows) if stored.index(a) % 2 == 0}
    # Chat 3 is expanded in a batch by its own setting (diplomatic only): no rows are stored
    # for what a digest would pass over, so it has none to report.
    await store.prepare_inboxes([3, 2])
    assert await _stored_inbox_rows(store, 3) == sum(1 for i in rows if i.article_id in diplomatic)
    batch = await store.pending_digest(3, diplomatic_only=True, limit=2)
    assert batch.articles == len(diplomatic) and batch.passed_over == ()
    _, newest_match = await _cursor(store, 3)
    assert (await _cursor(store, 2))[0] == newest_match  # an empty chat's cursor moves too
    # Chat 1 was expanded whole: its digest reports what it passes over.
    digest = await store.pending_digest(1, diplomatic_only=True, limit=2)
    assert set(digest.passed_over) == {i.article_id for i in rows} - diplomatic


async def test_a_new_chat_starts_after_the_last_match(two_chats: SQLiteStorage) -> None:
    store = two_chats
    await store.add_subscription(
        NewSubscription(1, "keyword", "eurasian"), 10, now=NOW - timedelta(minutes=2)
    )
    await store.add_articles([make_article(*TARGETS[0])], now=NOW - timedelta(minutes=1))
    await drain(store, NOW - timedelta(minutes=1))
    cursor, newest = await _cursor(store, 2)
    assert cursor < newest  # chat 2's cursor is behind the old match ...
    await store.add_subscription(NewSubscription(2, "keyword", "eurasian"), 10, now=NOW)
    assert await store.pending_inbox(2) == []  # ... which is not news to its subscription
    await store.ensure_chat(4, "private", None, "UTC", now=NOW)
    cursor, newest = await _cursor(store, 4)
    assert cursor == newest  # a chat created now has nothing to catch up on


async def test_forgetting_followers_releases_the_matches(two_chats: SQLiteStorage) -> None:
    store = two_chats
    await store.add_subscription(NewSubscription(1, "keyword", "eurasian"), 10, now=NOW)
    await store.add_subscription(NewSubscription(1, "keyword", "integration"), 10, now=NOW)
    await store.add_subscription(NewSubscription(2, "keyword", "integration"), 10, now=NOW)
    await store.add_articles([make_article(*TARGETS[0])], now=NOW)
    await drain(store)
    assert len(await store.pending_inbox(1)) == 2  # expanded
    await store.delete_subscription(1, (await store.list_subscriptions(1))[1].id)
    await store.forget_chat(2)  # never expanded; its query had no other follower
    assert await _scalar(store, "SELECT count(*) FROM matches") == 1  # only "eurasian"
    await store.forget_chat(1)
    assert await _scalar(store, "SELECT count(*) FROM matches") == 0


# --------------------------------------------------------------------------- crash safety

_CRASHER = """
import asyncio, sys, time
import aiosqlite
from storage.sqlite import percolate as sqlite_percolate

async def main():
    db = await aiosqlite.connect(sys.argv[1], isolation_level=None)
    await db.execute("PRAGMA busy_timeout = 5000")
    await db.execute("BEGIN IMMEDIATE")
    result = await sqlite_percolate.percolate(db, 3, int(time.time()))
    print(result.articles, result.matches, flush=True)
    await asyncio.sleep(60)  # killed here, inside the transaction

asyncio.run(main())
"""


async def _killed(script: str, path: Path) -> bytes:
    """Run ``script`` on the database; return its first line, then kill it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, str(path), stdout=asyncio.subprocess.PIPE, cwd=ROOT
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 20)
    os.kill(process.pid, signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL
    return line


async def test_percolation_survives_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    query = "russia OR thailand"
    async with SQLiteStorage(path) as store:
        await store.ensure_chat(1, "private", None, "UTC", now=NOW)
        sub = await store.add_subscription(
            NewSubscription(1, "keyword", query, text=parse_query(query).text), 5, now=NOW
        )
        added = await store.add_articles([make_article(t, x) for t, x in TARGETS], now=NOW)
        first = await store.percolate(limit=4, now=NOW)  # one batch done and committed
        assert first.articles == 4
    line = await _killed(_CRASHER, path)
    assert line.split()[0] == b"3"  # it matched a batch, then died before committing
    async with SQLiteStorage(path) as store:
        rest = await drain(store)
        assert rest.articles == len(TARGETS) - 4
        assert (await store.percolate(now=NOW)).articles == 0
        rows = sorted(
            (i.chat_id, i.article_id, i.subscription_id)
            for i in await store.pending_inbox(1)
            if i.subscription_id == sub.id
        )
        page = await store.search(SearchQuery(text=parse_query(query).text, limit=100))
        expected = sorted(hit.id for hit in page.hits if hit.id in {a.article_id for a in added})
        assert [article for _, article, _ in rows] == expected
        assert len(rows) == len(set(rows)) == first.matches + rest.matches


_EXPANSION_CRASHER = """
import asyncio, sys
import aiosqlite
from storage.sqlite import percolate as sqlite_percolate

async def main():
    db = await aiosqlite.connect(sys.argv[1], isolation_level=None)
    await db.execute("PRAGMA busy_timeout = 5000")
    await db.execute("PRAGMA foreign_keys = ON")
    await db.execute("BEGIN IMMEDIATE")
    print(await sqlite_percolate.expand_chat(db, 1), flush=True)
    await asyncio.sleep(60)  # killed here, inside the transaction

asyncio.run(main())
"""


async def test_expansion_survives_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "expand.db"
    async with SQLiteStorage(path) as store:
        await store.ensure_chat(1, "private", None, "UTC", now=NOW)
        await store.add_subscription(NewSubscription(1, "keyword", "lavrov"), 5, now=NOW)
        await store.add_subscription(NewSubscription(1, "keyword", "belarus"), 5, now=NOW)
        await store.add_articles([make_article(t, x) for t, x in TARGETS[:9]], now=NOW)
        await drain(store)
        before = await _cursor(store, 1)
    expanded = int(await _killed(_EXPANSION_CRASHER, path))
    assert expanded > 9  # it wrote the rows, then died before committing
    async with SQLiteStorage(path) as store:
        assert await _cursor(store, 1) == before  # the cursor did not move ...
        assert await _stored_inbox_rows(store, 1) == 0  # ... and no row is left half-done
        items = await store.pending_inbox(1)
        keys = [(i.article_id, i.subscription_id) for i in items]
        assert len(keys) == len(set(keys)) == expanded
        cursor, newest = await _cursor(store, 1)
        assert cursor == newest
        assert await store.pending_inbox(1) == items
