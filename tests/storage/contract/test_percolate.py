"""Contract: matching new articles against subscriptions (``Storage.percolate``).

Keyword subscriptions agree with /search, entity subscriptions match by id, only news counts,
blocked chats collect nothing, and every article is matched exactly once. Each chat's inbox is
read as the bot's tests read it (``tests.storage.peek.pending_inbox``: one row per article and
matching subscription) and as digests read it (``pending_digest``)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.nlp.names import lookup_keys
from bot.search.query import parse_query
from storage.base import Storage
from storage.models import (
    Classification,
    NewSubscription,
    PercolateResult,
    SearchQuery,
    SubscriptionKind,
)
from tests.storage.conftest import StorageFactory
from tests.storage.contract.support import (
    ALL_QUERIES,
    BACKGROUND,
    NOW,
    TARGETS,
    drain,
    make_article,
)
from tests.storage.peek import pending_inbox


async def inbox(
    storage: Storage, chats: tuple[int, ...] = (1, 2), subscription_id: int | None = None
) -> list[tuple[int, ...]]:
    """These chats' pending (chat, article, subscription) rows, sorted."""
    rows = [
        (item.chat_id, item.article_id, item.subscription_id)
        for chat_id in chats
        for item in await pending_inbox(storage, chat_id)
        if subscription_id is None or item.subscription_id == subscription_id
    ]
    return sorted(rows)


async def make_instant(storage: Storage, chat_id: int, paused: bool = False) -> None:
    chat = await storage.get_chat(chat_id)
    await storage.save_chat(replace(chat, digest_frequency="instant", paused=paused))


async def subscribe(
    storage: Storage, chat_id: int, query: str, *, now: timedelta = timedelta()
) -> int:
    """A keyword subscription parsed as /search parses it, made at NOW + ``now``; its id."""
    text = parse_query(query).text
    sub = await storage.add_subscription(
        NewSubscription(chat_id, "keyword", query, text=text), 10, now=NOW + now
    )
    return sub.id


# --------------------------------------------------------------------------- /search semantics


def test_query_pool_is_meaningful() -> None:
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
async def test_keyword_subscription_matches_iff_search_finds(storage: Storage, query: str) -> None:
    parsed = parse_query(query)
    await storage.add_articles([make_article(t, x) for t, x in BACKGROUND], now=NOW)
    await drain(storage)  # the background is old news
    await storage.ensure_chat(1, "private", None, "UTC", now=NOW)
    await make_instant(storage, 1)
    sub = await storage.add_subscription(
        NewSubscription(1, "keyword", query, text=parsed.text), 10, now=NOW
    )
    results = await storage.add_articles([make_article(t, x) for t, x in TARGETS], now=NOW)
    assert all(r.created for r in results)
    targets = {r.article_id for r in results}
    outcome = await drain(storage)
    assert outcome.articles == len(TARGETS)
    matched = {article for _, article, _ in await inbox(storage, (1,), sub.id)}
    page = await storage.search(SearchQuery(text=parsed.text, limit=100))
    found = {hit.id for hit in page.hits} & targets
    assert page.total < 100
    assert matched == found, query
    assert outcome.matches == len(matched)
    assert outcome.chats == ((1,) if matched else ())
    if query in EXPECTED_HITS:
        assert len(found) == EXPECTED_HITS[query]


async def test_unparsed_keyword_query_is_plain_words_all_required(two_chats: Storage) -> None:
    storage = two_chats
    plain = await storage.add_subscription(
        NewSubscription(1, "keyword", "Eurasian integration"), 10, now=NOW
    )
    either = await storage.add_subscription(
        NewSubscription(2, "keyword", "eurasian OR thailand"), 10, now=NOW
    )
    results = await storage.add_articles([make_article(t, x) for t, x in TARGETS], now=NOW)
    await drain(storage)
    both = await storage.search(SearchQuery(text=parse_query("eurasian integration").text))
    new = {r.article_id for r in results}
    assert {a for _, a, _ in await inbox(storage, (1,), plain.id)} == {
        h.id for h in both.hits
    } & new
    # "OR" is a word here: eurasian AND or AND thailand.
    assert await inbox(storage, (2,), either.id) == []


