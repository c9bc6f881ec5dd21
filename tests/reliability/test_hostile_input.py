"""Hostile input: every parser that reads what strangers type or publish either returns a
well-formed result or raises its documented error, whose message says what is wrong.

Property-based tests (hypothesis, bounded and deterministic) cover the command-argument parsers,
the search-query parser, time zones and digest times, plain text, HTML, feeds and OPML. The corpus
of nasty inputs (``tests/fixtures/nasty/`` and ``nasty.py``) goes through the same parsers, and a
few of its cases through the running bot, which must answer clearly and keep working.
"""

from __future__ import annotations

import functools
import gc
import json
import re
import time
import tracemalloc
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import feedparser
import pytest
import trafilatura
from hypothesis import given
from hypothesis import strategies as st
from telegram import Chat, Message, Update

from bot.chats.schedule import ScheduleError, parse_hhmm
from bot.chats.service import parse_subscription
from bot.chats.timezones import EXAMPLES, TimezoneError, parse_timezone
from bot.feeds.opml import MAX_CATEGORY_DEPTH, OPMLError, parse_opml
from bot.feeds.parse import FeedError, ParsedFeed, parse_feed
from bot.feeds.service import (
    MAX_INTERVAL_MIN,
    MIN_INTERVAL_MIN,
    FeedArgumentError,
    parse_add_arguments,
    parse_feed_id,
    parse_interval,
)
from bot.ingest.html import parse_html
from bot.ingest.model import IngestError
from bot.ingest.text import MIN_BODY_CHARS, parse_text
from bot.search.query import (
    MAX_QUERY_CHARS,
    MAX_WORD_CHARS,
    MAX_WORDS,
    ParsedQuery,
    format_text_query,
    parse_query,
)
from handlers.common import arg_text, parse_int
from storage.models import (
    Phrase,
    Term,
)
from tests.conftest import SEED_TEXT, Bot
from tests.reliability import nasty
from tests.reliability.nasty import FUZZ, FUZZ_SLOW

NOW = datetime(2024, 11, 4, 9, 0, tzinfo=UTC)
FEED_URL = "https://example.org/feed.xml"
SEED_LINES = [line for line in SEED_TEXT.splitlines() if line.strip()]

# --------------------------------------------------------------------------- strategies

