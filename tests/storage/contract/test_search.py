"""Contract: search semantics (words, phrases, OR, NOT, prefixes, folding), filters, order,
snippets, paging and the capped total."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.base import SEARCH_TOTAL_CAP, Storage
from storage.models import (
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    AnyOf,
    Classification,
    NewArticle,
    SearchQuery,
    Term,
    TextQuery,
)
from tests.storage.contract.support import (
    BELARUS,
    LAVROV,
    NOW,
    SEED_TITLE,
    STATEDEPT,
    T0,
    article,
    ids,
    text_query,
)

# --------------------------------------------------------------------------- words


async def test_search_finds_the_seed(loaded: Storage) -> None:
    page = await loaded.search(text_query("eurasian integration"))
    assert page.total == 1
    assert page.hits[0].title == SEED_TITLE


async def test_title_match_ranks_first(storage: Storage) -> None:
    body = "The ministers met in Vienna to review the agenda of the meeting. " * 3
    await storage.add_articles(
        [
            article("Ministers meet", body + "Sanctions were mentioned once.", url="u:1"),
            article("Sanctions review", body, url="u:2"),
            article("Filler one", "Talks on trade in Vienna.", url="u:3"),
            article("Filler two", "Talks on energy in Baku.", url="u:4"),
        ],
        now=NOW,
    )
    page = await storage.search(text_query("sanctions"))
    assert [h.title for h in page.hits] == ["Sanctions review", "Ministers meet"]


async def test_recency_outweighs_a_small_relevance_edge(storage: Storage) -> None:
    body = "The ministers met in Vienna to review the agenda of the meeting. " * 3
    await storage.add_articles(
        [
            article("Sanctions review", body, url="u:1", published_at=T0 - timedelta(days=120)),
            article("Ministers meet", body + "Sanctions were mentioned.", url="u:2"),
            article("Filler one", "Talks on trade in Vienna.", url="u:3"),
            article("Filler two", "Talks on energy in Baku.", url="u:4"),
        ],
        now=NOW,
    )
    page = await storage.search(text_query("sanctions"))
    assert [h.title for h in page.hits] == ["Ministers meet", "Sanctions review"]


async def test_snippet_marks_matches(loaded: Storage) -> None:
    page = await loaded.search(text_query("lavrov"))
    assert page.total == 1
    snippet = page.hits[0].snippet
    assert f"{HIGHLIGHT_START}Lavrov{HIGHLIGHT_END}" in snippet
    assert len(snippet.split()) <= 40


async def test_phrase_or_exclusion_prefix(loaded: Storage) -> None:
    assert (await loaded.search(text_query('"energy security"'))).total == 1
    assert (await loaded.search(text_query('"security energy"'))).total == 0
    assert (await loaded.search(text_query("kofod OR tsikhanouskaya"))).total == 2
    assert (await loaded.search(text_query("secretary -kofod"))).total == 1
    assert (await loaded.search(text_query("sanction*"))).total == 1
    assert (await loaded.search(text_query("secur*"))).total == 2


async def test_stemming_and_diacritics(loaded: Storage) -> None:
    assert (await loaded.search(text_query("discussing"))).total == 4
    assert (await loaded.search(text_query("Tsikhanouskayá"))).total == 1


async def test_tokenizer_rules(storage: Storage) -> None:
    """The folding and splitting the protocol documents (unicode61, remove_diacritics 2,
    Porter)."""
    texts = {
        "zurich": "Ministers met in Zürich at a café; the naïve résumé was read.",
        "lodz": "Talks in Łódź on regional security.",
        "cyrillic": "Сергей Лавров провёл переговоры в Минске.",
        "hyphen": "The U.S.-Thailand dialogue on Lavrov's remarks, item 3.5.",
        "stems": "The parties integrated their discussions.",
    }
    stored = await storage.add_articles(
        [article("Item", v, url=f"https://t.example/{k}") for k, v in texts.items()], now=NOW
    )
    by_name = {name: r.article_id for name, r in zip(texts, stored, strict=True)}

    async def found(query: str) -> set[str]:
        hits = await ids(storage, text_query(query))
        return {name for name, i in by_name.items() if i in hits}

    assert await found("ZURICH cafe naive resume") == {"zurich"}
    assert await found("lodz") == set()  # Ł is folded to ł, not stripped
    assert await found("łódź") == {"lodz"}
    assert await found("провёл") == {"cyrillic"}
    assert await found("провел") == set()  # diacritics are removed from Latin letters only
    assert await found("ЛАВРОВ") == {"cyrillic"}
    assert await found('"u s thailand"') == {"hyphen"}
    assert await found("lavrov s") == {"hyphen"}
    assert await found('"3 5"') == {"hyphen"}
    assert await found("integration discussing") == {"stems"}
    assert await found("integration*") == {"stems"}  # the prefix is stemmed first: integr*
    assert await found("integrat*") == set()


async def test_empty_text_query_matches_nothing(loaded: Storage) -> None:
    empty = TextQuery((AnyOf((Term("   "),)),))
    assert (await loaded.search(SearchQuery(text=empty))).total == 0
    quoted = TextQuery((AnyOf((Term('belarus" OR "x'),)),))
    assert (await loaded.search(SearchQuery(text=quoted))).total == 0


HOSTILE = [
    '"',
    "NEAR(minsk lavrov",
    "title:belarus",
    "^belarus",
    "*",
    "((",
    "belarus)",
    "\x00\x01\x1b[2J",
    "🇷🇺💥 belarus",
    "Лавров",
    "z" * 10_000,
    "belarus " * 2000,
    "a* b* c*",
    "-belarus",
    "since:9999-12-31 belarus",
    "since:0001-01-01 x",
]


async def test_hostile_queries_return_normally(loaded: Storage) -> None:
    everything = set(await ids(loaded, SearchQuery(limit=10)))
    belarus = set(await ids(loaded, text_query("belarus")))
    assert len(everything) == 5 and len(belarus) == 2
    # Each finds what its letters and digits say, nothing more: no word at all (exclusions
    # alone are no word) is a search by filters only, which finds every article.
    expected = dict.fromkeys(['"', "*", "((", "-belarus"], everything) | dict.fromkeys(
        ["title:belarus", "^belarus", "belarus)", "🇷🇺💥 belarus", "belarus " * 2000], belarus
    )  # the others are words no article has, or a date after them all
    for text in HOSTILE:
        page = await loaded.search(text_query(text))
        found = {hit.id for hit in page.hits}
        assert page.total == len(page.hits) == len(found), text[:30]  # one page, no repeats
        assert found == expected.get(text, set()), text[:30]
    assert (await loaded.search(text_query("^belarus"))).total == 2


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.text(max_size=80))
async def test_any_parsed_query_is_valid(loaded: Storage, text: str) -> None:
    page = await loaded.search(text_query(text))
    found = [hit.id for hit in page.hits]
    # It runs, and its one page (limit 10, five articles) agrees with its total.
    assert page.total == len(found) == len(set(found)) <= 5


async def test_tag_tokens_are_not_words(storage: Storage) -> None:
    title, text = STATEDEPT[3]
    await storage.add_articles(
        [article(title, text, url="https://x.example/3", entities=(BELARUS,), diplomatic=True)],
        now=NOW,
    )
    for word in ("src1", "dip1", "ent1", "src1 OR tsikhanouskaya"):
        expected = [1] if "tsikhanouskaya" in word else []
        assert await ids(storage, text_query(word)) == expected, word
    page = await storage.search(text_query("belarus", diplomatic_only=True))
    assert [h.id for h in page.hits] == [1]
    assert "dip1" not in page.hits[0].snippet  # snippets come from the words alone
    assert "Belarus" in page.hits[0].snippet


# --------------------------------------------------------------------------- filters


async def test_filters(loaded: Storage) -> None:
    everything = await loaded.search(text_query("the", limit=10))
    assert everything.total == 5
    since = await loaded.search(text_query("the since:2022-03-02"))
    assert since.total == 3
    until = await loaded.search(text_query("the until:2022-03-01"))
    assert until.total == 2
    source = await loaded.search(text_query("the source:kazinform"))
    assert [h.title for h in source.hits] == [SEED_TITLE]
    source_any_case = await loaded.search(text_query("the source:STATE"))
    assert source_any_case.total == 4
    diplomatic = await loaded.search(text_query("the", diplomatic_only=True))
    assert diplomatic.total == 3
    [belarus] = await loaded.find_entities(["belarus"])
    by_entity = await loaded.search(text_query("the", entity_groups=((belarus.id,),)))
    assert by_entity.total == 2
    entity_only = await loaded.search(SearchQuery(entity_groups=((belarus.id,),), limit=10))
    assert [h.id for h in entity_only.hits] == [5, 1]  # newest first
    [lavrov] = await loaded.find_entities(["lavrov"], kind="person")
    both = await loaded.search(SearchQuery(entity_groups=((belarus.id,), (lavrov.id,))))
    assert [h.id for h in both.hits] == [1]
    assert (await loaded.search(SearchQuery(entity_groups=((),)))).total == 0


async def test_source_filter_follows_every_source_that_carried_a_story(storage: Storage) -> None:
    title, text = STATEDEPT[2]
    [first] = await storage.add_articles([article(title, text, url="https://a.example/1")], now=NOW)
    # The same story from two more sources: one in a later batch, one twice in one batch.
    repost = article(title, text, url="https://b.example/1", source="Reuters World")
    again = article(title, text, url="https://c.example/1", source="Agence Belga")
    results = await storage.add_articles([repost, again], now=NOW)
    assert [r.article_id for r in results] == [first.article_id] * 2
    for source in ("reuters", "UTERS WOR", "belga", "test wire"):
        query = text_query(f"sanctions source:{source.replace(' ', '')}")
        if " " in source:
            query = SearchQuery(text=query.text, source=source, limit=10)
        assert await ids(storage, query) == [first.article_id], source
    assert await ids(storage, text_query("sanctions source:tass")) == []
    # Filters alone (no words) use the same tags.
    assert await ids(storage, SearchQuery(source="reuters")) == [first.article_id]


async def test_duplicates_in_one_batch_tag_the_new_story(storage: Storage) -> None:
    title, text = STATEDEPT[0]
    batch = [
        article(title, text, url="https://a.example/2", source="Kazinform"),
        article(title, text, url="https://b.example/2", source="BelTA"),
    ]
    [stored, duplicate] = await storage.add_articles(batch, now=NOW)
    assert not duplicate.created
    for source in ("kazinform", "belta"):
        assert await ids(storage, text_query(f"kofod source:{source}")) == [stored.article_id]


async def test_source_tags_follow_the_recorded_sources(storage: Storage) -> None:
    title, text = STATEDEPT[1]
    [stored] = await storage.add_articles(
        [article(title, text, url="https://a.example/6")], now=NOW
    )
    # The same URL again under another name: nothing new is recorded, so no new source.
    [again] = await storage.add_articles(
        [article(title, text, url="https://a.example/6", source="Xinhua")], now=NOW
    )
    assert again.duplicate_reason == "url"
    assert [s.source for s in (await storage.get_article(stored.article_id)).sources] == [
        "Test Wire"
    ]
    assert await ids(storage, text_query("security source:xinhua")) == []
    assert await ids(storage, text_query("security source:wire")) == [stored.article_id]


async def test_date_filters_are_exact_when_stories_arrive_out_of_order(storage: Storage) -> None:
    rng = random.Random(5)
    days = list(range(40))
    rng.shuffle(days)  # ids follow storage order, not publication order
    published: dict[int, date] = {}
    for batch_start in range(0, len(days), 7):
        batch = [
            article(
                f"Consultations on security, round {day}",
                f"The delegations met for round {day} of consultations on regional security "
                f"and trade; statement number {day} followed.",
                url=f"https://example.org/round-{day}",
                published_at=T0 + timedelta(days=day, hours=rng.randint(0, 23)),
            )
            for day in days[batch_start : batch_start + 7]
        ]
        for result, item in zip(await storage.add_articles(batch, now=NOW), batch, strict=True):
            assert result.created and item.published_at is not None
            published[result.article_id] = item.published_at.date()
    first = T0.date()
    for since, until in [(5, None), (None, 12), (3, 3), (10, 30), (39, None), (41, None)]:
        since_day = None if since is None else first + timedelta(days=since)
        until_day = None if until is None else first + timedelta(days=until)
        expected = sorted(
            (
                article_id
                for article_id, day in published.items()
                if (since_day is None or day >= since_day)
                and (until_day is None or day <= until_day)
            ),
            reverse=True,
        )
        for words in (text_query("security"), SearchQuery()):
            query = SearchQuery(
                text=words.text, since=since_day, until=until_day, order="newest", limit=50
            )
            assert await ids(storage, query) == expected, (since, until, words.text)


async def test_replace_enrichment_moves_the_tags(storage: Storage) -> None:
    title, text = STATEDEPT[1]
    await storage.add_articles(
        [article(title, text, url="https://x.example/4", source="Trend")], now=NOW
    )
    [lavrov_less] = await storage.add_articles(
        [article(*STATEDEPT[0], url="https://x.example/5")], now=NOW
    )
    assert await ids(storage, text_query("security", diplomatic_only=True)) == []
    await storage.replace_enrichment(1, Classification(0.9, True, ("talks",)), [LAVROV])
    [lavrov] = await storage.find_entities(["lavrov"])
    assert await ids(storage, text_query("security", diplomatic_only=True)) == [1]
    assert await ids(storage, SearchQuery(entity_groups=((lavrov.id,),))) == [1]
    assert await ids(storage, text_query("security source:trend")) == [1]  # kept
    await storage.replace_enrichment(1, Classification(), [])
    assert await ids(storage, SearchQuery(entity_groups=((lavrov.id,),))) == []
    assert await ids(storage, SearchQuery(diplomatic_only=True)) == []
    assert lavrov_less.article_id == 2


# --------------------------------------------------------------------------- order and pages


async def test_paging_and_newest_order(loaded: Storage) -> None:
    query = text_query("the", limit=2)
    pages = [await loaded.search(replace(query, offset=o)) for o in (0, 2, 4)]
    found = [h.id for p in pages for h in p.hits]
    assert sorted(found) == [1, 2, 3, 4, 5]
    assert all(p.total == 5 for p in pages)
    newest = await loaded.search(text_query("the order:newest"))
    assert [h.id for h in newest.hits] == [5, 4, 3, 2, 1]
    past_the_end = await loaded.search(replace(query, offset=10))
    assert (past_the_end.total, past_the_end.hits) == (10, ())  # never below the offset
    assert (await loaded.search(replace(query, limit=0))).total == 5


async def test_newest_means_most_recently_stored(storage: Storage) -> None:
    """``newest`` follows storage order, not publication time (see Storage.search)."""
    later, earlier = STATEDEPT[0], STATEDEPT[1]
    [first] = await storage.add_articles(
        [article(*later, url="u:later", published_at=T0 + timedelta(days=5))], now=NOW
    )
    [second] = await storage.add_articles(
        [article(*earlier, url="u:earlier", published_at=T0)], now=NOW + timedelta(hours=1)
    )
    newest = await ids(storage, text_query("the order:newest"))
    assert newest == [second.article_id, first.article_id]
    assert await ids(storage, SearchQuery()) == [second.article_id, first.article_id]


async def test_browse_without_words(loaded: Storage) -> None:
    page = await loaded.search(SearchQuery(limit=2))
    assert page.total == 5
    assert [h.id for h in page.hits] == [5, 4]
    assert page.hits[0].snippet.startswith("Secretary Blinken met")


def _cheap(n: int) -> NewArticle:
    """A tiny distinct article; no bands, so no near-duplicate work."""
    text = f"Statement number {n} on consultations."
    return NewArticle(
        title=f"Note {n}",
        text=text,
        url=f"https://cap.example/{n}",
        source="Cap Wire",
        fingerprint=f"cap-{n}",
        signature=n.to_bytes(4, "little"),
        bands=(),
        published_at=None,
    )


async def test_total_is_exact_up_to_the_cap_then_flagged(storage: Storage) -> None:
    assert SEARCH_TOTAL_CAP == 10_000
    await storage.add_articles([_cheap(n) for n in range(SEARCH_TOTAL_CAP - 1)], now=NOW)
    exact = await storage.search(text_query("consultations", limit=3))
    assert (exact.total, exact.total_capped, len(exact.hits)) == (SEARCH_TOTAL_CAP - 1, False, 3)
    await storage.add_articles([_cheap(n) for n in range(SEARCH_TOTAL_CAP, 10_002)], now=NOW)
    capped = await storage.search(text_query("consultations", limit=3))
    assert (capped.total, capped.total_capped, len(capped.hits)) == (SEARCH_TOTAL_CAP, True, 3)
    filters_only = await storage.search(SearchQuery(limit=1, offset=SEARCH_TOTAL_CAP))
    assert (filters_only.total, filters_only.total_capped) == (SEARCH_TOTAL_CAP, True)
    assert [h.title for h in filters_only.hits] == ["Note 0"]  # the oldest stored is last
