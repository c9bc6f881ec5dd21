"""End to end through the local Bot API server: /start, /help, /search with paging, /article,
/person, /latest, and the hints for unknown input."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.app import FEATURES, registered_commands
from bot.runtime.commands import COMMANDS, menu
from tests.conftest import Bot


async def test_start_explains_and_its_buttons_run_examples(bot: Bot) -> None:
    welcome = await bot.ask(bot.alice_chat, bot.alice, "/start")
    assert "Attaché" in welcome.text and "/search eurasian integration" in welcome.text
    assert len(welcome.flat_buttons) == 3
    registered = await bot.services.storage.get_chat(bot.alice_chat.id)
    assert registered.digest_frequency == "daily" and registered.next_digest_at is not None
    await bot.press(welcome, welcome.button("/search").callback_data or "")
    results = await bot.server.wait_for_message(bot.alice_chat.id)
    assert results.text.startswith("Search: eurasian integration")


async def test_help_matches_the_registry_and_the_handlers(bot: Bot) -> None:
    reply = await bot.ask(bot.alice_chat, bot.alice, "/help")
    for command in COMMANDS:
        assert (f"/{command.name}" in reply.text) == (not command.admin_only)
    admin_reply = await bot.ask(bot.admin_chat, bot.admin, "/help")
    assert "/stats" in admin_reply.text and "/ingest" in admin_reply.text
    handlers = [h for feature in FEATURES for h in feature.HANDLERS]
    assert registered_commands(handlers) == {c.name for c in COMMANDS}
    private = bot.server.commands({"type": "all_private_chats"})
    assert [(c["command"], c["description"]) for c in private] == menu("private")
    group = bot.server.commands({"type": "all_group_chats"})
    assert [c["command"] for c in group] == [name for name, _ in menu("group")]


async def test_search_finds_the_seed_with_bold_snippet(bot: Bot) -> None:
    reply = await bot.ask(bot.alice_chat, bot.alice, "/search eurasian integration")
    assert reply.text.startswith("Search: eurasian integration · 1 result")
    assert "1. Eurasian integration named one of priorities of Russia, Belarus" in reply.text
    assert f"/article_{bot.seed_id}" in reply.text
    bold = [
        reply.text[e.offset : e.offset + e.length].lower()
        for e in reply.entities
        if e.type == "bold"
    ]
    assert "eurasian" in bold and "integration" in bold


async def test_search_without_hits_suggests_broader_terms(bot: Bot) -> None:
    reply = await bot.ask(bot.alice_chat, bot.alice, "/search quantum chromodynamics")
    assert "No articles match quantum chromodynamics" in reply.text
    assert "broader" in reply.text and not reply.flat_buttons
    usage = await bot.ask(bot.alice_chat, bot.alice, "/search")
    assert "/search eurasian integration" in usage.text


async def _store_similar(bot: Bot, count: int) -> None:
    """Distinct short articles that all mention the searched words."""
    for n in range(count):
        await bot.services.ingest.text(
            f"Talks number {n} on integration\n"
            f"ASTANA. March {n + 1}. KAZINFORM Delegation {n} discussed integration "
            f"with partner number {n * 7919} about topic {n * 104729} in the capital "
            f"{['alpha', 'beta', 'gamma', 'delta'][n % 4]} {n}.",
            source="Kazinform",
        )


async def test_search_pages_with_buttons_editing_the_same_message(bot: Bot) -> None:
    await _store_similar(bot, 11)
    first = await bot.ask(bot.alice_chat, bot.alice, "/search integration")
    assert [b.text for b in first.flat_buttons] == ["1/3", "Next ›"]
    assert first.text.count("/article_") == 5
    await bot.press(first, first.button("Next").callback_data or "")
    second = await bot.server.wait_for_edit(bot.alice_chat.id, first.message_id)
    assert second.message_id == first.message_id
    assert [b.text for b in second.flat_buttons] == ["‹ Prev", "2/3", "Next ›"]
    assert "\n6. " in second.text and "\n1. " not in second.text
    # the counter button is answered too, and changes nothing
    query_id = await bot.server.press_button(second, "noop")
    assert (await bot.server.wait_for_callback_answer(query_id)).text is None


async def test_paging_token_from_another_chat_is_refused(bot: Bot) -> None:
    first_page = await bot.ask(bot.alice_chat, bot.alice, "/search integration OR lavrov")
    del first_page
    token = next(iter(bot.app.bot_data.queries._chats[bot.alice_chat.id]))
    # Ada's chat shows a message with a forged button carrying Alice's token.
    forged = await bot.app.bot.send_message(
        bot.admin_chat.id,
        "forged",
        reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("x", callback_data=f"s:2:{token}")]]
        ),
    )
    message = bot.server.message(bot.admin_chat.id, forged.message_id)
    query_id = await bot.server.press_button(message, f"s:2:{token}")
    answer = await bot.server.wait_for_callback_answer(query_id)
    assert answer.show_alert and "expired" in (answer.text or "")


async def test_article_by_command_and_by_link(bot: Bot) -> None:
    reply = await bot.ask(bot.alice_chat, bot.alice, f"/article {bot.seed_id}")
    assert reply.text.startswith("Eurasian integration named one of priorities")
    assert "Sergei Lavrov" in reply.text and "OSCE" in reply.text
    linked = await bot.ask(bot.alice_chat, bot.alice, f"/article_{bot.seed_id}")
    assert linked.text == reply.text
    missing = await bot.ask(bot.alice_chat, bot.alice, "/article 99999")
    assert "no article #99999" in missing.text


async def test_person_lavrov_card_and_articles(bot: Bot) -> None:
    reply = await bot.ask(bot.alice_chat, bot.alice, "/person Lavrov")
    name, variants = reply.text.split("\n")[:2]
    assert name in ("Sergei Lavrov", "Sergey Lavrov")
    assert "Lavrov" in variants and variants.startswith("Also found as:")
    assert "Latest articles · 1 result" in reply.text
    assert "Eurasian integration named one of priorities" in reply.text
    unknown = await bot.ask(bot.alice_chat, bot.alice, "/person Zzyzx Qwerty")
    assert "No person known as Zzyzx Qwerty" in unknown.text


async def test_latest_lists_diplomatic_news(bot: Bot) -> None:
    reply = await bot.ask(bot.alice_chat, bot.alice, "/latest 3")
    assert reply.text.startswith("Latest diplomatic news")
    assert "Eurasian integration named one of priorities" in reply.text
    bad = await bot.ask(bot.alice_chat, bot.alice, "/latest lots")
    assert "number from 1 to 20" in bad.text


async def test_unknown_commands_and_chatter_get_a_hint(bot: Bot) -> None:
    unknown = await bot.ask(bot.alice_chat, bot.alice, "/frobnicate")
    assert "There is no /frobnicate command" in unknown.text and "/help" in unknown.text
    chatter = await bot.ask(bot.alice_chat, bot.alice, "hello there")
    assert "/search eurasian integration" in chatter.text


async def test_search_throttle_answers_with_a_wait_message(bot: Bot) -> None:
    limit = bot.app.bot_data.search_throttle.limit
    for _ in range(limit):
        await bot.ask(bot.alice_chat, bot.alice, "/search lavrov")
    slow_down = await bot.ask(bot.alice_chat, bot.alice, "/search lavrov")
    assert "try again in" in slow_down.text
    other = await bot.ask(bot.admin_chat, bot.admin, "/search lavrov")
    assert other.text.startswith("Search: lavrov")