QUERY_TOKENS = st.sampled_from(
    [
        "OR", "|", "||", "AND", "&&", "NOT", "-", '"', '-"', "*", "a*", "secur*", "-ukraine",
        "since:", "until:", "since:2022-13-45", "until:0000", "since:2024-02-30", "source:",
        'person:"', "person:", "country:Belarus", "org:", "order:", "order:sideways", "sort:new",
        "title:x", ":", "()", "U.S.", "al-Assad", "\u202e", "\u200b", "\x00", "\u0301",
        "Лавров", "e\u0301",
    ]
)  # fmt: skip
QUERIES = st.one_of(
    st.text(max_size=1500),
    st.lists(st.one_of(QUERY_TOKENS, st.text(max_size=12)), max_size=60).map(" ".join),
    st.lists(st.one_of(QUERY_TOKENS, st.text(max_size=4)), max_size=40).map("".join),
)
ZONES = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["Europe/Minsk", "new york", "KYIV", "utc", "Etc/GMT-3", "../../etc/passwd"]),
    st.from_regex(r"(utc|gmt|UTC)?\s?[+\-−]\s?\d{1,3}(:?\d{1,2})?", fullmatch=True),
)
TIMES = st.one_of(
    st.text(max_size=12),
    st.from_regex(r"\s?\d{1,3}[:.h]?\d{1,3}\s?", fullmatch=True),
)
WIRE_LINES = st.sampled_from(
    [
        *SEED_LINES,
        "News and Events",
        "Read more here",
        "MINSK. October 30. KAZINFORM",
        "WASHINGTON (Reuters) - ",
        "MOSCOW, Oct 30 /TASS/ - ",
        "ASTANA, 12 March 2024 — ",
        "MARCH 45. KAZINFORM ",
        "MINSK. February 30. BelTA ",
        "© 2024 All rights reserved",
    ]
)
TEXTS = st.one_of(
    st.text(max_size=2000),
    st.lists(st.one_of(WIRE_LINES, st.text(max_size=300)), max_size=12).map("\n".join),
    st.lists(WIRE_LINES, max_size=8).map(" ".join),
)
TAGS = st.sampled_from(["p", "div", "article", "h1", "script", "style", "a", "br", "svg", "x"])
HTML_NODES = st.recursive(
    st.one_of(st.text(max_size=80), WIRE_LINES),
    lambda children: st.tuples(TAGS, st.lists(children, max_size=4)).map(
        lambda pair: f"<{pair[0]}>{''.join(pair[1])}</{pair[0]}>"
    ),
    max_leaves=30,
)
PAGES = st.one_of(
    st.text(max_size=2000),
    st.binary(max_size=2000),
    HTML_NODES.map(lambda body: f"<html><head><title>T</title></head><body>{body}</body></html>"),
    st.lists(HTML_NODES, max_size=5).map("".join),
)
XML_TEXT = st.one_of(st.text(max_size=60), WIRE_LINES).map(
    lambda text: text.replace("&", "&amp;").replace("<", "&lt;")
)
RSS_ITEMS = st.lists(
    st.tuples(
        XML_TEXT,
        st.sampled_from(["https://example.org/a", "/relative", "mailto:x@example.org", "", "::"]),
        st.sampled_from(["Mon, 04 Nov 2024 09:00:00 GMT", "yesterday", "9999-12-31", ""]),
        XML_TEXT,
        st.one_of(st.text(max_size=20), st.just("")),
    ),
    max_size=4,
).map(
    lambda items: (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>W</title>'
        + "".join(
            f"<item><title>{title}</title><link>{link}</link><pubDate>{date}</pubDate>"
            f"<description>{text}</description><guid>{guid}</guid></item>"
            for title, link, date, text, guid in items
        )
        + "</channel></rss>"
    ).encode("utf-8", "replace")
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["id", "url", "title", "content_html", "content_text", "summary", "date_published"]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)
JSON_FEEDS = st.tuples(
    st.sampled_from(["https://jsonfeed.org/version/1.1", "https://jsonfeed.org/version/1", "2"]),
    st.one_of(st.lists(JSON_VALUES, max_size=5), JSON_VALUES),
).map(lambda pair: json.dumps({"version": pair[0], "items": pair[1]}).encode())
FEED_BODIES = st.one_of(st.binary(max_size=2000), RSS_ITEMS, JSON_FEEDS)
CONTENT_TYPES = st.sampled_from(
    [None, "application/rss+xml", "application/feed+json", "text/html; charset=windows-1251"]
)
OUTLINES = st.recursive(
    st.tuples(
        st.text(max_size=20), st.sampled_from(["", "https://example.org/f", "ftp://x", "::"])
    ).map(lambda pair: (pair[0].replace("&", "&amp;").replace('"', "&quot;"), pair[1])),
    lambda children: st.lists(children, max_size=3),
    max_leaves=15,
)


def _outline_xml(node: object) -> str:
    if isinstance(node, list):
        return '<outline text="folder">' + "".join(_outline_xml(n) for n in node) + "</outline>"
    assert isinstance(node, tuple)
    title, url = node
    cleaned = "".join(c for c in title if c.isprintable() and c != "<")
    return f'<outline text="{cleaned}" xmlUrl="{url}"/>'


OPML_DOCS = st.one_of(
    st.binary(max_size=1000),
    st.lists(OUTLINES, max_size=4).map(
        lambda nodes: (
            '<?xml version="1.0"?><opml version="2.0"><body>'
            + "".join(_outline_xml(n) for n in nodes)
            + "</body></opml>"
        ).encode("utf-8", "replace")
    ),
)

# --------------------------------------------------------------------------- helpers


def _says_what(exc: BaseException, *words: str) -> None:
    """The error message is a sentence that names the problem (one of ``words``, if given)."""
    message = str(exc)
    assert len(message.strip()) >= 10, f"{type(exc).__name__} with a bare message: {message!r}"
    if words:
        assert any(word.lower() in message.lower() for word in words), message


