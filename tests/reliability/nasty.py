"""The corpus of nasty inputs: small committed cases in ``tests/fixtures/nasty/`` and generators
for the large ones, built at test time so that no megabytes live in the repository.

Every generator is deterministic. Sizes default to just past the limit each one attacks (the
10 MB page cap, libxml2's depth limit, the 4,096-character message size...).
"""

from __future__ import annotations

import zlib
from pathlib import Path

from hypothesis import HealthCheck, settings

NASTY = Path(__file__).parent.parent / "fixtures" / "nasty"

#: Shared hypothesis settings: bounded, deterministic (the same cases on every run, so a failure
#: reproduces) and without an example database in the working tree.
FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: For the parsers that cost milliseconds per case (trafilatura, feedparser).
FUZZ_SLOW = settings(FUZZ, max_examples=100)

TEN_MB = 10 * 1024 * 1024


def read(name: str) -> bytes:
    """A committed case, as bytes."""
    return (NASTY / name).read_bytes()


def hostile_strings() -> list[str]:
    """Names and commands laced with bidi controls, zero-width and soft-hyphen characters."""
    lines = (NASTY / "rtl_zero_width.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def ten_mb_page(extra: int = 1) -> bytes:
    """An HTML page ``extra`` bytes over 10 MB of real-looking paragraphs."""
    paragraph = (
        b"<p>The development of Eurasian integration is one of the priorities of the "
        b"partnership between Russia and Belarus, Sergei Lavrov noted.</p>\n"
    )
    head = b"<html><head><title>Big</title></head><body>"
    size = TEN_MB + extra
    return (head + paragraph * (size // len(paragraph) + 1))[:size]


def deeply_nested_html(depth: int = 100_000) -> str:
    """``depth`` nested ``<div>``s around a real paragraph."""
    paragraph = (
        "<p>MINSK. October 30. KAZINFORM The development of Eurasian integration is one of "
        "the priorities of Russia and Belarus, Sergei Lavrov noted, BelTA reports.</p>"
    )
    return f"<html><body>{'<div>' * depth}{paragraph}{'</div>' * depth}</body></html>"


def deeply_nested_feed(depth: int = 100_000) -> bytes:
    """An RSS item whose description nests ``depth`` unknown elements."""
    return (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Deep</title><item>'
        b"<title>Deep item</title><link>https://example.org/deep</link><description>"
        + b"<x>" * depth
        + b"Eurasian integration"
        + b"</x>" * depth
        + b"</description></item></channel></rss>"
    )


def deeply_nested_json_feed(depth: int = 100_000) -> bytes:
    """A JSON Feed whose items list nests ``depth`` arrays."""
    return (
        b'{"version":"https://jsonfeed.org/version/1.1","title":"Deep","items":'
        + b"[" * depth
        + b"]" * depth
        + b"}"
    )


def deeply_nested_opml(depth: int = 70_000) -> bytes:
    """An OPML list with a feed at the bottom of ``depth`` nested folders (under 2 MB)."""
    return (
        b'<?xml version="1.0"?><opml version="2.0"><head><title>Deep</title></head><body>'
        + b'<outline text="f">' * depth
        + b'<outline text="Wire" xmlUrl="https://example.org/feed.xml"/>'
        + b"</outline>" * depth
        + b"</body></opml>"
    )


def quadratic_blowup_feed(entity_size: int = 10_000, references: int = 50_000) -> bytes:
    """One "simple" entity of ``entity_size`` bytes referenced ``references`` times (no
    nesting): the attack that survives parsers which only refuse nested entities."""
    entity = b"A" * entity_size
    return (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + entity + b'">]>'
        b'<rss version="2.0"><channel><title>Blow-up</title><item><title>x</title>'
        b"<description>" + b"&a;" * references + b"</description></item></channel></rss>"
    )


def gzip_bomb(decoded_size: int = 64 * 1024 * 1024) -> bytes:
    """A gzip stream of ``decoded_size`` zero bytes (about a thousandth of that compressed)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(decoded_size // len(block))]
    parts.append(compressor.flush())
    return b"".join(parts)


def regex_hostile_texts(size: int = 200_000) -> dict[str, str]:
    """Texts that make a careless regular expression quadratic or worse."""
    return {
        "initials": "A." * (size // 2),
        "hyphens": "A-" * (size // 2),
        "reports": "BelTA reports " * (size // 14),
        "according": "according to " * (size // 13),
        "shouting": "MINSK " * (size // 6),
        "datelines": "MINSK, October 30 " * (size // 18),
        "parentheses": "MINSK (" * (size // 7),
        "one long word": "MINSK. October 30. KAZINFORM " + "A" * size,
        "bidi": "\u202e\u200b" * (size // 2),
        "newlines": "x\n" * (size // 2),
    }


def long_query(chars: int = 5_000) -> str:
    """A search query of at least ``chars`` characters (past Telegram's 4,096)."""
    words = ("eurasian", "integration", "OR", '"foreign minister"', "-sport", "secur*")
    text = ""
    index = 0
    while len(text) < chars:
        text += words[index % len(words)] + " "
        index += 1
    return text.strip()


def many_arguments(count: int = 5_000) -> str:
    """``count`` distinct arguments, space separated."""
    return " ".join(f"w{index}" for index in range(count))