# --------------------------------------------------------------------------- entities


async def test_person_subscription_matches_every_variant(two_chats: Storage) -> None:
    storage = two_chats
    seed = TARGETS[0]
    await storage.add_articles([make_article(*seed, entities=True)], now=NOW)
    await drain(storage)
    # /subscribe person Лавров resolves the Russian name to the stored person.
    (lavrov,) = await storage.find_entities(list(lookup_keys("Лавров")), "person")
    sub = await storage.add_subscription(
        NewSubscription(1, "person", lavrov.canonical, entity_id=lavrov.id), 10, now=NOW
    )
    results = await storage.add_articles(
        [
            make_article("Talks in Minsk", "Sergey Lavrov met his counterpart in Minsk.", True),
            make_article(
                "Statement", "Foreign Minister Sergey Lavrov (Сергей Лавров) spoke to press.", True
            ),
            make_article("Other news", "The OSCE published its annual report today.", True),
        ],
        now=NOW,
    )
    outcome = await drain(storage)
    assert outcome.articles == 3
    matched = [article for _, article, _ in await inbox(storage, (1,), sub.id)]
    assert matched == [results[0].article_id, results[1].article_id]


async def test_source_subscriptions_match_nothing(two_chats: Storage) -> None:
    storage = two_chats
    await storage.add_subscription(NewSubscription(1, "source", "Test Wire"), 10, now=NOW)
    await storage.add_articles([make_article(*TARGETS[0])], now=NOW)
    assert await drain(storage) == PercolateResult(1, 0, ())
    assert await inbox(storage) == []


# --------------------------------------------------------------------------- only news


async def test_article_stored_before_the_subscription_is_not_news(two_chats: Storage) -> None:
    storage = two_chats
    # Stored a minute before the subscription; the next one in the same second as it.
    (old,) = await storage.add_articles([make_article(*TARGETS[0])], now=NOW - timedelta(minutes=1))
    sub = await storage.add_subscription(NewSubscription(1, "keyword", "eurasian"), 10, now=NOW)
    (new,) = await storage.add_articles([make_article(*TARGETS[2])], now=NOW)
    outcome = await drain(storage)
    assert outcome.articles == 2
    assert await inbox(storage) == [(1, new.article_id, sub.id)]
    assert old.article_id != new.article_id


async def test_new_subscription_does_not_get_old_matches(two_chats: Storage) -> None:
    storage = two_chats
    # Chat 1 subscribed two minutes ago; the article came a minute ago; chat 2 subscribes now.
    first = await storage.add_subscription(
        NewSubscription(1, "keyword", "eurasian"), 10, now=NOW - timedelta(minutes=2)
    )
    (old,) = await storage.add_articles([make_article(*TARGETS[0])], now=NOW - timedelta(minutes=1))
    await drain(storage, NOW - timedelta(minutes=1))
    late = await storage.add_subscription(NewSubscription(2, "keyword", "eurasian"), 10, now=NOW)
    assert await pending_inbox(storage, 2) == []
    assert [(i.article_id, i.subscription_id) for i in await pending_inbox(storage, 1)] == [
        (old.article_id, first.id)
    ]
    (new,) = await storage.add_articles([make_article(*TARGETS[2])], now=NOW)
    await drain(storage)
    assert [(i.article_id, i.subscription_id) for i in await pending_inbox(storage, 2)] == [
        (new.article_id, late.id)
    ]


