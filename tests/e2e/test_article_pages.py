"""``/article`` on a long article, through the local Bot API server: one message, paged with
More and Back, whose buttons cannot be forged into anything but "expired".

A 30,000-character transcript once came back as a burst of messages in a row (a 415 KB one as
108, tripping Telegram's flood limits for every chat).
"""

from __future__ import annotations

import re

from handlers.common import STALE_BUTTON
from tests.conftest import Bot

SENTENCES_PER_PARAGRAPH = 10
PARAGRAPHS = 50


async def store_transcript(bot: Bot) -> tuple[int, list[str], int]:
    """A ~38,000-character press transcript: its id, its sentence markers, its length."""
    markers = [f"Q{p}x{s}" for p in range(PARAGRAPHS) for s in range(SENTENCES_PER_PARAGRAPH)]
    paragraphs = [
        " ".join(
            f"{markers[p * SENTENCES_PER_PARAGRAPH + s]} asks the minister about the talks "
            "in Minsk, and the answer runs long."
            for s in range(SENTENCES_PER_PARAGRAPH)
        )
        for p in range(PARAGRAPHS)
    ]
    text = "Press availability on the Minsk talks\n" + "\n".join(paragraphs)
    assert len(text) > 30_000
    outcome = await bot.services.ingest.text(text, source="State Department")
    return outcome.article_id, markers, len(text)


async def test_a_long_article_is_one_message_paged_with_more_and_back(bot: Bot) -> None:
    article_id, markers, length = await store_transcript(bot)
    chat = bot.alice_chat
    before = len(bot.server.messages(chat.id))
    first = await bot.ask(chat, bot.alice, f"/article {article_id}")
    # A reply's keyboard rides on its last part: the first message having it means it is the
    # only one.
    assert [b.text for b in first.flat_buttons] == ["More ›"]
    assert len(bot.server.messages(chat.id)) == before + 1
    assert first.text.startswith("Press availability on the Minsk talks")
    found = re.search(r"Page 1 of (\d+)", first.text)
    assert found is not None
    count = int(found[1])
    assert length / 3000 <= count <= length / 2000  # pages of 2,000 to 3,000 characters

    pages = [first.text]
    current = first
    for number in range(2, count + 1):
        await bot.press(current, current.button("More").callback_data or "")
        current = await bot.server.wait_for_edit(chat.id, first.message_id)
        assert f"Page {number} of {count}" in current.text
        expected = ["‹ Back", "More ›"] if number < count else ["‹ Back"]
        assert [b.text for b in current.flat_buttons] == expected
        pages.append(current.text)
    # Every sentence shown once, in order, and each page ends at a sentence end.
    assert re.findall(r"Q\d+x\d+", "\n".join(pages)) == markers
    for text in pages:
        body = text.rsplit("\n\n", 1)[0]
        assert body.endswith("runs long."), body[-30:]

    await bot.press(current, current.button("Back").callback_data or "")
    back = await bot.server.wait_for_edit(chat.id, first.message_id)
    assert f"Page {count - 1} of {count}" in back.text
    assert len(bot.server.messages(chat.id)) == before + 1  # still the one message


async def test_forged_or_stale_page_buttons_are_answered_as_expired(bot: Bot) -> None:
    article_id, _, _ = await store_transcript(bot)
    first = await bot.ask(bot.alice_chat, bot.alice, f"/article {article_id}")
    brief = await bot.services.ingest.text(
        "Ministers meet in Minsk\n"
        + "The foreign ministers met in Minsk to discuss integration. " * 8,
        source="Kazinform",
    )
    short = await bot.ask(bot.alice_chat, bot.alice, f"/article_{brief.article_id}")
    assert short.flat_buttons == []  # one page: no buttons, no page count
    assert "Page 1 of" not in short.text and f"/article_{brief.article_id}" in short.text
    stale = (f"ap:999:{article_id}", f"ap:0:{article_id}", "ap:2:99999", f"ap:2:{brief.article_id}")
    for data in stale:
        query_id = await bot.server.press_button(first, data, forged=True)
        answer = await bot.server.wait_for_callback_answer(query_id)
        assert answer.show_alert and answer.text == STALE_BUTTON, data
    unchanged = bot.server.message(bot.alice_chat.id, first.message_id)
    assert unchanged.text == first.text and unchanged.edit_date is None
