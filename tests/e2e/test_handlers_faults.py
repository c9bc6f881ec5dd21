"""End to end under Telegram's bad days: 429 with retry, a blocked user, long messages, errors."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.render import MESSAGE_LIMIT
from bot.sandbox import FaultKind
from tests.conftest import SEED_TEXT, Bot


async def test_429_is_waited_out_and_the_message_arrives(bot: Bot) -> None:
    bot.server.faults.fail_next("sendMessage", 429, retry_after=1)
    reply = await bot.ask(bot.alice_chat, bot.alice, "/help", timeout=8)
    assert "/search" in reply.text
    assert any(f.method == "sendmessage" for f in bot.server.faults.injected)


@pytest.mark.parametrize("fault", [500, 502, "reset"])
async def test_a_reply_lost_to_a_transient_fault_is_sent_again(bot: Bot, fault: FaultKind) -> None:
    bot.server.faults.fail_next("sendMessage", fault)
    reply = await bot.ask(bot.alice_chat, bot.alice, "/help", timeout=8)
    assert "/search" in reply.text
    assert [f.method for f in bot.server.faults.injected] == ["sendmessage"]


async def test_blocked_user_does_not_stop_the_bot(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.ask(bot.alice_chat, bot.alice, "/subscribe person Lavrov")
    await bot.server.block_bot(bot.alice)
    await bot.server.send_text(bot.alice_chat, bot.alice, "/help")
    await bot.server.wait_until_delivered()
    for _ in range(40):
        if (await bot.services.storage.get_chat(bot.alice_chat.id)).blocked_at is not None:
            break
        await asyncio.sleep(0.05)
    assert (await bot.services.storage.get_chat(bot.alice_chat.id)).blocked_at is not None
    other = await bot.ask(bot.admin_chat, bot.admin, "/help")
    assert "/search" in other.text


async def test_long_article_is_paged_within_the_limit(bot: Bot) -> None:
    long_text = SEED_TEXT.replace("Eurasian integration named", "Long report named") + "\n".join(
        f"Paragraph {n}: the ministers discussed cooperation in the OSCE and the United Nations, "
        f"agreeing to meet again in Minsk to continue item {n} of the agenda."
        for n in range(80)
    )
    outcome = await bot.services.ingest.text(long_text, source="Kazinform")
    first = await bot.ask(bot.alice_chat, bot.alice, f"/article {outcome.article_id}")
    pages = [first]
    while more := [b for b in pages[-1].flat_buttons if b.text.startswith("More")]:
        await bot.press(pages[-1], more[0].callback_data or "")
        pages.append(await bot.server.wait_for_edit(bot.alice_chat.id, first.message_id))
    assert len(bot.server.messages(bot.alice_chat.id)) == 1  # one message, paged in place
    assert len(pages) >= 2 and "Paragraph 79" in pages[-1].text
    assert pages[0].text.startswith("Long report named")
    for page in pages:
        assert 0 < len(page.text.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT
        # cut between paragraphs: no paragraph is cut in two
        assert page.text.count("Paragraph ") == page.text.count("of the agenda.")


async def test_a_failing_handler_is_logged_and_the_user_told(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.services.storage.close()  # a real failure: the database went away
    with caplog.at_level(logging.ERROR, logger="handlers.errors"):
        reply = await bot.ask(bot.admin_chat, bot.admin, "/stats")
    assert reply.text == "Sorry, something went wrong. Please try again in a moment."
    record = next(r for r in caplog.records if r.name == "handlers.errors")
    assert record.exc_info is not None and "not open" in str(record.exc_info[1])
    assert "not open" not in reply.text