def _check_query(parsed: ParsedQuery, raw: str) -> None:
    assert all(isinstance(w, str) and w.strip() for w in parsed.warnings)
    assert not any(w.startswith("query read as plain words") for w in parsed.warnings), (
        "the parser failed internally and fell back to plain words",
        parsed.warnings,
    )
    if len(raw) > MAX_QUERY_CHARS:
        assert any("cut" in w for w in parsed.warnings)
    if parsed.text is None:
        return
    words = 0
    for clause in [c for group in parsed.text.required for c in group.options]:
        parts = clause.words if isinstance(clause, Phrase) else (clause.text,)
        words += len(parts)
        for word in parts:
            assert word and len(word) <= MAX_WORD_CHARS
            # What the index keeps in a token: letters, digits and private-use characters.
            assert all(
                unicodedata.category(c)[0] in "LN" or unicodedata.category(c) == "Co" for c in word
            ), ascii(word)
    assert words <= MAX_WORDS


def _update(text: str) -> Update:
    message = Message(message_id=1, date=NOW, chat=Chat(id=1, type="private"), text=text or None)
    return Update(update_id=1, message=message)


# --------------------------------------------------------------------------- command arguments


@FUZZ
@given(st.one_of(st.text(max_size=300), st.lists(st.text(max_size=10)).map(" ".join)))
def test_command_arguments_never_raise(raw: str) -> None:
    for command in ("/search", "/subscribe@attache_bot", "/unsubscribe", "/article"):
        text = f"{command} {raw}"
        args = arg_text(_update(text))
        assert args == args.strip() and args in text
    number = parse_int(raw)
    assert number is None or 0 <= number < 10**12
    kind, query = parse_subscription(raw)
    assert kind in ("keyword", "person", "country", "org")
    assert query == " ".join(query.split())


@FUZZ
@given(
    st.one_of(
        st.text(max_size=200),
        st.tuples(
            st.sampled_from(["http://", "https://", "HTTPS://", "ftp://", "", "javascript:"]),
            st.text(max_size=40),
            st.sampled_from(["", " 15", " 15m", " 0", " 99999999", " -5", " 10 20", " ٣٠"]),
        ).map("".join),
    )
)
def test_feed_command_arguments_accept_or_say_what_is_wrong(raw: str) -> None:
    try:
        url, minutes = parse_add_arguments(raw)
    except FeedArgumentError as exc:
        _says_what(exc, "url", "address", "interval", "minutes")
    else:
        assert url.lower().startswith(("http://", "https://")) and not any(c.isspace() for c in url)
        assert MIN_INTERVAL_MIN <= minutes <= MAX_INTERVAL_MIN
    for parse in (parse_feed_id, parse_interval):
        try:
            value = parse(raw)
        except FeedArgumentError as exc:
            _says_what(exc, "number", "minutes")
        else:
            assert value > 0


@FUZZ
@given(QUERIES)
def test_search_queries_parse_without_escaping_errors(raw: str) -> None:
    parsed = parse_query(raw)
    _check_query(parsed, raw)
    if parsed.text is not None:
        # The normalised form reads back the same (it is what the bot echoes to the user).
        again = parse_query(format_text_query(parsed.text))
        assert again.text == parsed.text


@FUZZ
@given(ZONES)
def test_time_zones_resolve_or_give_examples(raw: str) -> None:
    try:
        zone = parse_timezone(raw)
    except TimezoneError as exc:
        _says_what(exc, EXAMPLES)
    else:
        assert ZoneInfo(zone).key == zone


@FUZZ
@given(TIMES)
def test_digest_times_normalise_or_say_the_format(raw: str) -> None:
    try:
        hhmm = parse_hhmm(raw)
    except ScheduleError as exc:
        _says_what(exc, "09:00")
    else:
        hours, minutes = hhmm.split(":")
        assert re.fullmatch(r"\d\d:\d\d", hhmm) and int(hours) < 24 and int(minutes) < 60


# --------------------------------------------------------------------------- articles and feeds


@FUZZ
@given(TEXTS)
def test_plain_text_parses_or_says_why_not(raw: str) -> None:
    try:
        article = parse_text(raw, now=NOW)
    except IngestError as exc:
        _says_what(exc, "empty", "too short")
    else:
        assert article.title.strip() and len(article.text) >= MIN_BODY_CHARS
        assert article.published_at is None or article.published_at.tzinfo is not None


