"""OPML import (OPML 1.0 and 2.0, nested folders, hostile documents) and export."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.feeds.opml import MAX_OPML_BYTES, OPMLError, OPMLFeed, export_opml, parse_opml

OPML_2 = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Diplomacy reading list</title></head>
  <body>
    <outline text="Governments" title="Governments">
      <outline type="rss" text="U.S. Department of State: Press Releases"
               xmlUrl="https://www.state.gov/rss-feed/press-releases/feed/"
               htmlUrl="https://www.state.gov/"/>
      <outline text="Europe">
        <outline type="rss" text="Foreign Office news" xmlUrl="https://example.org/fco.atom"/>
      </outline>
    </outline>
    <outline type="rss" text="Wikinews" xmlUrl="https://en.wikinews.org/w/index.php?title=Special:NewsFeed&amp;feed=atom"/>
    <outline type="rss" text="Duplicate of State" xmlUrl="https://WWW.state.gov/rss-feed/press-releases/feed/?utm_source=x"/>
    <outline text="Not a feed, just a link" htmlUrl="https://www.state.gov/"/>
    <outline type="rss" text="Broken" xmlUrl="mailto:press@state.gov"/>
  </body>
</opml>
"""

OPML_1 = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<opml version="1.0">
<head><title>mySubscriptions</title></head>
<body>
<outline text="State Department" xmlurl="https://www.state.gov/feed/" />
<outline title="Wikinews" type="rss" xmlUrl="https://en.wikinews.org/feed.rss"/>
</body>
</opml>
"""


def test_opml2_nested_outlines_become_feeds_with_categories() -> None:
    feeds = parse_opml(OPML_2)
    assert feeds == [
        OPMLFeed(
            "https://www.state.gov/rss-feed/press-releases/feed",
            "U.S. Department of State: Press Releases",
            "Governments",
        ),
        OPMLFeed("https://example.org/fco.atom", "Foreign Office news", "Governments / Europe"),
        OPMLFeed(
            "https://en.wikinews.org/w/index.php?feed=atom&title=Special:NewsFeed",
            "Wikinews",
            None,
        ),
    ]


def test_opml1_with_lower_case_attribute_and_title_only() -> None:
    feeds = parse_opml(OPML_1)
    assert [(f.url, f.title) for f in feeds] == [
        ("https://www.state.gov/feed", "State Department"),
        ("https://en.wikinews.org/feed.rss", "Wikinews"),
    ]


def test_billion_laughs_in_opml_is_refused_without_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[object] = []
    real_fromstring = ET.fromstring

    def recorded(*args: Any, **kwargs: Any) -> Any:
        parsed.append(args)
        return real_fromstring(*args, **kwargs)

    monkeypatch.setattr(ET, "fromstring", recorded)  # what bot.feeds.opml parses with
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    body = (
        f'<?xml version="1.0"?><!DOCTYPE opml [{entities}]>'
        '<opml version="2.0"><body><outline text="&lol9;" xmlUrl="https://x.org/f"/></body></opml>'
    ).encode()
    with pytest.raises(OPMLError, match="DOCTYPE or entity declarations"):
        parse_opml(body)
    with pytest.raises(OPMLError, match="DOCTYPE or entity declarations"):
        parse_opml(body.decode().encode("utf-16"))
    assert parsed == []  # refused before the XML parser saw it: no entity was expanded
    assert [f.url for f in parse_opml(OPML_1)] == [  # the parser is still used for good lists
        "https://www.state.gov/feed",
        "https://en.wikinews.org/feed.rss",
    ]
    assert len(parsed) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<opml><body><outline text='x'></body>", "not well-formed XML"),
        (b"<rss version='2.0'><channel/></rss>", "not an OPML document"),
        (b"<opml version='2.0'><head/></opml>", "no <body>"),
        (b"<opml>" + b" " * MAX_OPML_BYTES + b"</opml>", "larger than 2 MB"),
    ],
)
def test_bad_opml_is_refused_with_the_reason(body: bytes, reason: str) -> None:
    with pytest.raises(OPMLError, match=reason):
        parse_opml(body)


def test_export_is_valid_opml2_and_round_trips() -> None:
    feeds = [
        ("https://www.state.gov/feed", "U.S. Department of State: Press Releases & Briefings"),
        ("https://en.wikinews.org/feed.rss", None),
    ]
    text = export_opml(feeds, now=datetime(2025, 3, 1, 9, 0, tzinfo=UTC))
    root = ET.fromstring(text)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "Attaché feeds"
    assert root.findtext("head/dateCreated") == "Sat, 01 Mar 2025 09:00:00 GMT"
    outlines = root.findall("body/outline")
    assert [o.get("type") for o in outlines] == ["rss", "rss"]
    assert all(o.get("text") for o in outlines)  # OPML 2.0 requires text on every outline
    assert [(f.url, f.title) for f in parse_opml(text.encode())] == [
        feeds[0],
        ("https://en.wikinews.org/feed.rss", "https://en.wikinews.org/feed.rss"),
    ]
