"""Ingesting stays bounded and isolated whatever a file holds (issue 15).

- Memory: fingerprinting hashes shingles in blocks, stored text is capped, a bulk report lists
  at most ``MAX_LISTED_ERRORS`` errors; checked by tracemalloc peaks and by the peak RSS of a
  real ``attache ingest`` process, as ratios to the input's size (never a time).
- Isolation: one bad record (too deeply nested JSON, a lone surrogate, a NUL, an unusable URL)
  is reported with its line, and every good record of the file is stored.
- Line numbers of a JSON array are counted once per character, not from the file's start for
  every record (which made a 100k-record array quadratic).
- ``.txt`` files are decoded in their own encoding, and bytes that are not text are refused.

Everything runs the real command line on real SQLite files.
"""

from __future__ import annotations

import asyncio
import codecs
import gzip
import json
import random
import subprocess
import sys
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import pytest

from bot import __main__ as cli
from bot.feeds.parse import parse_feed
from bot.ingest import bulk, normalize
from bot.ingest.model import MAX_ERROR_CHARS, MAX_LISTED_ERRORS, IngestReport, ParsedArticle
from bot.ingest.normalize import build_new_article
from bot.ingest.sanitize import MAX_TEXT_CHARS
from storage.models import Article
from storage.sqlite import SQLiteStorage

NOW = datetime(2024, 11, 5, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
RECORDS = [
    json.loads(line)
    for line in (FIXTURES / "statedept_digest_40.jsonl").read_text(encoding="utf-8").splitlines()
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads settings from the environment; keep the developer's settings out."""
    for name in ("DATABASE_URL", "TELEGRAM_BOT_TOKEN", "FETCH_ALLOW_PRIVATE", "ADMIN_IDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(ROOT)


def ingest_json(capsys: pytest.CaptureFixture[str], db: Path, *paths: Path) -> dict[str, object]:
    code = cli.main(["ingest", "--db", str(db), "--json", *map(str, paths)])
    report: dict[str, object] = json.loads(capsys.readouterr().out)
    assert code == (0 if report["failed"] == 0 else 1)
    return report


def stored(db: Path) -> list[Article]:
    async def read() -> list[Article]:
        async with SQLiteStorage(db) as storage:
            return [article async for article in storage.iter_articles()]

    return asyncio.run(read())


def words(count_chars: int, seed: int) -> str:
    """Distinct sentence-like text of about ``count_chars`` characters."""
    rng = random.Random(seed)
    vocabulary = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 10)))
                  for _ in range(5000)]  # fmt: skip
    sentences: list[str] = []
    size = 0
    while size < count_chars:
        sentence = " ".join(rng.choices(vocabulary, k=15)).capitalize() + ". "
        sentences.append(sentence)
        size += len(sentence)
    return "".join(sentences)


# --------------------------------------------------------------------------- memory


def _reference_slots(normalized: str) -> npt.NDArray[np.uint32]:
    """The signature as it was first computed: every shingle against every permutation at once.
    Stored signatures were made so; the blocked computation must give the same bits."""
    tokens = normalized.split()
    if not tokens:
        return normalize._EMPTY_SIGNATURE
    hashes = normalize._word_hashes(tokens)
    if len(tokens) < 3:
        keys = np.array([np.bitwise_xor.reduce(hashes * normalize._WORD_WEIGHT_1)], np.uint64)
    else:
        keys = (
            hashes[:-2] * normalize._WORD_WEIGHT_1
            + hashes[1:-1] * normalize._WORD_WEIGHT_2
            + hashes[2:]
        )
    keys = normalize._mix(keys)
    hashed = keys[:, None] * normalize._PERM_A + normalize._PERM_B
    minimum: npt.NDArray[np.uint64] = hashed.min(axis=0)
    return (minimum >> np.uint64(32)).astype(np.uint32)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Lavrov",
        "Lavrov met",
        "Lavrov met Wang",
        words(200_000, seed=1),  # several segments and shingle blocks
        "x " * (normalize.SEGMENT_CHARS // 2 + 1) + "end",  # one-letter words across segments
        "a" * (normalize.SEGMENT_CHARS * 2) + " b c",  # a word longer than a segment
    ],
    ids=["empty", "one word", "two words", "three words", "long", "short words", "long word"],
)
def test_blocked_signature_is_bit_for_bit_the_reference(text: str) -> None:
    normalized = normalize.normalize_text(text)
    assert np.array_equal(normalize._signature_slots(normalized), _reference_slots(normalized))


