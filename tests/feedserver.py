"""A local feed and article server on 127.0.0.1 for feed tests, built on ``LocalWebServer``.

It serves the fixture feeds of ``tests/fixtures/feeds`` with their article links rewritten to
point at itself (``https://www.state.gov/x/`` -> ``http://127.0.0.1:PORT/statedept/x/``), serves
each fixture article as a real-looking HTML page at that address, and counts how many article
pages are being served at the same moment (to check the per-host limit of the poller).

    async with FeedServer() as server:
        server.feed("/rss", "statedept_rss20.xml", etag='"v1"')
        server.page_delay = 0.2
        ... poll server.url("/rss") ...
        assert server.max_concurrent_pages <= 2
"""

from __future__ import annotations

import asyncio
import gzip
import html
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from aiohttp import web

from tests.webserver import LocalWebServer, Route

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"

#: Real origins in the fixtures -> the path prefix they are served under here.
ORIGINS = {
    "https://www.state.gov/": "/statedept/",
    "https://en.wikinews.org/wiki/": "/wikinews/",
}

FEED_TYPES = {
    ".xml": "application/rss+xml; charset=utf-8",
    ".rdf": "application/rdf+xml",
    ".json": "application/feed+json",
    ".html": "text/html; charset=utf-8",
}


@dataclass(frozen=True)
class FixtureArticle:
    """One article of ``articles.json``: the source of the feeds and of the pages served."""

    id: str
    url: str
    title: str
    published: str
    source: str
    text: str


def load_articles() -> list[FixtureArticle]:
    rows = json.loads((FIXTURES / "articles.json").read_text(encoding="utf-8"))
    return [
        FixtureArticle(r["id"], r["url"], r["title"], r["published"], r["source"], r["text"])
        for r in rows
    ]


def article_page(article: FixtureArticle) -> str:
    """A news-site page around the article: navigation, headline, date, paragraphs, footer."""
    paragraphs = "\n".join(
        f"      <p>{html.escape(p.strip())}</p>" for p in article.text.split("\n\n") if p.strip()
    )
    title = html.escape(article.title)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title} - {html.escape(article.source)}</title>
  <meta property="og:title" content="{title}">
  <meta property="article:published_time" content="{html.escape(article.published)}">
</head>
<body>
  <nav><a href="/">Home</a> | <a href="/news">News</a> | <a href="/about">About</a></nav>
  <main>
    <article>
      <h1>{title}</h1>
      <time datetime="{html.escape(article.published)}">{html.escape(article.published)}</time>
{paragraphs}
    </article>
  </main>
  <footer><p>Subscribe to our newsletter. Privacy policy. Contact us.</p></footer>
</body>
</html>
"""


def gzip_bomb(decoded_size: int) -> bytes:
    """A gzip stream of ``decoded_size`` zero bytes (about 1,000 times smaller), built in chunks."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # 16+: gzip framing
    block = b"\0" * (1024 * 1024)
    parts = [compressor.compress(block) for _ in range(decoded_size // len(block))]
    parts.append(compressor.flush())
    return b"".join(parts)


def quadratic_blowup_feed(entity_size: int = 10_000, references: int = 10_000) -> bytes:
    """An RSS feed whose one flat entity, referenced many times, expands to a huge text."""
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "'
        + "A" * entity_size
        + '">\n]>\n<rss version="2.0"><channel><title>t</title><item><title>x</title>'
        + "<link>https://www.state.gov/x/</link><description>"
        + "&a;" * references
        + "</description></item></channel></rss>\n"
    ).encode()


class FeedServer(LocalWebServer):
    """``LocalWebServer`` plus fixture feeds, fixture article pages and a concurrency gauge."""

    def __init__(self) -> None:
        super().__init__()
        self.articles = load_articles()
        self.page_delay = 0.0
        self.failing_pages: set[str] = set()  # article paths that answer 500
        self.page_requests: list[str] = []
        self.concurrent_pages = 0
        self.max_concurrent_pages = 0
        self._pages: dict[str, FixtureArticle] = {}
        for article in self.articles:
            self._pages[self._local_path(article.url)] = article

    async def __aenter__(self) -> FeedServer:
        await self.start()
        return self

    @staticmethod
    def _local_path(url: str) -> str:
        for origin, prefix in ORIGINS.items():
            if url.startswith(origin):
                url = prefix + url[len(origin) :]
                break
        return unquote(urlsplit(url).path).rstrip("/")

    def rewrite(self, data: bytes) -> bytes:
        """Point a fixture's links at this server."""
        for origin, prefix in ORIGINS.items():
            data = data.replace(origin.encode(), f"{self.base_url}{prefix}".encode())
        return data

    def fixture(self, name: str) -> bytes:
        return self.rewrite((FIXTURES / name).read_bytes())

    def feed(
        self,
        path: str,
        name: str,
        *,
        content_type: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        delay: float = 0.0,
    ) -> Route:
        """Serve the fixture feed ``name`` at ``path`` (links rewritten to this server)."""
        return self.page(
            path,
            self.fixture(name),
            content_type=content_type or FEED_TYPES[Path(name).suffix],
            etag=etag,
            last_modified=last_modified,
            delay=delay,
        )

    def gzip_bomb(self, path: str, decoded_size: int) -> int:
        """Serve a pre-compressed gzip bomb; returns its compressed size."""
        body = gzip_bomb(decoded_size)
        self.page(
            path,
            body,
            content_type="application/rss+xml",
            headers={"Content-Encoding": "gzip"},
        )
        return len(body)

    def local_url(self, article: FixtureArticle) -> str:
        """Where this server serves ``article``."""
        return self.rewrite(article.url.encode()).decode()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = unquote(request.path).rstrip("/")
        article = self._pages.get(path)
        if article is None:
            return await super()._handle(request)
        self.page_requests.append(path)
        self.concurrent_pages += 1
        self.max_concurrent_pages = max(self.max_concurrent_pages, self.concurrent_pages)
        try:
            if self.page_delay:
                await asyncio.sleep(self.page_delay)
            if path in self.failing_pages:
                return web.Response(status=500, text="internal server error")
            return web.Response(
                body=gzip.compress(article_page(article).encode()),
                headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"},
            )
        finally:
            self.concurrent_pages -= 1