async def test_duplicates_and_blocked_chats(two_chats: Storage) -> None:
    storage = two_chats
    await make_instant(storage, 1)
    sub = await storage.add_subscription(NewSubscription(1, "keyword", "eurasian"), 10, now=NOW)
    await storage.add_subscription(NewSubscription(2, "keyword", "eurasian"), 10, now=NOW)
    await storage.mark_blocked(2, (await storage.get_chat(2)).created_at or sub.created_at)
    (first,) = await storage.add_articles([make_article(*TARGETS[0])], now=NOW)
    # One query followed by two chats: one match; only the unblocked instant chat is listed.
    assert await drain(storage) == PercolateResult(1, 1, (1,))
    (again,) = await storage.add_articles([make_article(*TARGETS[0])], now=NOW)
    assert not again.created
    # A merged duplicate is not news again.
    assert (await storage.percolate(now=NOW)).articles == 0
    assert await inbox(storage) == [(1, first.article_id, sub.id)]


async def test_blocked_chat_collects_nothing_while_blocked(two_chats: Storage) -> None:
    storage = two_chats
    await storage.add_subscription(NewSubscription(2, "keyword", "lavrov"), 10, now=NOW)
    found = []
    for index, step in ((1, "block"), (3, "unblock"), (5, None)):
        (result,) = await storage.add_articles([make_article(*TARGETS[index])], now=NOW)
        found.append(result.article_id)
        await drain(storage)
        if step == "block":  # matched before it blocked: kept, as it was matched
            await storage.mark_blocked(2, NOW)
        elif step == "unblock":  # matched while blocked: skipped
            await storage.ensure_chat(2, "group", "Group", "UTC", now=NOW)
    assert [i.article_id for i in await pending_inbox(storage, 2)] == [found[0], found[2]]


async def test_percolate_lists_only_instant_chats(two_chats: Storage) -> None:
    storage = two_chats
    for chat_id in (3, 4, 5):
        await storage.ensure_chat(chat_id, "private", None, "UTC", now=NOW)
    await make_instant(storage, 1)  # instant: listed
    await make_instant(storage, 3, paused=True)  # paused: not listed
    await make_instant(storage, 4)
    await make_instant(storage, 5)  # instant, nothing of its own matches
    for chat_id in (1, 2, 3, 4):  # chat 2 is on daily digests
        await storage.add_subscription(NewSubscription(chat_id, "keyword", "eurasian"), 10, now=NOW)
    await storage.add_subscription(NewSubscription(5, "keyword", "thailand"), 10, now=NOW)
    await storage.mark_blocked(4, NOW)
    (article,) = await storage.add_articles([make_article(*TARGETS[0])], now=NOW)
    outcome = await storage.percolate(now=NOW)
    assert outcome == PercolateResult(1, 1, (1,))
    # The instant job finds the chat before anything read its inbox, and not after delivery.
    assert [c.id for c in await storage.pending_chats("instant")] == [1]
    assert [c.id for c in await storage.pending_chats("daily")] == [2]
    (item,) = await pending_inbox(storage, 1)
    await storage.mark_delivered(1, [item.article_id], item.matched_at, None)
    assert await storage.pending_chats("instant") == []
    assert [i.article_id for i in await pending_inbox(storage, 2)] == [article.article_id]
    assert await pending_inbox(storage, 4) == []  # blocked before the match


async def test_matches_are_stamped_with_the_now_given(two_chats: Storage) -> None:
    storage = two_chats
    await storage.add_subscription(NewSubscription(1, "keyword", "eurasian"), 10, now=NOW)
    await storage.add_articles([make_article(*TARGETS[0])], now=NOW)
    matched_at = NOW + timedelta(minutes=3, microseconds=10)
    assert (await storage.percolate(10, now=matched_at)).articles == 1
    (item,) = await pending_inbox(storage, 1)
    assert item.matched_at == NOW + timedelta(minutes=3)
    digest = await storage.pending_digest(1, diplomatic_only=False, limit=5)
    assert [i.matched_at for i in digest.items] == [NOW + timedelta(minutes=3)]


