"""Tests for matching new articles against subscriptions (storage.sqlite.percolate), on real
SQLite files: keyword subscriptions agree with /search, entity subscriptions match by id, only
news counts, a crash loses nothing and repeats nothing, and the index follows subscriptions.

Matches are recorded per query or entity and reach a chat's inbox when it is read, so every
inbox here is read the way digests read it: through ``pending_inbox``."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.digests.matching import percolate_all
from bot.ingest.normalize import fingerprint_and_signature
from bot.nlp.names import lookup_keys
from bot.search.query import parse_query, word_runs
from bot.services import analyse
from storage.models import (
    Classification,
    NewArticle,
    NewSubscription,
    PercolateResult,
    SearchQuery,
    SubscriptionKind,
)
from storage.sqlite import SQLiteStorage
from storage.sqlite.percolate import TOKENIZE, tokenize

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _paragraphs(name: str, separator: str) -> list[str]:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return [p.strip() for p in text.split(separator) if len(p.strip()) > 80]


# The seed (Kazinform) and a State Department release (public domain, see LICENCE-statedept.md),
# one article per paragraph, plus short texts for folding: Cyrillic, accents, possessives.
TARGETS: list[tuple[str, str]] = [
    (f"Seed paragraph {i}", p) for i, p in enumerate(_paragraphs("seed_kazinform.txt", "\n"))
] + [
    (f"Thailand dialogue {i}", p)
    for i, p in enumerate(_paragraphs("statedept_thailand_dialogue.txt", "\n\n"))
]
TARGETS += [
    (
        "Лавров провёл переговоры",
        "Сергей Лавров провёл переговоры в Минске о евразийской интеграции.",
    ),
    ("Café diplomacy", "Ministers met at a café in Zürich; the naïve résumé of Ukraine's envoy."),
    ("Lavrov's remarks", "Lavrov's remarks on NATO's security guarantees; the OSCE responded."),
]
# Stored before the subscriptions, so the index's document frequencies steer anchor choice.
# Sentences from U.S. State Department press releases (public domain, 17 U.S.C. 105).
BACKGROUND = [
    (
        "Secretary Blinken's Call with Danish Foreign Minister Kofod",
        "Secretary of State Antony J. Blinken spoke today with Danish Foreign Minister Jeppe "
        "Kofod. The Secretary and Foreign Minister discussed cooperation in the Arctic, "
        "including climate change, and the importance of transatlantic unity.",
    ),
    (
        "Sanctions on Russian Officials",
        "The United States is imposing sanctions on officials of the Russian Federation. The "
        "Department of State is designating individuals responsible for violations of human "
        "rights; these sanctions promote accountability for the minister and his deputies.",
    ),
    (
        "Secretary Blinken's Meeting with Belarusian Democratic Leader",
        "Secretary Blinken met with Belarusian democratic leader Sviatlana Tsikhanouskaya in "
        "Vilnius. They discussed the ongoing crackdown in Belarus and the need for the release "
        "of all political prisoners. Eurasian matters were not on the agenda.",
    ),
]

HAND_QUERIES = [
    "eurasian integration",
    "Eurasian Integration",
    "integrated",  # stemming: integr
    '"foreign minister"',
    '"minister foreign"',
    '"foreign ministry"',
    "lavrov",
    "Lavrov's",
    "лавров",
    "евразийской",
    "cafe",
    "zurich",
    "resume naive",
    "NATO OR osce",
    "thailand OR belarus -russia",
    'cooperation -"climate change"',
    "secur*",
    "integr* russia",
    "minist* -lavrov",
    "U.S.-Thai",
    "twenty-first century",
    "osce | nato | thailand security",
    '"united states" thailand -virtually',
    'belarus russia -"union state" -osce',
    "nonexistentword",
    "prisoners",  # only in the background: nothing new matches
    "the",
    "of OR the",
]


def _random_queries(count: int, seed: int = 7) -> list[str]:
    """Queries over the corpus' own words: words, phrases, OR, prefixes and exclusions."""
    rng = random.Random(seed)
    texts = [text for _, text in TARGETS + BACKGROUND]
    vocabulary = sorted({w for t in texts for w in word_runs(t) if len(w) > 2})

    def phrase() -> str:
        words = word_runs(rng.choice(texts))
        start = rng.randrange(len(words) - 2)
        return '"' + " ".join(words[start : start + rng.randint(2, 3)]) + '"'

    def option() -> str:
        roll = rng.random()
        if roll < 0.2:
            return phrase()
        word = rng.choice(vocabulary)
        if roll < 0.35 and len(word) > 4:
            return word[: rng.randint(3, len(word) - 1)] + "*"
        return word

    queries = []
    for _ in range(count):
        groups = [
            " OR ".join(option() for _ in range(rng.choice((1, 1, 1, 2, 3))))
            for _ in range(rng.choice((1, 1, 2, 3)))
        ]
        if rng.random() < 0.3:
            groups.append("-" + option().rstrip("*"))
        queries.append(" ".join(groups))
    return queries


