"""Every way the command line can be given something it cannot use ends the same way: ONE line on
stderr saying what is wrong and what to do, a non-zero exit status, no traceback, and nothing
created (or changed) by a command that only reads.

Each case runs ``python -m bot ...`` as a real process, in its own folder, with ``LOG_LEVEL=
WARNING`` and no ``.env``; the databases are real SQLite files made by ``attache ingest``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.config import Settings
from bot.sandbox import BotApiServer, RateLimits
from storage.errors import Unavailable
from storage.sqlite import SQLiteStorage, load_migrations
from tests.conftest import SEED_TEXT, TOKEN
from tests.feedserver import FeedServer
from tests.storage.contract.support import NOW, article

ROOT = Path(__file__).parents[2]
SEED = ROOT / "tests" / "fixtures" / "seed_kazinform.txt"
WRONG_TOKEN = "123456:not-the-token-the-server-knows"
GB2312_TITLE = "外交新闻"  # "diplomatic news"


def cli_env(**extra: str) -> dict[str, str]:
    """Only these variables: no developer settings, no .env in the (temporary) cwd."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


async def run_cli(
    *argv: str, cwd: Path, env: dict[str, str], prefix: tuple[str, ...] = ()
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *prefix,
        sys.executable,
        "-m",
        "bot",
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder``, with a hash of each file's bytes."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        found[key] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return found


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding the seed article, made by a real ``attache ingest``."""
    folder = tmp_path_factory.mktemp("seeded")
    db = folder / "seeded.db"
    result = asyncio.run(run_cli("ingest", "--db", str(db), str(SEED), cwd=folder, env=cli_env()))
    assert result[0] == 0, result
    return db


@dataclass(frozen=True)
class Where:
    """What a case's set-up may use: its own folder, the seeded database, the Bot API URL."""

    folder: Path
    seeded_db: Path
    bot_api_url: str

    def copy_of_seeded(self, name: str = "copy.db") -> Path:
        target = self.folder / name
        shutil.copyfile(self.seeded_db, target)
        return target


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[Where], list[str]]  # -> the arguments after ``python -m bot``
    expect: str  # a regular expression the one line on stderr contains a match of
    read_only: bool = True  # nothing under the case's folder may be created or changed
    env: tuple[tuple[str, str], ...] = ()
    prefix: tuple[str, ...] = ()  # a command that runs the CLI (e.g. under a file size limit)


def _search(*options: str) -> Callable[[Where], list[str]]:
    return lambda w: ["search", "--db", str(w.copy_of_seeded()), *options, "eurasian integration"]


def _directory_as_db(w: Where) -> list[str]:
    (w.folder / "a-folder.db").mkdir()
    return ["stats", "--db", str(w.folder / "a-folder.db")]


def _random_bytes_db(w: Where) -> list[str]:
    path = w.folder / "random.db"
    path.write_bytes(hashlib.sha512(b"not a database").digest() * 512)
    return ["stats", "--db", str(path)]


def _corrupted_db(w: Where) -> list[str]:
    path = w.copy_of_seeded()
    data = bytearray(path.read_bytes())
    first_page = int.from_bytes(data[16:18], "big")  # the header says how big a page is
    data[first_page:] = b"\xa5" * (len(data) - first_page)  # every page but the first
    path.write_bytes(bytes(data))
    return ["search", "--db", str(path), "eurasian integration"]


def _newer_db(w: Where) -> list[str]:
    path = w.copy_of_seeded()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {len(load_migrations()) + 1}")
    raw.close()
    return ["stats", "--db", str(path)]


def _missing(*command: str) -> Callable[[Where], list[str]]:
    return lambda w: [*command, "--db", str(w.folder / "missing" / "folder" / "x.db")]


def _empty_file_db(w: Where) -> list[str]:
    (w.folder / "empty.db").write_bytes(b"")
    return ["stats", "--db", str(w.folder / "empty.db")]


def _full_disk(w: Where) -> list[str]:
    big = w.folder / "big.jsonl"
    records = (
        {"title": f"Story {i} of the talks", "text": f"{SEED_TEXT} Round {i}."} for i in range(60)
    )
    big.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return ["ingest", "--db", str(w.copy_of_seeded()), str(big)]


def _extract_missing(w: Where) -> list[str]:
    return ["extract", str(w.folder / "nowhere.jsonl")]


def _extract_directory(w: Where) -> list[str]:
    (w.folder / "inputs").mkdir()
    return ["extract", str(w.folder / "inputs")]


