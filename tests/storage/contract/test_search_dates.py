"""Contract: any ``date`` is a valid ``since``/``until`` bound, the extremes included.

``until:9999`` once failed every search with an OverflowError (the day after 9999-12-31 is no
date) and the bot answered "something went wrong". The query language now clamps what users
type, but a backend must not depend on it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from storage.base import Storage
from storage.models import SearchOrder, SearchQuery
from tests.storage.contract.support import text_query

STORED = 5  # the `loaded` fixture's articles, all of 2022


@pytest.mark.parametrize("order", ["relevance", "newest"])
@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        (date.min, date.max, STORED),
        (None, date.max, STORED),
        (date.min, None, STORED),
        (date.max, None, 0),
        (None, date.min, 0),
        (date.max, date.max, 0),
        (date.min, date.min, 0),
    ],
)
async def test_extreme_dates_are_bounds_like_any_other(
    loaded: Storage,
    since: date | None,
    until: date | None,
    expected: int,
    order: SearchOrder,
) -> None:
    dates_only = SearchQuery(since=since, until=until, order=order, limit=10)
    assert (await loaded.search(dates_only)).total == expected
    words = replace(text_query("the"), order=order)
    everything = (await loaded.search(words)).total
    dated = replace(words, since=since, until=until)
    assert (await loaded.search(dated)).total == (everything if expected else 0)
