"""``attache extract`` reads JSON lines in UTF-8: a UTF-8 byte order mark is fine, a line that is
not UTF-8 gets an error object (the rest go on), and input that does not start as text (a binary
file, UTF-16) is refused in one line before anything is written."""

from __future__ import annotations

import codecs
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.nlp.cli import SNIFF_BYTES

ROOT = Path(__file__).parents[2]
TEXT = "Russian Foreign Minister Sergei Lavrov met his Belarusian counterpart in Minsk."


def extract(tmp_path: Path, *argv: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "bot", "extract", *argv],
        input=stdin,
        capture_output=True,
        check=False,
        cwd=tmp_path,
        env=env,
    )


def line(ident: int) -> bytes:
    return json.dumps({"id": ident, "text": TEXT}).encode() + b"\n"


def test_a_line_that_is_not_utf8_is_reported_and_the_rest_go_on(tmp_path: Path) -> None:
    # Past the first SNIFF_BYTES (which are checked whole, to refuse binary files at once).
    good = [line(i) for i in range(1, 101)]
    assert sum(map(len, good)) > SNIFF_BYTES
    path = tmp_path / "in.jsonl"
    path.write_bytes(
        codecs.BOM_UTF8 + b"".join(good) + b'{"id": 0, "text": "caf\xe9"}\n' + line(102)
    )
    result = extract(tmp_path, str(path))
    rows = [json.loads(row) for row in result.stdout.decode().splitlines()]
    assert result.returncode == 1
    assert [row["id"] for row in rows] == [*range(1, 101), None, 102]
    assert rows[100] == {"id": None, "error": "line 101 is not UTF-8 text"}
    assert {p["canonical"] for p in rows[0]["persons"]} == {"Sergey Lavrov"}
    assert result.stderr == b""


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 4,
        line(1).decode().encode("utf-16"),
        b"\x1f\x8b\x08\x00" + bytes(100),  # gzip
        line(1).decode().replace("Minsk", "Мінск").encode("cp1251"),  # a legacy code page
    ],
    ids=["binary", "utf-16", "gzip", "cp1251"],
)
def test_input_that_is_not_text_is_refused_in_one_line(tmp_path: Path, data: bytes) -> None:
    for argv, stdin in (((), data), (("-",), data)):
        result = extract(tmp_path, *argv, stdin=stdin)
        err = result.stderr.decode()
        assert result.returncode == 1
        assert result.stdout == b""
        assert err.count("\n") == 1 and "Traceback" not in err
        assert "standard input is not UTF-8 text" in err
