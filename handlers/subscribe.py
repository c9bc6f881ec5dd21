"""``/subscribe``, ``/subscriptions``, ``/unsubscribe ID|all`` and their buttons.

Callback data: ``sp:<entity id>`` (pick a candidate), ``u:<sub id>`` (undo a new subscription),
``ul:<sub id>`` (remove from the list), ``ua:y|n`` (confirm removing all). Subscription ids are
checked to belong to the chat the command acts on, never trusted from the button.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.chats.service import Ambiguous, Subscribed, SubscribeOutcome, Unknown
from bot.render import alias_names, entity_label, escape, subscription_line, truncate
from bot.runtime.context import AttacheContext
from handlers.common import (
    STALE_BUTTON,
    Target,
    answer,
    arg_text,
    edit,
    keyboard,
    parse_int,
    refuse,
    reply,
    target_chat,
)
from storage.models import Subscription

USAGE = """\
What should I follow? For example:
<code>/subscribe eurasian integration</code> — articles with these words
<code>/subscribe person Lavrov</code>
<code>/subscribe country Belarus</code>
<code>/subscribe org OSCE</code>"""
_REFUSALS = {
    "empty": "Tell me what to follow. " + "Example: /subscribe person Lavrov",
    "too_long": "That is too long for a subscription (at most {} characters).",
    "no_words": "A keyword subscription needs at least one word to look for.",
    "duplicate": "This chat already follows {}.",
    "limit": "This chat has reached its limit of {} subscriptions; /subscriptions lists them.",
}
MAX_LISTED = 50
# What a name that resolves to nothing should look like, per kind.
_NAME_EXAMPLES = {
    "person": "the full name, as in <code>/subscribe person Maria Zakharova</code>",
    "country": "its name, as in <code>/subscribe country Belarus</code>",
    "org": "its name or acronym, as in <code>/subscribe org OSCE</code>",
}


def _outcome_text(
    outcome: SubscribeOutcome, target: Target
) -> tuple[str, InlineKeyboardMarkup | None]:
    if isinstance(outcome, Subscribed):
        sub, entity = outcome.subscription, outcome.entity
        if entity is not None:
            variants = alias_names(entity)
            matched = f"articles about <b>{escape(entity.canonical)}</b>"
            if variants:
                matched += " (also as " + escape(", ".join(variants[:6])) + ")"
        else:
            matched = f"articles matching <b>{escape(sub.query)}</b>"
        text = f"Subscribed #{sub.id}: {escape(target.label)} will get {matched} in its digest."
        if entity is not None and entity.articles == 0:
            # Subscribed ahead of the news (the name came from the gazetteers).
            text += (
                f"\nNo stored article mentions {escape(entity.canonical)} yet;"
                " new ones will come as they arrive."
            )
        text += "".join(f"\n<i>Note: {escape(note)}</i>" for note in outcome.notes)
        text += "\nSettings: /digest"
        return text, keyboard([("Undo", f"u:{sub.id}")])
    if isinstance(outcome, Ambiguous):
        rows = [[(truncate(entity_label(c), 60), f"sp:{c.id}")] for c in outcome.candidates[:8]]
        text = f"Several {outcome.kind}s are known as <b>{escape(outcome.query)}</b>. Which one?"
        return text, keyboard(*rows)
    if isinstance(outcome, Unknown):
        text = (
            f"No {outcome.kind} known as <b>{escape(outcome.query)}</b>. "
            f"Try {_NAME_EXAMPLES[outcome.kind]}. "
            f"To follow the words instead: <code>/subscribe {escape(outcome.query)}</code>"
        )
        return text, None
    template = _REFUSALS[outcome.reason]
    return escape(template.format(outcome.detail)), None


async def cmd_subscribe(update: Update, context: AttacheContext) -> None:
    text = arg_text(update)
    if not text:
        await reply(update, context, USAGE)
        return
    target = await target_chat(update, context, change=True)
    if target is None:
        return
    outcome = await context.bot_data.chats.subscribe(target.chat_id, text)
    message, markup = _outcome_text(outcome, target)
    await reply(update, context, message, markup)


async def on_pick(update: Update, context: AttacheContext) -> None:
    """``sp:<entity id>``: subscribe to the chosen candidate."""
    callback = update.callback_query
    assert callback is not None and callback.data is not None
    entity_id = parse_int(callback.data.removeprefix("sp:"))
    target = await target_chat(update, context, change=True)
    if target is None:
        return
    if entity_id is None:
        await answer(update, STALE_BUTTON, alert=True)
        return
    outcome = await context.bot_data.chats.subscribe_entity(target.chat_id, entity_id)
    if outcome is None:
        await answer(update, STALE_BUTTON, alert=True)
        return
    await answer(update)
    message, markup = _outcome_text(outcome, target)
    await edit(callback, message, markup)


def _list_text(subs: list[Subscription], target: Target) -> tuple[str, InlineKeyboardMarkup | None]:
    if not subs:
        return f"{escape(target.label).capitalize()} follows nothing yet. Try /subscribe.", None
    lines = [f"<b>Subscriptions of {escape(target.label)}</b>"]
    lines += [subscription_line(s) for s in subs[:MAX_LISTED]]
    if len(subs) > MAX_LISTED:
        lines.append(f"… and {len(subs) - MAX_LISTED} more")
    lines.append("\nTap to remove one, or /unsubscribe all.")
    rows = [[(f"✕ #{s.id} {truncate(s.query, 40)}", f"ul:{s.id}")] for s in subs[:MAX_LISTED]]
    return "\n".join(lines), keyboard(*rows)


async def cmd_subscriptions(update: Update, context: AttacheContext) -> None:
    target = await target_chat(update, context, change=False)
    if target is None:
        return
    subs = await context.bot_data.chats.subscriptions(target.chat_id)
    text, markup = _list_text(subs, target)
    await reply(update, context, text, markup)


async def on_remove(update: Update, context: AttacheContext) -> None:
    """``u:<id>`` (undo) and ``ul:<id>`` (from the list): only this chat's subscriptions."""
    callback = update.callback_query
    assert callback is not None and callback.data is not None
    prefix, _, id_text = callback.data.partition(":")
    sub_id = parse_int(id_text)
    target = await target_chat(update, context, change=True)
    if target is None:
        return
    if sub_id is None:
        await answer(update, STALE_BUTTON, alert=True)
        return
    chats = context.bot_data.chats
    removed = await chats.unsubscribe(target.chat_id, sub_id)
    if removed is None:
        await answer(update, "That subscription is not there any more.", alert=True)
        return
    await answer(update, f"Removed #{removed.id}")
    if prefix == "ul":
        text, markup = _list_text(await chats.subscriptions(target.chat_id), target)
        await edit(callback, text, markup)
    else:
        await edit(callback, f"Undone: no longer following {escape(removed.query)}.", None)