def test_fingerprinting_memory_does_not_grow_with_the_shingle_matrix() -> None:
    # All shingles at once took a (shingles x 128) uint64 matrix: about 160 bytes per character
    # of text (390 MB for 2 MB). Blocks of 4,096 shingles keep the matrix at 4 MB; what is left
    # is normalising the text (a few copies and its list of words, about 11 bytes a character).
    text = words(1_000_000, seed=2)
    tracemalloc.start()
    try:
        normalize.fingerprint_and_signature(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * len(text)


PEAK_PROBE = """
import resource, sys
from bot.__main__ import main
db, small, big = sys.argv[1:4]
main(["ingest", "--db", db, "--json", small])  # imports, NLP tables, schema: the baseline
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
main(["ingest", "--db", db, "--json", big])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before * 1024, after * 1024)  # ru_maxrss is in kB on Linux
"""


def test_a_large_record_costs_memory_in_proportion_to_its_size(tmp_path: Path) -> None:
    # Measured: about 3 bytes per character of the record (the line, the decoded string, the
    # text parsed up to twice the stored maximum), against 160 before the fix.
    small, big = tmp_path / "small.jsonl", tmp_path / "big.jsonl"
    small.write_text(json.dumps(RECORDS[0]) + "\n", encoding="utf-8")
    record = {"title": "A very long record", "text": words(2_000_000, seed=3)}
    big.write_text(json.dumps(record) + "\n", encoding="utf-8")
    probe = subprocess.run(
        [sys.executable, "-c", PEAK_PROBE, str(tmp_path / "a.db"), str(small), str(big)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    before, after = map(int, probe.stdout.split()[-2:])
    assert after - before < 10 * big.stat().st_size

    (article,) = [a for a in stored(tmp_path / "a.db") if a.title == "A very long record"]
    assert len(article.text) <= MAX_TEXT_CHARS
    kept, note = article.text.rsplit("\n\n", 1)
    assert record["text"].startswith(kept)
    assert note.startswith("[truncated: ") and note.endswith(" characters more at the source]")
    # Counted in the cleaned text: the record's trailing space is not counted.
    more = int(note.split()[1].replace(",", ""))
    assert len(record["text"]) - len(kept) - 2 <= more <= len(record["text"]) - len(kept)


def test_report_lists_the_first_errors_and_counts_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    bad_lines = MAX_LISTED_ERRORS + 200
    path.write_text("not json\n" * bad_lines + json.dumps(RECORDS[0]) + "\n", encoding="utf-8")

    report = ingest_json(capsys, tmp_path / "a.db", path)
    assert (report["added"], report["failed"]) == (1, bad_lines)
    errors = report["errors"]
    assert isinstance(errors, list) and len(errors) == MAX_LISTED_ERRORS
    assert errors[-1]["source"] == f"{path}:{MAX_LISTED_ERRORS}"
    assert report["errors_not_listed"] == 200

    assert cli.main(["ingest", "--db", str(tmp_path / "b.db"), str(path)]) == 1
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len([line for line in lines if line.startswith(f"error: {path}:")]) == MAX_LISTED_ERRORS
    assert "error: ... and 200 more" in lines
    assert out.splitlines()[-1] == f"1 added, 0 duplicates, {bad_lines} failed"


def test_a_listed_error_keeps_a_bounded_message() -> None:
    report = IngestReport()
    report.fail("file.jsonl:1", "x" * 1_000_000)
    assert report.failed == 1 and len(report.errors[0].error) <= MAX_ERROR_CHARS


# --------------------------------------------------------------------------- isolation

BAD_LINES = {
    "nested too deeply": ("[" * 100_000, "invalid JSON: nested too deeply"),
    "broken JSON": ('{"title": "broken", "text": ', "invalid JSON"),
    "unusable URL": (
        json.dumps({**RECORDS[9], "url": "javascript:alert(1)"}),
        "not a web URL",
    ),
    "text not a string": (json.dumps({"text": ["a", "list"]}), "no 'text'"),
}


@pytest.mark.parametrize("case", BAD_LINES)
def test_one_bad_line_costs_only_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    bad_line, message = BAD_LINES[case]
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        "\n".join([json.dumps(RECORDS[0]), bad_line, json.dumps(RECORDS[1])]) + "\n",
        encoding="utf-8",
    )
    report = ingest_json(capsys, tmp_path / "a.db", path)
    assert (report["added"], report["failed"]) == (2, 1)
    errors = report["errors"]
    assert isinstance(errors, list)
    assert errors[0]["source"] == f"{path}:2"
    assert message in errors[0]["error"]
    assert {a.title for a in stored(tmp_path / "a.db")} == {
        RECORDS[0]["title"],
        RECORDS[1]["title"],
    }


def test_hostile_characters_are_cleaned_and_every_good_line_is_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    surrogate = {**RECORDS[2], "title": "Bad \ud800 title"}
    nul_source = {**RECORDS[3], "source": "Reu\x00ters", "title": "NUL\x00 in\u202e the title"}
    lines = [
        json.dumps(RECORDS[0]),
        "[" * 100_000,
        json.dumps(surrogate),  # json.dumps writes the escape "\\ud800", as a stranger would
        json.dumps(nul_source),
        json.dumps({**RECORDS[4], "url": "https://example.com/\ud800"}),
        json.dumps(RECORDS[5]),
    ]
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = ingest_json(capsys, tmp_path / "a.db", path)
    assert (report["added"], report["failed"]) == (5, 1)
    errors = report["errors"]
    assert isinstance(errors, list)
    assert [e["source"] for e in errors] == [f"{path}:2"]
    by_title = {a.title: a for a in stored(tmp_path / "a.db")}
    assert set(by_title) == {
        RECORDS[0]["title"],
        "Bad \ufffd title",
        "NUL in the title",
        RECORDS[4]["title"],
        RECORDS[5]["title"],
    }
    assert by_title[RECORDS[4]["title"]].url == "https://example.com/%EF%BF%BD"
    assert by_title["NUL in the title"].source == "Reuters"

    code = cli.main(["search", "--db", str(tmp_path / "a.db"), "--json", "source:reuters"])
    found = json.loads(capsys.readouterr().out)
    assert code == 0 and [r["title"] for r in found["results"]] == ["NUL in the title"]


# --------------------------------------------------------------------------- JSON arrays


class CountingLineNumbers(bulk.LineNumbers):
    """``bulk.LineNumbers`` that remembers every instance, to read how much each scanned."""

    made: ClassVar[list[bulk.LineNumbers]] = []

    def __init__(self, content: str) -> None:
        super().__init__(content)
        CountingLineNumbers.made.append(self)


def test_json_array_line_numbers_scan_each_character_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The old way counted newlines from the file's start for every record: sum over records of
    # their offsets, quadratic in the file (275 s for 100k records). Counting on from the last
    # record scans the file once, whatever the number of records.
    records = [{**RECORDS[i % len(RECORDS)], "id": str(i)} for i in range(400)]
    path = tmp_path / "array.json"
    content = json.dumps(records, indent=1)
    path.write_text(content, encoding="utf-8")
    CountingLineNumbers.made.clear()
    monkeypatch.setattr(bulk, "LineNumbers", CountingLineNumbers)

    items = list(bulk.iter_bulk_file(path, now=NOW))

    assert len(items) == 400 and all(isinstance(item, bulk.BulkItem) for item in items)
    # Each record starts on the line after the "{" lines before it.
    expected = [n + 1 for n, line in enumerate(content.splitlines()) if line == " {"]
    assert [item.line_number for item in items] == expected
    (numbers,) = CountingLineNumbers.made
    assert numbers.scanned <= len(content)


def test_a_too_deep_record_in_a_json_array_is_skipped_and_the_rest_read(tmp_path: Path) -> None:
    deep = "[" * 50_000 + '"a \\" ] string"' + "]" * 50_000
    path = tmp_path / "array.json"
    path.write_text(
        "[\n" + json.dumps(RECORDS[0]) + ",\n" + deep + ",\n" + json.dumps(RECORDS[1]) + "\n]",
        encoding="utf-8",
    )
    items = list(bulk.iter_bulk_file(path, now=NOW))
    assert [type(item) for item in items] == [bulk.BulkItem, bulk.BulkError, bulk.BulkItem]
    assert str(items[1]) == "line 3: invalid JSON: nested too deeply"
    assert items[2].line_number == 4


# --------------------------------------------------------------------------- text files

RUSSIAN = (
    "Лавров провёл переговоры с Ван И\n\n"
    "МОСКВА, 4 марта. /ТАСС/. Министр иностранных дел России Сергей Лавров провёл в Москве "
    "переговоры с министром иностранных дел Китая Ван И. Стороны обсудили двусторонние "
    "отношения и подготовку визита, сообщили в МИД России.\n"
)
RUSSIAN_OTHER = (
    "Захарова ответила на вопросы журналистов\n\n"
    "МОСКВА, 5 марта. /ТАСС/. Официальный представитель МИД Мария Захарова на брифинге "
    "рассказала о графике министра и о консультациях по вопросам стратегической стабильности.\n"
)


def test_text_files_are_decoded_or_refused_and_the_good_ones_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cp1251 = tmp_path / "lavrov_cp1251.txt"
    cp1251.write_bytes(RUSSIAN.encode("cp1251"))
    utf16 = tmp_path / "zakharova_utf16.txt"
    utf16.write_bytes(codecs.BOM_UTF16_LE + RUSSIAN_OTHER.encode("utf-16-le"))
    zipped = tmp_path / "wire.txt"
    zipped.write_bytes(gzip.compress(RECORDS[0]["text"].encode()))
    noise = tmp_path / "noise.txt"
    noise.write_bytes(random.Random(5).randbytes(3000))
    good = tmp_path / "good.txt"
    good.write_text(RECORDS[6]["title"] + "\n\n" + RECORDS[6]["text"], encoding="utf-8")

    report = ingest_json(capsys, tmp_path / "a.db", cp1251, utf16, zipped, noise, good)
    assert (report["added"], report["failed"]) == (3, 2)
    errors = report["errors"]
    assert isinstance(errors, list)
    assert [e["source"] for e in errors] == [str(zipped), str(noise)]
    assert errors[0]["error"] == "wire.txt: it looks like gzip data, not text"
    assert errors[1]["error"].startswith("noise.txt: it looks like binary data, not text")
    titles = {a.title for a in stored(tmp_path / "a.db")}
    assert titles == {
        "Лавров провёл переговоры с Ван И",
        "Захарова ответила на вопросы журналистов",
        RECORDS[6]["title"],
    }

    code = cli.main(["search", "--db", str(tmp_path / "a.db"), "--json", "Лавров"])
    found = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [r["title"] for r in found["results"]] == ["Лавров провёл переговоры с Ван И"]


def test_a_large_feed_entry_costs_memory_in_proportion_to_its_size() -> None:
    # One 9.5 MB JSON Feed entry peaked at 1.87 GB: its whole text was fingerprinted at once.
    paragraphs = "".join(f"<p>{sentence}.</p>" for sentence in words(2_000_000, seed=4).split(". "))
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Big",
        "items": [{"id": "tag:big", "title": "A very long entry", "content_html": paragraphs}],
    }
    body = json.dumps(document).encode()
    tracemalloc.start()
    try:
        feed = parse_feed(body, url="https://example.com/feed", content_type=None, now=NOW)
        (entry,) = feed.entries
        article = build_new_article(ParsedArticle(title=entry.title, text=entry.text, source="Big"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * len(body)  # about 14 bytes a byte: JSON, HTML parsing, text; 160 before
    assert len(article.text) <= MAX_TEXT_CHARS and article.text.endswith("at the source]")