def make_article(title: str, text: str, entities: bool = False) -> NewArticle:
    fingerprint, signature, bands = fingerprint_and_signature(f"{title}\n{text}")
    article = NewArticle(
        title=title,
        text=text,
        url=None,
        source="Test Wire",
        fingerprint=fingerprint,
        signature=signature,
        bands=bands,
    )
    if not entities:
        return article
    classification, mentions = analyse(title, text)
    return replace(article, classification=classification, entities=mentions)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStorage]:
    async with SQLiteStorage(tmp_path / "attache.db") as storage:
        await storage.ensure_chat(1, "private", None, "UTC")
        await storage.ensure_chat(2, "group", "Group", "UTC")
        yield storage


async def _inbox(store: SQLiteStorage, subscription_id: int | None = None) -> list[tuple[int, ...]]:
    """Every chat's pending (chat, article, subscription) rows, read through pending_inbox."""
    chats = [int(r[0]) for r in await store.db.execute_fetchall("SELECT id FROM chats")]
    rows = [
        (item.chat_id, item.article_id, item.subscription_id)
        for chat_id in chats
        for item in await store.pending_inbox(chat_id)
        if subscription_id is None or item.subscription_id == subscription_id
    ]
    return sorted(rows)


async def _make_instant(store: SQLiteStorage, chat_id: int, paused: bool = False) -> None:
    chat = await store.get_chat(chat_id)
    await store.save_chat(replace(chat, digest_frequency="instant", paused=paused))


# --------------------------------------------------------------------------- /search semantics


ALL_QUERIES = HAND_QUERIES + _random_queries(45)


async def test_query_pool_is_meaningful() -> None:
    parsed = [parse_query(q) for q in ALL_QUERIES]
    assert all(p.text is not None for p in parsed)
    assert sum(1 for q in ALL_QUERIES if "*" in q) >= 8
    assert sum(1 for q in ALL_QUERIES if " OR " in q) >= 8
    assert sum(1 for q in ALL_QUERIES if '"' in q) >= 8
    assert sum(1 for q in ALL_QUERIES if " -" in q) >= 8


# How many target articles some hand-written queries find: both outcomes are exercised.
EXPECTED_HITS = {
    "eurasian integration": 2,
    "лавров": 1,
    "cafe": 1,
    "resume naive": 1,
    "Lavrov's": 1,
    "prisoners": 0,
    "nonexistentword": 0,
}


