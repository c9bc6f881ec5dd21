"""bot.ingest.sanitize: the characters an article may hold, its size, and what counts as text.

Every parser builds a ``ParsedArticle``, which cleans its own fields: the tests check the rule
itself, that it is idempotent, and that it reaches every field however the article is built.
"""

from __future__ import annotations

import codecs
import gzip
import random
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.ingest.model import ParsedArticle
from bot.ingest.sanitize import (
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    NotTextError,
    cap_text,
    clean_chars,
    clean_line,
    clean_text,
    clean_title,
    decode_text_file,
)
from bot.ingest.text import parse_text

NOW = datetime(2024, 3, 5, tzinfo=UTC)
RUSSIAN_WIRE = (
    "Лавров провёл переговоры с Ван И\n\n"
    "МОСКВА, 4 марта. /ТАСС/. Министр иностранных дел России Сергей Лавров провёл в Москве "
    "переговоры с министром иностранных дел Китая Ван И. Стороны обсудили двусторонние "
    "отношения и подготовку визита, сообщили в МИД России.\n"
)


def _allowed(char: str) -> bool:
    """What may remain after cleaning: no surrogate, no control character but TAB and LF, no
    invisible or bidi override character, no line separator but LF."""
    if char in "\t\n":
        return True
    if unicodedata.category(char) in ("Cs", "Cc"):
        return False
    return char not in "\u00ad\u200b\u200c\u200d\u2060\ufeff\u2028\u2029" and not (
        "\u202a" <= char <= "\u202e" or "\u2066" <= char <= "\u2069"
    )


# Any character, lone surrogates and the troublesome classes made likely.
_ANY_CHAR = st.one_of(
    st.characters(max_codepoint=0x3000),
    st.characters(categories=["Cs", "Cc", "Cf", "Zl", "Zp"]),
    st.sampled_from("\r\n\x00\x85\u2028\u202e\u200b\ufeff\ud800\udfff"),
)


@given(st.text(alphabet=_ANY_CHAR))
def test_clean_chars_leaves_only_allowed_characters_and_is_idempotent(value: str) -> None:
    cleaned = clean_chars(value)
    assert all(_allowed(char) for char in cleaned)
    assert clean_chars(cleaned) == cleaned
    cleaned.encode("utf-8")  # never raises: no lone surrogate is left


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Bad \ud800 title", "Bad \ufffd title"),
        ("Reu\x00ters", "Reuters"),
        ("one\r\ntwo\rthree\u2028four\x85five", "one\ntwo\nthree\nfour\nfive"),
        ("\u202eevil\u202c", "evil"),
        ("zero\u200bwidth soft\u00adhyphen\ufeff", "zerowidth softhyphen"),
        ("bell\x07 and \x1b[31mescape", "bell and [31mescape"),
        ("C1\x9b control", "C1 control"),
        ("tab\tand newline\n", "tab\tand newline\n"),
        ("Ünïcödé 😀 עברית \u200f", "Ünïcödé 😀 עברית \u200f"),
    ],
)
def test_clean_chars(raw: str, clean: str) -> None:
    assert clean_chars(raw) == clean


def test_titles_and_names_are_single_capped_lines() -> None:
    assert clean_line("  Lavrov\n\nmeets\u1680Wang\x1fYi ") == "Lavrov meets WangYi"
    long_title = clean_title("word " * 1000)
    assert len(long_title) <= MAX_TITLE_CHARS
    assert long_title.endswith("…")
    assert clean_title(long_title) == long_title


def test_long_text_is_cut_with_a_note_saying_how_much_more_there_was() -> None:
    text = "A sentence of the article. " * 20_000  # 540,000 characters
    capped = clean_text(text)
    assert len(capped) <= MAX_TEXT_CHARS
    kept, note = capped.rsplit("\n\n", 1)
    assert text.startswith(kept)
    assert note == f"[truncated: {len(text) - len(kept):,} characters more at the source]"
    assert clean_text(capped) == capped  # cutting again changes nothing
    assert clean_text("short text") == "short text"
    # Characters cut off before parsing are counted too.
    assert cap_text("kept", dropped=1234).endswith(
        "[truncated: 1,234 characters more at the source]"
    )


