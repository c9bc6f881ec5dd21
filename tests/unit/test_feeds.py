"""parse_feed on real-looking RSS 0.91/1.0/2.0, Atom and JSON Feed documents, and hostile ones."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.feeds import parse as parse_module
from bot.feeds.parse import (
    FULL_TEXT_MIN_CHARS,
    MAX_FEED_BYTES,
    FeedError,
    ParsedFeed,
    html_to_text,
    parse_feed,
)
from bot.ingest.model import IngestError
from bot.ingest.sanitize import MAX_TEXT_CHARS, MAX_TITLE_CHARS
from tests.feedserver import quadratic_blowup_feed

FIXTURES = Path(__file__).parents[1] / "fixtures" / "feeds"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FEED_URL = "https://www.state.gov/feed/"


def parse(name: str, *, content_type: str | None = None) -> ParsedFeed:
    return parse_feed(
        (FIXTURES / name).read_bytes(), url=FEED_URL, content_type=content_type, now=NOW
    )


def test_rss20_entries_oldest_first_with_full_text_and_summaries() -> None:
    feed = parse("statedept_rss20.xml")
    assert feed.version == "rss20"
    assert feed.title == "U.S. Department of State: Press Releases"
    assert [e.title for e in feed.entries] == [
        "Diversion of Ryanair Flight to Belarus and Arrest of Journalist",
        "On the Situation in Mali",
        "G7 Foreign Ministers’ Statement on Belarus",
        "Detention of Armenian Soldiers",
    ]
    dates = [e.published_at for e in feed.entries]
    assert dates[0] == datetime(2021, 5, 23, 22, 38, 36, tzinfo=UTC)
    assert dates == sorted(d for d in dates if d is not None)
    # content:encoded carries the whole statement; description only its first lines.
    assert [e.has_full_text for e in feed.entries] == [True, False, True, False]
    g7 = feed.entries[2]
    assert len(g7.text) >= FULL_TEXT_MIN_CHARS
    assert "<p>" not in g7.text
    assert "We demand the immediate and unconditional release of Raman Pratasevich" in g7.text
    assert "\n\n" in g7.text  # paragraphs kept
    # Bare guids ("246742") are qualified by the feed URL: they are unique only within a feed.
    assert g7.guid == f"{FEED_URL}#246742"
    assert g7.url == "https://www.state.gov/g7-foreign-ministers-statement-on-belarus"


def test_rss091_netscape_doctype_is_accepted_and_undated_entries_keep_feed_order() -> None:
    feed = parse("statedept_rss091.xml")
    assert feed.version == "rss091n"
    assert all(e.published_at is None for e in feed.entries)
    # The document lists newest first, so the last item is the oldest.
    assert [e.title for e in feed.entries] == [
        "Azerbaijan Republic Day",
        "Media Freedom Coalition Statement on the Arrest of Roman Protasevich",
    ]
    assert feed.entries[0].guid == "https://www.state.gov/azerbaijan-republic-day"


def test_rss10_rdf_with_dublin_core_dates() -> None:
    feed = parse("wikinews_rss10.rdf")
    assert feed.version == "rss10"
    assert feed.title == "Wikinews (RSS 1.0)"
    assert [e.published_at for e in feed.entries] == [
        datetime(2019, 1, 14, 12, tzinfo=UTC),
        datetime(2019, 1, 23, 12, tzinfo=UTC),
        datetime(2019, 2, 11, 12, tzinfo=UTC),
    ]
    assert not any(e.has_full_text for e in feed.entries)
    assert feed.entries[0].title == "Arrest made as mayor of Gdańsk, Poland stabbed on stage"


def test_atom_html_content_becomes_text_and_uri_ids_are_kept() -> None:
    feed = parse("wikinews_atom.xml", content_type="application/atom+xml")
    assert feed.version == "atom10"
    first = feed.entries[0]
    assert first.title == "Nancy Pelosi again elected Speaker as 116th U.S. Congress sworn in"
    assert first.guid == "urn:uuid:3d019ee2437d-0000-4000-8000-000000000000"
    assert first.has_full_text
    assert first.text.startswith("Friday, January 4, 2019\n\nNancy Pelosi yesterday resumed")
    assert "&#x27;" not in feed.entries[2].text and "Thailand's" in feed.entries[2].text
    assert [e.has_full_text for e in feed.entries] == [True, False, True]


def test_json_feed_content_html_text_and_summary() -> None:
    feed = parse("statedept_feed.json", content_type="application/feed+json")
    assert feed.version == "json11"
    assert feed.title == "State Department statements (JSON Feed)"
    assert [e.has_full_text for e in feed.entries] == [True, False, True]
    assert feed.entries[0].text.startswith(
        "Office of the Spokesperson\n\nThe text of the following"
    )
    assert feed.entries[1].published_at == datetime(2021, 5, 28, 4, 1, 39, tzinfo=UTC)
    assert feed.entries[2].guid.startswith("https://www.state.gov/media-freedom-coalition")


def test_json_feed_detected_without_content_type_and_numeric_ids_qualified() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1",
            "title": "Briefings",
            "items": [
                {"id": 7, "url": "/on-pride-month/", "content_text": "On Pride Month."},
                "not an item",
            ],
        }
    ).encode()
    feed = parse_feed(body, url=FEED_URL, content_type=None, now=NOW)
    (entry,) = feed.entries
    assert entry.guid == f"{FEED_URL}#7"
    assert entry.url == "https://www.state.gov/on-pride-month"  # relative link resolved
    assert entry.title == "On Pride Month."


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "not a readable JSON Feed"),
        (b'{"title": "no version", "items": []}', "no jsonfeed.org version"),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', "no list of items"),
        (b"[" * 100_000 + b"]" * 100_000, "not a readable JSON Feed"),
    ],
)
def test_bad_json_feeds_are_refused_with_the_reason(body: bytes, reason: str) -> None:
    with pytest.raises(FeedError, match=reason):
        parse_feed(body, url=FEED_URL, content_type="application/feed+json", now=NOW)


def test_future_dates_are_clamped_to_now() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "items": [
                {
                    "id": "tag:x,2099:1",
                    "title": "From the future",
                    "date_published": "2099-01-01T00:00:00Z",
                }
            ],
        }
    ).encode()
    (entry,) = parse_feed(body, url=FEED_URL, content_type=None, now=NOW).entries
    assert entry.published_at == NOW


# --------------------------------------------------------------------------- hostile feeds


def _feedparser_calls(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record every document handed to feedparser: a refused feed must reach none."""
    calls: list[object] = []
    real_parse = feedparser.parse

    def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(feedparser, "parse", recorded)  # as bot.feeds.parse calls it
    return calls


