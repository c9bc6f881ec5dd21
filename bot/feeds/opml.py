"""OPML 1.0/2.0 subscription lists: import (feed URLs and titles) and export (OPML 2.0).

Import uses the standard library's ``xml.etree`` with two guards instead of adding defusedxml:
the document must be at most ``MAX_OPML_BYTES``, and any DOCTYPE or ENTITY declaration is
refused before parsing (looked for in the bytes and again in the decoded text, so no encoding
can hide one). Expat never fetches external entities, so with no DTD there is nothing
to expand: the billion-laughs and quadratic blow-up attacks both need an internal DTD, and real
OPML files never carry one. That is the whole of what defusedxml would add here.

Expat itself decodes only UTF-8, UTF-16 and single-byte encodings, so the document is decoded
here, by Python's codecs, in the encoding its byte order mark or XML declaration names (UTF-8
when it names none): GB2312, Shift_JIS, Big5 and the like are read as well. A document that
is not valid in that encoding, or names one Python does not know, is refused with the reason.
"""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from bot.ingest.model import IngestError
from bot.ingest.normalize import canonical_url

MAX_OPML_BYTES = 2 * 1024 * 1024
#: Folder titles kept in a feed's category; deeper folders add nothing (and cost nothing).
MAX_CATEGORY_DEPTH = 8

_DTD_DECLARATION = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
_DTD_IN_TEXT = re.compile(r"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
# The encoding an XML declaration names (ASCII-compatible documents; UTF-16 has a BOM).
_DECLARED_ENCODING = re.compile(
    rb"""\A[ \t\r\n]*<\?xml[^>]*?\sencoding[ \t\r\n]*=[ \t\r\n]*["']([A-Za-z][\w.:-]{0,39})["']"""
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE, whose BOM starts it
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class OPMLError(IngestError):
    """An OPML document that cannot be imported; the message says why."""


@dataclass(frozen=True, slots=True)
class OPMLFeed:
    """One feed of an OPML list."""

    url: str
    title: str | None = None
    category: str | None = None  # the titles of the enclosing outlines, joined with " / "


def _ascii_view(data: bytes) -> bytes:
    # A UTF-16 document would hide "<!DOCTYPE" between NUL bytes; look at it without them.
    return data.replace(b"\x00", b"") if b"\x00" in data[:4] else data


def decode_xml(data: bytes) -> str:
    """An XML document's text, decoded as its byte order mark or XML declaration says (UTF-8
    when neither says anything); OPMLError naming the encoding when it cannot be."""
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), None)
    if encoding is None and data[:2] in (b"<\x00", b"\x00<"):
        encoding = "utf-16-le" if data[0] else "utf-16-be"  # UTF-16 without a BOM
    if encoding is None:
        declared = _DECLARED_ENCODING.match(data)
        encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise OPMLError(
            f"unknown encoding {encoding!r} in its XML declaration; save it as UTF-8"
        ) from None
    try:
        return data.decode(codec.name)
    except LookupError:  # a codec that is not a text encoding (base64, zlib, ...)
        raise OPMLError(f"{encoding!r} is not a text encoding; save it as UTF-8") from None
    except UnicodeDecodeError as exc:
        raise OPMLError(
            f"it is not valid {encoding} (byte {exc.start:,} cannot be decoded);"
            " save it in the encoding its XML declaration names, or as UTF-8"
        ) from None


def parse_opml(data: bytes) -> list[OPMLFeed]:
    """Feeds listed in an OPML document, in document order, each URL once.

    Outlines with an ``xmlUrl`` are feeds (``type="rss"`` is not required: many exporters omit
    it); other outlines are folders whose titles become the feeds' category.
    """
    if len(data) > MAX_OPML_BYTES:
        raise OPMLError(f"the OPML file is larger than {MAX_OPML_BYTES // (1024 * 1024)} MB")
    if _DTD_DECLARATION.search(_ascii_view(data)):
        raise OPMLError("the OPML file has a DOCTYPE or entity declarations, which are refused")
    text = decode_xml(data)
    if _DTD_IN_TEXT.search(text):
        raise OPMLError("the OPML file has a DOCTYPE or entity declarations, which are refused")
    try:
        # Text, not bytes: expat then ignores the declared encoding (decoded above).
        root = ET.fromstring(text)  # noqa: S314 - size-capped and DTD-free, see the module doc
    except ET.ParseError as exc:
        raise OPMLError(f"not well-formed XML: {exc}") from None
    if root.tag != "opml":
        raise OPMLError(f"not an OPML document (its root element is <{root.tag}>)")
    body = root.find("body")
    if body is None:
        raise OPMLError("the OPML document has no <body>")

    feeds: list[OPMLFeed] = []
    seen: set[str] = set()

    # Depth-first in document order with an explicit stack: expat accepts any nesting depth,
    # and a recursive walk would let a deeply nested file raise RecursionError.
    stack: list[tuple[ET.Element, tuple[str, ...]]] = [
        (outline, ()) for outline in reversed(body.findall("outline"))
    ]
    while stack:
        outline, path = stack.pop()
        title = (outline.get("title") or outline.get("text") or "").strip() or None
        xml_url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if xml_url:
            try:
                url = canonical_url(xml_url)
            except IngestError:
                continue  # an unusable URL in one outline does not spoil the list
            if url not in seen:
                seen.add(url)
                feeds.append(OPMLFeed(url, title, " / ".join(path) or None))
        inner = path
        if title and not xml_url and len(path) < MAX_CATEGORY_DEPTH:
            inner = (*path, title)
        stack.extend((child, inner) for child in reversed(outline.findall("outline")))
    return feeds


def export_opml(
    feeds: Iterable[tuple[str, str | None]],
    *,
    title: str = "Attaché feeds",
    now: datetime | None = None,
) -> str:
    """An OPML 2.0 document listing ``(url, title)`` feeds, as text (UTF-8 declared)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(
        (now or datetime.now(UTC)).astimezone(UTC), usegmt=True
    )
    body = ET.SubElement(root, "body")
    for url, feed_title in feeds:
        name = feed_title or url
        ET.SubElement(body, "outline", type="rss", text=name, title=name, xmlUrl=url)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
