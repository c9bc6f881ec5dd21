"""Rendering: escaping, result pages, article text split within Telegram's limit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.render import (
    MESSAGE_LIMIT,
    article_html,
    digest_card,
    ingest_card,
    person_card,
    results_page,
    search_results,
    split_html,
    subscription_line,
    visible_length,
)
from bot.sandbox import parse_message_html
from storage.models import (
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    Article,
    Chat,
    Classification,
    Entity,
    SearchHit,
    Subscription,
)

SEED = (Path(__file__).parents[1] / "fixtures" / "seed_kazinform.txt").read_text(encoding="utf-8")
WHEN = datetime(2024, 10, 30, 9, 0, tzinfo=UTC)


def hit(number: int, snippet: str = "") -> SearchHit:
    return SearchHit(
        id=number,
        title="Eurasian integration named one of priorities of Russia, Belarus",
        url=f"https://example.org/a/{number}?x=1&y=2",
        source="Kazinform",
        published_at=WHEN,
        snippet=snippet
        or f"The development of {HIGHLIGHT_START}Eurasian{HIGHLIGHT_END} "
        f"{HIGHLIGHT_START}integration{HIGHLIGHT_END} is one of the priorities <of> Russia",
    )


def test_results_page_numbers_bold_matches_and_escapes() -> None:
    text = results_page("Search: a<b", [hit(6), hit(7)], total=12, page=2, page_size=5)
    parse_message_html(text)  # Telegram would accept it
    assert "Search: a&lt;b" in text and "12 results" in text
    assert '6. <b><a href="https://example.org/a/6?x=1&amp;y=2">' in text
    assert "<b>Eurasian</b> <b>integration</b>" in text
    assert "&lt;of&gt;" in text
    assert "/article_7" in text


def test_results_page_stays_within_the_limit_with_huge_snippets() -> None:
    hits = [hit(i, "word " * 2000) for i in range(1, 6)]
    text = results_page("Search: word", hits, total=5, page=1)
    assert visible_length(text) <= MESSAGE_LIMIT
    assert text.count("/article_") == 5


def seed_article(repeat: int = 1) -> Article:
    body = "\n".join([SEED] * repeat)
    return Article(
        id=1,
        title="Eurasian integration named one of priorities of Russia, Belarus",
        text=body,
        url=None,
        source="Kazinform",
        published_at=WHEN,
        ingested_at=WHEN,
        lang="en",
        dateline_place="Minsk",
        agency="Kazinform",
        attribution="BelTA",
        classification=Classification(0.91, True, ("foreign minister",)),
    )


def test_long_article_splits_into_valid_parts_on_paragraphs() -> None:
    lavrov = Entity(1, "person", "Sergei Lavrov", "person:sergei lavrov", ("Lavrov",), 1)
    html_text = article_html(seed_article(repeat=6), [lavrov])
    assert visible_length(html_text) > MESSAGE_LIMIT
    parts = split_html(html_text)
    assert len(parts) >= 2
    for part in parts:
        assert 0 < visible_length(part) <= MESSAGE_LIMIT
        parse_message_html(part)
    assert parts[0].startswith("<b>Eurasian integration")
    assert "Mentions: Sergei Lavrov" in parts[0]
    # cut between paragraphs: every part ends with a whole sentence of the seed
    assert all(p.rstrip().endswith((".", '"', "here", "Lavrov")) for p in parts)


def test_person_card_lists_variants() -> None:
    entity = Entity(
        3,
        "person",
        "Sergei Lavrov",
        "person:sergei lavrov",
        ("Sergei Lavrov", "Lavrov", "S. Lavrov"),
        1,
    )
    card = person_card(entity)
    assert card.startswith("<b>Sergei Lavrov</b>")
    assert "Also found as: Lavrov, S. Lavrov" in card and "1 article" in card


def test_subscription_line_escapes_the_query() -> None:
    sub = Subscription(4, 1, "keyword", "<script> & co", None, WHEN)
    assert subscription_line(sub) == "#4 keyword: <b>&lt;script&gt; &amp; co</b>"


def test_digest_card_shows_settings_and_next_time() -> None:
    chat = Chat(1, "private", "A", "Europe/Minsk", "weekly", "18:30", 4)
    card = digest_card(chat, "this chat", "Europe/Minsk", "Fri 08 Nov 2024, 18:30")
    parse_message_html(card)
    assert "every Friday at 18:30" in card and "Next digest: Fri 08 Nov 2024, 18:30" in card
    paused = digest_card(
        Chat(1, "private", "A", "UTC", paused=True), "this chat", "UTC", "whenever"
    )
    assert "Paused" in paused and "whenever" not in paused


def test_ingest_card_new_and_duplicate() -> None:
    from bot.ingest.model import IngestOutcome

    new = IngestOutcome(
        7,
        True,
        "Talks <in> Minsk",
        persons=("Sergei Lavrov",),
        countries=("Belarus", "Russia"),
        diplomatic_score=0.875,
        is_diplomatic=True,
    )
    card = ingest_card(new)
    parse_message_html(card)
    assert card.startswith("Stored #7: <b>Talks &lt;in&gt; Minsk</b>")
    assert "Persons: Sergei Lavrov" in card and "Countries: Belarus, Russia" in card
    assert "Diplomatic score: 0.88 (diplomatic)" in card
    again = ingest_card(IngestOutcome(3, False, "Talks", duplicate_reason="near"))
    assert again.startswith("Already stored (same story as #3)")


def test_parse_subscription_kinds() -> None:
    from bot.chats.service import parse_subscription

    assert parse_subscription("person  Sergei   Lavrov") == ("person", "Sergei Lavrov")
    assert parse_subscription("Country: Belarus") == ("country", "Belarus")
    assert parse_subscription("organization OSCE") == ("org", "OSCE")
    assert parse_subscription("eurasian integration") == ("keyword", "eurasian integration")
    assert parse_subscription("person") == ("keyword", "person")  # a kind word alone is a word


def test_results_page_shows_a_capped_total_as_a_floor() -> None:
    hit = SearchHit(1, "Talks in Minsk", None, "Kazinform", None, "")
    capped = results_page("Search: minister", [hit], total=10_000, page=1, total_capped=True)
    exact = results_page("Search: minister", [hit], total=9_999, page=1)
    assert "10,000+ results" in capped
    assert "9,999 results" in exact


# --------------------------------------------------------------- long titles and article pages

HUGE_TITLE = "Minister " * 555 + "ends"  # 5,000 characters
ASTRAL = "\U0001d400"  # two UTF-16 code units, as Telegram counts


def sendable(html_text: str) -> None:
    """Telegram's own checks (the local Bot API server's): parses, not empty, fits."""
    from bot.sandbox.content import format_text

    format_text(html_text, "HTML")
    assert visible_length(html_text) <= MESSAGE_LIMIT


def long_hit(number: int, title: str = HUGE_TITLE) -> SearchHit:
    return SearchHit(
        id=number,
        title=title,
        url=f"https://example.org/{number}",
        source=ASTRAL * 3000,
        published_at=WHEN,
        snippet=f"{HIGHLIGHT_START}{ASTRAL * 2000}{HIGHLIGHT_END}",
    )


def test_a_5000_character_title_is_shortened_in_search_results() -> None:
    from bot.search.model import SearchResult

    result = SearchResult("minister", 5, 1, 1, tuple(long_hit(i) for i in range(1, 6)))
    text = search_results(result, 5)
    sendable(text)
    assert text.count("/article_") == 5
    assert HUGE_TITLE not in text and HUGE_TITLE[:150] in text and "…" in text


def test_latest_lists_twenty_huge_titles_in_one_message() -> None:
    hits = [long_hit(i, ASTRAL * 5000) for i in range(1, 21)]
    text = results_page("Latest diplomatic news", hits, total=20, page=1, page_size=20)
    sendable(text)
    assert all(f"/article_{i}\n" in text + "\n" for i in range(1, 21))


def test_a_person_page_with_huge_names_and_titles_is_one_message() -> None:
    from bot.search.model import SearchResult
    from handlers.person import render_person

    aliases = tuple(f"{ASTRAL * 100} alias {n}" for n in range(500))
    person = Entity(9, "person", ASTRAL * 5000, "person:x", aliases, 5)
    result = SearchResult("x", 12, 1, 3, tuple(long_hit(i) for i in range(1, 6)))
    text, markup = render_person(person, result)
    sendable(text)
    assert text.count("/article_") == 5 and markup is not None
    assert "more" in text.split("Also found as: ", 1)[1].split("\n", 1)[0]


def test_a_digest_shortens_a_5000_character_title() -> None:
    from bot.digests.compose import DigestArticle, compose_digest
    from storage.models import InboxItem

    article = DigestArticle(1, HUGE_TITLE, None, "Kazinform", WHEN, WHEN, "Line.", True)
    chat = Chat(5, "private", "A", "UTC")
    sub = Subscription(3, 5, "keyword", "minister", None, WHEN)
    digest = compose_digest(chat, [InboxItem(5, 1, 3, WHEN)], {1: article}, {3: sub})
    assert len(digest.parts) == 1
    sendable(digest.parts[0].html)
    html_text = digest.parts[0].html
    assert HUGE_TITLE not in html_text and HUGE_TITLE[:150] in html_text and "…" in html_text


def test_the_feed_list_shortens_titles_and_urls() -> None:
    from bot.render import feeds_page
    from storage.models import Feed

    url = "https://example.org/" + "a" * 5000
    feed = Feed(1, url, HUGE_TITLE, None, None, 1800, WHEN, 0, None, None, True)
    text = feeds_page([feed] * 3, "UTC", now=WHEN)
    sendable(text)
    assert text.count("#1 ") == 3


def transcript(paragraphs: int) -> str:
    """Numbered sentences in paragraphs, one paragraph a single 12,000-character run."""
    lines = ["A long transcript"]
    for p in range(paragraphs):
        lines.append(" ".join(f"Sentence {p}-{s} says &lt;this&gt; & that." for s in range(30)))
    lines.append(" ".join(f"Run-on {n} & more" for n in range(1000)))
    return "\n".join(lines)


def long_article(text: str, **changes: object) -> Article:
    from dataclasses import replace

    return replace(seed_article(), text=text, **changes)  # type: ignore[arg-type]


def test_an_article_page_is_one_message_cut_at_sentence_ends() -> None:
    from bot.render import ARTICLE_PAGE_CHARS, article_page
    from bot.sandbox.content import format_text

    article = long_article(transcript(20))
    first = article_page(article)
    assert first is not None and first.count > 3
    shown = []
    for number in range(1, first.count + 1):
        page = article_page(article, (), number)
        assert page is not None and page.number == number
        sendable(page.html)
        assert f"Page {number} of {first.count}" in page.html
        assert page.html.startswith("<b>Eurasian integration")
        body = page.html.split("\n\n", 1)[1].rsplit("\n\n", 1)[0]
        assert visible_length(body) <= ARTICLE_PAGE_CHARS
        plain, _ = format_text(body, "HTML")
        if "Run-on" not in plain:
            assert plain.endswith("that."), plain[-40:]  # a sentence end, not mid-sentence
        shown.append(plain)
    assert " ".join(shown).split() == article.text.split()  # every word, in order, once
    assert article_page(article, (), 0) is None
    assert article_page(article, (), first.count + 1) is None


def test_an_article_page_fits_however_long_its_title_source_and_names() -> None:
    from bot.render import ARTICLE_TITLE_CHARS, article_page

    many = [Entity(n, "person", ASTRAL * 200 + str(n), f"person:{n}", (), 1) for n in range(1, 501)]
    article = long_article(
        ASTRAL * 40_000,
        title=ASTRAL * 5000,
        source=ASTRAL * 5000,
        dateline_place=ASTRAL * 5000,
        url=None,
    )
    first = article_page(article, many)
    assert first is not None and first.count > 1
    for number in (1, 2, first.count):
        page = article_page(article, many, number)
        assert page is not None
        sendable(page.html)
        assert f"/article_{article.id}" in page.html  # no URL: the command to open it again
    title_line = first.html.split("\n", 1)[0]
    assert visible_length(title_line) <= 2 * ARTICLE_TITLE_CHARS
    assert "more" in first.html.split("Mentions: ", 1)[1].split("\n", 1)[0]


def test_an_article_of_415_kb_is_paged_not_split() -> None:
    from bot.render import article_page

    body = "\n".join(
        " ".join(f"Paragraph {p} sentence {s} of the very long report." for s in range(12))
        for p in range(750)
    )
    assert len(body.encode()) > 415_000
    article = long_article(body, url="https://example.org/report")
    first = article_page(article)
    assert first is not None
    assert len(body) / 3000 <= first.count <= len(body) / 2000  # pages of ~3,000 characters
    sendable(first.html)
    assert "/article_" not in first.html  # the title links to the article


def test_the_ingest_card_shortens_a_huge_title_and_name_lists() -> None:
    from bot.ingest.model import IngestOutcome

    names = tuple(f"Person Number {n}" for n in range(2000))
    card = ingest_card(IngestOutcome(7, True, HUGE_TITLE, persons=names, countries=names))
    sendable(card)
    assert "Person Number 0, Person Number 1" in card and "more" in card
    assert "Minister Minister" in card and HUGE_TITLE not in card