def test_billion_laughs_is_refused_before_any_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = _feedparser_calls(monkeypatch)
    with pytest.raises(FeedError, match="declares XML entities"):
        parse("hostile_billion_laughs.xml")
    assert parsed == []  # no parser saw it, so no entity was expanded
    parse("statedept_rss20.xml")
    assert len(parsed) == 1  # the recorder does see what reaches feedparser


def test_feedparser_alone_drops_nested_entities_but_expands_flat_ones() -> None:
    """Why the entity check exists: feedparser defuses billion laughs, not the quadratic blow-up."""
    laughs = feedparser.parse(io.BytesIO((FIXTURES / "hostile_billion_laughs.xml").read_bytes()))
    assert len(laughs.entries[0].get("summary", "")) < 100
    small = quadratic_blowup_feed(entity_size=1_000, references=1_000)  # 4 kB -> 1 MB of text
    expanded = feedparser.parse(io.BytesIO(small))
    assert len(expanded.entries[0].summary) == 1_000_000


def test_quadratic_blowup_is_refused_before_any_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    body = quadratic_blowup_feed(entity_size=100_000, references=200_000)  # would be 20 GB
    assert len(body) < MAX_FEED_BYTES
    parsed = _feedparser_calls(monkeypatch)
    with pytest.raises(FeedError, match="declares XML entities"):
        parse_feed(body, url=FEED_URL, content_type=None, now=NOW)
    assert parsed == []  # refused from the prolog: not one of the 200,000 references expanded


