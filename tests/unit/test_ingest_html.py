"""bot.ingest.html: a saved article page with site furniture around the seed text."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.ingest.html import MAX_HTML_BYTES, parse_html
from bot.ingest.model import IngestError
from bot.ingest.normalize import build_new_article

FIXTURES = Path(__file__).parents[1] / "fixtures"
PAGE = (FIXTURES / "kazinform_article.html").read_bytes()
CANONICAL = "https://www.inform.kz/en/eurasian-integration-named-one-of-priorities-of-russia-belarus_a2964551"
NOW = datetime(2024, 11, 5, tzinfo=UTC)


def test_article_page_metadata() -> None:
    article = parse_html(PAGE, url="https://inform.kz/x?utm_source=tg", now=NOW)
    assert article.title == "Eurasian integration named one of priorities of Russia, Belarus"
    assert article.url == CANONICAL  # <link rel=canonical>, not the tracking og:url
    assert article.source == "Kazinform"  # og:site_name
    assert article.published_at == datetime(2019, 10, 30, 8, 25, tzinfo=UTC)
    assert article.lang == "en"


def test_article_page_text_has_no_site_furniture() -> None:
    article = parse_html(PAGE, url=None, now=NOW)
    assert article.text.startswith("The development of Eurasian integration")
    assert article.text.endswith("added Sergei Lavrov.")
    for furniture in ("Related news", "All rights reserved", "Subscribe", "Politics", "Share"):
        assert furniture not in article.text


def test_wire_dateline_in_the_page_text_is_read() -> None:
    article = parse_html(PAGE, url=None, now=NOW)
    assert article.dateline_place == "Minsk"
    assert article.agency == "Kazinform"
    assert article.attribution == "BelTA"


def test_str_input_and_relative_canonical() -> None:
    page = PAGE.decode().replace(CANONICAL, "/en/story_a1")
    article = parse_html(page, url="https://www.inform.kz/en/other", now=NOW)
    assert article.url == "https://www.inform.kz/en/story_a1"


def test_page_feeds_a_storable_article() -> None:
    new = build_new_article(parse_html(PAGE, url=None, now=NOW))
    assert new.url == CANONICAL
    assert new.source == "Kazinform"
    assert len(new.signature) == 512


def test_page_without_article_text_is_refused() -> None:
    with pytest.raises(IngestError, match=r"no article text|too short to be an article"):
        parse_html("<html><body><nav><a href='/'>Home</a></nav></body></html>", url=None, now=NOW)


def test_oversized_page_is_refused() -> None:
    with pytest.raises(IngestError, match="too large"):
        parse_html(b" " * (MAX_HTML_BYTES + 1), url=None, now=NOW)


def test_deeply_nested_page_returns_quickly() -> None:
    depth = 50_000
    text = "The ministers met in Minsk and agreed to coordinate their positions at the OSCE. " * 3
    page = "<html><body>" + "<div>" * depth + f"<p>{text}</p>" + "</div>" * depth + "</body></html>"
    started = time.monotonic()
    # The parser gives up below depth 256: refusing is fine, hanging is not.
    with contextlib.suppress(IngestError):
        parse_html(page, url=None, now=NOW)
    assert time.monotonic() - started < 5.0


def test_scripts_do_not_count_towards_the_markup_limit() -> None:
    bloated = PAGE.replace(
        b"</head>", b"<script>" + b"var x = 1;\n" * 300_000 + b"</script></head>"
    )
    assert len(bloated) > 3 * 1024 * 1024
    article = parse_html(bloated, url=None, now=NOW)
    assert "var x" not in article.text
