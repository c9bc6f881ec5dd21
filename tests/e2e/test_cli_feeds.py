"""``attache feeds add|list|remove|import|export`` on a real SQLite file, with the feeds served by
a real feed server on 127.0.0.1 (``FETCH_ALLOW_PRIVATE=true`` in the environment, as a deployment
on an intranet would set it). ``main`` runs in a worker thread because it starts its own event
loop, while the feed server runs on the test's loop."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.__main__ import main
from tests.feedserver import FeedServer

STATE_TITLE = "U.S. Department of State: Press Releases"
WIKINEWS_TITLE = "Wikinews, the free news source"
RDF_TITLE = "Wikinews (RSS 1.0)"
ROOT = Path(__file__).parents[2]


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what these tests set: no developer .env, private addresses allowed."""
    for name in ("DATABASE_URL", "TELEGRAM_BOT_TOKEN", "ADMIN_IDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FETCH_ALLOW_PRIVATE", "true")
    monkeypatch.chdir(ROOT)


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        server.feed("/rss", "statedept_rss20.xml")
        server.feed("/atom", "wikinews_atom.xml")
        server.feed("/rdf", "wikinews_rss10.rdf")
        server.feed("/json", "statedept_feed.json")
        server.feed("/not-a-feed", "hostile_not_a_feed.html")
        yield server


async def attache(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def listed(capsys: pytest.CaptureFixture[str], db: str) -> list[dict[str, object]]:
    code, out, _ = await attache(capsys, "feeds", "list", "--db", db, "--json")
    assert code == 0
    rows = json.loads(out)
    assert isinstance(rows, list)
    return rows


async def test_add_list_remove_round_trip(
    tmp_path: Path, feeds: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "feeds.db")
    code, out, _ = await attache(
        capsys, "feeds", "add", feeds.url("/rss"), "--interval", "5", "--db", db
    )
    assert code == 0
    assert out.strip() == f"added feed #1: {STATE_TITLE} ({feeds.url('/rss')})"
    code, out, _ = await attache(capsys, "feeds", "add", feeds.url("/atom"), "--db", db)
    assert code == 0 and WIKINEWS_TITLE in out

    rows = await listed(capsys, db)
    assert [(r["id"], r["title"], r["interval_minutes"], r["enabled"]) for r in rows] == [
        (1, STATE_TITLE, 5, True),
        (2, WIKINEWS_TITLE, 10, True),
    ]
    assert all(r["failures"] == 0 and r["last_success_at"] for r in rows)

    code, out, _ = await attache(capsys, "feeds", "list", "--db", db)
    assert code == 0 and out.rstrip().endswith("2 feed(s)")
    assert f"#1  {STATE_TITLE}" in out and "every 5 min · enabled" in out

    code, out, _ = await attache(capsys, "feeds", "add", feeds.url("/rss"), "--db", db)
    assert code == 0 and out.startswith("already polled as feed #1")

    code, out, _ = await attache(capsys, "feeds", "remove", "1", "--db", db)
    assert code == 0 and out.strip() == f"removed feed #1: {STATE_TITLE}"
    code, _, err = await attache(capsys, "feeds", "remove", "1", "--db", db)
    assert code == 1 and "there is no feed #1" in err
    assert [r["id"] for r in await listed(capsys, db)] == [2]


async def test_database_url_is_honoured_and_bad_input_is_explained(
    tmp_path: Path,
    feeds: FeedServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = tmp_path / "from-env.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    code, _, _ = await attache(capsys, "feeds", "add", feeds.url("/json"))
    assert code == 0 and db.exists()
    assert [r["title"] for r in await listed(capsys, str(db))] == [
        "State Department statements (JSON Feed)"
    ]

    code, _, err = await attache(capsys, "feeds", "add", feeds.url("/not-a-feed"))
    assert code == 1 and "not added" in err and "not a readable feed" in err
    with pytest.raises(SystemExit) as exited:
        await attache(capsys, "feeds", "add", feeds.url("/rss"), "--interval", "0")
    assert exited.value.code == 2
    assert "from 1 to 10080 minutes" in capsys.readouterr().err


async def test_opml_import_and_export_round_trip(
    tmp_path: Path, feeds: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "feeds.db")
    await attache(capsys, "feeds", "add", feeds.url("/rss"), "--db", db)
    opml = tmp_path / "subscriptions.opml"
    opml.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>Diplomatic news</title></head>
  <body>
    <outline text="Ministries">
      <outline type="rss" text="State" xmlUrl="{feeds.url("/rss")}"/>
      <outline type="rss" text="Wikinews Atom" xmlUrl="{feeds.url("/atom")}"/>
    </outline>
    <outline type="rss" text="Wikinews RDF" xmlUrl="{feeds.url("/rdf")}"/>
    <outline type="rss" text="Broken" xmlUrl="{feeds.url("/not-a-feed")}"/>
  </body>
</opml>
""",
        encoding="utf-8",
    )
    code, out, _ = await attache(capsys, "feeds", "import", str(opml), "--db", db)
    assert code == 1  # one feed of the list failed
    assert f"existing: {feeds.url('/rss')}" in out
    assert f"failed: {feeds.url('/not-a-feed')}: not a readable feed" in out
    assert out.rstrip().endswith("2 added, 1 existing, 1 failed")
    titles = {r["title"] for r in await listed(capsys, db)}
    assert titles == {STATE_TITLE, WIKINEWS_TITLE, RDF_TITLE}

    code, out, _ = await attache(capsys, "feeds", "export", "--db", db)
    assert code == 0
    root = ET.fromstring(out)
    assert root.tag == "opml" and root.get("version") == "2.0"
    exported = {o.get("xmlUrl"): o.get("title") for o in root.iter("outline")}
    assert exported == {
        feeds.url("/rss"): STATE_TITLE,
        feeds.url("/atom"): WIKINEWS_TITLE,
        feeds.url("/rdf"): RDF_TITLE,
    }

    exported_file = tmp_path / "export.opml"
    code, out, err = await attache(capsys, "feeds", "export", str(exported_file), "--db", db)
    assert code == 0 and out == "" and str(exported_file) in err

    # The exported file imports into a fresh database as the same three feeds.
    fresh = str(tmp_path / "fresh.db")
    code, out, _ = await attache(capsys, "feeds", "import", str(exported_file), "--db", fresh)
    assert code == 0 and out.rstrip().endswith("3 added, 0 existing, 0 failed")
    assert {r["url"] for r in await listed(capsys, fresh)} == set(exported)


async def test_import_of_an_unusable_file_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "feeds.db")
    code, _, err = await attache(capsys, "feeds", "import", str(tmp_path / "none.opml"), "--db", db)
    assert code == 1 and "cannot read" in err
    hostile = tmp_path / "laughs.opml"
    hostile.write_text('<!DOCTYPE opml [<!ENTITY a "aaaa">]><opml><body/></opml>')
    code, _, err = await attache(capsys, "feeds", "import", str(hostile), "--db", db)
    assert code == 1 and "DOCTYPE or entity declarations" in err