async def test_every_article_is_matched_once_whoever_percolates(
    new_storage: StorageFactory,
) -> None:
    """Two instances on one database (two processes, as it were) drain the queue together."""
    first, second = new_storage(), new_storage()
    await first.open()
    await second.open()
    try:
        await first.ensure_chat(1, "private", None, "UTC", now=NOW)
        await first.add_subscription(NewSubscription(1, "keyword", "the"), 10, now=NOW)
        results = await second.add_articles([make_article(t, x) for t, x in TARGETS], now=NOW)
        totals = await asyncio.gather(drain(first, batch=3), drain(second, batch=2))
        assert sum(t.articles for t in totals) == len(TARGETS)
        assert (await first.percolate(now=NOW)).articles == 0
        rows = await inbox(first, (1,))
        assert len(rows) == len(set(rows)) == sum(t.matches for t in totals)
        page = await second.search(SearchQuery(text=parse_query("the").text, limit=100))
        assert {a for _, a, _ in rows} == {h.id for h in page.hits} & {
            r.article_id for r in results
        }
    finally:
        await first.close()
        await second.close()


# --------------------------------------------------------------------------- inbox rows


async def test_inbox_has_one_row_per_matching_subscription(two_chats: Storage) -> None:
    storage = two_chats
    await storage.add_articles([make_article(*TARGETS[0], entities=True)], now=NOW)
    await drain(storage)  # old news: only there to create the person
    (lavrov,) = await storage.find_entities(list(lookup_keys("Lavrov")), "person")
    specs: list[tuple[int, SubscriptionKind, str]] = [
        (1, "keyword", "eurasian"),
        (1, "keyword", "integration"),
        (1, "person", lavrov.canonical),
        (2, "keyword", "eurasian"),  # the same query as chat 1's: one match for both
        (2, "keyword", "thailand OR osce"),
    ]
    subs = []
    for chat_id, kind, query in specs:
        entity_id = lavrov.id if kind == "person" else None
        text = parse_query(query).text if kind == "keyword" else None
        subs.append(
            await storage.add_subscription(
                NewSubscription(chat_id, kind, query, entity_id=entity_id, text=text), 10, now=NOW
            )
        )
    results = await storage.add_articles(
        [make_article(t, x, True) for t, x in TARGETS[1:]], now=NOW
    )
    new = {r.article_id for r in results}
    outcome = await drain(storage)
    assert outcome.articles == len(TARGETS) - 1
    assert outcome.chats == ()  # nobody is on instant

    # One row per (chat, article, matching subscription).
    expected = set()
    for sub in subs:
        if sub.kind == "keyword":
            page = await storage.search(SearchQuery(text=parse_query(sub.query).text, limit=100))
            found = {hit.id for hit in page.hits} & new
        else:
            found = {
                a for a in new if lavrov.id in {e.id for e in await storage.article_entities(a)}
            }
        expected |= {(sub.chat_id, article, sub.id) for article in found}
    items = {1: await pending_inbox(storage, 1), 2: await pending_inbox(storage, 2)}
    got = {(i.chat_id, i.article_id, i.subscription_id) for rows in items.values() for i in rows}
    assert got == expected
    assert len(items[1]) + len(items[2]) == len(expected)  # no duplicates
    per_article = [sum(1 for i in items[1] if i.article_id == a) for a in new]
    assert max(per_article) == 3  # eurasian, integration and Lavrov: three rows
    assert outcome.matches < len(expected)  # a shared query counts once
    assert all(i.delivered_at is None for rows in items.values() for i in rows)
    assert [i.matched_at for i in items[1]] == sorted(i.matched_at for i in items[1])

    # Delivery works on every row of an article; only what comes later is pending again.
    await storage.mark_delivered(1, [i.article_id for i in items[1]], subs[0].created_at, None)
    assert await pending_inbox(storage, 1) == []
    (later,) = await storage.add_articles(
        [make_article("Talks in Minsk", "Sergey Lavrov met his counterpart in Minsk.", True)],
        now=NOW,
    )
    await drain(storage)
    later_rows = await pending_inbox(storage, 1)
    assert {i.article_id for i in later_rows} == {later.article_id}
    assert await pending_inbox(storage, 1) == later_rows  # reading again adds nothing


