"""Tests for bot.search.query: the /search syntax and its promise never to raise."""

from __future__ import annotations

import functools
import re
import sqlite3
import unicodedata
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.search.query import (
    MAX_PREFIX_TERMS,
    MAX_WORD_CHARS,
    MAX_WORDS,
    MIN_PREFIX_CHARS,
    ParsedQuery,
    format_text_query,
    parse_query,
)
from storage.models import (
    AnyOf,
    Phrase,
    Term,
    TextQuery,
)
from storage.sqlite.percolate import TOKENIZE
from storage.sqlite.search import fts_expression


def test_words_are_required_and_lowercased() -> None:
    parsed = parse_query("Eurasian Integration")
    assert parsed.text == TextQuery((AnyOf((Term("eurasian"),)), AnyOf((Term("integration"),))))
    assert parsed.warnings == ()


def test_phrase_or_exclusion_prefix() -> None:
    parsed = parse_query('"foreign minister" nato OR osce -ukraine -"press release" secur*')
    assert parsed.text == TextQuery(
        required=(
            AnyOf((Phrase(("foreign", "minister")),)),
            AnyOf((Term("nato"), Term("osce"))),
            AnyOf((Term("secur", prefix=True),)),
        ),
        excluded=(Term("ukraine"), Phrase(("press", "release"))),
    )


def test_punctuated_word_becomes_phrase() -> None:
    parsed = parse_query("U.S. al-Assad")
    assert parsed.text is not None
    assert [g.options[0] for g in parsed.text.required] == [
        Phrase(("u", "s")),
        Phrase(("al", "assad")),
    ]


def test_filters() -> None:
    parsed = parse_query(
        'sanctions since:2022-01-31 until:2022-03 source:"State Department" '
        'person:"Sergei Lavrov" person:kuleba country:Belarus org:NATO order:newest'
    )
    assert parsed.since == date(2022, 1, 31)
    assert parsed.until == date(2022, 3, 31)
    assert parsed.source == "State Department"
    assert parsed.persons == ("Sergei Lavrov", "kuleba")
    assert parsed.countries == ("Belarus",)
    assert parsed.orgs == ("NATO",)
    assert parsed.order == "newest"
    assert parsed.text == TextQuery((AnyOf((Term("sanctions"),)),))
    query = parsed.to_search_query(((7,), (8, 9)), limit=10, offset=20)
    assert query.entity_groups == ((7,), (8, 9))
    assert query.order == "newest" and query.limit == 10 and query.offset == 20


def test_year_ranges_and_bad_dates() -> None:
    parsed = parse_query("x since:2021 until:2021")
    assert (parsed.since, parsed.until) == (date(2021, 1, 1), date(2021, 12, 31))
    bad = parse_query("x since:2022-02-30 until:yesterday")
    assert bad.since is None and bad.until is None
    assert len(bad.warnings) == 2


def test_since_after_until_is_swapped() -> None:
    parsed = parse_query("x since:2022-05-01 until:2022-01-01")
    assert (parsed.since, parsed.until) == (date(2022, 1, 1), date(2022, 5, 1))
    assert parsed.warnings


def test_only_exclusions_has_no_text() -> None:
    parsed = parse_query("-russia")
    assert parsed.text is None
    assert parsed.is_empty
    assert parsed.warnings


def test_person_only_is_not_empty() -> None:
    parsed = parse_query("person:lavrov")
    assert parsed.text is None and not parsed.is_empty


def test_unknown_filter_searches_its_value() -> None:
    parsed = parse_query("title:minsk")
    assert parsed.text == TextQuery((AnyOf((Term("minsk"),)),))
    assert any("title:" in w for w in parsed.warnings)


def test_short_prefix_is_a_plain_word() -> None:
    parsed = parse_query("ab*")
    assert parsed.text == TextQuery((AnyOf((Term("ab"),)),))


def test_words_are_capped() -> None:
    parsed = parse_query(" ".join(f"w{i}" for i in range(100)))
    assert parsed.text is not None
    assert len(parsed.text.required) == MAX_WORDS
    assert parsed.warnings


HOSTILE = [
    '"',
    '"""',
    "NEAR(minsk lavrov",
    "title:",
    "^minsk",
    "*",
    "-",
    "OR",
    "a OR",
    "OR OR a",
    "((((",
    ")",
    "minsk) OR (",
    "\x00\x01\x02\x1b[31m",
    "🇷🇺 🕊️ 💥",
    "Лавров Минск",
    "x" * 10_000,
    "минск " * 2000,
    "since: until: source: person: country:",
    "-source:x",
    "NOT",
    "a NOT",
    ":::",
    "\u0301\u0301",
]


