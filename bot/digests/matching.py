"""Matching at ingest: every new article against every subscription that existed when it came.

The matching itself lives in storage (see :mod:`storage.sqlite.percolate`): keyword
subscriptions must follow exactly the ``/search`` semantics, which are the full-text engine's,
and person/country/organisation subscriptions match by entity id through the stored links.
Matches are recorded once per shared query or entity; each chat's inbox rows appear when its
inbox is read (``Storage.pending_digest``), so digests see one item per matching subscription.
This module drains the queue of unmatched articles in batches, each batch in its own
transaction, so callers (ingest, the periodic job) need one call.
"""

from __future__ import annotations

from bot.clock import Clock
from storage.base import Storage
from storage.models import PercolateResult

BATCH = 500  # articles per transaction: large enough to amortise, short enough not to block


async def percolate_all(
    storage: Storage, batch: int = BATCH, max_batches: int | None = None, *, clock: Clock
) -> PercolateResult:
    """Match every article waiting to be matched (at most ``max_batches`` batches, so a big
    backlog can be worked off over several calls); the totals, and every chat on ``instant``
    delivery with new matches (chats on scheduled digests are not listed)."""
    articles = matches = 0
    chats: set[int] = set()
    done = 0
    while max_batches is None or done < max_batches:
        done += 1
        result = await storage.percolate(batch, now=clock())
        if result.articles == 0:
            break
        articles += result.articles
        matches += result.matches
        chats.update(result.chats)
    return PercolateResult(articles=articles, matches=matches, chats=tuple(sorted(chats)))