def test_entity_declaration_hidden_in_utf16_is_refused() -> None:
    text = (FIXTURES / "hostile_billion_laughs.xml").read_text(encoding="utf-8")
    body = text.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    with pytest.raises(FeedError, match="declares XML entities"):
        parse_feed(body.encode("utf-16"), url=FEED_URL, content_type=None, now=NOW)
    with pytest.raises(FeedError, match="declares XML entities"):
        parse_feed(body.encode("utf-16-be"), url=FEED_URL, content_type=None, now=NOW)


def test_body_over_the_cap_is_refused() -> None:
    body = b"<rss>" + b" " * MAX_FEED_BYTES + b"</rss>"
    with pytest.raises(FeedError, match="larger than 10 MB"):
        parse_feed(body, url=FEED_URL, content_type=None, now=NOW)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("hostile_not_a_feed.html", "not a readable feed"),
        ("hostile_truncated.xml", r"not a readable feed \(line 5"),
    ],
)
def test_malformed_documents_without_entries_say_why(name: str, reason: str) -> None:
    with pytest.raises(FeedError, match=reason) as caught:
        parse(name)
    assert "no entries could be recovered" in caught.value.message
    assert isinstance(caught.value, IngestError)


@pytest.mark.parametrize("body", [b"", b"   \n"])
def test_empty_body_is_refused(body: bytes) -> None:
    with pytest.raises(FeedError, match="empty"):
        parse_feed(body, url=FEED_URL, content_type=None, now=NOW)


def test_well_formedness_errors_with_entries_still_give_the_entries() -> None:
    feed = parse("broken_but_usable.xml")
    assert feed.title == "U.S. Department of State: Press & Media Releases"
    assert len(feed.entries) == 4


def test_invalid_utf8_bytes_are_replaced_not_turned_into_mojibake() -> None:
    feed = parse("hostile_invalid_utf8.xml")
    assert len(feed.entries) == 4
    assert feed.entries[2].title == "G7 Foreign Ministers’ Statement on Belarus"


def test_html_to_text_keeps_paragraphs_and_drops_scripts() -> None:
    fragment = (
        "<div><p>Secretary Blinken met&nbsp;Foreign Minister Kofod.</p>"
        "<script>alert(1)</script><p>They discussed <b>Arctic</b> cooperation.<br>More.</p></div>"
    )
    assert html_to_text(fragment) == (
        "Secretary Blinken met Foreign Minister Kofod.\n\nThey discussed Arctic cooperation.\nMore."
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=500).map(
            lambda t: f"<rss><channel><item>{t}</item></channel></rss>".encode()
        ),
        st.text(max_size=500).map(
            lambda t: ('{"version": "https://jsonfeed.org/version/1", ' + t).encode()
        ),
    )
)
def test_no_exception_but_feed_error_escapes(body: bytes) -> None:
    try:
        feed = parse_feed(body, url=FEED_URL, content_type=None, now=NOW)
    except FeedError as exc:
        assert exc.message
    else:
        assert all(e.guid and (e.title or e.text) for e in feed.entries)
        assert all(e.published_at is None or e.published_at <= NOW for e in feed.entries)


def test_undeclared_windows_1252_feed_is_read_as_such() -> None:
    body = (
        "<rss version='2.0'><channel><title>Ministère des Affaires étrangères</title><item>"
        "<title>Déclaration sur la Biélorussie</title><link>https://example.org/a</link>"
        "</item></channel></rss>"
    ).encode("cp1252")
    feed = parse_feed(body, url=FEED_URL, content_type=None, now=NOW)
    assert feed.title == "Ministère des Affaires étrangères"
    assert feed.entries[0].title == "Déclaration sur la Biélorussie"


def _json_feed(title: str, items: list[dict[str, object]]) -> bytes:
    document = {"version": "https://jsonfeed.org/version/1.1", "title": title, "items": items}
    return json.dumps(document).encode()  # ensure_ascii: lone surrogates travel as \ud800