def _extract_binary(w: Where) -> list[str]:
    (w.folder / "photo.jsonl").write_bytes(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    )
    return ["extract", str(w.folder / "photo.jsonl")]


def _export_into_missing_folder(w: Where) -> list[str]:
    db = w.copy_of_seeded()
    return ["feeds", "export", "--db", str(db), str(w.folder / "no-such-folder" / "feeds.opml")]


def _wrong_token(w: Where) -> list[str]:
    return ["digest", "send-due", "--db", str(w.copy_of_seeded())]


def _opml(declared: str, body: bytes) -> Callable[[Where], list[str]]:
    def setup(w: Where) -> list[str]:
        path = w.folder / "feeds.opml"
        path.write_bytes(
            f'<?xml version="1.0" encoding="{declared}"?>\n'.encode("ascii")
            + b'<opml version="1.0"><head><title>'
            + body
            + b'</title></head><body><outline text="x" xmlUrl="https://example.org/feed"/>'
            + b"</body></opml>\n"
        )
        return ["feeds", "import", "--db", str(w.copy_of_seeded()), str(path)]

    return setup


def _ingest_directory(w: Where) -> list[str]:
    (w.folder / "articles").mkdir()
    (w.folder / "articles" / "one.txt").write_text(SEED_TEXT, encoding="utf-8")
    return ["ingest", "--db", str(w.copy_of_seeded()), str(w.folder / "articles")]


HUGE = str(10**30)

CASES = [
    Case("search --limit 0", _search("--limit", "0"), "--limit: must be between 1 and 100"),
    Case("search --limit -1", _search("--limit", "-1"), "--limit: must be between 1 and 100"),
    Case("search --limit huge", _search("--limit", HUGE), "--limit: must be between 1 and 100"),
    Case("search --limit text", _search("--limit", "ten"), "--limit: must be between 1 and 100"),
    Case("search --page 0", _search("--page", "0"), "--page: must be 1 or more"),
    Case("search --page 999", _search("--page", "999"), "there is only 1 page of results"),
    Case("search --page huge", _search("--page", HUGE), "there is only 1 page of results"),
    Case(
        "person --limit 0",
        lambda w: ["person", "--db", str(w.copy_of_seeded()), "--limit", "0", "Lavrov"],
        "--limit: must be between 1 and 100",
    ),
    Case(
        "person --page 999",
        lambda w: ["person", "--db", str(w.copy_of_seeded()), "--page", "999", "Lavrov"],
        "there is only 1 page of results",
    ),
    Case("database is a directory", _directory_as_db, "is a directory, not a database file"),
    Case("database is random bytes", _random_bytes_db, "not a database"),
    Case("database is corrupted", _corrupted_db, "damaged"),
    Case("database is newer", _newer_db, "newer than this version of Attaché"),
    Case("database is an empty file", _empty_file_db, "holds no Attaché database"),
    Case("stats, no database", _missing("stats"), "run `attache ingest` first"),
    Case("search, no database", _missing("search", "x"), "run `attache ingest` first"),
    Case("person, no database", _missing("person", "Lavrov"), "run `attache ingest` first"),
    Case("feeds list, no database", _missing("feeds", "list"), "run `attache ingest` first"),
    Case("feeds export, no database", _missing("feeds", "export"), "run `attache ingest` first"),
    Case("feeds remove, no database", _missing("feeds", "remove", "1"), "no database at"),
    Case("reindex, no database", _missing("reindex"), "no database at"),
    Case("digest send-due, no database", _missing("digest", "send-due"), "no database at"),
    Case(
        "disk full (file size limit)",
        _full_disk,
        "free some disk space",
        read_only=False,
        # A file may not grow past 64 KiB: SQLite's writes fail as on a full disk. SIGXFSZ is
        # ignored (kept across exec), so the write fails instead of killing the process.
        prefix=("bash", "-c", "trap '' XFSZ; ulimit -f 64; exec \"$@\"", "bash"),
    ),
    Case(
        "digest send-due without a token",
        _wrong_token,
        "TELEGRAM_BOT_TOKEN is not set",
        read_only=False,
        env=(("TELEGRAM_BOT_TOKEN", ""),),
    ),
    Case("extract a missing file", _extract_missing, "nowhere.jsonl: no such file"),
    Case("extract a directory", _extract_directory, "is a directory"),
    Case("extract a binary file", _extract_binary, "not UTF-8 text"),
    Case(
        "feeds export into a missing folder",
        _export_into_missing_folder,
        "no-such-folder does not exist",
    ),
    Case(
        "digest send-due with a wrong token",
        _wrong_token,
        "rejected TELEGRAM_BOT_TOKEN",
        read_only=False,
        env=(("TELEGRAM_BOT_TOKEN", WRONG_TOKEN),),
    ),
    Case(
        "OPML not in its declared GB2312",
        _opml("GB2312", b"\xff\xfe\xff"),
        "cannot read .*feeds.opml: it is not valid GB2312",
        read_only=False,
    ),
    Case(
        "OPML in an unknown encoding",
        _opml("x-no-such-charset", b"x"),
        "cannot read .*feeds.opml: unknown encoding 'x-no-such-charset'",
        read_only=False,
    ),
    Case("ingest a directory", _ingest_directory, "is a directory", read_only=False),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_a_failure_is_one_line_without_traceback(
    case: Case, tmp_path: Path, seeded_db: Path
) -> None:
    async with BotApiServer(token=TOKEN, rate_limits=RateLimits.disabled()) as server:
        where = Where(tmp_path, seeded_db, server.base_url)
        argv = case.setup(where)
        env = cli_env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=server.base_url)
        env.update(case.env)
        before = snapshot(tmp_path)
        code, _, err = await run_cli(*argv, cwd=tmp_path, env=env, prefix=case.prefix)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0, err
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert re.search(case.expect, lines[0]), err
    assert WRONG_TOKEN not in err and TOKEN not in err
    if case.read_only:
        assert snapshot(tmp_path) == before


