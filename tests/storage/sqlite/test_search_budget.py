"""A search's cost is bounded inside SQLite, and one slow read never holds up the others.

* The time budget: every reader has a progress handler that stops a statement once its read's
  deadline has passed; the search then raises ``QueryTooExpensive``. The clock here is the
  test's own (each reading of it is one more "second"), so what is asserted is how many
  checks a query got before it was stopped, never how long anything took.
* The readers: a small pool, each read on a connection of its own. A read held open (as a
  slow search would be) does not delay another read; with every reader busy the next read
  waits for one to come free; and a read never runs inside another read's snapshot.
* The query language's prefix rule counts letters as this index's tokenizer cuts them
  (:func:`bot.search.query.word_runs` against the real FTS5 tokenizer).
"""

from __future__ import annotations

import asyncio
import sqlite3
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.corpus import generate, to_new_article
from bot.search.query import word_runs
from storage.errors import QueryTooExpensive
from storage.models import AnyOf, SearchQuery, Term, TextQuery
from storage.sqlite import SQLiteStorage
from storage.sqlite.connection import READERS
from tests.storage.contract.support import NOW

# The shape of the attack once it reaches storage: one-letter prefixes ORed (each reads
# the index entries of every word starting with its letter).
BROAD = SearchQuery(
    text=TextQuery((AnyOf(tuple(Term(letter, prefix=True) for letter in "sabcdefghilmnoprtw")),))
)
NARROW = SearchQuery(text=TextQuery((AnyOf((Term("lavrov"),)),)))


class Ticks:
    """A clock that moves one "second" each time it is read: its readings count the budget
    checks (one when a read starts, then one per progress-handler call)."""

    def __init__(self) -> None:
        self.readings = 0

    def __call__(self) -> float:
        self.readings += 1
        return float(self.readings)


async def _corpus_store(path: Path, **options: object) -> SQLiteStorage:
    store = SQLiteStorage(path, **options)  # type: ignore[arg-type]
    await store.open()
    await store.add_articles([to_new_article(raw, ()) for raw in generate(48)], now=NOW)
    return store


@pytest.fixture
async def ticks_store(tmp_path: Path) -> AsyncIterator[tuple[SQLiteStorage, Ticks]]:
    ticks = Ticks()
    store = await _corpus_store(tmp_path / "budget.db", search_budget_s=3.0, clock=ticks)
    try:
        yield store, ticks
    finally:
        await store.close()


# ---------------------------------------------------------------------- the time budget


async def test_a_search_past_its_budget_is_stopped_inside_sqlite(
    ticks_store: tuple[SQLiteStorage, Ticks],
) -> None:
    store, ticks = ticks_store
    ticks.readings = 0
    with pytest.raises(QueryTooExpensive):
        await store.search(BROAD)
    # Started at 1 (deadline 4), then checked at 2, 3, 4 and 5: stopped at the first check
    # past the deadline, not run to its end.
    assert ticks.readings == 5


async def test_a_search_within_its_budget_is_answered(
    ticks_store: tuple[SQLiteStorage, Ticks],
) -> None:
    store, ticks = ticks_store
    ticks.readings = 0
    page = await store.search(NARROW)
    assert page.total > 0
    assert ticks.readings <= 4  # it needed fewer checks than its budget allows


async def test_the_same_broad_search_completes_with_a_larger_budget(tmp_path: Path) -> None:
    """It is the budget that stops it: with room enough the same search is answered, after
    more checks than the 3-second budget allowed."""
    ticks = Ticks()
    store = await _corpus_store(tmp_path / "roomy.db", search_budget_s=1000.0, clock=ticks)
    try:
        ticks.readings = 0
        page = await store.search(BROAD)
        assert page.total == await store.count_articles()
        assert ticks.readings > 5
    finally:
        await store.close()


async def test_a_stopped_search_leaves_its_reader_usable(
    ticks_store: tuple[SQLiteStorage, Ticks],
) -> None:
    store, _ = ticks_store
    for _ in range(3):
        with pytest.raises(QueryTooExpensive):
            await store.search(BROAD)
    assert store._database.readers_open == 1  # the one reader was stopped and reused
    assert not store._database.reader.in_transaction  # its snapshot was closed
    assert (await store.search(NARROW)).total > 0
    await store.ensure_chat(1, "private", None, "UTC", now=NOW)  # writes go on
    assert (await store.get_chat(1)).id == 1


async def test_reads_other_than_search_have_no_budget(
    ticks_store: tuple[SQLiteStorage, Ticks],
) -> None:
    store, ticks = ticks_store
    ticks.readings = 0
    stored = await store.count_articles()
    assert len([a async for a in store.iter_articles(batch_size=7)]) == stored
    assert ticks.readings == 0


# ---------------------------------------------------------------------- the readers


async def _hold_read(store: SQLiteStorage, inside: asyncio.Event, release: asyncio.Event) -> None:
    async with store._database.read() as db:
        await db.execute_fetchall("SELECT count(*) FROM articles")
        inside.set()
        await release.wait()


async def test_a_read_held_open_does_not_delay_another(
    ticks_store: tuple[SQLiteStorage, Ticks],
) -> None:
    store, _ = ticks_store
    inside, release = asyncio.Event(), asyncio.Event()
    order: list[str] = []
    slow = asyncio.create_task(_hold_read(store, inside, release))
    await inside.wait()

    async def bystander() -> None:
        await store.search(NARROW)
        order.append("bystander answered")

    answered = asyncio.create_task(bystander())
    # A safety valve, not a budget: with one shared reader the bystander would wait for ever.
    await asyncio.wait({answered}, timeout=10)
    order.append("slow read released")
    release.set()
    await asyncio.gather(slow, answered)
    assert order == ["bystander answered", "slow read released"]


