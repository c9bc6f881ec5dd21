"""A feed with hostile entries keeps working: its other entries are stored, the poll succeeds.

Served by ``tests.feedserver.FeedServer`` on 127.0.0.1, polled by the real poller, stored by the
real ``Ingest.store`` (entity extraction included) in a real SQLite file. Before, a JSON Feed
item with a lone surrogate or a feed title with a NUL made every poll fail until the feed was
disabled, and one item the HTML parser tripped on, or dated past the year 9999 in UTC, cost the
whole feed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.feeds.poll import FeedPoller
from bot.feeds.service import Added, Feeds
from bot.ingest.guard import make_client
from bot.ingest.service import Ingest
from storage.sqlite import SQLiteStorage
from tests.feedserver import FeedServer

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ARTICLES = [
    json.loads(line)
    for line in (Path(__file__).parents[1] / "fixtures" / "statedept_digest_40.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
]


def hostile_json_feed(base_url: str) -> bytes:
    def item(number: int, **fields: object) -> dict[str, object]:
        article = ARTICLES[number]
        return {
            "id": f"{base_url}/statement/{number}",
            "url": f"{base_url}/statement/{number}",
            "title": article["title"],
            "content_text": article["text"],
            "date_published": article["published"],
            **fields,
        }

    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "State\x00 Department statements",
        "items": [
            item(0),
            item(1, id="tag:state.gov,2021:\ud800", title="Bad \ud800 title"),
            item(2, title="NUL\x00 title", url=f"{base_url}/statement/\ud800"),
            item(3, summary="<p>Statement</p><![foo[ trips the HTML parser ]]>"),
            item(4, date_published="9999-12-31T23:59:59-01:00"),  # past 9999 in UTC
        ],
    }
    return json.dumps(document).encode()  # ensure_ascii: "\ud800" travels as its escape


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SQLiteStorage]:
    async with SQLiteStorage(tmp_path / "t.db") as store:
        yield store


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(allow_private=True, timeout=5.0) as http:
        yield http


async def test_hostile_items_cost_only_themselves_and_the_poll_succeeds(
    storage: SQLiteStorage, client: httpx.AsyncClient
) -> None:
    settings = Settings.model_validate({"fetch_allow_private": True})
    ingest = Ingest(storage, client, settings, lambda: NOW)
    poller = FeedPoller(storage, client, ingest.store, clock=lambda: NOW, allow_private=True)
    async with FeedServer() as server:
        server.page(
            "/feed.json",
            hostile_json_feed(server.base_url),
            content_type="application/feed+json",
        )
        added = await Feeds(storage, poller, lambda: NOW).add(server.url("/feed.json"), 15)
        assert isinstance(added, Added)
        assert added.feed.title == "State Department statements"

        result = await poller.poll_feed(added.feed)
        again = await poller.poll_feed(result.feed)

    assert result.ok, result.error
    assert (result.entries, result.new_entries) == (5, 5)
    assert [o.created for o in result.stored] == [True] * 5
    assert {o.title for o in result.stored} == {
        ARTICLES[0]["title"],
        "Bad \ufffd title",
        "NUL title",
        ARTICLES[3]["title"],
        ARTICLES[4]["title"],
    }
    assert again.ok and again.new_entries == 0 and result.feed.failures == 0
    stored = {article.title: article async for article in storage.iter_articles()}
    assert len(stored) == 5
    assert {a.source for a in stored.values()} == {"State Department statements"}
    assert stored[ARTICLES[4]["title"]].published_at is None