def _item(number: int, **fields: object) -> dict[str, object]:
    return {
        "id": f"https://example.com/{number}",
        "url": f"https://example.com/{number}",
        "title": f"Statement number {number}",
        "content_text": f"The text of statement number {number}. " * 5,
        **fields,
    }


def test_malformed_markup_and_impossible_dates_keep_their_entry() -> None:
    # Python's HTMLParser raises AssertionError on an unknown marked section, and a date past
    # the year 9999 in UTC raised OverflowError: either failed the whole feed, at every poll.
    body = _json_feed(
        "Statements",
        [
            _item(1, content_html="<p>Kept text.</p><![foo[ bar ]]><script>dropped()</script>"),
            _item(2, date_published="9999-12-31T23:59:59-01:00"),
        ],
    )
    feed = parse_feed(body, url=FEED_URL, content_type="application/feed+json", now=NOW)
    by_title = {e.title: e for e in feed.entries}
    assert by_title["Statement number 1"].text.startswith("The text of statement number 1.")
    assert html_to_text("<p>Kept text.</p><![foo[ bar ]]><script>x()</script>") == "Kept text."
    assert by_title["Statement number 2"].published_at is None
    assert feed.skipped == ()


@pytest.mark.parametrize(
    ("body", "failing_id"),
    [
        (_json_feed("Statements", [_item(1), _item(2), _item(3)]), "https://example.com/2"),
        ((FIXTURES / "statedept_rss20.xml").read_bytes(), "246742"),
    ],
    ids=["JSON Feed", "RSS"],
)
def test_one_entry_that_fails_is_left_out_and_the_others_kept(
    monkeypatch: pytest.MonkeyPatch, body: bytes, failing_id: str
) -> None:
    # Whatever breaks while one entry is read (a fault injected here, standing for any bug or
    # input no rule foresaw) costs that entry only.
    real_entry = parse_module._entry
    whole = parse_feed(body, url=FEED_URL, content_type=None, now=NOW)

    def failing_for_one(**fields: Any) -> Any:
        if fields["raw_id"] == failing_id:
            raise RuntimeError("injected fault")
        return real_entry(**fields)

    monkeypatch.setattr(parse_module, "_entry", failing_for_one)
    feed = parse_feed(body, url=FEED_URL, content_type=None, now=NOW)
    assert len(feed.entries) == len(whole.entries) - 1
    assert {e.guid for e in whole.entries} - {e.guid for e in feed.entries} == {
        failing_id if ":" in failing_id else f"{FEED_URL}#{failing_id}"
    }
    (skipped,) = feed.skipped
    assert skipped.endswith(": could not be read (RuntimeError: injected fault)")


def test_entry_fields_and_the_feed_title_are_cleaned() -> None:
    body = _json_feed(
        "State\x00 Department\u202e",
        [
            _item(1, id="tag:example.com,2025:\ud800", title="Bad \ud800 title"),
            _item(2, title="NUL\x00 in the title", url="https://example.com/\ud800"),
            _item(3, title="Long " * 1000, content_text="word " * 100_000),
        ],
    )
    feed = parse_feed(body, url=FEED_URL, content_type="application/feed+json", now=NOW)
    assert feed.title == "State Department"
    first = next(e for e in feed.entries if e.title == "Bad \ufffd title")
    assert first.guid == "tag:example.com,2025:\ufffd"
    second = next(e for e in feed.entries if e.title == "NUL in the title")
    assert second.url == "https://example.com/%EF%BF%BD"
    third = next(e for e in feed.entries if e.title.startswith("Long"))
    assert len(third.title) <= MAX_TITLE_CHARS and third.title.endswith("…")
    assert len(third.text) <= MAX_TEXT_CHARS
    assert third.text.endswith("characters more at the source]") and third.has_full_text
    for entry in feed.entries:
        for value in (entry.guid, entry.url or "", entry.title, entry.text):
            value.encode("utf-8")  # never raises: no lone surrogate is left
            assert "\x00" not in value
