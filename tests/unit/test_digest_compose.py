"""Digest composition: grouping, headings, collapsing, the cap, the diplomatic filter, splitting.

Pure: ``compose_digest`` over plain data, checked with the sandbox's own HTML parser (the one
that validates like Telegram), so every message is also proven to be valid Telegram HTML.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.digests.compose import (
    DIGEST_CAP,
    DigestArticle,
    compose_digest,
    first_line,
    subscription_label,
)
from bot.render import MESSAGE_LIMIT, visible_length
from bot.sandbox import parse_message_html
from storage.models import (
    Chat,
    InboxItem,
    Subscription,
)
from tests.unit.test_digest_support import STATEDEPT

T0 = datetime(2022, 3, 1, 12, 0, tzinfo=UTC)
CHAT = Chat(id=42, type="private", title="Alice", tz="Europe/Minsk")
SUBS = {
    1: Subscription(1, 42, "person", "Antony J. Blinken", 7, T0),
    2: Subscription(2, 42, "keyword", "climate", None, T0),
    3: Subscription(3, 42, "country", "Thailand", 9, T0),
}


def view(index: int, *, diplomatic: bool = True, sources: int = 1, hours: int = 0) -> DigestArticle:
    row = STATEDEPT[index]
    places = frozenset(
        {row["url"], *(f"https://mirror{n}.example/{index}" for n in range(1, sources))}
    )
    return DigestArticle(
        id=index + 1,
        title=row["title"],
        url=row["url"],
        source="U.S. Department of State",
        published_at=T0 + timedelta(hours=hours or index),
        ingested_at=T0,
        line=first_line(row["title"], row["text"]),
        is_diplomatic=diplomatic,
        sources=places,
    )


def rows(pairs: list[tuple[int, int]]) -> list[InboxItem]:
    return [InboxItem(42, article_id, sub_id, T0) for article_id, sub_id in pairs]


def plain(html_text: str) -> str:
    text, _ = parse_message_html(html_text)
    return text


def test_grouped_by_subscription_with_headings_and_counts() -> None:
    articles = {a.id: a for a in (view(i) for i in range(5))}
    pending = rows([(1, 1), (2, 1), (3, 2), (4, 3), (5, 1)])
    digest = compose_digest(CHAT, pending, articles, SUBS)
    assert len(digest.parts) == 1
    text = plain(digest.parts[0].html)
    assert text.startswith("Your digest · 5 new articles")
    assert "Antony J. Blinken · 3" in text
    assert "“climate” · 1" in text and "Thailand · 1" in text
    # the biggest group first, then in the order of subscribing
    assert text.index("Blinken · 3") < text.index("“climate” · 1") < text.index("Thailand · 1")
    assert digest.groups == (("Antony J. Blinken", 3), ("“climate”", 1), ("Thailand", 1))
    assert sorted(digest.parts[0].article_ids) == [1, 2, 3, 4, 5]
    assert "/more" not in text


def test_item_is_a_linked_title_with_source_date_and_one_line() -> None:
    article = view(1)
    digest = compose_digest(CHAT, rows([(2, 2)]), {2: article}, SUBS)
    html_text = digest.parts[0].html
    text, entities = parse_message_html(html_text)
    links = [e for e in entities if e.type == "text_link"]
    assert [e.url for e in links] == [STATEDEPT[1]["url"]]
    assert STATEDEPT[1]["title"] in text
    assert "U.S. Department of State · 01 Mar 2022" in text
    assert article.line and article.line in text
    assert "\n" not in article.line and len(article.line) <= 180


def test_same_story_collapses_into_one_item_with_other_sources() -> None:
    widely = view(0, sources=3)  # one stored story carried by three places
    copy = view(1)
    copy_same_title = DigestArticle(
        id=99,
        title=widely.title.upper() + "!",  # same words: the same story
        url="https://other.example/story",
        source="Other Wire",
        published_at=widely.published_at,
        ingested_at=T0,
        line="",
        is_diplomatic=True,
        sources=frozenset({"https://other.example/story"}),
    )
    articles = {1: widely, 2: copy, 99: copy_same_title}
    digest = compose_digest(CHAT, rows([(1, 1), (99, 2), (2, 1)]), articles, SUBS)
    text = plain(digest.parts[0].html)
    assert text.count(widely.title) == 1
    assert "+3 sources" in text  # three places of the merged story and the other wire
    assert len(digest.items) == 2
    assert sorted(digest.shown_ids) == [1, 2, 99]  # delivering the item delivers every copy
    assert text.startswith("Your digest · 2 new articles")


def test_article_matched_by_two_subscriptions_is_shown_once() -> None:
    articles = {1: view(0)}
    digest = compose_digest(CHAT, rows([(1, 2), (1, 1)]), articles, SUBS)
    text = plain(digest.parts[0].html)
    assert text.count(STATEDEPT[0]["title"]) == 1
    assert "Antony J. Blinken · 1" in text and "climate" not in text


def test_cap_shows_the_newest_twenty_and_points_to_more() -> None:
    articles = {a.id: a for a in (view(i) for i in range(26))}
    digest = compose_digest(CHAT, rows([(i, 1) for i in range(1, 27)]), articles, SUBS)
    assert len(digest.items) == DIGEST_CAP and digest.remaining == 6
    shown = set(digest.shown_ids)
    assert shown == set(range(7, 27))  # the newest twenty
    last = plain(digest.parts[-1].html)
    assert last.endswith("and 6 more: /more")
    assert plain(digest.parts[0].html).startswith("Your digest · 26 new articles")


def test_a_window_of_the_newest_counts_the_older_ones_as_more() -> None:
    # Storage handed over only the 30 newest of 100 pending articles (and two it passed over).
    articles = {a.id: a for a in (view(i) for i in range(30))}
    window = rows([(i, 1) for i in range(30, 0, -1)])
    alone = compose_digest(CHAT, window, articles, SUBS)
    digest = compose_digest(CHAT, window, articles, SUBS, beyond=70, passed_over=(500, 501))
    assert digest.shown_ids == alone.shown_ids and len(digest.items) == DIGEST_CAP
    assert digest.remaining == alone.remaining + 70 > 70
    total = DIGEST_CAP + digest.remaining
    assert plain(digest.parts[0].html).startswith(f"Your digest · {total} new articles")
    assert plain(digest.parts[-1].html).endswith(f"and {digest.remaining} more: /more")
    assert digest.skipped_ids == (500, 501) and alone.skipped_ids == ()


def test_only_diplomatic_skips_the_rest_and_reports_them() -> None:
    articles = {1: view(0), 2: view(1, diplomatic=False), 3: view(2)}
    pending = rows([(1, 1), (2, 1), (3, 1), (404, 1)])  # 404: the article is gone
    digest = compose_digest(CHAT, pending, articles, SUBS)
    assert sorted(digest.shown_ids) == [1, 3]
    assert digest.skipped_ids == (2, 404)
    everything = Chat(id=42, type="private", title=None, tz="UTC", only_diplomatic=False)
    digest = compose_digest(everything, pending, articles, SUBS)
    assert sorted(digest.shown_ids) == [1, 2, 3] and digest.skipped_ids == (404,)


def test_nothing_to_show_gives_no_message() -> None:
    articles = {1: view(0, diplomatic=False)}
    digest = compose_digest(CHAT, rows([(1, 1)]), articles, SUBS)
    assert digest.parts == () and digest.skipped_ids == (1,)
    assert compose_digest(CHAT, [], {}, SUBS).parts == ()


def test_long_digest_splits_between_items_and_each_part_holds_its_own() -> None:
    articles = {a.id: a for a in (view(i) for i in range(20))}
    digest = compose_digest(
        CHAT, rows([(i, 1 + i % 2) for i in range(1, 21)]), articles, SUBS, limit=1500
    )
    assert len(digest.parts) >= 3
    seen: list[int] = []
    for part in digest.parts:
        assert visible_length(part.html) <= 1500
        text = plain(part.html)  # raises if the HTML is not valid for Telegram
        assert part.article_ids, "every part shows items"
        for article_id in part.article_ids:
            assert articles[article_id].title in text
        seen.extend(part.article_ids)
    assert sorted(seen) == list(range(1, 21))
    assert any("(continued)" in plain(p.html) for p in digest.parts[1:])


def test_full_size_parts_stay_within_telegram_limit() -> None:
    long_line = "Ministers discussed the Strategic Dialogue. " * 20
    articles = {
        i: DigestArticle(i, "T" * 400, f"https://e.example/{i}", "Wire", T0, T0, long_line, True)
        for i in range(1, 21)
    }
    digest = compose_digest(CHAT, rows([(i, 1) for i in range(1, 21)]), articles, SUBS)
    assert all(visible_length(p.html) <= MESSAGE_LIMIT for p in digest.parts)
    assert sorted(digest.shown_ids) == list(range(1, 21))


def test_labels_and_first_line() -> None:
    assert subscription_label(SUBS[2]) == "“climate”"
    assert subscription_label(None) == "Other matches"
    title = "Sanctions on Russian Officials"
    text = f"{title}\n\n  The United States   is imposing sanctions.\nMore."
    assert first_line(title, text) == "The United States is imposing sanctions."
    assert first_line("t", "word " * 100).endswith("…")