@pytest.mark.parametrize("query", ALL_QUERIES)
async def test_keyword_subscription_matches_iff_search_finds(tmp_path: Path, query: str) -> None:
    parsed = parse_query(query)
    async with SQLiteStorage(tmp_path / "check.db") as store:
        await store.add_articles([make_article(t, x) for t, x in BACKGROUND])
        await percolate_all(store)  # the background is old news
        await store.ensure_chat(1, "private", None, "UTC")
        await _make_instant(store, 1)
        sub = await store.add_subscription(
            NewSubscription(1, "keyword", query, text=parsed.text), 10
        )
        results = await store.add_articles([make_article(t, x) for t, x in TARGETS])
        assert all(r.created for r in results)
        targets = {r.article_id for r in results}
        outcome = await percolate_all(store)
        assert outcome.articles == len(TARGETS)
        matched = {article for _, article, _ in await _inbox(store, sub.id)}
        page = await store.search(SearchQuery(text=parsed.text, limit=100))
        found = {hit.id for hit in page.hits} & targets
        assert page.total < 100
        assert matched == found, query
        assert outcome.matches == len(matched)
        assert outcome.chats == ((1,) if matched else ())
    if query in EXPECTED_HITS:
        assert len(found) == EXPECTED_HITS[query]


async def test_tokens_come_from_the_index_tokenizer(store: SQLiteStorage) -> None:
    rows = await store.db.execute_fetchall(
        "SELECT sql FROM sqlite_master WHERE name = 'articles_fts'"
    )
    assert TOKENIZE in next(iter(rows))[0]
    tokens = await tokenize(store.db, ["Integrated Nations'", "Zürich café", "Лавров"])
    assert tokens == [["integr", "nation"], ["zurich", "cafe"], ["лавров"]]


async def test_rarest_group_is_the_anchor(store: SQLiteStorage) -> None:
    await store.add_articles([make_article(t, x) for t, x in TARGETS])
    await percolate_all(store)
    for query in ("russia OR belarus tsikhanouskaya", '"union state" secur*'):
        text = parse_query(query).text
        await store.add_subscription(NewSubscription(1, "keyword", query, text=text), 10)
    anchors = await store.db.execute_fetchall(
        "SELECT q.expression, a.prefix, a.term FROM match_anchors a"
        " JOIN match_queries q ON q.id = a.query_id ORDER BY q.id, a.term"
    )
    assert [tuple(r[1:]) for r in anchors] == [(0, "tsikhanouskaya"), (0, "union")]


# --------------------------------------------------------------------------- entities


async def test_person_subscription_matches_every_variant(store: SQLiteStorage) -> None:
    seed = TARGETS[0]
    await store.add_articles([make_article(*seed, entities=True)])
    await percolate_all(store)
    # /subscribe person Лавров resolves the Russian name to the stored person.
    (lavrov,) = await store.find_entities(list(lookup_keys("Лавров")), "person")
    sub = await store.add_subscription(
        NewSubscription(1, "person", lavrov.canonical, entity_id=lavrov.id), 10
    )
    results = await store.add_articles(
        [
            make_article("Talks in Minsk", "Sergey Lavrov met his counterpart in Minsk.", True),
            make_article(
                "Statement", "Foreign Minister Sergey Lavrov (Сергей Лавров) spoke to press.", True
            ),
            make_article("Other news", "The OSCE published its annual report today.", True),
        ]
    )
    outcome = await percolate_all(store)
    assert outcome.articles == 3
    matched = [article for _, article, _ in await _inbox(store, sub.id)]
    assert matched == [results[0].article_id, results[1].article_id]


# --------------------------------------------------------------------------- only news


async def test_article_stored_before_the_subscription_is_not_news(store: SQLiteStorage) -> None:
    (old,) = await store.add_articles([make_article(*TARGETS[0])])
    # Stored a minute before the subscription (times are whole seconds).
    await store.db.execute("UPDATE articles SET ingested_at = ingested_at - 60")
    sub = await store.add_subscription(NewSubscription(1, "keyword", "eurasian"), 10)
    (new,) = await store.add_articles([make_article(*TARGETS[2])])
    outcome = await percolate_all(store)
    assert outcome.articles == 2
    assert await _inbox(store) == [(1, new.article_id, sub.id)]
    assert old.article_id != new.article_id


