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