async def test_deleting_subscriptions_and_chats_removes_their_rows(two_chats: Storage) -> None:
    storage = two_chats
    keep = await storage.add_subscription(NewSubscription(1, "keyword", "eurasian"), 10, now=NOW)
    drop = await storage.add_subscription(NewSubscription(1, "keyword", "integration"), 10, now=NOW)
    await storage.add_subscription(NewSubscription(2, "keyword", "integration"), 10, now=NOW)
    await storage.add_articles([make_article(*TARGETS[0])], now=NOW)
    await drain(storage)
    assert len(await pending_inbox(storage, 1)) == 2
    assert await storage.delete_subscription(1, drop.id)
    assert [i.subscription_id for i in await pending_inbox(storage, 1)] == [keep.id]
    await storage.forget_chat(2)
    assert await pending_inbox(storage, 2) == []
    await storage.forget_chat(1)
    assert await pending_inbox(storage, 1) == []
    # Nobody follows anything: new articles match nothing.
    await storage.add_articles([make_article(*TARGETS[2])], now=NOW)
    assert await drain(storage) == PercolateResult(1, 0, ())


async def test_pending_digest_reads_the_newest_and_counts_the_rest(two_chats: Storage) -> None:
    """What digests read: the newest eligible articles, the count of all, the passed-over ones;
    chats prepared in a batch read the same."""
    storage = two_chats
    await storage.ensure_chat(3, "private", None, "UTC", now=NOW)
    for chat_id in (1, 3):  # the same words and the same entity-free query in both chats
        for query in ("eurasian", "integration", "thailand OR osce OR lavrov"):
            await subscribe(storage, chat_id, query)
    # Publication times: article n is n hours newer than the first (newest last).
    articles = [
        replace(
            make_article(t, x),
            classification=Classification(0.9, n % 2 == 0),
            published_at=NOW - timedelta(days=30) + timedelta(hours=n),
        )
        for n, (t, x) in enumerate(TARGETS)
    ]
    stored = [r.article_id for r in await storage.add_articles(articles, now=NOW)]
    await drain(storage)

    # Chat 1's inbox read whole first (every match).
    rows = await pending_inbox(storage, 1)
    matched = {i.article_id for i in rows}
    diplomatic = sorted(a for a in matched if stored.index(a) % 2 == 0)
    assert diplomatic and len(diplomatic) < len(matched)  # both kinds are pending
    first_sub = {a: min(i.subscription_id for i in rows if i.article_id == a) for a in matched}

    digest = await storage.pending_digest(1, diplomatic_only=True, limit=2)
    newest = sorted(diplomatic, key=stored.index, reverse=True)[:2]
    assert [i.article_id for i in digest.items] == newest
    assert [i.subscription_id for i in digest.items] == [first_sub[a] for a in newest]
    assert digest.articles == len(diplomatic)
    assert digest.passed_over == tuple(sorted(matched - set(diplomatic)))
    everything = await storage.pending_digest(1, diplomatic_only=False, limit=100)
    assert {i.article_id for i in everything.items} == matched
    assert everything.articles == len(matched) and everything.passed_over == ()

    # Chat 3 is prepared in a batch, by its own setting (diplomatic only): the same picks.
    await storage.prepare_inboxes([3, 2])
    await storage.prepare_inboxes([])
    batch = await storage.pending_digest(3, diplomatic_only=True, limit=2)
    assert [i.article_id for i in batch.items] == newest
    assert batch.articles == len(diplomatic)
    assert await storage.pending_digest(2, diplomatic_only=False, limit=5) == (
        await storage.pending_digest(2, diplomatic_only=True, limit=5)
    )

    # Delivering the shown ones leaves the rest, newest first again.
    await storage.mark_delivered(3, newest, NOW, None)
    after = await storage.pending_digest(3, diplomatic_only=True, limit=100)
    assert [i.article_id for i in after.items] == sorted(
        set(diplomatic) - set(newest), key=stored.index, reverse=True
    )
    assert after.articles == len(diplomatic) - 2