async def test_duplicates_and_blocked_chats(store: SQLiteStorage) -> None:
    await _make_instant(store, 1)
    sub = await store.add_subscription(NewSubscription(1, "keyword", "eurasian"), 10)
    await store.add_subscription(NewSubscription(2, "keyword", "eurasian"), 10)
    await store.mark_blocked(2, (await store.get_chat(2)).created_at or sub.created_at)
    (first,) = await store.add_articles([make_article(*TARGETS[0])])
    # One query followed by two chats: one match; only the unblocked instant chat is listed.
    assert await percolate_all(store) == PercolateResult(1, 1, (1,))
    (again,) = await store.add_articles([make_article(*TARGETS[0])])
    assert not again.created
    assert (await store.percolate()).articles == 0  # a merged duplicate is not news again
    assert await _inbox(store) == [(1, first.article_id, sub.id)]


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


async def test_percolation_survives_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    async with SQLiteStorage(path) as store:
        await store.ensure_chat(1, "private", None, "UTC")
        query = "russia OR thailand"
        sub = await store.add_subscription(
            NewSubscription(1, "keyword", query, text=parse_query(query).text), 5
        )
        added = await store.add_articles([make_article(t, x) for t, x in TARGETS])
        first = await store.percolate(limit=4)  # one batch done and committed
        assert first.articles == 4
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CRASHER,
        str(path),
        stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 20)
    assert line.split()[0] == b"3"  # it matched a batch, then died before committing
    os.kill(process.pid, signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL
    async with SQLiteStorage(path) as store:
        rest = await percolate_all(store)
        assert rest.articles == len(TARGETS) - 4
        assert (await store.percolate()).articles == 0
        rows = await _inbox(store, sub.id)
        page = await store.search(SearchQuery(text=parse_query(query).text, limit=100))
        expected = sorted(hit.id for hit in page.hits if hit.id in {a.article_id for a in added})
        assert [article for _, article, _ in rows] == expected
        assert len(rows) == len(set(rows)) == first.matches + rest.matches


# --------------------------------------------------------------------------- the index


async def _anchor_count(store: SQLiteStorage) -> tuple[int, int]:
    rows = await store.db.execute_fetchall(
        "SELECT (SELECT count(*) FROM match_queries), (SELECT count(*) FROM match_anchors)"
    )
    queries, anchors = next(iter(rows))
    return int(queries), int(anchors)


async def test_subscriptions_share_and_release_their_anchors(store: SQLiteStorage) -> None:
    text = parse_query("nato OR osce").text
    one = await store.add_subscription(NewSubscription(1, "keyword", "nato OR osce", text=text), 9)
    two = await store.add_subscription(NewSubscription(2, "keyword", "NATO or OSCE", text=text), 9)
    assert await _anchor_count(store) == (1, 2)  # one query row, one anchor per option
    await store.delete_subscription(1, one.id)
    assert await _anchor_count(store) == (1, 2)  # still followed by chat 2
    await store.delete_subscription(2, two.id)
    assert await _anchor_count(store) == (0, 0)

    await store.add_subscription(NewSubscription(1, "keyword", "sanctions"), 9)
    await store.add_subscription(NewSubscription(1, "keyword", '"union state"'), 9)
    await store.add_subscription(NewSubscription(2, "keyword", "secur*"), 9)
    assert await _anchor_count(store) == (3, 3)
    assert await store.delete_all_subscriptions(1) == 2
    assert await _anchor_count(store) == (1, 1)
    await store.forget_chat(2)
    assert await _anchor_count(store) == (0, 0)
    await store.add_articles([make_article(*TARGETS[5])])  # "... security ..."
    assert await percolate_all(store) == PercolateResult(1, 0, ())


# --------------------------------------------------------------------------- lazy inbox rows


async def _cursor(store: SQLiteStorage, chat_id: int) -> tuple[int, int]:
    """A chat's expansion cursor and the newest match."""
    rows = await store.db.execute_fetchall(
        "SELECT expanded_seq, (SELECT coalesce(max(seq), 0) FROM matches) FROM chats WHERE id = ?",
        (chat_id,),
    )
    cursor, newest = next(iter(rows))
    return int(cursor), int(newest)


async def _stored_inbox_rows(store: SQLiteStorage, chat_id: int) -> int:
    rows = await store.db.execute_fetchall(
        "SELECT count(*) FROM inbox WHERE chat_id = ?", (chat_id,)
    )
    return int(next(iter(rows))[0])


async def test_lazy_inbox_rows_equal_eager_fan_out(store: SQLiteStorage) -> None:
    await store.add_articles([make_article(*TARGETS[0], entities=True)])
    await percolate_all(store)  # old news: only there to create the person
    (lavrov,) = await store.find_entities(list(lookup_keys("Lavrov")), "person")
    specs: list[tuple[int, SubscriptionKind, str]] = [
        (1, "keyword", "eurasian"),
        (1, "keyword", "integration"),
        (1, "person", lavrov.canonical),
        (2, "keyword", "eurasian"),  # the same query as chat 1's: one match row for both
        (2, "keyword", "thailand OR osce"),
    ]
    subs = []
    for chat_id, kind, query in specs:
        entity_id = lavrov.id if kind == "person" else None
        text = parse_query(query).text if kind == "keyword" else None
        subs.append(
            await store.add_subscription(
                NewSubscription(chat_id, kind, query, entity_id=entity_id, text=text), 10
            )
        )
    results = await store.add_articles([make_article(t, x, True) for t, x in TARGETS[1:]])
    new = {r.article_id for r in results}
    outcome = await percolate_all(store)
    assert outcome.articles == len(TARGETS) - 1
    assert outcome.chats == ()  # nobody is on instant

    # What eager fan-out wrote: one row per (chat, article, matching subscription).
    expected = set()
    for sub in subs:
        if sub.kind == "keyword":
            page = await store.search(SearchQuery(text=parse_query(sub.query).text, limit=100))
            found = {hit.id for hit in page.hits} & new
        else:
            found = {a for a in new if lavrov.id in {e.id for e in await store.article_entities(a)}}
        expected |= {(sub.chat_id, article, sub.id) for article in found}
    assert await _stored_inbox_rows(store, 1) == 0  # nothing written per chat at match time
    items = {1: await store.pending_inbox(1), 2: await store.pending_inbox(2)}
    got = {(i.chat_id, i.article_id, i.subscription_id) for rows in items.values() for i in rows}
    assert got == expected
    assert len(items[1]) + len(items[2]) == len(expected)  # no duplicates
    per_article = [sum(1 for i in items[1] if i.article_id == a) for a in new]
    assert max(per_article) == 3  # eurasian, integration and Lavrov: three rows, as before
    assert outcome.matches < len(expected)  # a shared query counts once
    assert all(i.delivered_at is None for rows in items.values() for i in rows)
    assert [i.matched_at for i in items[1]] == sorted(i.matched_at for i in items[1])

    # Delivery works on the materialised rows; only what comes later is pending again.
    await store.mark_delivered(1, [i.article_id for i in items[1]], subs[0].created_at, None)
    assert await store.pending_inbox(1) == []
    (later,) = await store.add_articles(
        [make_article("Talks in Minsk", "Sergey Lavrov met his counterpart in Minsk.", True)]
    )
    await percolate_all(store)
    later_rows = await store.pending_inbox(1)
    assert {i.article_id for i in later_rows} == {later.article_id}
    assert await store.pending_inbox(1) == later_rows  # reading again adds nothing


async def test_pending_digest_reads_the_newest_and_counts_the_rest(store: SQLiteStorage) -> None:
    """What digests read: the newest eligible articles, the count of all, the passed-over ones;
    chats expanded for a digest (or in a batch) get no rows for what they would pass over."""
    await store.ensure_chat(3, "private", None, "UTC")
    for chat_id in (1, 3):  # the same words and the same entity-free query in both chats
        for query in ("eurasian", "integration", "thailand OR osce OR lavrov"):
            text = parse_query(query).text
            await store.add_subscription(NewSubscription(chat_id, "keyword", query, text=text), 10)
    articles = [
        replace(make_article(t, x), classification=Classification(0.9, n % 2 == 0))
        for n, (t, x) in enumerate(TARGETS)
    ]
    ids = [r.article_id for r in await store.add_articles(articles)]
    # Publication times: article n is n hours newer than the first (newest last).
    for n, article_id in enumerate(ids):
        await store.db.execute(
            "UPDATE articles SET published_at = ? WHERE id = ?",
            (1_650_000_000 + n * 3600, article_id),
        )
    await percolate_all(store)

    # Chat 1's inbox read whole first (every match, as pending_inbox gives it).
    rows = await store.pending_inbox(1)
    matched = {i.article_id for i in rows}
    diplomatic = sorted(a for a in matched if ids.index(a) % 2 == 0)
    assert diplomatic and len(diplomatic) < len(matched)  # both kinds are pending
    first_sub = {a: min(i.subscription_id for i in rows if i.article_id == a) for a in matched}

    digest = await store.pending_digest(1, diplomatic_only=True, limit=2)
    newest = sorted(diplomatic, key=ids.index, reverse=True)[:2]
    assert [i.article_id for i in digest.items] == newest
    assert [i.subscription_id for i in digest.items] == [first_sub[a] for a in newest]
    assert digest.articles == len(diplomatic)
    assert digest.passed_over == tuple(sorted(matched - set(diplomatic)))
    everything = await store.pending_digest(1, diplomatic_only=False, limit=100)
    assert {i.article_id for i in everything.items} == matched
    assert everything.articles == len(matched) and everything.passed_over == ()

    # Chat 3 is expanded in a batch, by its own setting (diplomatic only): the same picks,
    # and nothing stored for what a digest would pass over.
    await store.prepare_inboxes([3, 2])
    assert await _stored_inbox_rows(store, 3) == sum(
        1 for i in rows if i.article_id in set(diplomatic)
    )
    batch = await store.pending_digest(3, diplomatic_only=True, limit=2)
    assert [i.article_id for i in batch.items] == newest
    assert batch.articles == len(diplomatic) and batch.passed_over == ()
    _, newest_match = await _cursor(store, 3)
    assert (await _cursor(store, 2))[0] == newest_match  # an empty chat's cursor moves too

    # Delivering the shown ones leaves the rest, newest first again.
    await store.mark_delivered(3, newest, datetime.now(UTC), None)
    after = await store.pending_digest(3, diplomatic_only=True, limit=100)
    assert [i.article_id for i in after.items] == sorted(
        set(diplomatic) - set(newest), key=ids.index, reverse=True
    )
    assert after.articles == len(diplomatic) - 2


async def test_new_subscription_does_not_get_old_matches(store: SQLiteStorage) -> None:
    first = await store.add_subscription(NewSubscription(1, "keyword", "eurasian"), 10)
    (old,) = await store.add_articles([make_article(*TARGETS[0])])
    await percolate_all(store)
    # Chat 1 subscribed two minutes ago; the article came a minute ago; chat 2 subscribes now.
    await store.db.execute("UPDATE subscriptions SET created_at = created_at - 120")
    await store.db.execute("UPDATE articles SET ingested_at = ingested_at - 60")
    cursor, newest = await _cursor(store, 2)
    assert cursor < newest  # chat 2's cursor is behind the old match
    late = await store.add_subscription(NewSubscription(2, "keyword", "eurasian"), 10)
    assert await store.pending_inbox(2) == []
    assert [(i.article_id, i.subscription_id) for i in await store.pending_inbox(1)] == [
        (old.article_id, first.id)
    ]
    (new,) = await store.add_articles([make_article(*TARGETS[2])])
    await percolate_all(store)
    assert [(i.article_id, i.subscription_id) for i in await store.pending_inbox(2)] == [
        (new.article_id, late.id)
    ]


async def test_percolate_lists_only_instant_chats(store: SQLiteStorage) -> None:
    for chat_id in (3, 4, 5):
        await store.ensure_chat(chat_id, "private", None, "UTC")
    await _make_instant(store, 1)  # instant: listed
    await _make_instant(store, 3, paused=True)  # paused: not listed
    await _make_instant(store, 4)
    await _make_instant(store, 5)  # instant, nothing of its own matches
    for chat_id in (1, 2, 3, 4):  # chat 2 is on daily digests
        await store.add_subscription(NewSubscription(chat_id, "keyword", "eurasian"), 10)
    await store.add_subscription(NewSubscription(5, "keyword", "thailand"), 10)
    await store.mark_blocked(4, datetime.now(UTC))
    (article,) = await store.add_articles([make_article(*TARGETS[0])])
    outcome = await store.percolate()
    assert outcome == PercolateResult(1, 1, (1,))
    # The instant job finds the chat before anything read its inbox, and not after delivery.
    assert [c.id for c in await store.pending_chats("instant")] == [1]
    assert [c.id for c in await store.pending_chats("daily")] == [2]
    (item,) = await store.pending_inbox(1)
    await store.mark_delivered(1, [item.article_id], item.matched_at, None)
    assert await store.pending_chats("instant") == []
    assert [i.article_id for i in await store.pending_inbox(2)] == [article.article_id]
    assert await store.pending_inbox(4) == []  # blocked before the match


async def test_blocked_chat_collects_nothing_while_blocked(store: SQLiteStorage) -> None:
    await store.add_subscription(NewSubscription(2, "keyword", "lavrov"), 10)
    ids = []
    for index, step in ((1, "block"), (3, "unblock"), (5, None)):
        (result,) = await store.add_articles([make_article(*TARGETS[index])])
        ids.append(result.article_id)
        await percolate_all(store)
        if step == "block":  # matched before it blocked: kept, as it was matched
            await store.mark_blocked(2, datetime.now(UTC))
        elif step == "unblock":  # matched while blocked: skipped
            await store.ensure_chat(2, "group", "Group", "UTC")
    assert [i.article_id for i in await store.pending_inbox(2)] == [ids[0], ids[2]]


async def test_deleting_subscriptions_and_chats_removes_their_rows(store: SQLiteStorage) -> None:
    keep = await store.add_subscription(NewSubscription(1, "keyword", "eurasian"), 10)
    drop = await store.add_subscription(NewSubscription(1, "keyword", "integration"), 10)
    await store.add_subscription(NewSubscription(2, "keyword", "integration"), 10)
    await store.add_articles([make_article(*TARGETS[0])])
    await percolate_all(store)
    assert len(await store.pending_inbox(1)) == 2  # expanded
    assert await store.delete_subscription(1, drop.id)
    assert [i.subscription_id for i in await store.pending_inbox(1)] == [keep.id]
    await store.forget_chat(2)  # never expanded; its query had no other follower
    rows = await store.db.execute_fetchall("SELECT count(*) FROM matches")
    assert next(iter(rows))[0] == 1  # only "eurasian" is still followed
    await store.forget_chat(1)
    rows = await store.db.execute_fetchall("SELECT count(*) FROM matches")
    assert next(iter(rows))[0] == 0


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
        await store.ensure_chat(1, "private", None, "UTC")
        await store.add_subscription(NewSubscription(1, "keyword", "lavrov"), 5)
        await store.add_subscription(NewSubscription(1, "keyword", "belarus"), 5)
        await store.add_articles([make_article(t, x) for t, x in TARGETS[:9]])
        await percolate_all(store)
        before = await _cursor(store, 1)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _EXPANSION_CRASHER,
        str(path),
        stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 20)
    expanded = int(line)
    assert expanded > 9  # it wrote the rows, then died before committing
    os.kill(process.pid, signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL
    async with SQLiteStorage(path) as store:
        assert await _cursor(store, 1) == before  # the cursor did not move ...
        assert await _stored_inbox_rows(store, 1) == 0  # ... and no row is left half-done
        items = await store.pending_inbox(1)
        keys = [(i.article_id, i.subscription_id) for i in items]
        assert len(keys) == len(set(keys)) == expanded
        cursor, newest = await _cursor(store, 1)
        assert cursor == newest
        assert await store.pending_inbox(1) == items
