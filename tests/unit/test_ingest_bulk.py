"""bot.ingest.bulk: JSON Lines and JSON arrays with bad records, single .txt and .html files."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.ingest import bulk
from bot.ingest.bulk import BulkError, BulkItem, iter_bulk_file, parse_published

FIXTURES = Path(__file__).parents[1] / "fixtures"
NOW = datetime(2024, 11, 5, tzinfo=UTC)
SEED_TEXT = (FIXTURES / "seed_kazinform.txt").read_text(encoding="utf-8")
STATE_DEPT = (FIXTURES / "statedept_thailand_dialogue.txt").read_text(encoding="utf-8")
STATE_DEPT_BODY = STATE_DEPT.split("\n\n", 1)[1]


def _records() -> list[dict[str, object]]:
    return [
        {
            "title": "Eurasian integration named one of priorities of Russia, Belarus",
            "text": SEED_TEXT,
            "url": "https://www.inform.kz/en/story?utm_source=x",
            "published": "2019-10-30T14:25:00+06:00",
            "source": "Kazinform",
        },
        {
            "title": "Seventh U.S.-Thailand Strategic Dialogue",
            "text": STATE_DEPT_BODY,
            "url": "https://www.state.gov/seventh-u-s-thailand-strategic-dialogue/",
            "published": "Fri, 21 May 2021 15:53:18 +0000",
            "source": "U.S. Department of State",
        },
    ]


def test_jsonl_with_a_bad_line_in_the_middle(tmp_path: Path) -> None:
    first, second = _records()
    path = tmp_path / "articles.jsonl"
    path.write_text(
        json.dumps(first) + "\n" + '{"title": "broken", "text": \n' + json.dumps(second) + "\n",
        encoding="utf-8",
    )
    results = list(iter_bulk_file(path, now=NOW))
    assert [type(result) for result in results] == [BulkItem, BulkError, BulkItem]
    good_first, error, good_second = results
    assert isinstance(error, BulkError)
    assert error.line_number == 2
    assert "invalid JSON" in error.message
    assert str(error).startswith("line 2: ")
    assert isinstance(good_first, BulkItem) and isinstance(good_second, BulkItem)
    assert good_first.line_number == 1
    assert good_second.line_number == 3
    assert good_first.article.title == first["title"]
    assert good_first.article.published_at == datetime(2019, 10, 30, 8, 25, tzinfo=UTC)
    assert good_first.article.dateline_place == "Minsk"
    assert good_first.article.text.startswith("The development of Eurasian integration")
    assert good_second.article.published_at == datetime(2021, 5, 21, 15, 53, 18, tzinfo=UTC)
    assert good_second.article.source == "U.S. Department of State"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"title": "no text"}', "no 'text'"),
        ('{"text": ""}', "no 'text'"),
        ('["a", "list"]', "expected a JSON object"),
        ('{"text": "' + "Long enough text. " * 10 + '", "published": "yesterday"}', "published"),
        ('{"text": "too short"}', "too short"),
    ],
)
def test_jsonl_record_errors_are_explained(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "one.jsonl"
    good = json.dumps(_records()[1])
    path.write_text(f"{good}\n\n{line}\n", encoding="utf-8")
    results = list(iter_bulk_file(path, now=NOW))
    assert isinstance(results[0], BulkItem)
    assert isinstance(results[1], BulkError)
    assert results[1].line_number == 3  # the blank line is counted, not reported
    assert message in results[1].message


def test_json_array_reports_the_line_of_a_bad_record(tmp_path: Path) -> None:
    first, second = _records()
    path = tmp_path / "articles.json"
    path.write_text(
        "[\n"
        + json.dumps(first)
        + ",\n"
        + '{"title": "no text here"},\n'
        + json.dumps(second)
        + "\n]",
        encoding="utf-8",
    )
    results = list(iter_bulk_file(path, now=NOW))
    assert [type(result) for result in results] == [BulkItem, BulkError, BulkItem]
    assert results[1].line_number == 3
    assert results[2].line_number == 4


def test_broken_json_array_keeps_the_records_before_the_break(tmp_path: Path) -> None:
    first, _ = _records()
    path = tmp_path / "broken.json"
    path.write_text("[\n" + json.dumps(first) + ",\n{oops}\n]", encoding="utf-8")
    results = list(iter_bulk_file(path, now=NOW))
    assert isinstance(results[0], BulkItem)
    assert isinstance(results[1], BulkError)
    assert results[1].line_number == 3


def test_plain_text_file_is_one_article(tmp_path: Path) -> None:
    path = tmp_path / "seed.txt"
    shutil.copy(FIXTURES / "seed_kazinform.txt", path)
    (item,) = list(iter_bulk_file(path, now=NOW))
    assert isinstance(item, BulkItem)
    assert item.article.title == "Eurasian integration named one of priorities of Russia, Belarus"
    assert item.article.agency == "Kazinform"


def test_html_file_is_one_article(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    shutil.copy(FIXTURES / "kazinform_article.html", path)
    (item,) = list(iter_bulk_file(path, now=NOW))
    assert isinstance(item, BulkItem)
    assert item.article.source == "Kazinform"


def test_unusable_files_are_reported(tmp_path: Path) -> None:
    (error,) = list(iter_bulk_file(tmp_path / "photo.png", now=NOW))
    assert isinstance(error, BulkError) and "unsupported file type .png" in error.message
    (missing,) = list(iter_bulk_file(tmp_path / "missing.jsonl", now=NOW))
    assert isinstance(missing, BulkError) and "cannot read" in missing.message
    short = tmp_path / "short.txt"
    short.write_text("Hello", encoding="utf-8")
    (too_short,) = list(iter_bulk_file(short, now=NOW))
    assert isinstance(too_short, BulkError) and "too short" in too_short.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-10-30", datetime(2019, 10, 30, tzinfo=UTC)),
        ("2019-10-30T14:25:00Z", datetime(2019, 10, 30, 14, 25, tzinfo=UTC)),
        ("2019-10-30 14:25:00+06:00", datetime(2019, 10, 30, 8, 25, tzinfo=UTC)),
        ("Wed, 30 Oct 2019 14:25:00 GMT", datetime(2019, 10, 30, 14, 25, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
)
def test_published_formats(value: str | None, expected: datetime | None) -> None:
    assert parse_published(value) == expected


def test_an_over_long_jsonl_line_is_skipped_in_bounded_steps_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "MAX_RECORD_CHARS", 5000)
    monkeypatch.setattr(bulk, "_SKIP_CHARS", 1000)  # several steps to reach the line's end
    first, second = _records()
    long_line = json.dumps({"text": "word " * 3000})  # 15,000 characters
    path = tmp_path / "long.jsonl"
    path.write_text(f"{json.dumps(first)}\n{long_line}\n{json.dumps(second)}", encoding="utf-8")
    results = list(iter_bulk_file(path, now=NOW))
    assert [type(result) for result in results] == [BulkItem, BulkError, BulkItem]
    assert str(results[1]) == (
        f"line 2: the record is too long: {len(long_line) + 1:,} characters (at most 5,000)"
    )
    assert results[2].line_number == 3


def test_a_date_out_of_range_is_that_records_error(tmp_path: Path) -> None:
    first, second = _records()
    late = {**first, "published": "9999-12-31T23:30:00-01:00"}  # the year 10000 in UTC
    path = tmp_path / "dates.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (first, late, second)), encoding="utf-8")
    results = list(iter_bulk_file(path, now=NOW))
    assert [type(result) for result in results] == [BulkItem, BulkError, BulkItem]
    assert "'published' is out of range" in results[1].message  # type: ignore[union-attr]


def test_a_text_file_too_large_for_one_article_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "MAX_TEXT_FILE_BYTES", 1000)
    path = tmp_path / "book.txt"
    path.write_text(SEED_TEXT * 10, encoding="utf-8")
    (error,) = list(iter_bulk_file(path, now=NOW))
    assert isinstance(error, BulkError)
    assert error.message.startswith("book.txt: the file is too large for one article")
