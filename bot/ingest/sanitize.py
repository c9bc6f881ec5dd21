"""Text on its way in: which characters an article may hold, how long it may be, what is text.

Every article field comes from strangers (a pasted message, a page, a bulk file, a feed), and a
character that is harmless in the parser can break a layer far away, long after the record that
carried it is gone: a lone surrogate (a JSON ``"\\ud800"`` escape) cannot be encoded as UTF-8, so
storage fails on it; a NUL cuts strings short in SQLite's C interface, so two copies of one source
name stop being equal; a right-to-left override makes a title read backwards in a list. So the
rule lives here, once, and is applied where text enters: ``ParsedArticle`` runs every field
through it when it is built (so does ``bot.feeds.parse`` for feed entries and feed titles), and
``bot.ingest.text.parse_text`` cleans its input before it looks for headlines and datelines.

Characters (``clean_chars``)
    lone surrogates become U+FFFD; CR LF, CR and the other line separators (VT, FF, FS, GS, RS,
    NEL, U+2028, U+2029) become LF; every other C0 and C1 control character and DEL is removed
    (TAB and LF stay); so are the invisible characters that split words for search (soft hyphen,
    zero-width space, non-joiner and joiner, word joiner, BOM) and the bidirectional embedding,
    override and isolate controls (U+202A-U+202E, U+2066-U+2069). The left-to-right and
    right-to-left marks stay: they only fix how mixed-direction text is shown.

Sizes
    An article's text is at most ``MAX_TEXT_CHARS`` characters: a longer one is cut at a word
    boundary and ends with ``[truncated: N characters more at the source]`` so the reader knows.
    Titles are single lines of at most ``MAX_TITLE_CHARS``, names (source, agency, place) of at
    most ``MAX_NAME_CHARS``; longer ones end with "…". Every step is idempotent: cleaning a clean
    value changes nothing.

Files that are not text (``decode_text_file``)
    A ``.txt`` file is decoded by its byte-order mark, else as UTF-8, else by charset-normalizer's
    guess (Windows-1251, KOI8-R, Latin-1 ...); bytes that start like a known binary format (gzip,
    ZIP, PDF, images ...), that no text encoding fits, or that decode to more than
    ``MAX_CONTROL_SHARE`` control or undecodable characters are refused with ``NotTextError``,
    whose message says what the bytes look like.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

#: The longest article text stored, in characters (about 30,000 words; wire copy is 500-5,000).
MAX_TEXT_CHARS = 200_000
#: The longest title stored, in characters.
MAX_TITLE_CHARS = 1_000
#: The longest source, agency, attribution or place name stored, in characters.
MAX_NAME_CHARS = 200
#: A decoded file with more than this share of control or undecodable characters is not text.
MAX_CONTROL_SHARE = 0.01

TRUNCATION_NOTE = "[truncated: {count:,} characters more at the source]"
# The note's longest form (a count of up to 12 digits) and the blank line before it.
_NOTE_ROOM = len(TRUNCATION_NOTE.format(count=10**12)) + 2
_ELLIPSIS = "…"

_LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_REMOVED = re.compile(
    "[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f"  # C0 and C1 controls, DEL (TAB, LF kept)
    "\u00ad\u200b-\u200d\u2060\ufeff"  # soft hyphen, zero-width characters, BOM
    "\u202a-\u202e\u2066-\u2069]"  # bidi embeddings, overrides and isolates
)
# Everything clean_chars changes: one search tells whether a value is clean already.
_UNCLEAN = re.compile(f"{_LINE_BREAKS.pattern}|{_SURROGATES.pattern}|{_REMOVED.pattern}")


class NotTextError(ValueError):
    """Bytes that are not text; ``message`` says what they look like, in plain words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------- characters


def clean_chars(value: str) -> str:
    """``value`` with surrogates replaced, line breaks unified and unsafe characters removed."""
    if _UNCLEAN.search(value) is None:
        return value
    value = _LINE_BREAKS.sub("\n", value)
    value = _SURROGATES.sub("\ufffd", value)
    return _REMOVED.sub("", value)


