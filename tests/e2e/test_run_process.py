"""``attache run`` as a real process against a Bot API server on 127.0.0.1.

This is how a deployment runs: settings from the environment only, long polling (or a webhook),
and a clean stop on SIGTERM. The seed article is stored with ``attache ingest`` first, as an
operator would.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.sandbox import BotApiServer, RateLimits
from storage.sqlite import SQLiteStorage
from tests.conftest import SEED_TEXT, TOKEN
from tests.reliability.harness import BotProcess, bot_env, integrity_check, wait_for
from tests.unit.test_digest_support import make_chat, match, store_releases, subscribe

SEED_TITLE = "Eurasian integration named one of priorities of Russia, Belarus"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_attache_run_answers_the_core_commands(tmp_path: Path) -> None:
    async with BotApiServer(token=TOKEN, rate_limits=RateLimits.disabled()) as server:
        env = bot_env(server, tmp_path / "bot.db", FETCH_ALLOW_PRIVATE="false")
        seed = tmp_path / "seed.txt"
        seed.write_text(SEED_TEXT, encoding="utf-8")
        ingest = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "ingest", str(seed), env=env, cwd=tmp_path
        )
        assert await ingest.wait() == 0

        bot = BotProcess(env, tmp_path, tmp_path / "bot.log").start()
        try:
            user = server.create_user("Olga", username="olga")
            chat = server.private_chat(user)

            async def ask(text: str, timeout: float = 20.0) -> str:  # noqa: ASYNC109
                await server.send_text(chat, user, text)
                reply = await server.wait_for_message(chat.id, timeout=timeout)
                return reply.text

            assert "Attaché" in await ask("/start", timeout=30.0)
            assert "/search" in await ask("/help")

            await server.send_text(chat, user, "/search eurasian integration")
            results = await server.wait_for_message(chat.id, timeout=20.0)
            assert SEED_TITLE in results.text
            assert results.has_entity("bold")

            assert "Lavrov" in await ask("/person Lavrov")
            assert "Subscribed" in await ask("/subscribe person Lavrov")
            assert "Lavrov" in await ask("/subscriptions")
            assert server.commands({"type": "all_private_chats"}), "no setMyCommands"
        finally:
            code = await bot.stop(timeout=30)
        log_text = bot.log_tail(1_000_000)
        assert code == 0, log_text
        assert TOKEN not in log_text
        assert "Traceback" not in log_text


async def test_attache_run_in_webhook_mode_checks_the_secret(tmp_path: Path) -> None:
    port = free_port()
    secret = "webhook-secret-for-tests"
    async with BotApiServer(token=TOKEN, rate_limits=RateLimits.disabled()) as server:
        env = bot_env(
            server,
            tmp_path / "bot.db",
            WEBHOOK_URL="https://bot.example.org/telegram/hook",
            WEBHOOK_LISTEN="127.0.0.1",
            WEBHOOK_PORT=str(port),
            WEBHOOK_SECRET=secret,
        )
        listener = f"http://127.0.0.1:{port}/telegram/hook"
        bot = BotProcess(env, tmp_path, tmp_path / "bot.log").start()
        try:
            for _ in range(300):  # the bot registers its webhook once it is listening
                if server.webhook_url:
                    break
                await asyncio.sleep(0.05)
            assert server.webhook_url == "https://bot.example.org/telegram/hook"
            user = server.create_user("Olga", username="olga")
            chat = server.private_chat(user)

            await server.send_text(chat, user, "/start")
            assert await server.push_updates(listener, secret_token="wrong") == [403]
            assert await server.push_updates(listener, secret_token=secret) == [200]
            reply = await server.wait_for_message(chat.id, timeout=20.0)
            assert "Attaché" in reply.text
        finally:
            code = await bot.stop(timeout=30)
        log_text = bot.log_tail(1_000_000)
        assert code == 0, log_text
        assert secret not in log_text
        assert TOKEN not in log_text


async def test_webhook_mode_without_a_secret_makes_one_and_refuses_forged_updates(
    tmp_path: Path,
) -> None:
    """With WEBHOOK_SECRET empty, a forged POST (no secret header) must not run an admin
    command: the bot registers a random secret with setWebhook and checks it."""
    port = free_port()
    async with BotApiServer(token=TOKEN, rate_limits=RateLimits.disabled()) as server:
        admin = server.create_user("Admin", username="admin")
        env = bot_env(
            server,
            tmp_path / "bot.db",
            WEBHOOK_URL="https://bot.example.org/telegram/hook",
            WEBHOOK_LISTEN="127.0.0.1",
            WEBHOOK_PORT=str(port),
            WEBHOOK_SECRET="",
            ADMIN_IDS=str(admin.id),
        )
        listener = f"http://127.0.0.1:{port}/telegram/hook"
        bot = BotProcess(env, tmp_path, tmp_path / "bot.log").start()
        try:
            for _ in range(300):  # the bot registers its webhook once it is listening
                if server.webhook_url:
                    break
                await asyncio.sleep(0.05)
            assert server.webhook_url == "https://bot.example.org/telegram/hook"
            secret = server.webhook_secret
            assert len(secret) >= 32
            chat = server.private_chat(admin)

            await server.send_text(chat, admin, "/stats")
            assert await server.push_updates(listener) == [403]
            assert await server.push_updates(listener, secret_token=secret) == [200]
            reply = await server.wait_for_message(chat.id, timeout=20.0)
            assert "Articles" in reply.text
        finally:
            code = await bot.stop(timeout=30)
        log_text = bot.log_tail(1_000_000)
        assert code == 0, log_text
        assert "WEBHOOK_SECRET is not set" in log_text
        assert secret not in log_text


# ---------------------------------------------------------------------------------- SIGTERM

#: Where ``attache run`` is when SIGTERM comes. The Bot API server holds the named request
#: unanswered (``faults.hold_next``), so the signal lands in that phase and no other.
HELD = {
    "before getMe is answered": "getMe",
    "during post_init (setMyCommands)": "setMyCommands",
    "during deleteWebhook": "deleteWebhook",
    "during setWebhook (webhook mode)": "setWebhook",
    "during a digest": "sendMessage",
    "twice, the second while stopping": "sendMessage",
}
PHASES = (*HELD, "while polling")
DIGEST_CHAT = 7_000_001


async def due_digest(db: Path) -> int:
    """One chat with a due digest of 20 items (several messages); the number of items."""
    async with SQLiteStorage(db) as storage:
        ids = await store_releases(storage, range(20))
        await make_chat(storage, DIGEST_CHAT, next_at=datetime.now(UTC) - timedelta(hours=1))
        sub = await subscribe(storage, DIGEST_CHAT, "keyword", "secretary")
        await match(storage, DIGEST_CHAT, sub.id, ids)
    return len(ids)


def digest_state(db: Path) -> tuple[int, int]:
    """(undelivered items, whether the chat is still due: 1 or 0) of the digest chat."""
    with sqlite3.connect(db) as connection:
        (pending,) = connection.execute(
            "SELECT count(*) FROM inbox WHERE chat_id = ? AND delivered_at IS NULL",
            (DIGEST_CHAT,),
        ).fetchone()
        (due,) = connection.execute(
            "SELECT count(*) FROM chats WHERE id = ? AND next_digest_at <= ?",
            (DIGEST_CHAT, int(datetime.now(UTC).timestamp())),
        ).fetchone()
    connection.close()
    return int(pending), int(due)


def wal_left(db: Path) -> bool:
    """Whether SQLite's write-ahead log is still there (the last connection to close removes
    it after a checkpoint: a process that closed storage leaves none)."""
    return Path(f"{db}-wal").exists()


@pytest.mark.parametrize("phase", PHASES)
async def test_sigterm_in_any_phase_exits_0_without_a_traceback(tmp_path: Path, phase: str) -> None:
    """SIGTERM stops ``attache run`` cleanly whatever it is doing: exit status 0, no traceback,
    storage closed (its WAL checkpointed away), nothing begun after the signal."""
    db = tmp_path / "attache.db"
    log = tmp_path / "bot.log"
    digest = phase in ("during a digest", "twice, the second while stopping")
    items = await due_digest(db) if digest else 0
    async with BotApiServer(token=TOKEN, rate_limits=RateLimits.disabled()) as server:
        if digest:
            server.private_chat(server.create_user("Reader", user_id=DIGEST_CHAT))
        extra: dict[str, str] = {}
        if "webhook" in phase:
            extra = {
                "WEBHOOK_URL": "https://bot.example.org/telegram/hook",
                "WEBHOOK_LISTEN": "127.0.0.1",
                "WEBHOOK_PORT": str(free_port()),
                "WEBHOOK_SECRET": "webhook-secret-for-tests",
            }
        held = HELD.get(phase)
        if held is not None:
            server.faults.hold_next(held)
        bot = BotProcess(bot_env(server, db, **extra), tmp_path, log).start()
        try:
            if held is not None:
                arrived = await wait_for(lambda: server.faults.held[held.lower()] > 0, 120)
            else:  # a long poll is under way once the first getUpdates came
                arrived = await wait_for(lambda: server.request_counts["getupdates"] > 0, 120)
            assert arrived, bot.log_tail()
            if phase.startswith("twice"):
                bot.terminate()
                await wait_for(lambda: "SIGTERM: stopping" in bot.log_tail(), 60)
            if digest:
                # Stop, then answer the message in flight: it is the last one sent.
                bot.terminate()
                await wait_for(lambda: "stopping" in bot.log_tail(), 60)
                server.faults.release()
            code = await bot.stop(timeout=120)
        finally:
            await bot.kill()
        requests = dict(server.request_counts)
        to_chat = [e for e in server.sent_log if e.chat_id == DIGEST_CHAT]

    text = log.read_text(encoding="utf-8", errors="replace")
    assert code == 0, text[-4000:]
    assert "Traceback" not in text, text[-4000:]
    assert not [line for line in text.splitlines() if " ERROR " in line or " CRITICAL " in line]
    if held == "getMe":
        assert requests["getme"] == 1  # not retried
        assert not db.exists()  # storage was never opened
        assert "@attache_bot ready" not in text
        return
    assert not integrity_check(db)
    assert not wal_left(db), "storage was not closed"
    if phase.startswith("twice"):
        assert "SIGTERM: already stopping" in text  # the second signal was only noted
    if digest:
        # The message in flight was the only one: nothing was sent or retried after the signal,
        # and what was not shown is still pending, the chat still due.
        assert len(to_chat) == 1, [e.message.text[:60] for e in to_chat]
        pending, due = digest_state(db)
        assert 0 < pending <= items and due == 1, (pending, items, due)


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_a_start_that_fails_after_storage_opened_still_closes_it(
    tmp_path: Path, level: str
) -> None:
    """deleteWebhook answers 500 (start-up fails after post_init opened storage): one line says
    what is wrong, the exit status is 1, and storage was closed on the way out. The library's
    traceback of the failed request is shown with LOG_LEVEL=DEBUG only."""
    db = tmp_path / "attache.db"
    log = tmp_path / "bot.log"
    async with BotApiServer(token=TOKEN, rate_limits=RateLimits.disabled()) as server:
        server.faults.fail_next("deleteWebhook", 500)
        bot = BotProcess(bot_env(server, db, LOG_LEVEL=level), tmp_path, log).start()
        try:
            assert bot.process is not None
            code = await asyncio.to_thread(bot.process.wait, 120)
        finally:
            await bot.kill()
    text = log.read_text(encoding="utf-8", errors="replace")
    assert code == 1, text[-4000:]
    assert "attache: cannot reach the Bot API" in text
    assert "@attache_bot ready" in text  # post_init had run: storage was open
    assert ("Traceback" in text) == (level == "DEBUG"), text[-4000:]
    assert "Internal Server Error" in text
    assert not integrity_check(db)
    assert not wal_left(db), "storage was not closed"
