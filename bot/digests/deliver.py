"""Delivering a composed digest, losing nothing: each message's articles are marked delivered
only after Telegram accepted that message.

``deliver_digest`` sends a digest's messages in order through a ``Sender`` (the Telegram side is
``bot.runtime.sender.Deliverer``) and, after each was accepted, marks exactly that message's
articles delivered, in the same transaction that sets the chat's next digest time
(``Storage.mark_delivered``). A crash between a send and its mark repeats that one message after
a restart; nothing is marked before it was accepted, so nothing is lost. The schedule only moves
on with the last message: if the process dies half-way through a digest, the chat is still due
and the rest goes out on the next tick.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from bot.clock import Clock
from bot.digests.compose import Digest
from storage.models import Chat

log = logging.getLogger(__name__)

SendStatus = Literal["sent", "blocked", "failed"]


@dataclass(frozen=True, slots=True)
class SendResult:
    """What became of one message."""

    status: SendStatus
    message_id: int | None = None
    error: str | None = None
    attempts: int = 1
    permanent: bool = False  # a failure that retrying cannot fix (e.g. 400 Bad Request)


class DeliveryStorage(Protocol):
    """The part of ``storage.base.Storage`` that delivery writes to."""

    async def mark_delivered(
        self,
        chat_id: int,
        article_ids: Sequence[int],
        delivered_at: datetime,
        next_digest_at: datetime | None,
    ) -> None: ...

    async def mark_blocked(self, chat_id: int, at: datetime) -> None: ...

    async def mark_sending(
        self, chat_id: int, article_ids: Sequence[int], at: datetime | None
    ) -> None: ...


class Sender(Protocol):
    """Anything that sends one message like ``Deliverer.send``."""

    async def send(self, chat_id: int, html_text: str, *, is_group: bool = False) -> SendResult: ...


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """The outcome of delivering one digest."""

    chat_id: int
    messages: int = 0  # messages Telegram accepted
    articles: int = 0  # articles marked delivered (shown or skipped)
    blocked: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.blocked and self.error is None


async def deliver_digest(
    storage: DeliveryStorage,
    sender: Sender,
    chat: Chat,
    digest: Digest,
    *,
    next_digest_at: datetime | None,
    clock: Clock,
) -> DeliveryReport:
    """Send a digest's messages in order, marking each one's articles after it was accepted.

    ``next_digest_at`` is written with the last message (or at once for an empty digest);
    earlier messages keep ``chat.next_digest_at``, so an interrupted digest stays due. A chat
    that is gone is marked blocked; a failed message leaves its articles pending (and, when
    retrying cannot help, still moves the schedule on so the chat is not retried every tick).
    """
    if not digest.parts:
        await storage.mark_delivered(chat.id, digest.skipped_ids, clock(), next_digest_at)
        return DeliveryReport(chat.id, articles=len(digest.skipped_ids))
    is_group = chat.type != "private"
    messages = articles = 0
    for index, part in enumerate(digest.parts):
        # Marked before the send: if the process dies before the mark below, these items are
        # re-sent together as one message rather than scattered over the next digests.
        await storage.mark_sending(chat.id, part.article_ids, clock())
        result = await sender.send(chat.id, part.html, is_group=is_group)
        if result.status != "sent":
            await storage.mark_sending(chat.id, part.article_ids, None)
        if result.status == "blocked":
            log.info("chat %s is gone (%s): its digests stop", chat.id, result.error)
            await storage.mark_blocked(chat.id, clock())
            return DeliveryReport(chat.id, messages, articles, blocked=True, error=result.error)
        if result.status == "failed":
            if result.permanent:
                await storage.mark_delivered(chat.id, (), clock(), next_digest_at)
            return DeliveryReport(chat.id, messages, articles, error=result.error)
        last = index == len(digest.parts) - 1
        ids = tuple(part.article_ids) + (digest.skipped_ids if index == 0 else ())
        await storage.mark_delivered(
            chat.id, ids, clock(), next_digest_at if last else chat.next_digest_at
        )
        messages += 1
        articles += len(ids)
    return DeliveryReport(chat.id, messages, articles)
