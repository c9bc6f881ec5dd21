"""`attache extract`: JSON lines in, one JSON line of entities and the diplomatic verdict out.

Input lines are `{"id": ..., "text": ...}`; the id is echoed unchanged (same JSON type). A line
that is not JSON, not UTF-8, or lacks a string `text` gets `{"id": ..., "error": "..."}` and the
rest go on. Input that does not start as UTF-8 text (a NUL byte or a byte sequence that is not
UTF-8 in its first :data:`SNIFF_BYTES`: a binary file, or UTF-16) is refused whole with
:class:`InputError`, before anything is written. Offsets are Python string indices into the given
text. Run `python -m bot.nlp.cli [FILE]`.
"""

from __future__ import annotations

import codecs
import io
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO, cast

from bot.nlp.model import Span
from bot.nlp.pipeline import extract

#: How much of the input is looked at before anything is processed, to refuse binary input.
SNIFF_BYTES = 8192


class InputError(Exception):
    """The input cannot be read as JSON lines at all; the message says why and what to do."""


def text_lines(stream: io.BufferedReader, name: str) -> Iterator[str | bytes]:
    """The lines of UTF-8 input, decoded (a UTF-8 byte order mark dropped); a later line that
    is not UTF-8 is yielded as its bytes, for :func:`run_extract` to report.

    Raises InputError when the input does not start as UTF-8 text (see the module doc)."""
    head = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]
    try:
        if b"\x00" in head:
            raise ValueError("NUL bytes")
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except ValueError:  # UnicodeDecodeError included
        raise InputError(
            f"{name} is not UTF-8 text (a binary file?); give JSON lines in UTF-8,"
            ' one {"id": ..., "text": ...} object a line'
        ) from None
    first = True
    for raw in stream:
        try:
            line = raw.decode("utf-8-sig" if first else "utf-8")
        except UnicodeDecodeError:
            yield raw
        else:
            yield line
        first = False


def _spans(spans: Iterable[Span]) -> list[dict[str, Any]]:
    return [
        {"start": s.start, "end": s.end, "text": s.text, "canonical": s.canonical} for s in spans
    ]


def extract_record(record: object) -> dict[str, Any]:
    """One decoded input value -> the output object (an error object when it has no text)."""
    if not isinstance(record, dict):
        return {"id": None, "error": "each line must be a JSON object with a 'text' field"}
    ident = record.get("id")
    text = record.get("text")
    if not isinstance(text, str):
        return {"id": ident, "error": "missing 'text' (a string)"}
    found = extract(text)
    verdict = found.diplomatic
    return {
        "id": ident,
        "persons": _spans(found.persons),
        "countries": _spans(found.countries),
        "orgs": _spans(found.orgs),
        "diplomatic": {
            "score": verdict.score,
            "label": verdict.label,
            "reasons": list(verdict.reasons),
        },
    }


def run_extract(lines: Iterable[str | bytes], out: TextIO) -> int:
    """Process JSON lines (bytes: a line that is not UTF-8, see :func:`text_lines`); returns 0
    when every line was processed, 1 when any line failed."""
    failed = False
    for number, line in enumerate(lines, start=1):
        result: dict[str, Any]
        if isinstance(line, bytes):
            result = {"id": None, "error": f"line {number} is not UTF-8 text"}
        elif not line.strip():
            continue
        else:
            try:
                record: object = json.loads(line)
            except json.JSONDecodeError as exc:
                result = {"id": None, "error": f"invalid JSON: {exc.msg}"}
            else:
                result = extract_record(record)
        failed = failed or "error" in result
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    out.flush()
    return 1 if failed else 0


def extract_file(path: str | None, out: TextIO) -> int:
    """`attache extract [FILE]`: FILE (standard input for None or "-") through
    :func:`run_extract`. Raises OSError when FILE cannot be opened, InputError when it is not
    text."""
    if path in (None, "-"):
        stdin = cast(io.BufferedReader, sys.stdin.buffer)  # what Python gives a process
        return run_extract(text_lines(stdin, "standard input"), out)
    with Path(path).open("rb") as stream:  # a BufferedReader
        return run_extract(text_lines(stream, str(path)), out)


def main(argv: list[str] | None = None) -> int:
    """`python -m bot.nlp.cli [FILE]`: read FILE (or stdin), write results to stdout."""
    args = sys.argv[1:] if argv is None else argv
    path = args[0] if args and args[0] not in ("-", "extract") else None
    try:
        return extract_file(path, sys.stdout)
    except (OSError, InputError) as exc:
        sys.stderr.write(f"extract: {exc}\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