@FUZZ_SLOW
@given(PAGES)
def test_html_parses_or_says_why_not(page: str | bytes) -> None:
    try:
        article = parse_html(page, url="https://example.org/story", now=NOW)
    except IngestError as exc:
        _says_what(exc, "page", "text", "article")
    else:
        assert article.text.strip() and article.title.strip()


@FUZZ_SLOW
@given(FEED_BODIES, CONTENT_TYPES)
def test_feeds_parse_or_say_why_not(body: bytes, content_type: str | None) -> None:
    try:
        feed = parse_feed(body, url=FEED_URL, content_type=content_type, now=NOW)
    except FeedError as exc:
        _says_what(exc, "feed")
    else:
        for entry in feed.entries:
            assert entry.guid and (entry.title or entry.text)
            assert entry.published_at is None or entry.published_at <= NOW
            assert entry.url is None or entry.url.startswith(("http://", "https://"))


@FUZZ
@given(OPML_DOCS)
def test_opml_imports_or_says_why_not(document: bytes) -> None:
    try:
        feeds = parse_opml(document)
    except OPMLError as exc:
        _says_what(exc, "OPML", "XML")
    else:
        assert len({feed.url for feed in feeds}) == len(feeds)
        assert all(feed.url.startswith(("http://", "https://")) for feed in feeds)


# --------------------------------------------------------------------------- the nasty corpus


# These tests bound the work a parser does (what it parses, how deep, how much memory, how its
# cost grows), never the wall-clock time it takes: that is measured in bench/.