def clean_line(value: str) -> str:
    """``clean_chars``, then every run of whitespace (line breaks included) as one space."""
    return " ".join(clean_chars(value).split())


def _shorten(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    cut = value[: limit - len(_ELLIPSIS)]
    if " " in cut[-40:]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + _ELLIPSIS


def clean_title(value: str) -> str:
    """A title: one clean line of at most ``MAX_TITLE_CHARS`` characters."""
    return _shorten(clean_line(value), MAX_TITLE_CHARS)


def clean_name(value: str) -> str:
    """A source, agency or place name: one clean line of at most ``MAX_NAME_CHARS``."""
    return _shorten(clean_line(value), MAX_NAME_CHARS)


def cap_text(text: str, *, dropped: int = 0, limit: int = MAX_TEXT_CHARS) -> str:
    """``text`` within ``limit`` characters, ending with a note when anything was left out.

    ``dropped`` counts characters a caller cut off already (before parsing); the note adds them.
    """
    if len(text) <= limit and not dropped:
        return text
    keep = text[: max(limit - _NOTE_ROOM, 0)] if len(text) > limit - _NOTE_ROOM else text
    if len(keep) < len(text):
        # Cut at a word boundary when there is one near the end.
        boundary = max(keep.rfind(" ", len(keep) - 200), keep.rfind("\n", len(keep) - 200))
        if boundary > 0:
            keep = keep[:boundary]
        keep = keep.rstrip()
    count = len(text) - len(keep) + dropped
    return f"{keep}\n\n{TRUNCATION_NOTE.format(count=count)}"


def clean_text(value: str) -> str:
    """An article's text: ``clean_chars``, within ``MAX_TEXT_CHARS`` (see ``cap_text``)."""
    return cap_text(clean_chars(value))


# --------------------------------------------------------------------------- files

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_BINARY_SIGNATURES = (
    (b"\x1f\x8b", "gzip data"),
    (b"PK\x03\x04", "a ZIP archive (or a Word, Excel or OpenDocument file)"),
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\xfd7zXZ\x00", "xz data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x28\xb5\x2f\xfd", "zstd data"),
    (b"BZh", "bzip2 data"),  # only with the block magic after it, see _looks_like
    (b"\x7fELF", "a program (ELF)"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
#: Bytes given to charset-normalizer: enough to judge, bounded whatever the file's size.
_SNIFF_BYTES = 64 * 1024
# Control characters no text file holds (TAB, LF, CR, VT, FF allowed), and U+FFFD.
_NOT_TEXT = re.compile("[\x00-\x08\x0e-\x1f\x7f\ufffd]")


def _looks_like(data: bytes) -> str | None:
    for signature, kind in _BINARY_SIGNATURES:
        if data.startswith(signature):
            if signature == b"BZh" and data[4:10] != b"1AY&SY":
                continue
            return kind
    return None


def _guess(data: bytes) -> str:
    best = charset_normalizer.from_bytes(data[:_SNIFF_BYTES]).best()
    if best is None:
        raise NotTextError("it looks like binary data, not text: no text encoding fits it")
    return data.decode(best.encoding, "replace")


def decode_text_file(data: bytes) -> str:
    """The text of a file's bytes, in whichever encoding they are; ``NotTextError`` if none."""
    kind = _looks_like(data)
    if kind is not None:
        raise NotTextError(f"it looks like {kind}, not text")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = data[len(bom) :].decode(encoding, "replace")
            break
    else:
        if b"\x00" in data[:_SNIFF_BYTES]:
            text = _guess(data)  # UTF-16 or UTF-32 without a byte-order mark, or binary
        else:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = _guess(data)
    odd = sum(1 for _ in _NOT_TEXT.finditer(text))
    if odd > len(text) * MAX_CONTROL_SHARE:
        raise NotTextError(
            f"it looks like binary data, not text: {odd:,} of its {len(text):,} characters "
            "are control characters or bytes no encoding reads"
        )
    return text
