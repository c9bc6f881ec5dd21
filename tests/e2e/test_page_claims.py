"""A page vouches for its own site only: an article page that claims another site's canonical URL
and name is stored under the URL it was fetched from and that URL's host, so the real article,
fetched later from its own site, is stored as new instead of being dropped as a duplicate of the
copy; and a site's own canonical URL is still honoured.

The real path: ``Ingest.url`` (what ``/ingest URL`` and ``attache ingest URL`` run) fetches real
pages from a real server on 127.0.0.1 and stores them in SQLite. The "real site" is the server
under its address 127.0.0.1, the copycat the same server under the name localhost: two
registrable domains, both on this machine (and the client's network reaches nothing else).
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.factory import make_storage
from bot.services import Services
from tests.conftest import FIXTURES, SEED_TEXT
from tests.loopnet import LoopbackNet
from tests.webserver import LocalWebServer

REAL_TEXT = (FIXTURES / "statedept_thailand_dialogue.txt").read_text(encoding="utf-8")


def article_page(text: str, *, canonical: str, site_name: str) -> str:
    """An article page whose head claims ``canonical`` and ``site_name``."""
    title, *paragraphs = [line.strip() for line in text.splitlines() if line.strip()]
    body = "".join(f"<p>{html.escape(paragraph)}</p>" for paragraph in paragraphs)
    return (
        f"<html lang='en'><head><title>{html.escape(title)}</title>"
        f"<link rel='canonical' href='{canonical}'>"
        f"<meta property='og:url' content='{canonical}'>"
        f"<meta property='og:site_name' content='{site_name}'>"
        f"</head><body><article><h1>{html.escape(title)}</h1>{body}</article></body></html>"
    )


@pytest.fixture
async def server() -> AsyncIterator[LocalWebServer]:
    async with LocalWebServer() as running:
        yield running


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings.model_validate(
        {"database_url": f"sqlite:///{tmp_path / 'attache.db'}", "fetch_allow_private": True}
    )
    opened = Services(
        make_storage(settings), settings, http=LoopbackNet().client(allow_private=True)
    )
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def test_a_copy_claiming_the_real_sites_story_does_not_take_its_place(
    server: LocalWebServer, services: Services
) -> None:
    real_url = server.url("/world/real-story")
    copy_url = server.url("/copy", host="localhost")
    server.page("/copy", article_page(SEED_TEXT, canonical=real_url, site_name="Real Wire"))
    server.page("/world/real-story", article_page(REAL_TEXT, canonical=real_url, site_name="X"))

    copy = await services.ingest.url(copy_url)
    stored_copy = await services.storage.get_article(copy.article_id)
    assert (stored_copy.url, stored_copy.source) == (copy_url, "localhost")

    real = await services.ingest.url(real_url)
    assert real.created, real.duplicate_reason
    stored_real = await services.storage.get_article(real.article_id)
    assert stored_real.url == real_url
    assert stored_real.source == "127.0.0.1"  # an address names no site: its own host


async def test_a_canonical_url_of_the_same_site_is_honoured(
    server: LocalWebServer, services: Services
) -> None:
    canonical = server.url("/world/real-story")
    server.page("/amp/real-story", article_page(REAL_TEXT, canonical=canonical, site_name="X"))
    outcome = await services.ingest.url(server.url("/amp/real-story"))
    stored = await services.storage.get_article(outcome.article_id)
    assert stored.url == canonical
