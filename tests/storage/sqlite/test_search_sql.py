"""SQLite only: the search SQL's own constants (the contract's cap is tested at full size in
tests/storage/contract/test_search.py)."""

from __future__ import annotations

import pytest

from storage.sqlite import SQLiteStorage
from storage.sqlite import search as sq
from tests.storage.contract.support import NOW, STATEDEPT, article, text_query


async def test_total_is_capped_and_flagged(
    store: SQLiteStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.add_articles(
        [article(t, x, url=f"https://x.example/c{i}") for i, (t, x) in enumerate(STATEDEPT)],
        now=NOW,
    )
    exact = await store.search(text_query("the"))
    assert (exact.total, exact.total_capped) == (4, False)
    monkeypatch.setattr(sq, "TOTAL_CAP", 3)
    capped = await store.search(text_query("the"))
    assert (capped.total, capped.total_capped) == (3, True)
    assert len(capped.hits) == 4  # the page itself is not cut


def test_the_match_expression_quotes_every_token() -> None:
    query = text_query('kofod OR "foreign minister" secur* -russia')
    assert query.text is not None
    assert sq.fts_expression(query.text) == (
        '(("kofod" OR "foreign minister") AND "secur"*) NOT ("russia")'
    )