async def cmd_unsubscribe(update: Update, context: AttacheContext) -> None:
    arg = arg_text(update)
    if not arg:
        await reply(
            update,
            context,
            "Which one? <code>/unsubscribe 3</code> or "
            "<code>/unsubscribe all</code>; /subscriptions lists them.",
        )
        return
    target = await target_chat(update, context, change=True)
    if target is None:
        return
    if arg.lower() == "all":
        question = f"Remove <b>every</b> subscription of {escape(target.label)}?"
        await reply(
            update, context, question, keyboard([("Yes, remove all", "ua:y"), ("No", "ua:n")])
        )
        return
    sub_id = parse_int(arg)
    removed = (
        None if sub_id is None else await context.bot_data.chats.unsubscribe(target.chat_id, sub_id)
    )
    if removed is None:
        await refuse(
            update,
            context,
            f"{target.label.capitalize()} has no subscription {arg[:20]}. See /subscriptions.",
        )
        return
    await reply(update, context, f"Removed #{removed.id}: {escape(removed.query)}.")


async def on_remove_all(update: Update, context: AttacheContext) -> None:
    callback = update.callback_query
    assert callback is not None and callback.data is not None
    if callback.data == "ua:n":
        await answer(update)
        await edit(callback, "Kept every subscription.", None)
        return
    target = await target_chat(update, context, change=True)
    if target is None:
        return
    count = await context.bot_data.chats.unsubscribe_all(target.chat_id)
    await answer(update)
    await edit(callback, f"Removed {count} subscription{'s' if count != 1 else ''}.", None)


HANDLERS = [
    CommandHandler("subscribe", cmd_subscribe),
    CommandHandler("subscriptions", cmd_subscriptions),
    CommandHandler("unsubscribe", cmd_unsubscribe),
    CallbackQueryHandler(on_pick, pattern=r"^sp:\d{1,12}$"),
    CallbackQueryHandler(on_remove, pattern=r"^ul?:\d{1,12}$"),
    CallbackQueryHandler(on_remove_all, pattern=r"^ua:[yn]$"),
]
