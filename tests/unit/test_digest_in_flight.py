"""A crash between Telegram accepting a digest message and the mark that records it repeats
that one message, whole, before anything else: its items are never scattered over later
messages (which would repeat several). Driven through the real app and local Bot API server."""

from __future__ import annotations

from tests.conftest import Bot
from tests.e2e.test_digest_bot import past, quick_digests, sent_to
from tests.storage.peek import pending_inbox
from tests.unit.test_digest_support import make_chat, match, store_releases, subscribe

CAP = 5  # a small cap so a few releases make a digest with "and N more"


async def test_interrupted_send_is_repeated_once_as_one_message(bot: Bot) -> None:
    storage = bot.services.storage
    chat_id = bot.alice_chat.id
    digests = quick_digests(bot)
    digests.cap = CAP
    ids = await store_releases(storage, range(12))
    chat = await make_chat(storage, chat_id, next_at=past())
    keyword = await subscribe(storage, chat_id, "keyword", "secretary")
    await match(storage, chat_id, keyword.id, ids[:8])

    # The crash: the first message of the digest is marked as being sent and Telegram
    # accepts it, but the process dies before its items are marked delivered.
    digest = await digests.compose(chat)
    interrupted = digest.parts[0]
    await storage.mark_sending(chat_id, interrupted.article_ids, digests.clock())
    await bot.app.bot.send_message(chat_id, interrupted.html)
    seen_before = len(sent_to(bot, chat_id))

    # Newer matches arrive before the restart; the restarted bot then sends the digest.
    await match(storage, chat_id, keyword.id, ids[8:])
    report = await digests.send_due()
    assert report.failed == 0

    titles = {a.id: a.title for a in await storage.get_articles(ids)}

    def shown(text: str) -> set[int]:
        return {article_id for article_id, title in titles.items() if title in text}

    after = sent_to(bot, chat_id)[seen_before:]
    assert after, "nothing was sent after the restart"
    # The first message repeats exactly the interrupted items, together...
    assert shown(after[0].text) == set(interrupted.article_ids)
    # ...and no later message repeats any of them.
    for message in after[1:]:
        assert not shown(message.text) & set(interrupted.article_ids)

    # Nothing is lost: /more drains what the cap held back, and every item is delivered.
    while (await digests.more(chat_id)).status == "sent":
        pass
    assert await pending_inbox(storage, chat_id) == []
    delivered = set().union(*(shown(m.text) for m in sent_to(bot, chat_id)))
    assert delivered == set(ids)
