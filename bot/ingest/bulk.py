"""Bulk files -> ParsedArticles: JSON arrays, JSON Lines, and single .txt / .html articles.

Records have the fields ``title, text, url, published, source`` (only ``text`` is required;
``published`` is ISO 8601 or RFC 2822; ``guid``/``id`` and ``lang`` are read when present).
``iter_bulk_file`` yields a ``BulkItem`` per good record and a ``BulkError`` (with the line
number) per bad one, and carries on: one broken line never costs the rest of the file, whatever
breaks it (invalid or too deeply nested JSON, a missing field, a bug no rule foresaw).

Bounds. JSON Lines files are read line by line, so a file of 100k articles is never held in
memory at once, and a line longer than ``MAX_RECORD_CHARS`` is skipped in bounded steps and
reported. A JSON array is read whole; its records' line numbers are counted as the parse moves
forward (each newline once), so reading it is linear like JSON Lines. A ``.txt`` file may be at
most ``MAX_TEXT_FILE_BYTES``; its encoding is detected and bytes that are not text are refused
with the reason (``bot.ingest.sanitize.decode_text_file``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TextIO

from bot.ingest.html import parse_html
from bot.ingest.model import IngestError, ParsedArticle
from bot.ingest.sanitize import NotTextError, decode_text_file
from bot.ingest.text import parse_text

log = logging.getLogger(__name__)

#: A JSON Lines record longer than this (in characters) is skipped and reported.
MAX_RECORD_CHARS = 10 * 1024 * 1024
#: A .txt file larger than this is refused: one article is at most 200,000 characters.
MAX_TEXT_FILE_BYTES = 10 * 1024 * 1024
#: Characters read at a time while skipping the rest of an over-long line.
_SKIP_CHARS = 1024 * 1024

JSON_SUFFIXES = frozenset({".json"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
TEXT_SUFFIXES = frozenset({".txt", ".text"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
SUPPORTED_SUFFIXES = JSON_SUFFIXES | JSONL_SUFFIXES | TEXT_SUFFIXES | HTML_SUFFIXES


@dataclass(frozen=True, slots=True)
class BulkItem:
    """One good record; ``line_number`` is where it starts (1-based)."""

    line_number: int
    article: ParsedArticle


@dataclass(frozen=True, slots=True)
class BulkError:
    """One bad record, or a file that cannot be read at all (then ``line_number`` is None)."""

    line_number: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line_number}: {self.message}" if self.line_number else self.message


def parse_published(value: object) -> datetime | None:
    """An ISO 8601 or RFC 2822 date/time as an aware UTC datetime; naive times count as UTC.

    Raises ``IngestError`` for a value that is neither.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise IngestError(f"'published' must be a date string, not {type(value).__name__}")
    text = value.strip()
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            parsed = None
    if parsed is None:
        raise IngestError(f"'published' is not an ISO 8601 or RFC 2822 date: {text[:80]!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-01:00 is in the year 10000 in UTC
        raise IngestError(f"'published' is out of range: {text[:80]!r}") from None


def _optional_str(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if not isinstance(value, str | int):
        raise IngestError(f"'{name}' must be a string, not {type(value).__name__}")
    return str(value).strip() or None


def parse_record(record: object, *, now: datetime) -> ParsedArticle:
    """One bulk record (a JSON object) -> ParsedArticle; raises ``IngestError`` if unusable."""
    if not isinstance(record, dict):
        raise IngestError(f"expected a JSON object, found {type(record).__name__}")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise IngestError("the record has no 'text'")
    parsed = parse_text(
        text,
        now=now,
        title=_optional_str(record, "title"),
        url=_optional_str(record, "url"),
        source=_optional_str(record, "source"),
        published_at=parse_published(record.get("published")),
        guid=_optional_str(record, "guid") or _optional_str(record, "id"),
    )
    lang = _optional_str(record, "lang")
    return replace(parsed, lang=lang) if lang else parsed


def _item(line_number: int, record: object, now: datetime) -> BulkItem | BulkError:
    """One record as an item, or the error that explains why it is not one."""
    try:
        return BulkItem(line_number, parse_record(record, now=now))
    except IngestError as exc:
        return BulkError(line_number, exc.message)
    except Exception as exc:
        # A record no rule foresaw must cost only itself, never the rest of the file.
        log.debug("line %d could not be read", line_number, exc_info=True)
        return BulkError(line_number, f"the record could not be read ({type(exc).__name__})")


def _json_error(exc: json.JSONDecodeError) -> str:
    return f"invalid JSON: {exc.msg} (column {exc.colno})"


_TOO_DEEP = "invalid JSON: nested too deeply"


def _iter_jsonl(path: Path, now: datetime) -> Iterator[BulkItem | BulkError]:
    with path.open(encoding="utf-8-sig", errors="replace") as lines:
        line_number = 0
        while line := lines.readline(MAX_RECORD_CHARS + 1):
            line_number += 1
            if len(line) > MAX_RECORD_CHARS and not line.endswith("\n"):
                skipped = len(line) + _skip_rest_of_line(lines)
                yield BulkError(
                    line_number,
                    f"the record is too long: {skipped:,} characters "
                    f"(at most {MAX_RECORD_CHARS:,})",
                )
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield BulkError(line_number, _json_error(exc))
                continue
            except RecursionError:
                yield BulkError(line_number, _TOO_DEEP)
                continue
            yield _item(line_number, record, now)


def _skip_rest_of_line(lines: TextIO) -> int:
    """Read up to the end of the current line in bounded steps; the characters skipped."""
    skipped = 0
    while piece := lines.readline(_SKIP_CHARS):
        skipped += len(piece)
        if piece.endswith("\n"):
            break
    return skipped


class LineNumbers:
    """Line numbers of positions in one text, asked for in increasing order (as a parse moves
    forward): each newline is counted once, so numbering a whole file is linear in its size.
    ``scanned`` counts the characters looked at."""

    def __init__(self, content: str) -> None:
        self._content = content
        self._position = 0
        self._line = 1
        self.scanned = 0

    def at(self, position: int) -> int:
        """The 1-based line of ``position``."""
        if position < self._position:  # backwards: count again from the start
            self._position, self._line = 0, 1
        self._line += self._content.count("\n", self._position, position)
        self.scanned += position - self._position
        self._position = position
        return self._line


# A JSON string (escapes included) or a bracket: enough to find where a value ends.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def _end_of_value(content: str, start: int) -> int | None:
    """Where the array or object starting at ``start`` ends (brackets matched, strings skipped),
    or None when its brackets never close. For values too deep for the JSON parser."""
    depth = 0
    for match in _JSON_TOKEN.finditer(content, start):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
        elif token in ("]", "}"):
            depth -= 1
            if depth <= 0:
                return match.end() if depth == 0 else None
    return None


def _iter_json_array(path: Path, now: datetime) -> Iterator[BulkItem | BulkError]:
    content = path.read_text(encoding="utf-8-sig", errors="replace")
    decoder = json.JSONDecoder()
    lines = LineNumbers(content)
    position = _skip_space(content, 0)
    if content[position : position + 1] != "[":
        # A single object is a one-record file.
        try:
            record, _end = decoder.raw_decode(content, position)
        except json.JSONDecodeError as exc:
            yield BulkError(exc.lineno, _json_error(exc))
            return
        except RecursionError:
            yield BulkError(lines.at(position), _TOO_DEEP)
            return
        yield _item(lines.at(position), record, now)
        return
    position = _skip_space(content, position + 1)
    if content[position : position + 1] == "]":
        return
    while True:
        line_number = lines.at(position)
        try:
            record, position = decoder.raw_decode(content, position)
        except json.JSONDecodeError as exc:
            # The array is broken from here on: nothing after this point can be trusted.
            yield BulkError(exc.lineno, _json_error(exc))
            return
        except RecursionError:
            end = _end_of_value(content, position)
            yield BulkError(line_number, _TOO_DEEP)
            if end is None:
                return  # its brackets never close: nothing after it can be read
            position = end
        else:
            yield _item(line_number, record, now)
        position = _skip_space(content, position)
        separator = content[position : position + 1]
        if separator == "]":
            return
        if separator != ",":
            yield BulkError(lines.at(position), "invalid JSON: expected ',' or ']'")
            return
        position = _skip_space(content, position + 1)


def _skip_space(content: str, position: int) -> int:
    while position < len(content) and content[position] in " \t\r\n":
        position += 1
    return position


def _text_file(path: Path, now: datetime) -> BulkItem:
    size = path.stat().st_size
    if size > MAX_TEXT_FILE_BYTES:
        raise IngestError(
            f"the file is too large for one article: {size / 1048576:.1f} MB "
            f"(at most {MAX_TEXT_FILE_BYTES // 1048576} MB)"
        )
    try:
        text = decode_text_file(path.read_bytes())
    except NotTextError as exc:
        raise IngestError(exc.message) from None
    return BulkItem(1, parse_text(text, now=now))


def iter_bulk_file(path: Path, *, now: datetime) -> Iterator[BulkItem | BulkError]:
    """Yield every article of a bulk file (by suffix: .json, .jsonl/.ndjson, .txt, .html)."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        known = ", ".join(sorted(SUPPORTED_SUFFIXES))
        yield BulkError(None, f"{path.name}: unsupported file type {suffix or '(none)'} ({known})")
        return
    try:
        if suffix in JSONL_SUFFIXES:
            yield from _iter_jsonl(path, now)
        elif suffix in JSON_SUFFIXES:
            yield from _iter_json_array(path, now)
        elif suffix in TEXT_SUFFIXES:
            yield _text_file(path, now)
        else:
            yield BulkItem(1, parse_html(path.read_bytes(), url=None, now=now))
    except IngestError as exc:
        yield BulkError(None, f"{path.name}: {exc.message}")
    except OSError as exc:
        yield BulkError(None, f"{path.name}: cannot read the file ({exc.strerror or exc})")
    except Exception as exc:
        # The records read so far stand; the file's reader met something no rule foresaw.
        log.exception("reading %s failed", path)
        yield BulkError(None, f"{path.name}: the file could not be read ({type(exc).__name__})")