def test_hostile_inputs_return_normally() -> None:
    for text in HOSTILE:
        parsed = parse_query(text)
        _check_parsed(parsed)
        if parsed.text is not None:
            for group in parsed.text.required:
                for option in group.options:
                    words = option.words if isinstance(option, Phrase) else (option.text,)
                    assert all(w and '"' not in w and "*" not in w for w in words)


def test_cyrillic_is_kept() -> None:
    parsed = parse_query("Лавров")
    assert parsed.text == TextQuery((AnyOf((Term("лавров"),)),))


# ``parse_query`` catches its own exceptions (and falls back to plain words), so "it did not
# raise" proves nothing: the properties below check what it returns instead.

#: What may stand outside quoted strings in an FTS5 expression built from a parsed query.
_FTS_TOKEN = re.compile(r'\s+|"(?:[^"]|"")*"\*?|\(|\)|AND\b|OR\b|NOT\b|\{title text\} :')


def _is_token_char(char: str) -> bool:
    """What the index keeps in a token: letters, digits and private-use characters."""
    category = unicodedata.category(char)
    return category[0] in "LN" or category == "Co"


@functools.cache
def _fts_table() -> sqlite3.Connection:
    """An empty FTS5 table shaped like the index, to have SQLite parse an expression."""
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute(f"CREATE VIRTUAL TABLE fts USING fts5(title, text, tags, tokenize = '{TOKENIZE}')")
    return db


def _check_fts_expression(expression: str) -> None:
    """Only quoted tokens and FTS5's own operators, balanced, and accepted by SQLite."""
    depth = 0
    pos = 0
    while pos < len(expression):
        token = _FTS_TOKEN.match(expression, pos)
        assert token, f"{expression[pos : pos + 20]!r} in {expression!r}"
        part = token.group()
        if part == "(":
            depth += 1
        elif part == ")":
            depth -= 1
            assert depth >= 0, expression
        elif part.startswith('"'):
            words = part.removesuffix("*")[1:-1]
            assert words.split(" ") and all(words.split(" ")), expression
            assert all(_is_token_char(c) for c in words.replace(" ", "")), ascii(expression)
        pos = token.end()
    assert depth == 0, expression
    _fts_table().execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (expression,)).fetchall()


def _check_parsed(parsed: ParsedQuery) -> None:
    assert not any(w.startswith("query read as plain words") for w in parsed.warnings), (
        "the parser failed and fell back to plain words",
        parsed.warnings,
    )
    for warning in parsed.warnings:
        assert isinstance(warning, str) and warning.strip()
        assert not any(unicodedata.category(c) == "Cc" for c in warning), ascii(warning)
    if parsed.since and parsed.until:
        assert parsed.since <= parsed.until
    if parsed.text is None:
        return
    assert 1 <= len(parsed.text.required) <= MAX_WORDS
    clauses = [c for group in parsed.text.required for c in group.options]
    clauses += parsed.text.excluded
    words = 0
    for clause in clauses:
        tokens = clause.words if isinstance(clause, Phrase) else (clause.text,)
        assert len(tokens) >= (2 if isinstance(clause, Phrase) else 1)
        words += len(tokens)
        for token in tokens:
            assert 0 < len(token) <= MAX_WORD_CHARS, token
            assert all(_is_token_char(c) for c in token), ascii(token)
    assert words <= MAX_WORDS
    prefixes = [c for c in clauses if isinstance(c, Term) and c.prefix]
    assert len(prefixes) <= MAX_PREFIX_TERMS
    assert all(len(c.text) >= MIN_PREFIX_CHARS for c in prefixes)
    expression = fts_expression(parsed.text)
    assert expression is not None
    _check_fts_expression(expression)


def test_the_fts_expression_check_sees_a_broken_expression() -> None:
    for broken in ('"minsk', '("minsk" OR "osce"', '"minsk" NEAR "osce"', '"min\x00sk"', "minsk"):
        with pytest.raises((AssertionError, sqlite3.OperationalError)):
            _check_fts_expression(broken)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_parse_never_raises_and_round_trips(text: str) -> None:
    parsed = parse_query(text)
    _check_parsed(parsed)
    if parsed.text is not None:
        again = parse_query(format_text_query(parsed.text))
        assert again.text == parsed.text


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ['"', "-", "*", "OR", "(", ")", ":", "since:", "person:", "NEAR", "a", "secur*",
             "NOT", "AND", "|", '-"', "src3", "dip1", "{title}", "^", "\x00", "\u0301", "s\u0353*"]
        ),
        max_size=40,
    ).map(" ".join)
)  # fmt: skip
def test_operator_soup_never_raises(text: str) -> None:
    _check_parsed(parse_query(text))
