"""OPML files in any encoding their XML declaration (or byte order mark) names are read; one
that is not valid in it, or names an encoding Python does not know, is refused with the reason;
and no encoding can hide a DOCTYPE from the guard."""

from __future__ import annotations

import codecs

import pytest

from bot.feeds.opml import OPMLError, parse_opml

TITLE = "外交新闻 · Дипломатия"  # Chinese and Russian: not in any one legacy code page
FEED = "https://example.org/feed"


def opml(title: str, encoding: str | None) -> str:
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>\n' if encoding else ""
    return (
        f'{declaration}<opml version="1.0"><head><title>x</title></head><body>'
        f'<outline text="{title}" xmlUrl="{FEED}"/></body></opml>\n'
    )


@pytest.mark.parametrize(
    ("encoding", "title"),
    [
        ("GB2312", "外交新闻"),
        ("gbk", "外交新闻"),
        ("GB18030", TITLE),
        ("Shift_JIS", "外交"),
        ("Big5", "外交新聞"),
        ("windows-1251", "Дипломатия"),
        ("KOI8-R", "Дипломатия"),
        ("ISO-8859-1", "Diplomatie française"),
        ("UTF-8", TITLE),
    ],
)
def test_a_declared_encoding_is_decoded(encoding: str, title: str) -> None:
    feeds = parse_opml(opml(title, encoding).encode(encoding))
    assert [(f.url, f.title) for f in feeds] == [(FEED, title)]


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF8 + opml(TITLE, None).encode("utf-8"),
        opml(TITLE, "UTF-16").encode("utf-16"),  # with its byte order mark
        opml(TITLE, None).encode("utf-16-le"),  # no mark: told by the "<" and its NUL
        opml(TITLE, None).encode("utf-16-be"),
        opml(TITLE, "UTF-32").encode("utf-32"),
        codecs.BOM_UTF8 + opml(TITLE, "GB2312").encode("utf-8"),  # the mark wins
    ],
    ids=["utf-8 bom", "utf-16 bom", "utf-16-le", "utf-16-be", "utf-32 bom", "bom over decl"],
)
def test_a_byte_order_mark_or_utf16_is_decoded(data: bytes) -> None:
    assert [f.title for f in parse_opml(data)] == [TITLE]


def test_no_declaration_means_utf8() -> None:
    assert [f.title for f in parse_opml(opml(TITLE, None).encode("utf-8"))] == [TITLE]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (opml("@", "GB2312").encode("ascii").replace(b"@", b"\xff\xfe"), "not valid GB2312"),
        (opml("x", "x-klingon").encode("ascii"), "unknown encoding 'x-klingon'"),
        (opml("x", "base64").encode("ascii"), "'base64' is not a text encoding"),
        (opml("Дипломатия", None).encode("windows-1251"), "not valid utf-8"),
    ],
)
def test_a_document_that_cannot_be_decoded_is_refused_with_the_reason(
    data: bytes, reason: str
) -> None:
    with pytest.raises(OPMLError, match=reason):
        parse_opml(data)


def test_no_encoding_hides_a_doctype() -> None:
    # UTF-7 spells "<" as "+ADw-": the bytes hold no "<!DOCTYPE", the decoded text does.
    text = '<!DOCTYPE opml [<!ENTITY a "aaaa">]><opml><body/></opml>'
    data = b'<?xml version="1.0" encoding="UTF-7"?>' + text.replace("<", "+ADw-").encode("ascii")
    assert b"<!DOCTYPE" not in data
    with pytest.raises(OPMLError, match="DOCTYPE or entity declarations"):
        parse_opml(data)


def test_decode_xml_reads_only_the_declaration_at_the_start() -> None:
    from bot.feeds.opml import decode_xml

    # An "encoding=" later in the document (here in a title) is not a declaration.
    data = b'<opml><head><title>encoding="GB2312"</title></head><body/></opml>'
    assert decode_xml(data) == data.decode("utf-8")
