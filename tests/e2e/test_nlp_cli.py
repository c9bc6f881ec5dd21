"""The `attache extract` JSON-lines contract, through `run_extract` and `python -m bot.nlp.cli`."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from bot.nlp.cli import run_extract

ROOT = Path(__file__).resolve().parents[2]
SEED = (ROOT / "tests" / "fixtures" / "seed_kazinform.txt").read_text(encoding="utf-8")


def _run(lines: list[str]) -> tuple[int, list[dict[str, object]]]:
    out = io.StringIO()
    code = run_extract(lines, out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_ids_echoed_with_their_type_and_offsets_index_the_text() -> None:
    lines = [json.dumps({"id": 7, "text": SEED}), json.dumps({"id": "seven", "text": SEED})]
    code, results = _run(lines)
    assert code == 0
    assert [r["id"] for r in results] == [7, "seven"]
    persons = results[0]["persons"]
    assert isinstance(persons, list) and len(persons) == 9
    for p in persons:
        assert SEED[p["start"] : p["end"]] == p["text"] == "Sergei Lavrov"
        assert set(p) == {"start", "end", "text", "canonical"}
    diplomatic = results[0]["diplomatic"]
    assert isinstance(diplomatic, dict) and diplomatic["label"] is True


def test_bad_lines_get_errors_and_the_rest_go_on() -> None:
    lines = [
        "{not json",
        json.dumps({"id": [1, 2]}),
        json.dumps([1]),
        json.dumps({"id": None, "text": "Mr. Lavrov said."}),
    ]
    code, results = _run(lines)
    assert code == 1
    assert results[0]["id"] is None and "error" in results[0]
    assert results[1] == {"id": [1, 2], "error": "missing 'text' (a string)"}
    assert "error" in results[2]
    assert results[3]["persons"] == [
        {"start": 4, "end": 10, "text": "Lavrov", "canonical": "Sergey Lavrov"}
    ]


def test_non_bmp_text_offsets_are_python_indices() -> None:
    text = "🇷🇺 Russian Foreign Minister Sergei Lavrov said so."
    _, results = _run([json.dumps({"id": 1, "text": text}, ensure_ascii=False)])
    persons = results[0]["persons"]
    assert isinstance(persons, list)
    assert text[persons[0]["start"] : persons[0]["end"]] == "Sergei Lavrov"


def test_module_entry_point_reads_a_file(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"id": "a", "text": "NATO and the OSCE met."}) + "\n", encoding="utf-8"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "bot.nlp.cli", str(src)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    result = json.loads(proc.stdout)
    assert [o["canonical"] for o in result["orgs"]] == ["NATO", "OSCE"]
