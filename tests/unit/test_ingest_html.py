"""bot.ingest.html: a saved article page with site furniture around the seed text."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trafilatura

from bot.ingest.html import MAX_HTML_BYTES, parse_html, registrable_domain
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


def test_deeply_nested_page_is_parsed_only_to_a_bounded_depth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    depth = 50_000
    text = "The ministers met in Minsk and agreed to coordinate their positions at the OSCE. " * 3
    page = "<html><body>" + "<div>" * depth + f"<p>{text}</p>" + "</div>" * depth + "</body></html>"
    trees: list[Any] = []
    load_html = trafilatura.load_html

    def recorded(markup: Any) -> Any:
        tree = load_html(markup)
        trees.append(tree)
        return tree

    monkeypatch.setattr(trafilatura, "load_html", recorded)
    # The parser gives up below depth 256: refusing is fine, hanging or a RecursionError is not.
    with contextlib.suppress(IngestError):
        parse_html(page, url=None, now=NOW)
    # Work done, not time taken: the tree everything after parsing walks is at most libxml2's
    # 256 levels deep and as many elements, not the page's 50,000.
    (tree,) = trees
    assert tree is not None
    elements = list(tree.iter())
    assert len(elements) <= 300
    assert max(sum(1 for _ in element.iterancestors()) for element in elements) < 300


def test_scripts_do_not_count_towards_the_markup_limit() -> None:
    bloated = PAGE.replace(
        b"</head>", b"<script>" + b"var x = 1;\n" * 300_000 + b"</script></head>"
    )
    assert len(bloated) > 3 * 1024 * 1024
    article = parse_html(bloated, url=None, now=NOW)
    assert "var x" not in article.text


# --------------------------------------------------------------------------- whose page it is

FOREIGN = "https://www.reuters.com/world/eurasian-integration-priorities-2019-10-30/"


def claiming(canonical: str, site_name: str, *, og_url: str | None = None) -> bytes:
    """The seed page, claiming ``canonical`` (and og:url) and the site name ``site_name``."""
    og_url = canonical if og_url is None else og_url
    page = PAGE.decode()
    page = page.replace(f'href="{CANONICAL}"', f'href="{canonical}"')
    page = page.replace(f'content="{CANONICAL}?utm_source=facebook"', f'content="{og_url}"')
    page = page.replace('content="Kazinform"', f'content="{site_name}"')
    assert canonical in page and site_name in page
    return page.encode()


def test_a_page_cannot_claim_another_sites_story() -> None:
    fetched = "https://copycat.example/news/eurasian-integration"
    article = parse_html(claiming(FOREIGN, "Reuters"), url=fetched, now=NOW)
    assert article.url == fetched
    assert article.source == "copycat.example"
    new = build_new_article(article)
    assert (new.url, new.source) == (fetched, "copycat.example")


@pytest.mark.parametrize(
    ("fetched", "canonical"),
    [
        ("https://amp.example.co.uk/a/1", "https://www.example.co.uk/a/1"),
        ("https://example.co.uk/a/1", "https://www.example.co.uk/a/1"),
        ("https://inform.kz/x?utm_source=tg", CANONICAL),
        ("https://m.сайт.рф/a", "https://www.xn--80aswg.xn--p1ai/a"),  # one domain, two spellings
        ("https://news.blogspot.com/a", "https://news.blogspot.com/b"),
        ("http://127.0.0.1:8080/amp/a", "http://127.0.0.1:8080/a"),
    ],
)
def test_a_canonical_url_on_the_same_registrable_domain_is_honoured(
    fetched: str, canonical: str
) -> None:
    article = parse_html(claiming(canonical, "Kazinform"), url=fetched, now=NOW)
    assert article.url == canonical


@pytest.mark.parametrize(
    ("fetched", "canonical"),
    [
        ("https://copycat.example/a", FOREIGN),
        ("https://reuters.com.copycat.example/a", FOREIGN),
        # Both end in co.uk, which is a public suffix: two sites, not one (the PSL knows it).
        ("https://example.co.uk/a", "https://www.other.co.uk/a"),
        # blogspot.com is a suffix too (the list's private section): one blog per name.
        ("https://copycat.blogspot.com/a", "https://news.blogspot.com/a"),
        ("http://127.0.0.1:8080/a", "http://127.0.0.2:8080/a"),
        ("https://copycat.example/a", "javascript:alert(1)"),
        ("https://copycat.example/a", "ftp://copycat.example/a"),
        ("https://copycat.example/a", "http://[::1/"),
    ],
)
def test_a_canonical_url_on_another_registrable_domain_is_ignored(
    fetched: str, canonical: str
) -> None:
    article = parse_html(claiming(canonical, "Kazinform"), url=fetched, now=NOW)
    assert article.url == fetched


def test_a_foreign_link_canonical_gives_way_to_an_own_og_url() -> None:
    own = "https://www.inform.kz/en/story_a1"
    article = parse_html(claiming(FOREIGN, "Kazinform", og_url=own), url=own, now=NOW)
    assert article.url == own


@pytest.mark.parametrize(
    ("fetched", "site_name", "source"),
    [
        ("https://www.inform.kz/en/x", "Kazinform", "Kazinform"),
        ("https://www.bbc.co.uk/news/x", "BBC News", "BBC News"),
        ("https://www.lemonde.fr/x", "Le Monde", "Le Monde"),
        ("https://www.rt.com/x", "RT International", "RT International"),
        ("https://xn--80aswg.xn--p1ai/x", "Сайт — новости", "Сайт — новости"),
        ("https://copycat.example/x", "Reuters", "copycat.example"),
        ("https://www.copycat.example/x", "reuters.com", "copycat.example"),
        ("https://re.example/x", "Reuters", "re.example"),  # a short label must be a whole word
        ("https://www.example.co.uk/x", "The Co UK Times", "example.co.uk"),
        ("http://127.0.0.1:8080/x", "Reuters", "127.0.0.1"),
    ],
)
def test_a_site_name_is_kept_only_when_it_names_the_domain(
    fetched: str, site_name: str, source: str
) -> None:
    article = parse_html(claiming(CANONICAL, site_name), url=fetched, now=NOW)
    assert article.source == source


def test_registrable_domains() -> None:
    assert registrable_domain("https://www.bbc.co.uk/news") == "bbc.co.uk"
    assert registrable_domain("https://amp.example.com/x") == "example.com"
    assert registrable_domain("https://WWW.Example.COM./x") == "example.com"
    assert registrable_domain("https://сайт.рф/") == "xn--80aswg.xn--p1ai"
    assert registrable_domain("https://a.b.kawasaki.jp/") == "a.b.kawasaki.jp"  # *.kawasaki.jp
    assert registrable_domain("https://city.kawasaki.jp/") == "city.kawasaki.jp"  # !city
    assert registrable_domain("http://[::1]:8080/") == "::1"
    assert registrable_domain("https://co.uk/") == "co.uk"
    assert registrable_domain("not a url") is None
