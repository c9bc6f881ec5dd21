"""The query language's cost budget: prefixes counted as the index sees them, a cap on prefixes
and words, and dates kept within a range every backend can hold, each with a note."""

from __future__ import annotations

from datetime import date

import pytest

from bot.search.query import (
    EARLIEST_DATE,
    LATEST_DATE,
    MAX_PREFIX_TERMS,
    MAX_WORDS,
    MIN_PREFIX_CHARS,
    format_text_query,
    parse_query,
)
from storage.models import AnyOf, Phrase, Term, TextQuery

# The attack: ``s`` and two U+0353 looked like three letters before the ``*``, but the
# index strips the marks, so each was the one-letter prefix ``s*``; 32 of them ORed (with other
# letters) took 1-2.5 s on 10,000 articles.
MARKED = "\u0353\u0353"
LETTERS = "sabcdefghijklmnoprtuvwyzsabcdefg"
ATTACK = " OR ".join(f"{letter}{MARKED}*" for letter in LETTERS)


def _prefixes(query: TextQuery) -> list[Term]:
    options = [o for group in query.required for o in group.options] + list(query.excluded)
    return [o for o in options if isinstance(o, Term) and o.prefix]


def test_marks_do_not_count_as_letters_of_a_prefix() -> None:
    parsed = parse_query(f"s{MARKED}*")
    assert parsed.text == TextQuery((AnyOf((Term("s"),)),))
    assert any("too short a prefix" in w for w in parsed.warnings)


def test_the_attack_expands_no_prefix() -> None:
    parsed = parse_query(ATTACK)
    assert parsed.text is not None
    assert _prefixes(parsed.text) == []
    options = parsed.text.required[0].options
    assert options == tuple(Term(letter) for letter in dict.fromkeys(LETTERS))


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("sec*", Term("sec", prefix=True)),
        ("Été*", Term("été", prefix=True)),  # a precomposed accented letter is one letter
        ("q\u0301x\u0301q\u0301*", Term("qxq", prefix=True)),  # accents the index drops
        ("q\u0301x*", Term("qx")),  # two letters once the accent is dropped
        (f"se{MARKED}c*", Phrase(("se", "c"))),  # a mark splits the word, as in the index
        ("ab\u200bc*", Term("abc", prefix=True)),  # a zero-width space is not a break
    ],
)
def test_prefix_letters_are_counted_after_normalisation(typed: str, expected: Term) -> None:
    parsed = parse_query(typed)
    assert parsed.text == TextQuery((AnyOf((expected,)),))


def test_every_prefix_has_enough_letters() -> None:
    parsed = parse_query(f"s{MARKED}* diplom* ab* q\u0301y\u0301* q\u0301y\u0301z\u0301*")
    assert parsed.text is not None
    assert [p.text for p in _prefixes(parsed.text)] == ["diplom", "qýź"]
    assert all(len(p.text) >= MIN_PREFIX_CHARS for p in _prefixes(parsed.text))


def test_prefixes_past_the_cap_are_searched_as_words() -> None:
    words = [f"{letter}{letter}{letter}" for letter in "abcdefghijkl"]
    parsed = parse_query(
        " OR ".join(f"{w}*" for w in words[:6]) + " -" + " -".join(f"{w}*" for w in words[6:])
    )
    assert parsed.text is not None
    assert [p.text for p in _prefixes(parsed.text)] == words[:MAX_PREFIX_TERMS]
    plain = [o for o in parsed.text.excluded if isinstance(o, Term) and not o.prefix]
    assert [o.text for o in plain] == words[MAX_PREFIX_TERMS:]
    notes = [w for w in parsed.warnings if "prefixes" in w]
    assert notes == [
        f"only the first {MAX_PREFIX_TERMS} prefixes (word*) are expanded; "
        "the others are searched as whole words"
    ]
    # What is searched reads back the same.
    assert parse_query(format_text_query(parsed.text)).text == parsed.text


def test_words_are_capped_however_they_are_spread() -> None:
    parsed = parse_query(" ".join(f'"w{i} x{i}"' for i in range(40)))
    assert parsed.text is not None
    words = sum(
        len(o.words) if isinstance(o, Phrase) else 1
        for group in parsed.text.required
        for o in group.options
    )
    assert words == MAX_WORDS
    assert any(f"first {MAX_WORDS} words" in w for w in parsed.warnings)


# ---------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("typed", "since", "until", "note"),
    [
        ("until:9999", None, LATEST_DATE, "until:9999 is outside 1900-2100"),
        ("until:9999-12-31", None, LATEST_DATE, "outside"),
        ("since:9999", LATEST_DATE, None, "outside"),
        ("since:0001-01-01", EARLIEST_DATE, None, "since:0001-01-01 is outside 1900-2100"),
        ("until:1000-06", None, EARLIEST_DATE, "outside"),
        ("until:99999999", None, None, "until:99999999 is not a date"),
        ("since:2024-13-45", None, None, "since:2024-13-45 is not a date"),
        ("until:0000", None, None, "until:0000 is not a date"),
    ],
)
def test_dates_out_of_range_are_clamped_or_refused_with_a_note(
    typed: str, since: date | None, until: date | None, note: str
) -> None:
    parsed = parse_query(f"lavrov {typed}")
    assert (parsed.since, parsed.until) == (since, until)
    assert parsed.text == TextQuery((AnyOf((Term("lavrov"),)),))
    assert any(note in w for w in parsed.warnings), parsed.warnings


def test_dates_in_range_have_no_note() -> None:
    parsed = parse_query("lavrov since:1900 until:2100")
    assert (parsed.since, parsed.until) == (EARLIEST_DATE, LATEST_DATE)
    assert parsed.warnings == ()
