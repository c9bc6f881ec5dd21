"""Bulk files -> ParsedArticles: JSON arrays, JSON Lines, and single .txt / .html articles.

Records have the fields ``title, text, url, published, source`` (only ``text`` is required;
``published`` is ISO 8601 or RFC 2822; ``guid``/``id`` and ``lang`` are read when present).
``iter_bulk_file`` yields a ``BulkItem`` per good record and a ``BulkError`` (with the line
number) per bad one, and carries on: one broken line never costs the rest of the file. JSON Lines
files are read line by line, so a file of 100k articles is never held in memory at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from bot.ingest.html import parse_html
from bot.ingest.model import IngestError, ParsedArticle
from bot.ingest.text import parse_text

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
        raise IngestError(f"'published' is not an ISO 8601 or RFC 2822 date: {text!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


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


def _iter_jsonl(path: Path, now: datetime) -> Iterator[BulkItem | BulkError]:
    with path.open(encoding="utf-8-sig", errors="replace") as lines:
        for line_number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield BulkError(line_number, f"invalid JSON: {exc.msg} (column {exc.colno})")
                continue
            try:
                yield BulkItem(line_number, parse_record(record, now=now))
            except IngestError as exc:
                yield BulkError(line_number, exc.message)


def _iter_json_array(path: Path, now: datetime) -> Iterator[BulkItem | BulkError]:
    content = path.read_text(encoding="utf-8-sig", errors="replace")
    decoder = json.JSONDecoder()
    position = _skip_space(content, 0)
    if content[position : position + 1] != "[":
        # A single object is a one-record file.
        try:
            record, _end = decoder.raw_decode(content, position)
        except json.JSONDecodeError as exc:
            yield BulkError(exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
            return
        try:
            yield BulkItem(_line_of(content, position), parse_record(record, now=now))
        except IngestError as exc:
            yield BulkError(_line_of(content, position), exc.message)
        return
    position = _skip_space(content, position + 1)
    if content[position : position + 1] == "]":
        return
    while True:
        line_number = _line_of(content, position)
        try:
            record, position = decoder.raw_decode(content, position)
        except json.JSONDecodeError as exc:
            # The array is broken from here on: nothing after this point can be trusted.
            yield BulkError(exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
            return
        try:
            yield BulkItem(line_number, parse_record(record, now=now))
        except IngestError as exc:
            yield BulkError(line_number, exc.message)
        position = _skip_space(content, position)
        separator = content[position : position + 1]
        if separator == "]":
            return
        if separator != ",":
            yield BulkError(_line_of(content, position), "invalid JSON: expected ',' or ']'")
            return
        position = _skip_space(content, position + 1)


def _skip_space(content: str, position: int) -> int:
    while position < len(content) and content[position] in " \t\r\n":
        position += 1
    return position


def _line_of(content: str, position: int) -> int:
    return content.count("\n", 0, position) + 1


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
            text = path.read_text(encoding="utf-8-sig", errors="replace")
            yield BulkItem(1, parse_text(text, now=now))
        else:
            yield BulkItem(1, parse_html(path.read_bytes(), url=None, now=now))
    except IngestError as exc:
        yield BulkError(None, f"{path.name}: {exc.message}")
    except OSError as exc:
        yield BulkError(None, f"{path.name}: cannot read the file ({exc.strerror or exc})")
