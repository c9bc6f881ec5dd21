"""Kill the bot with SIGKILL while it sends digests to 50 chats, restart it, and check that every
matched item reached its chat, none was lost, and no chat got more than one repeated message.

The bot runs as a real subprocess (``python -m bot run``) against the local Bot API server in
this process, with Telegram's flood limits on; the chats, their due digests and their inbox are
written straight into its SQLite file beforehand.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.sandbox import BotApiServer, RateLimits
from storage.sqlite import SQLiteStorage
from tests.reliability.harness import BotProcess, bot_env, wait_for
from tests.unit.test_digest_support import STATEDEPT, make_chat, match, store_releases, subscribe

TOKEN = "123456:attache-kill-test"
CHATS = 50
FIRST_CHAT = 2_000_001
KILL_AFTER = 18  # messages accepted before the first process is killed


async def prepare(db: Path) -> dict[int, set[int]]:
    """50 due chats: even ones with 3 matches (one message), odd ones with 20 (three)."""
    expected: dict[int, set[int]] = {}
    async with SQLiteStorage(db) as storage:
        ids = await store_releases(storage, range(20))
        due = datetime.now(UTC) - timedelta(hours=1)
        for n in range(CHATS):
            chat_id = FIRST_CHAT + n
            await make_chat(storage, chat_id, tz="Europe/Minsk", next_at=due)
            sub = await subscribe(storage, chat_id, "keyword", "secretary")
            chosen = ids[:20] if n % 2 else ids[n % 17 : n % 17 + 3]
            await match(storage, chat_id, sub.id, chosen)
            expected[chat_id] = set(chosen)
    return expected


async def undelivered(db: Path) -> int:
    async with SQLiteStorage(db) as storage:
        total = 0
        for n in range(CHATS):
            total += len(await storage.pending_inbox(FIRST_CHAT + n))
        return total


async def test_sigkill_mid_send_loses_nothing_and_repeats_at_most_one(tmp_path: Path) -> None:
    db = tmp_path / "attache.db"
    log = tmp_path / "bot.log"
    expected = await prepare(db)
    titles = {i + 1: STATEDEPT[i]["title"] for i in range(20)}  # article ids 1..20 in order
    async with BotApiServer(token=TOKEN, rate_limits=RateLimits()) as server:
        for n in range(CHATS):
            server.private_chat(server.create_user(f"Reader {n}", user_id=FIRST_CHAT + n))

        env = bot_env(server, db, FETCH_ALLOW_PRIVATE="false")
        bot = BotProcess(env, db.parent, log).start()
        try:
            sent_some = await wait_for(lambda: len(server.sent_log) >= KILL_AFTER, 30)
            assert sent_some, log.read_text()
        finally:
            await bot.kill()
        killed_at = len(server.sent_log)
        assert killed_at < CHATS * 2, "the kill came after the digests were all sent"

        bot = BotProcess(env, db.parent, log).start()
        try:
            for _ in range(200):  # up to 40 s; the database is the thing to watch
                if not await undelivered(db):
                    break
                await asyncio.sleep(0.2)
        finally:
            code = await bot.stop(timeout=120)
    assert await undelivered(db) == 0, log.read_text()[-3000:]
    assert code == 0, log.read_text()[-3000:]  # SIGTERM: a clean stop

    repeats_total = 0
    for chat_id, article_ids in expected.items():
        texts = [e.message.text for e in server.sent_log if e.chat_id == chat_id]
        shown: set[int] = set()
        repeats = 0
        for text in texts:
            here = {a for a, title in titles.items() if title in text}
            repeats += 1 if here & shown else 0
            shown |= here
        assert shown == article_ids, f"chat {chat_id} is missing {article_ids - shown}"
        assert repeats <= 1, f"chat {chat_id} got {repeats} repeated messages"
        repeats_total += repeats
    # Several chats are served at once, so several may have had a message in flight.
    report = f"killed after {killed_at} messages, {len(server.sent_log)} in all"
    assert repeats_total <= 16, f"{report}, {repeats_total} repeated"


async def send_due_cli(server: BotApiServer, db: Path) -> dict[str, int]:
    env = bot_env(server, db, FETCH_ALLOW_PRIVATE="false")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "bot", "digest", "send-due", "--json"),
        cwd=db.parent,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    summary: dict[str, int] = json.loads(out)
    return summary


async def test_send_due_command_sends_each_due_digest_once(tmp_path: Path) -> None:
    db = tmp_path / "attache.db"
    async with SQLiteStorage(db) as storage:
        ids = await store_releases(storage, [0, 1])
        for n in range(3):
            await make_chat(storage, FIRST_CHAT + n, next_at=datetime.now(UTC) - timedelta(hours=2))
            sub = await subscribe(storage, FIRST_CHAT + n, "keyword", "secretary")
            await match(storage, FIRST_CHAT + n, sub.id, ids)
    async with BotApiServer(token=TOKEN, rate_limits=RateLimits()) as server:
        for n in range(3):
            server.private_chat(server.create_user(f"Reader {n}", user_id=FIRST_CHAT + n))
        first = await send_due_cli(server, db)
        second = await send_due_cli(server, db)
    assert (first["chats"], first["messages"], first["failed"]) == (3, 3, 0)
    assert (second["chats"], second["messages"]) == (0, 0)
    assert sorted(e.chat_id for e in server.sent_log) == [FIRST_CHAT + n for n in range(3)]
    assert all(STATEDEPT[1]["title"] in e.message.text for e in server.sent_log)
