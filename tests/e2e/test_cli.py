"""The ``attache`` command line, end to end on real SQLite files and a real local web server."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.__main__ import main
from storage.models import Classification
from storage.sqlite import SQLiteStorage
from tests.webserver import LocalWebServer

FIXTURES = Path(__file__).parents[1] / "fixtures"
SEED = FIXTURES / "seed_kazinform.txt"
SEED_TITLE = "Eurasian integration named one of priorities of Russia, Belarus"

HOSTILE_QUERIES = [
    '"',
    '"unbalanced phrase',
    "NEAR(russia belarus)",
    "title:russia",
    "^russia",
    "*",
    "((russia",
    "russia)) OR (",
    "AND OR NOT",
    "-",
    "x" * 10_000,
    "минск 🇧🇾 Лавров",
    "\x00\x01\x02",
    "since:2024-13-45 until:yesterday",
    'person:"',
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads settings from the environment; keep the developer's .env out of tests."""
    for name in ("DATABASE_URL", "TELEGRAM_BOT_TOKEN", "FETCH_ALLOW_PRIVATE", "ADMIN_IDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(FIXTURES.parent.parent)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_ingest_seed_then_search_finds_it_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "a.db")
    code, report = run_json(capsys, "ingest", "--db", db, "--json", str(SEED))
    assert code == 0
    assert report == {"added": 1, "duplicates": 0, "failed": 0, "errors": []}

    code, again = run_json(capsys, "ingest", "--db", db, "--json", str(SEED))
    assert code == 0
    assert again == {"added": 0, "duplicates": 1, "failed": 0, "errors": []}

    code, found = run_json(capsys, "search", "--db", db, "--json", "eurasian integration")
    assert code == 0
    assert found["total"] == 1
    results = found["results"]
    assert isinstance(results, list)
    assert results[0]["title"] == SEED_TITLE
    assert set(results[0]) >= {"id", "title", "url", "source", "published_at", "snippet"}


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_queries_return_valid_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], query: str
) -> None:
    db = str(tmp_path / "a.db")
    assert main(["ingest", "--db", db, str(SEED)]) == 0
    capsys.readouterr()
    code, found = run_json(capsys, "search", "--db", db, "--json", query)
    assert code == 0
    assert isinstance(found["total"], int)
    assert isinstance(found["results"], list)


@pytest.mark.parametrize("name", ["Sergey Lavrov", "lavrov", "Лавров", "S. Lavrov"])
def test_person_finds_the_seed_under_every_variant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    db = str(tmp_path / "a.db")
    assert main(["ingest", "--db", db, str(SEED)]) == 0
    capsys.readouterr()
    code, found = run_json(capsys, "person", "--db", db, "--json", name)
    assert code == 0
    candidates = found["candidates"]
    assert isinstance(candidates, list) and len(candidates) == 1
    assert "lavrov" in candidates[0]["canonical"].lower()
    results = found["results"]
    assert isinstance(results, list)
    assert [r["title"] for r in results] == [SEED_TITLE]


def test_person_filter_and_country_filter_in_search(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "a.db")
    assert main(["ingest", "--db", db, str(SEED)]) == 0
    capsys.readouterr()
    _, found = run_json(capsys, "search", "--db", db, "--json", 'person:"Sergei Lavrov"')
    assert found["total"] == 1
    _, found = run_json(capsys, "search", "--db", db, "--json", "country:Belarus integration")
    assert found["total"] == 1
    _, found = run_json(capsys, "search", "--db", db, "--json", "country:Brazil integration")
    assert found["total"] == 0
    assert found["warnings"] or found["results"] == []


def test_bulk_jsonl_reports_bad_line_and_keeps_good_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = SEED.read_text(encoding="utf-8")
    lines = [
        json.dumps({"title": "Ministers meet in Minsk", "text": body, "source": "Kazinform"}),
        "{not json",
        json.dumps(
            {
                "title": "Talks on the Black Sea grain corridor resume",
                "text": "Foreign ministers of Turkey and Ukraine met in Ankara on Monday to "
                "discuss the resumption of grain shipments, the ministry said in a statement. " * 4,
                "url": "https://example.org/grain?utm_source=x",
                "published": "2024-03-04T10:00:00Z",
                "source": "Example Wire",
            }
        ),
    ]
    path = tmp_path / "bulk.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, report = run_json(capsys, "ingest", "--db", str(tmp_path / "a.db"), "--json", str(path))
    assert code == 1  # something failed
    assert report["added"] == 2
    assert report["failed"] == 1
    errors = report["errors"]
    assert isinstance(errors, list)
    assert errors[0]["source"].endswith("bulk.jsonl:2")


def test_stats_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "a.db")
    assert main(["ingest", "--db", db, str(SEED)]) == 0
    capsys.readouterr()
    code, stats = run_json(capsys, "stats", "--db", db, "--json")
    assert code == 0
    assert stats["articles"] == 1
    entities = stats["entities"]
    assert isinstance(entities, int) and entities >= 5  # Lavrov, Russia, Belarus, UN, OSCE...
    assert isinstance(stats["db_bytes"], int) and stats["db_bytes"] > 0


async def test_ingest_url_refuses_loopback_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    html = (FIXTURES / "kazinform_article.html").read_text(encoding="utf-8")
    db = str(tmp_path / "a.db")
    async with LocalWebServer() as server:
        server.page("/story", html)
        url = server.url("/story")
        code = await asyncio.to_thread(main, ["ingest", "--db", db, "--json", url])
        refused = json.loads(capsys.readouterr().out)
        assert code == 1
        assert refused["failed"] == 1
        assert "loopback" in refused["errors"][0]["error"]
        assert server.hits("/story") == 0

        monkeypatch.setenv("FETCH_ALLOW_PRIVATE", "true")
        code = await asyncio.to_thread(main, ["ingest", "--db", db, "--json", url])
        allowed = json.loads(capsys.readouterr().out)
        assert code == 0, allowed
        assert allowed["added"] == 1
        assert server.hits("/story") == 1


def test_extract_command_reads_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        json.dumps({"id": 7, "text": SEED.read_text(encoding="utf-8")}) + "\n" + "nope\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "extract", str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[0]["id"] == 7
    assert {p["canonical"] for p in rows[0]["persons"]} == {"Sergey Lavrov"}
    assert rows[0]["diplomatic"]["label"] is True
    assert "error" in rows[1]


def test_run_without_token_explains_how_to_get_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'a.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,  # no .env here
    )
    assert result.returncode != 0
    assert "@BotFather" in result.stderr
    assert "attache console" in result.stderr


def test_bad_setting_names_the_variable(tmp_path: Path) -> None:
    env = {**os.environ, "DEFAULT_TIMEZONE": "Mars/Olympus", "ADMIN_IDS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "stats", "--db", str(tmp_path / "a.db")],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "DEFAULT_TIMEZONE" in result.stderr


async def test_reindex_restores_entities_and_classification(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "a.db"
    assert await asyncio.to_thread(main, ["ingest", "--db", str(db), str(SEED)]) == 0
    async with SQLiteStorage(db) as storage:  # an extractor that found nothing, as it were
        await storage.replace_enrichment(1, Classification(), ())
        assert await storage.article_entities(1) == []
    capsys.readouterr()

    assert await asyncio.to_thread(main, ["reindex", "--db", str(db)]) == 0
    async with SQLiteStorage(db) as storage:
        names = {e.canonical for e in await storage.article_entities(1)}
        article = await storage.get_article(1)
    assert {"Sergey Lavrov", "Russia", "Belarus"} <= names
    assert article.classification.is_diplomatic
