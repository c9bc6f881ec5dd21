"""Shared harness of the crash, fault and load tests: the bot as a real process, killable.

``BotProcess`` runs ``python -m bot run`` against a Bot API server in the test process, the way
``tests/e2e/test_kill_restart.py`` does, with extra settings, SIGKILL/SIGTERM and an RSS probe.
``Cli`` runs any other ``attache`` command as a process that can be killed half-way.

Each test has a short mode (the default, for CI) and a full mode, selected with
``ATTACHE_RELIABILITY=full`` (``make reliability`` sets it). Tests publish their figures with
:func:`record`; when ``ATTACHE_RELIABILITY_OUT`` names a folder, each section lands there as
JSON for ``tests/reliability/report.py`` to tabulate.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

from bench.corpus import RawArticle, generate
from bot.sandbox import BotApiServer, LogEntry

__all__ = [
    "FULL",
    "ROOT",
    "TOKEN",
    "BotProcess",
    "Cli",
    "bot_env",
    "corpus",
    "hrefs",
    "integrity_check",
    "record",
    "scale",
    "wait_for",
    "write_jsonl",
]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456:attache-reliability"
FULL = os.environ.get("ATTACHE_RELIABILITY", "").lower() == "full"
_HREF = re.compile(r'href="([^"]+)"')


def scale(short: int, full: int) -> int:
    """The short-mode figure in CI, the full one under ``ATTACHE_RELIABILITY=full``."""
    return full if FULL else short


def record(section: str, figures: Mapping[str, object]) -> None:
    """Publish a test's figures (to the report folder when one is set; always to stdout)."""
    payload = {"mode": "full" if FULL else "short", **figures}
    print(f"reliability {section}: {json.dumps(payload)}")
    folder = os.environ.get("ATTACHE_RELIABILITY_OUT")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{section}.json").write_text(json.dumps(payload, indent=2) + "\n")


async def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll ``condition`` every 50 ms for up to ``seconds``; whether it became true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.05)
    return False


def bot_env(server: BotApiServer, db: Path, **extra: str) -> dict[str, str]:
    """Settings for a bot process: only these variables (the cwd has no .env)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "PTB_TIMEDELTA": "1",
        "TELEGRAM_BOT_TOKEN": server.token,
        "TELEGRAM_API_BASE_URL": server.base_url,
        "DATABASE_URL": f"sqlite:///{db}",
        "LOG_LEVEL": "INFO",
        "FETCH_ALLOW_PRIVATE": "true",  # the feed server is on 127.0.0.1
    }
    env.update(extra)
    return env


class BotProcess:
    """``python -m bot run`` as a child process, its output appended to ``log``."""

    def __init__(self, env: Mapping[str, str], cwd: Path, log: Path) -> None:
        self.env = dict(env)
        self.cwd = cwd
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> BotProcess:
        if self.running:
            raise RuntimeError("the bot is already running")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"],
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the bot was not started")
        return self.process.pid

    async def kill(self) -> None:
        """SIGKILL: no handler runs, no transaction is finished, no buffer is flushed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(self.process.wait, 10)

    def terminate(self) -> None:
        """SIGTERM without waiting (the bot stops gracefully; :meth:`stop` waits for it)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    async def stop(self, timeout: float = 15.0) -> int:  # noqa: ASYNC109
        """SIGTERM and wait (SIGKILL after ``timeout``); the exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.process.wait, timeout)
            except subprocess.TimeoutExpired:
                await self.kill()
        return self.process.returncode

    def rss_bytes(self) -> int:
        """Resident memory of the running process (Linux /proc)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS line")

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]


class Cli:
    """An ``attache`` command as a child process; stdout is read line by line as it comes."""

    def __init__(self, env: Mapping[str, str], cwd: Path, *args: str) -> None:
        self.env = dict(env)
        self.cwd = cwd
        self.args = args
        self.lines: list[str] = []
        self.stderr = b""
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> Cli:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *self.args,
            cwd=self.cwd,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        assert self.process.stderr is not None
        stderr = asyncio.create_task(self.process.stderr.read())
        async for raw in self.process.stdout:
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
        self.stderr = await stderr

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.wait()

    async def wait(self, timeout: float = 120.0) -> int:  # noqa: ASYNC109
        assert self.process is not None and self._reader is not None
        code = await asyncio.wait_for(self.process.wait(), timeout)
        await asyncio.wait_for(self._reader, timeout)
        return code

    @property
    def finished(self) -> bool:
        return self.process is not None and self.process.returncode is not None

    async def run(self, timeout: float = 120.0) -> int:  # noqa: ASYNC109
        await self.start()
        return await self.wait(timeout)


def integrity_check(db: Path) -> list[str]:
    """``PRAGMA integrity_check`` and ``foreign_key_check`` of a database nobody writes to."""
    with sqlite3.connect(db) as connection:
        problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        if problems == ["ok"]:
            problems = []
        problems += [repr(row) for row in connection.execute("PRAGMA foreign_key_check")]
    connection.close()
    return problems


def corpus(count: int, seed: int) -> list[RawArticle]:
    """Distinct ~2 kB news articles built from real press-release sentences (``bench.corpus``)."""
    return list(generate(count, seed=seed))


def article_json(article: RawArticle) -> dict[str, str]:
    return {
        "title": article.title,
        "text": article.text,
        "url": article.url,
        "source": article.source,
        "published": article.published_at.astimezone(UTC).isoformat(),
    }


def write_jsonl(path: Path, articles: list[RawArticle]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for article in articles:
            out.write(json.dumps(article_json(article), ensure_ascii=False) + "\n")
    return path


def json_feed(title: str, home: str, articles: list[tuple[str, RawArticle]]) -> bytes:
    """A JSON Feed 1.1 with full texts (no page fetches); ``articles`` are (url, article)."""
    items = [
        {
            "id": url,  # a URI guid is global: it must differ across feeds
            "url": url,
            "title": article.title,
            "content_text": article.text,
            "date_published": article.published_at.isoformat(),
        }
        for url, article in articles
    ]
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "home_page_url": home,
        "items": items,
    }
    return json.dumps(document).encode()


def hrefs(entries: list[LogEntry]) -> Iterator[str]:
    """Every link in the messages of ``entries`` (digest items link their article)."""
    for entry in entries:
        yield from _HREF.findall(entry.message.source_text)


def past() -> int:
    """A moment an hour ago, as storage keeps times (seconds since the epoch)."""
    return int(datetime.now(UTC).timestamp()) - 3600