def _html_trees(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record every tree ``parse_html`` has lxml build (through ``trafilatura.load_html``)."""
    trees: list[Any] = []
    load_html = trafilatura.load_html

    def recorded(markup: Any) -> Any:
        tree = load_html(markup)
        trees.append(tree)
        return tree

    monkeypatch.setattr(trafilatura, "load_html", recorded)
    return trees


def _feedparser_calls(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record every document handed to feedparser."""
    calls: list[object] = []
    real_parse = feedparser.parse

    def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(feedparser, "parse", recorded)
    return calls


def _cpu_seconds(work: Callable[[], object], repeat: int = 3) -> float:
    """The least CPU time of this thread over ``repeat`` runs of ``work``, without garbage
    collection: other processes on a busy machine do not count, nor do stray collections."""
    best = float("inf")
    for _ in range(repeat):
        gc.disable()
        try:
            started = time.thread_time()
            work()
            best = min(best, time.thread_time() - started)
        finally:
            gc.enable()
    return best


def test_a_page_over_10_mb_is_refused_with_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    page = nasty.ten_mb_page()
    trees = _html_trees(monkeypatch)
    with pytest.raises(IngestError) as refused:
        parse_html(page, url=None, now=NOW)
    _says_what(refused.value, "too large")
    assert trees == []  # refused on its size, before any parsing
    assert "10 MB" in str(refused.value)
    with pytest.raises(FeedError) as feed_refused:
        parse_feed(page, url=FEED_URL, content_type=None, now=NOW)
    _says_what(feed_refused.value, "larger than 10 MB")


def test_deep_nesting_is_survived_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    # libxml2 stops nesting at depth 256, so the paragraph below it is lost: a clear refusal.
    trees = _html_trees(monkeypatch)
    with pytest.raises(IngestError) as nothing:
        parse_html(nasty.deeply_nested_html(), url=None, now=NOW)
    _says_what(nothing.value, "no article text")
    # The work is bounded by that limit: a tree of at most 256 levels, not 100,000.
    (tree,) = trees
    assert tree is not None and sum(1 for _ in tree.iter()) <= 300
    # feedparser reads the 100,000 nested elements of a description down to their text.
    feed = _rss(nasty.deeply_nested_feed())
    assert [(e.title, e.text, e.url) for e in feed.entries] == [
        ("Deep item", "Eurasian integration", "https://example.org/deep")
    ]
    with pytest.raises(FeedError) as json_refused:
        _rss(nasty.deeply_nested_json_feed())
    _says_what(json_refused.value, "JSON Feed")
    feeds = parse_opml(nasty.deeply_nested_opml())
    assert [f.url for f in feeds] == ["https://example.org/feed.xml"]
    assert feeds[0].category == " / ".join(["f"] * MAX_CATEGORY_DEPTH)


def _rss(body: bytes) -> ParsedFeed:
    return parse_feed(body, url=FEED_URL, content_type="application/rss+xml", now=NOW)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le", "utf-32"])
def test_billion_laughs_and_quadratic_blowup_are_refused(
    encoding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = _feedparser_calls(monkeypatch)
    for body in (nasty.read("billion_laughs_feed.xml"), nasty.quadratic_blowup_feed()):
        text = body.decode("utf-8").replace('encoding="UTF-8"', f'encoding="{encoding}"')
        with pytest.raises(FeedError) as refused:
            _rss(text.encode(encoding))
        _says_what(refused.value, "entities")
    assert parsed == []  # refused from the prolog: no parser saw them, no entity was expanded
    with pytest.raises(OPMLError) as opml_refused:
        parse_opml(nasty.read("billion_laughs.opml"))
    _says_what(opml_refused.value, "DOCTYPE")


def test_a_gzip_bomb_given_as_a_body_is_rejected_as_such() -> None:
    bomb = nasty.gzip_bomb()  # 64 MB of zeros in about 64 kB
    decoded = 64 * 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(FeedError) as refused:
            parse_feed(bomb, url=FEED_URL, content_type=None, now=NOW)
        _, feed_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with pytest.raises(IngestError):
            parse_html(bomb, url=None, now=NOW)
        _, html_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    _says_what(refused.value, "feed")
    # Work done: the feed parser reads the bytes as they are, it never inflates them ...
    assert feed_peak < decoded // 8, f"feed: peak {feed_peak / 1e6:.1f} MB"
    # ... and trafilatura, which inflates gzip input itself, stops at its own cap
    # (MAX_FILE_SIZE, 20 MB), never holding the whole bomb.
    assert html_peak < decoded, f"html: peak {html_peak / 1e6:.1f} MB"


def test_invalid_utf8_is_read_around_not_choked_on() -> None:
    raw = nasty.read("invalid_utf8.txt")
    article = parse_text(raw.decode("utf-8", "replace"), now=NOW)
    assert article.agency == "Kazinform" and "Lavrov" in article.text
    page = b"<html><body><article><p>" + raw + b"</p></article></body></html>"
    assert "Lavrov" in parse_html(page, url=None, now=NOW).text
    feed = parse_feed(
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><item><title>'
        + raw.splitlines()[0]
        + b"</title><description>"
        + raw.splitlines()[1]
        + b"</description></item></channel></rss>",
        url=FEED_URL,
        content_type=None,
        now=NOW,
    )
    assert "Lavrov" in feed.entries[0].text


def test_bidi_and_zero_width_characters_do_not_split_or_hide_words() -> None:
    for line in nasty.hostile_strings():
        _check_query(parse_query(line), line)
        kind, query = parse_subscription(line)
        assert kind in ("keyword", "person", "country", "org")
        assert not any(unicodedata.category(c) == "Cf" for c in query), ascii(query)
        with pytest.raises(TimezoneError):
            parse_timezone(line)
    # A zero-width space or soft hyphen pasted inside a name is not a word break.
    for pasted in ("Lav\u200brov", "Lav\u00adrov", "\u202eLavrov\u202c", "\ufeffLavrov"):
        parsed = parse_query(pasted)
        assert parsed.text is not None
        assert parsed.text.required[0].options == (Term("lavrov"),), pasted
    assert parse_subscription("\ufeffperson Lavrov") == ("person", "Lavrov")
    assert parse_subscription("country Bela\u00adrus") == ("country", "Belarus")


@pytest.mark.parametrize("name", sorted(nasty.regex_hostile_texts()))
def test_regex_hostile_text_parses_in_linear_time(name: str) -> None:
    small = nasty.regex_hostile_texts(10_000)[name]
    large = nasty.regex_hostile_texts(80_000)[name]

    def parse(text: str) -> None:
        try:
            parse_text(text, now=NOW)
        except IngestError as exc:
            _says_what(exc)

    for prefix, suffix in (("", ""), ("Headline\n", "\n" + SEED_TEXT)):
        # A ratio of work, not a time budget: eight times the text costs about eight times the
        # CPU time when parsing is linear, 64 times when it is quadratic.
        large_cost = _cpu_seconds(functools.partial(parse, prefix + large + suffix))
        small_cost = _cpu_seconds(functools.partial(parse, prefix + small + suffix))
        ratio = large_cost / small_cost
        assert ratio < 24, f"{name}: 8 times the text took {ratio:.0f} times the CPU time"


def test_long_queries_and_thousands_of_arguments_are_cut_with_a_note() -> None:
    query = nasty.long_query()
    assert len(query) > 4096
    parsed = parse_query(query)
    _check_query(parsed, query)  # cut to MAX_QUERY_CHARS with a note: the work is bounded
    arguments = nasty.many_arguments()
    many = parse_query(arguments)
    _check_query(many, arguments)
    assert any(f"first {MAX_WORDS} words" in w for w in many.warnings)
    with pytest.raises(FeedArgumentError) as too_many:
        parse_add_arguments("https://example.org/feed " + arguments)
    _says_what(too_many.value, "only the feed's URL")
    with pytest.raises(TimezoneError) as zone:
        parse_timezone(arguments)
    _says_what(zone.value, "too long")
    with pytest.raises(ScheduleError):
        parse_hhmm(arguments)
    assert parse_int(arguments) is None
    assert parse_subscription("person " + arguments)[0] == "person"


# --------------------------------------------------------------------------- through the bot


async def _still_works(bot: Bot) -> None:
    reply = await bot.ask(bot.alice_chat, bot.alice, "/search eurasian integration")
    assert reply.text.startswith("Search: eurasian integration · 1 result")


async def test_the_bot_answers_huge_commands_clearly_and_keeps_working(bot: Bot) -> None:
    arguments = nasty.many_arguments()
    searched = await bot.ask(bot.alice_chat, bot.alice, f"/search {arguments}")
    assert f"only the first {MAX_WORDS} words are searched" in searched.text
    long = await bot.ask(bot.alice_chat, bot.alice, f"/search {nasty.long_query()}")
    assert f"query cut to its first {MAX_QUERY_CHARS} characters" in long.text
    unsubscribed = await bot.ask(bot.alice_chat, bot.alice, f"/unsubscribe {arguments}")
    assert "has no subscription w0 w1" in unsubscribed.text
    article = await bot.ask(bot.alice_chat, bot.alice, f"/article {arguments}")
    assert "Which article?" in article.text
    timed = await bot.ask(bot.alice_chat, bot.alice, f"/digest time {arguments}")
    assert "A time looks like 09:00" in timed.text
    zone = await bot.ask(bot.alice_chat, bot.alice, f"/timezone {arguments}")
    assert "too long for a time zone" in zone.text
    subscribed = await bot.ask(bot.alice_chat, bot.alice, f"/subscribe {arguments}")
    assert "too long for a subscription" in subscribed.text
    person = await bot.ask(bot.alice_chat, bot.alice, f"/person {arguments}")
    assert person.text.startswith("No person known as w0 w1")
    assert await bot.services.storage.list_subscriptions(bot.alice_chat.id) == []
    # One short answer per command: the 24,000-character input is not echoed back in full.
    answers = bot.server.messages(bot.alice_chat.id)
    assert len(answers) == 8 and all(len(m.text) < 1000 for m in answers)
    await _still_works(bot)


async def test_the_bot_reads_bidi_and_zero_width_subscriptions_as_the_plain_words(
    bot: Bot,
) -> None:
    for line in nasty.hostile_strings():
        answer = await bot.ask(bot.alice_chat, bot.alice, f"/subscribe {line}")
        assert answer.text.startswith(
            (
                "Subscribed #",
                "No ",
                "This chat already follows",
                "A keyword subscription needs",
                "Tell me what to follow",
            )
        ), answer.text
    subs = await bot.services.storage.list_subscriptions(bot.alice_chat.id)
    assert "Lavrov" in [sub.query for sub in subs]  # from "Lav\u200brov"
    for sub in subs:
        # What is stored (and shown back) has no invisible or direction-changing characters.
        assert not any(unicodedata.category(c) == "Cf" for c in sub.query), ascii(sub.query)
    listed = await bot.ask(bot.alice_chat, bot.alice, "/subscriptions")
    assert "Subscriptions of this chat" in listed.text
    zone = await bot.ask(bot.alice_chat, bot.alice, "/timezone \u202eEurope/Minsk")
    assert "Time zone of this chat set to Europe/Minsk" in zone.text
    await _still_works(bot)
