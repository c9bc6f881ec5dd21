"""End to end: subscriptions, the digest menu, time zones and /stop."""

from __future__ import annotations

from tests.conftest import Bot


async def test_subscribe_person_list_and_remove_by_button(bot: Bot) -> None:
    chat = bot.alice_chat
    done = await bot.ask(chat, bot.alice, "/subscribe person Lavrov")
    assert "Subscribed #" in done.text and "Lavrov" in done.text
    assert [b.text for b in done.flat_buttons] == ["Undo"]
    again = await bot.ask(chat, bot.alice, "/subscribe person Sergei Lavrov")
    assert "already follows Serge" in again.text and "Lavrov" in again.text
    await bot.ask(chat, bot.alice, "/subscribe eurasian integration")
    listing = await bot.ask(chat, bot.alice, "/subscriptions")
    assert "person: Serge" in listing.text
    assert "keyword: eurasian integration" in listing.text
    assert len(listing.flat_buttons) == 2
    remove = listing.flat_buttons[0].callback_data or ""
    await bot.press(listing, remove)
    edited = await bot.server.wait_for_edit(chat.id, listing.message_id)
    assert "Lavrov" not in edited.text and "eurasian integration" in edited.text
    subs = await bot.services.storage.list_subscriptions(chat.id)
    assert [s.query for s in subs] == ["eurasian integration"]


async def test_undo_and_refusals(bot: Bot) -> None:
    chat = bot.alice_chat
    done = await bot.ask(chat, bot.alice, "/subscribe country Belarus")
    assert "Belarus" in done.text
    await bot.press(done, done.button("Undo").callback_data or "")
    undone = await bot.server.wait_for_edit(chat.id, done.message_id)
    assert undone.text.startswith("Undone")
    assert await bot.services.storage.list_subscriptions(chat.id) == []
    unknown = await bot.ask(chat, bot.alice, "/subscribe person Zzyzx Qwerty")
    assert "No person known as Zzyzx Qwerty" in unknown.text
    assert "/subscribe Zzyzx Qwerty" in unknown.text
    empty = await bot.ask(chat, bot.alice, "/subscribe")
    assert "/subscribe person Lavrov" in empty.text
    no_words = await bot.ask(chat, bot.alice, "/subscribe ***")
    assert "at least one word" in no_words.text


async def test_subscription_limit(bot: Bot) -> None:
    chat = bot.alice_chat
    limit = bot.settings.max_subscriptions_per_chat
    for n in range(limit):
        await bot.app.bot_data.chats.ensure(chat.id, "private", "Alice")
        await bot.app.bot_data.chats.subscribe(chat.id, f"topic{n}")
    over = await bot.ask(chat, bot.alice, "/subscribe one too many")
    assert f"limit of {limit} subscriptions" in over.text


async def test_remove_button_cannot_touch_another_chats_subscription(bot: Bot) -> None:
    admin_sub = await bot.ask(bot.admin_chat, bot.admin, "/subscribe org OSCE")
    assert "OSCE" in admin_sub.text
    (sub,) = await bot.services.storage.list_subscriptions(bot.admin_chat.id)
    await bot.ask(bot.alice_chat, bot.alice, "/subscribe lavrov")
    # Alice types the admin's subscription id.
    refused = await bot.ask(bot.alice_chat, bot.alice, f"/unsubscribe {sub.id}")
    assert "has no subscription" in refused.text
    assert len(await bot.services.storage.list_subscriptions(bot.admin_chat.id)) == 1


async def test_unsubscribe_all_asks_first(bot: Bot) -> None:
    chat = bot.alice_chat
    await bot.ask(chat, bot.alice, "/subscribe lavrov")
    await bot.ask(chat, bot.alice, "/subscribe osce")
    question = await bot.ask(chat, bot.alice, "/unsubscribe all")
    await bot.press(question, "ua:n")
    kept = await bot.server.wait_for_edit(chat.id, question.message_id)
    assert "Kept" in kept.text
    assert len(await bot.services.storage.list_subscriptions(chat.id)) == 2
    question = await bot.ask(chat, bot.alice, "/unsubscribe all")
    await bot.press(question, "ua:y")
    removed = await bot.server.wait_for_edit(chat.id, question.message_id)
    assert removed.text == "Removed 2 subscriptions."
    assert await bot.services.storage.list_subscriptions(chat.id) == []