async def test_the_readers_are_a_small_pool(tmp_path: Path) -> None:
    store = SQLiteStorage(tmp_path / "pool.db")
    await store.open()
    try:
        release = asyncio.Event()
        held = []
        for _ in range(READERS):
            inside = asyncio.Event()
            held.append(asyncio.create_task(_hold_read(store, inside, release)))
            await inside.wait()
        assert store._database.readers_open == READERS
        waiting = asyncio.create_task(store.count_articles())
        for _ in range(20):
            await asyncio.sleep(0)
        assert not waiting.done()  # every reader is busy: it waits for one
        release.set()
        await asyncio.gather(*held)
        assert await waiting == 0
        assert store._database.readers_open == READERS  # reused, not one more
    finally:
        await store.close()


async def test_a_read_never_runs_inside_another_reads_snapshot(
    ticks_store: tuple[SQLiteStorage, Ticks],
) -> None:
    """While one read holds an old snapshot open, a write commits and the writer's next read
    sees it: that read ran on a reader of its own, not inside the old snapshot."""
    store, _ = ticks_store
    await store.ensure_chat(1, "private", "Before", "UTC", now=NOW)
    entered, release = asyncio.Event(), asyncio.Event()
    order: list[str] = []

    async def old_snapshot() -> None:
        async with store._database.read(snapshot=True) as db:
            await db.execute_fetchall("SELECT title FROM chats")
            entered.set()
            await release.wait()

    async def write_then_read() -> str:
        chat = await store.get_chat(1)
        await store.save_chat(replace(chat, title="After"))
        title = (await store.get_chat(1)).title
        order.append("read after the write")
        return title or ""

    holder = asyncio.create_task(old_snapshot())
    await entered.wait()
    writer = asyncio.create_task(write_then_read())
    await asyncio.wait({writer}, timeout=10)  # a safety valve, as above
    order.append("old snapshot released")
    release.set()
    await holder
    assert await writer == "After"
    assert order == ["read after the write", "old snapshot released"]


# ---------------------------------------------------------------------- the tokenizer


def _index_tokens(texts: list[str]) -> list[list[str]]:
    """The tokens SQLite's FTS5 makes of each text with the index's tokenizer (unstemmed)."""
    db = sqlite3.connect(":memory:")
    try:
        db.execute(
            "CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'unicode61 remove_diacritics 2')"
        )
        db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
        db.executemany("INSERT INTO t(rowid, x) VALUES (?, ?)", enumerate(texts, 1))
        tokens: list[list[str]] = [[] for _ in texts]
        for doc, term in db.execute("SELECT doc, term FROM v ORDER BY doc, offset"):
            tokens[doc - 1].append(term)
        return tokens
    finally:
        db.close()


def _letters(token: str) -> int:
    """The letters of a token (``ḃ`` and ``b`` alike: the index folds one into the other)."""
    return len(unicodedata.normalize("NFC", token))


def _cuts(tokens: list[str]) -> list[int]:
    return [_letters(token) for token in tokens]


MARKS = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c))[0] == "M"]


def test_word_runs_cut_where_the_index_cuts_at_every_combining_mark() -> None:
    """For every combining mark, ``ab<mark>cd`` (in NFC, as the parser reads it) is cut by the
    parser as by the index: the 25 accents the index drops join the word, other marks split
    it. Marks newer than SQLite's Unicode tables (6.1) are kept inside the word by the index;
    there the parser splits, so it may count fewer letters before a ``*``, never more."""
    texts = [unicodedata.normalize("NFC", f"ab{mark}cd") for mark in MARKS]
    same = stricter = 0
    for text, tokens in zip(texts, _index_tokens(texts), strict=True):
        runs = word_runs(text)
        if _cuts(runs) == _cuts(tokens):
            same += 1
        else:
            assert _cuts(runs) == [2, 2] and len(tokens) == 1, (text, runs, tokens)
            stricter += 1
    assert same > 1600  # every mark Unicode 6.1 knew
    assert same + stricter == len(MARKS)


SAMPLES = [
    "s\u0353\u0353",  # the one-letter "prefix"
    "Zu\u0308rich café CAFE\u0301 İstanbul",
    "हिन्दी क़ानून كَتَبَ שָׁלוֹם",
    "Лавров провёл и\u0306од",
    "U.S.-Thai al-Assad 3.5 ﬁnance ①",
    "q\u0301x \u0301\u0301 x\u0353 ab\u0340cd",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_word_runs_are_the_index_tokens(text: str) -> None:
    nfc = unicodedata.normalize("NFC", text)
    assert _cuts(word_runs(text)) == _cuts(_index_tokens([nfc])[0])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*SAMPLES, *MARKS[:300], "a", "Ω", "7", " "]), max_size=12))
def test_each_run_is_one_index_token_of_as_many_letters(parts: list[str]) -> None:
    """What the prefix rule counts is what the index gets: a run handed to FTS5 is one token."""
    runs = word_runs("".join(parts))
    assert [[_letters(run)] for run in runs] == [_cuts(t) for t in _index_tokens(runs)]