async def test_with_log_level_debug_the_traceback_is_shown(tmp_path: Path) -> None:
    blocker = tmp_path / "a-folder.db"
    blocker.mkdir()
    code, _, err = await run_cli(
        "stats", "--db", str(blocker), cwd=tmp_path, env=cli_env(LOG_LEVEL="DEBUG")
    )
    assert code != 0
    assert "Traceback" in err
    assert err.rstrip().splitlines()[-1].startswith("attache: ")


async def test_a_full_database_says_the_disk_is_full(tmp_path: Path) -> None:
    # SQLite's own "database or disk is full" (SQLITE_FULL), for real: the file may not grow.
    async with SQLiteStorage(tmp_path / "full.db") as storage:
        pages = await storage.db.execute_fetchall("PRAGMA page_count")
        await storage.db.execute(f"PRAGMA max_page_count = {next(iter(pages))[0]}")
        with pytest.raises(Unavailable) as full:
            # Distinct texts (near-duplicates would be merged into one story, taking no room).
            stories = [
                article(f"Talks, round {i}", " ".join(f"w{i}x{j}" for j in range(3000)))
                for i in range(50)
            ]
            await storage.add_articles(stories, now=NOW)
    from bot.__main__ import explain_failure

    settings = Settings.model_validate({"database_url": f"sqlite:///{tmp_path / 'full.db'}"})
    explained = explain_failure(full.value, settings)
    assert explained is not None
    line, code = explained
    assert code == 1 and "\n" not in line
    assert "the disk is full" in line and "free some disk space" in line
    assert str(tmp_path / "full.db") in line


async def test_read_only_commands_leave_a_good_database_as_it_was(
    tmp_path: Path, seeded_db: Path
) -> None:
    db = tmp_path / "copy.db"
    shutil.copyfile(seeded_db, db)
    before = snapshot(tmp_path)
    for argv in (
        ["stats"],
        ["search", "eurasian"],
        ["person", "Lavrov"],
        ["feeds", "list"],
        ["feeds", "export"],
    ):
        code, out, err = await run_cli(*argv, "--db", str(db), cwd=tmp_path, env=cli_env())
        assert code == 0, err
        assert out
    assert snapshot(tmp_path) == before


async def test_an_opml_file_in_gb2312_is_imported(tmp_path: Path) -> None:
    async with FeedServer() as feeds:
        feeds.feed("/rss", "statedept_rss20.xml")
        opml = tmp_path / "feeds.opml"
        opml.write_bytes(
            b'<?xml version="1.0" encoding="GB2312"?>\n<opml version="1.0"><head><title>'
            + GB2312_TITLE.encode("gb2312")
            + b'</title></head><body><outline text="'
            + GB2312_TITLE.encode("gb2312")
            + f'" xmlUrl="{feeds.url("/rss")}"/></body></opml>\n'.encode("ascii")
        )
        code, out, err = await run_cli(
            "feeds",
            "import",
            "--db",
            str(tmp_path / "feeds.db"),
            str(opml),
            cwd=tmp_path,
            env=cli_env(FETCH_ALLOW_PRIVATE="true"),
        )
    assert code == 0, err
    assert out.rstrip().endswith("1 added, 0 existing, 0 failed")
