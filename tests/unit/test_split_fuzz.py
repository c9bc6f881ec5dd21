"""``split_html`` never hands Telegram a part it would refuse.

Telegram refuses a message whose text is nothing but whitespace, control or zero-width
characters ("message text is empty"). Long runs of such characters (U+1680, U+001F, ...) once
made the splitter emit exactly such a part, and the reader got "Sorry, something went wrong"
instead of the answer. Every part is checked here with the local Bot API server's own text
rules (``bot.sandbox.content.format_text``: HTML must parse with every tag closed, the text must
be non-empty as Telegram judges it and at most 4096 characters).
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.render import EMPTY_MESSAGE, MESSAGE_LIMIT, escape, split_html, visible_length
from bot.sandbox.content import format_text, is_empty_text
from bot.sandbox.html_parse import parse_message_html
from bot.sandbox.wire import ApiError

#: Every Unicode class of whitespace and control characters, and what tdlib drops besides.
BLANK_CATEGORIES = ("Zs", "Zl", "Zp", "Cc", "Cf")
TDLIB_EMPTY = "\u2800\ufffc\u0333\u033f\u030a\U000e0000\U000e0041"
TAGS = (
    ("<b>", "</b>"),
    ("<i>", "</i>"),
    ("<u>", "</u>"),
    ("<code>", "</code>"),
    ('<a href="https://example.org/?a=1&amp;b=2">', "</a>"),
)

blank_chars = st.one_of(
    st.characters(categories=["Zs", "Zl", "Zp", "Cc", "Cf"]),
    st.sampled_from(TDLIB_EMPTY),
)
word_chars = st.characters(categories=["L", "N", "P", "S"])
# Text that mixes words with any blank characters; escaped, as every caller escapes its text.
mixed_text = st.text(st.one_of(word_chars, blank_chars), max_size=60).map(escape)
# Long runs of one blank character: the shape that produced empty parts.
blank_runs = st.builds(lambda char, count: char * count, blank_chars, st.integers(1, 9000))
long_words = st.builds(lambda char, count: escape(char * count), word_chars, st.integers(1, 5000))
fragments = st.recursive(
    st.one_of(mixed_text, blank_runs, long_words, st.just("\n\n"), st.just(" ")),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=6).map("".join),
        st.tuples(st.sampled_from(TAGS), inner).map(lambda t: t[0][0] + t[1] + t[0][1]),
    ),
    max_leaves=12,
)


def visible_chars(fragment: str) -> str:
    """The text Telegram shows, without whitespace, control and zero-width characters (cuts
    may drop those, never anything a reader sees)."""
    plain, _ = parse_message_html(fragment)
    return "".join(
        char
        for char in plain
        if unicodedata.category(char) not in BLANK_CATEGORIES and char not in TDLIB_EMPTY
    )


def assert_sendable(parts: list[str], limit: int) -> None:
    assert parts, "split_html must always give something to send"
    for part in parts:
        try:
            format_text(part, "HTML")  # balanced tags, non-empty, <= 4096: as Telegram checks
        except ApiError as error:
            raise AssertionError(f"Telegram would refuse {part[:80]!r}: {error}") from None
        assert visible_length(part) <= limit


@pytest.mark.parametrize("blank", ["\u1680", "\x1f", "\u200b", "\u2800", "\u3000", "\x00"])
def test_runs_of_blank_characters_never_make_an_empty_part(blank: str) -> None:
    fragment = "First paragraph.\n\n" + blank * 9000 + "\n\nLast <b>paragraph</b>."
    parts = split_html(fragment)
    assert_sendable(parts, MESSAGE_LIMIT)
    assert visible_chars("".join(parts)) == visible_chars(fragment)


@pytest.mark.parametrize("fragment", ["", " ", "\u1680" * 5000, "<b>\x1f\u200b</b>", "\n\n\n"])
def test_a_reply_with_nothing_to_show_becomes_a_placeholder(fragment: str) -> None:
    assert split_html(fragment) == [EMPTY_MESSAGE]
    assert not is_empty_text(EMPTY_MESSAGE)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fragment=fragments, limit=st.one_of(st.just(MESSAGE_LIMIT), st.integers(32, 400)))
def test_every_part_is_sendable_and_nothing_visible_is_lost(fragment: str, limit: int) -> None:
    parts = split_html(fragment, limit)
    assert_sendable(parts, limit)
    shown = visible_chars(fragment)
    if not shown:
        assert parts == [EMPTY_MESSAGE]
    else:
        assert visible_chars("".join(parts)) == shown