def test_parsed_article_cleans_every_field_however_it_is_built() -> None:
    article = ParsedArticle(
        title="Bad \ud800 title\nsecond line",
        text="Body \x00with NUL. " * 20,
        url="https://example.com/a\x00b",
        source="Reu\x00ters",
        dateline_place="MIN\u202eSK",
        agency="x" * 5000,
        attribution="\x00",
        lang="e\x00n",
        guid="tag:\ud800",
    )
    assert article.title == "Bad \ufffd title second line"
    assert "\x00" not in article.text
    assert article.url == "https://example.com/ab"
    assert article.source == "Reuters"
    assert article.dateline_place == "MINSK"
    assert article.agency is not None and len(article.agency) <= MAX_NAME_CHARS
    assert article.attribution is None  # nothing was left of it
    assert article.lang == "en"
    assert article.guid == "tag:\ufffd"
    again = replace(article, title="Another \x07title", text="x" * (MAX_TEXT_CHARS + 10))
    assert again.title == "Another title"
    assert len(again.text) <= MAX_TEXT_CHARS and again.text.endswith("at the source]")
    assert replace(again) == again


def test_parse_text_reads_the_dateline_behind_control_characters() -> None:
    raw = (
        "\u202eLavrov meets Wang Yi\u202c\n"
        "MOSCOW,\x00 March 4 (TASS) - Russian Foreign Minister Sergei Lavrov held talks with "
        "Chinese Foreign Minister Wang Yi in Moscow on Monday, the ministry said."
    )
    article = parse_text(raw, now=NOW)
    assert article.title == "Lavrov meets Wang Yi"
    assert article.dateline_place == "Moscow"
    assert article.agency == "TASS"


def test_parse_text_of_a_huge_input_parses_only_its_head_and_says_so() -> None:
    paragraph = "The ministers discussed trade, security and the visit next spring. " * 20
    raw = "Ministers meet\n" + "\n".join([paragraph] * 2000)  # about 2.7 million characters
    article = parse_text(raw, now=NOW)
    assert len(article.text) <= MAX_TEXT_CHARS
    count = int(article.text.rsplit("[truncated: ", 1)[1].split(" ")[0].replace(",", ""))
    # What was left out, within the blank lines parsing adds between paragraphs.
    assert len(raw) - MAX_TEXT_CHARS - 4000 <= count <= len(raw)


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("encoding", ["cp1251", "koi8_r", "utf-8"])
def test_russian_text_files_are_decoded_in_their_encoding(encoding: str) -> None:
    assert decode_text_file(RUSSIAN_WIRE.encode(encoding)) == RUSSIAN_WIRE


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
    ],
)
def test_byte_order_marks_decide_the_encoding(bom: bytes, encoding: str) -> None:
    assert decode_text_file(bom + RUSSIAN_WIRE.encode(encoding)) == RUSSIAN_WIRE


def test_utf16_without_a_byte_order_mark_is_recognised() -> None:
    text = "Lavrov met Wang Yi in Moscow on Monday to discuss the visit. " * 5
    assert decode_text_file(text.encode("utf-16-le")) == text


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (gzip.compress(RUSSIAN_WIRE.encode()), "looks like gzip data, not text"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 4, "looks like a PDF document"),
        (b"PK\x03\x04" + b"\x00" * 100, "looks like a ZIP archive"),
        (random.Random(3).randbytes(4000), "binary data, not text"),
        (b"Lavrov\x00\x01\x02\x03 " * 100, "binary data, not text"),
    ],
)
def test_bytes_that_are_not_text_are_refused_with_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(NotTextError) as refused:
        decode_text_file(data)
    assert reason in refused.value.message


def test_a_text_file_with_a_stray_control_character_is_still_text() -> None:
    text = "Lavrov met Wang Yi.\x0c\n" + "The talks went on for hours. " * 20
    assert decode_text_file(text.encode()) == text