async def test_digest_menu_changes_settings(bot: Bot) -> None:
    chat = bot.alice_chat
    menu = await bot.ask(chat, bot.alice, "/digest")
    assert "daily at 09:00" in menu.text and "Next digest:" in menu.text
    await bot.press(menu, "d:f:weekly")
    weekly = await bot.server.wait_for_edit(chat.id, menu.message_id)
    assert "every Monday at 09:00" in weekly.text and "✓ weekly" in [
        b.text for b in weekly.flat_buttons
    ]
    await bot.press(weekly, "d:wm")
    days = await bot.server.wait_for_edit(chat.id, menu.message_id)
    await bot.press(days, "d:w:4")
    friday = await bot.server.wait_for_edit(chat.id, menu.message_id)
    assert "every Friday at 09:00" in friday.text
    await bot.press(friday, "d:tm")
    hours = await bot.server.wait_for_edit(chat.id, menu.message_id)
    await bot.press(hours, "d:t:18")
    evening = await bot.server.wait_for_edit(chat.id, menu.message_id)
    assert "every Friday at 18:00" in evening.text
    await bot.press(evening, "d:dip")
    await bot.server.wait_for_edit(chat.id, menu.message_id)
    await bot.press(bot.server.message(chat.id, menu.message_id), "d:pause")
    paused = await bot.server.wait_for_edit(chat.id, menu.message_id)
    assert "Paused" in paused.text and "Only diplomatic news: no" in paused.text
    stored = await bot.services.storage.get_chat(chat.id)
    assert (stored.digest_frequency, stored.digest_weekday, stored.digest_time) == (
        "weekly",
        4,
        "18:00",
    )
    assert stored.paused and not stored.only_diplomatic and stored.next_digest_at is None


async def test_digest_words_and_timezone(bot: Bot) -> None:
    chat = bot.alice_chat
    set_time = await bot.ask(chat, bot.alice, "/digest time 07:30")
    assert "daily at 07:30" in set_time.text
    wrong = await bot.ask(chat, bot.alice, "/digest time 25:00")
    assert "09:00" in wrong.text
    zone = await bot.ask(chat, bot.alice, "/timezone minsk")
    assert "set to Europe/Minsk" in zone.text
    stored = await bot.services.storage.get_chat(chat.id)
    assert stored.tz == "Europe/Minsk" and stored.next_digest_at is not None
    local = stored.next_digest_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Minsk"))
    assert local.strftime("%H:%M") == "07:30"
    offset = await bot.ask(chat, bot.alice, "/timezone UTC+3")
    assert "UTC+3" in offset.text
    bad = await bot.ask(chat, bot.alice, "/timezone Atlantis")
    assert "Europe/Minsk" in bad.text and "I do not know that time zone" in bad.text
    shown = await bot.ask(chat, bot.alice, "/timezone")
    assert "UTC+3" in shown.text


async def test_stop_forgets_the_chat_after_confirmation(bot: Bot) -> None:
    chat = bot.alice_chat
    await bot.ask(chat, bot.alice, "/subscribe person Lavrov")
    question = await bot.ask(chat, bot.alice, "/stop")
    assert "Forget this chat?" in question.text
    await bot.press(question, "stop:y")
    done = await bot.server.wait_for_edit(chat.id, question.message_id)
    assert done.text.startswith("Forgot this chat")
    assert await bot.services.storage.list_subscriptions(chat.id) == []
    stats = await bot.services.search.stats()
    assert stats.chats == 0


OTHER_LAVROV = """\
Ambassador meets business leaders
MOSCOW. November 5. KAZINFORM Russian Ambassador Andrei Lavrov met business leaders on \
Tuesday to discuss trade between the two countries, the embassy said. Andrei Lavrov said \
that the ambassador's office will host a forum on investment next spring. "We expect many \
delegations," Andrei Lavrov noted. The ambassador also discussed consular matters with the \
foreign ministry and visited the trade mission."""


async def test_ambiguous_name_offers_one_button_per_person(bot: Bot) -> None:
    await bot.services.ingest.text(OTHER_LAVROV, source="Kazinform")
    chat = bot.alice_chat
    question = await bot.ask(chat, bot.alice, "/person Lavrov")
    assert question.text.endswith("Which one?")
    labels = [b.text for b in question.flat_buttons]
    assert len(labels) == 2 and any("Andrei Lavrov" in label for label in labels)
    andrei = question.button("Andrei")
    await bot.press(question, andrei.callback_data or "")
    card = await bot.server.wait_for_edit(chat.id, question.message_id)
    assert card.text.startswith("Andrei Lavrov") and "Ambassador meets business" in card.text
    ask = await bot.ask(chat, bot.alice, "/subscribe person Lavrov")
    assert "Several persons are known as Lavrov" in ask.text
    await bot.press(ask, ask.button("Andrei").callback_data or "")
    done = await bot.server.wait_for_edit(chat.id, ask.message_id)
    assert "Subscribed #" in done.text and "Andrei Lavrov" in done.text
    (sub,) = await bot.services.storage.list_subscriptions(chat.id)
    assert sub.kind == "person" and sub.query == "Andrei Lavrov"
