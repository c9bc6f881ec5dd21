"""`attache extract`: JSON lines in, one JSON line of entities and the diplomatic verdict out.

Input lines are `{"id": ..., "text": ...}`; the id is echoed unchanged (same JSON type). A line
that is not JSON or lacks a string `text` gets `{"id": ..., "error": "..."}` and the rest go on.
Offsets are Python string indices into the given text. Run `python -m bot.nlp.cli [FILE]`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from bot.nlp.model import Span
from bot.nlp.pipeline import extract


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


def run_extract(lines: Iterable[str], out: TextIO) -> int:
    """Process JSON lines; returns 0 when every line was processed, 1 when any line failed."""
    failed = False
    for line in lines:
        if not line.strip():
            continue
        try:
            record: object = json.loads(line)
        except json.JSONDecodeError as exc:
            result: dict[str, Any] = {"id": None, "error": f"invalid JSON: {exc.msg}"}
        else:
            result = extract_record(record)
        failed = failed or "error" in result
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    out.flush()
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """`python -m bot.nlp.cli [FILE]`: read FILE (or stdin), write results to stdout."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] not in ("-", "extract"):
        with Path(args[0]).open(encoding="utf-8") as fh:
            return run_extract(fh, sys.stdout)
    return run_extract(sys.stdin, sys.stdout)


if __name__ == "__main__":
    raise SystemExit(main())
