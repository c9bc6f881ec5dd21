"""``/start``: what the bot does, three example commands, and buttons that run them."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.runtime.context import AttacheContext
from handlers import latest, person, search
from handlers.common import answer, keyboard, register_chat, reply

EXAMPLES = (
    ("search", "eurasian integration"),
    ("person", "Lavrov"),
    ("latest", ""),
)

WELCOME = """\
<b>Attaché</b> keeps diplomatic news: it stores articles from wires, feeds and forwarded \
messages, knows who and which countries they are about, and sends you digests of what is new.

Try:
/search eurasian integration — articles with these words
/person Lavrov — a person's name variants and latest articles
/latest — the newest diplomatic articles

/subscribe person Lavrov follows a person; /digest sets when you hear from me. \
/help lists every command."""


async def cmd_start(update: Update, context: AttacheContext) -> None:
    await register_chat(update, context)
    buttons = keyboard(
        [(f"/{name} {args}".strip(), f"ex:{i}") for i, (name, args) in enumerate(EXAMPLES)]
    )
    await reply(update, context, WELCOME, buttons)


async def on_example(update: Update, context: AttacheContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    index = query.data.removeprefix("ex:")
    await answer(update)
    if index == "0":
        await search.run_search(update, context, EXAMPLES[0][1])
    elif index == "1":
        await person.run_person(update, context, EXAMPLES[1][1])
    elif index == "2":
        await latest.run_latest(update, context, latest.DEFAULT_COUNT)


HANDLERS = [
    CommandHandler("start", cmd_start),
    CallbackQueryHandler(on_example, pattern=r"^ex:[0-2]$"),
]
