"""Ingest use-cases: pasted or forwarded text, article URLs, bulk files, and re-indexing.

Every way an article arrives ends in ``Ingest.store``: entities are extracted and the article
classified off the event loop, the batch is stored in one transaction, and the new articles are
matched against subscriptions at once (``bot.digests.matching``), whichever process stored them.

Articles are enriched one by one, each on its own: one that cannot be (an unusable URL, a text
the extractor trips on) is reported with where it came from (a file's line, a feed entry's
guid) and the rest of the batch is stored. A bulk ingest's report lists the first
``bot.ingest.model.MAX_LISTED_ERRORS`` failures and counts them all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import httpx

from bot import nlp
from bot.clock import Clock
from bot.config import Settings
from bot.digests.matching import percolate_all
from bot.ingest.bulk import BulkError, BulkItem, iter_bulk_file
from bot.ingest.fetch import fetch
from bot.ingest.html import parse_html
from bot.ingest.model import IngestError, IngestOutcome, IngestReport, ParsedArticle
from bot.ingest.normalize import build_new_article, url_domain
from bot.ingest.text import parse_text
from bot.urls import has_http_scheme
from storage.base import Storage
from storage.models import AddResult, Classification, EntityKind, EntityMention, NewArticle

log = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("text/plain",)
INGEST_BATCH = 500


def analyse(title: str, text: str) -> tuple[Classification, tuple[EntityMention, ...]]:
    """Entities and the diplomatic verdict of an article's title and text."""
    extraction = nlp.extract(f"{title}\n\n{text}")
    mentions = tuple(
        EntityMention(
            kind=e.kind,
            canonical=e.canonical,
            key=e.key,
            aliases=e.aliases,
            mentions=e.mentions,
            first_offset=e.first_offset,
        )
        for e in extraction.entities
    )
    verdict = extraction.diplomatic
    classification = Classification(
        score=verdict.score, is_diplomatic=verdict.label, reasons=verdict.reasons
    )
    return classification, mentions


def enrich(parsed: ParsedArticle) -> NewArticle:
    """Extract entities and classify, then build the storable article."""
    classification, mentions = analyse(parsed.title, parsed.text)
    return build_new_article(parsed, classification=classification, entities=mentions)


def enrich_each(parsed: Sequence[ParsedArticle]) -> list[NewArticle | IngestError]:
    """``enrich`` every article on its own: an article that fails gives its error, in its place,
    and costs none of the others."""
    results: list[NewArticle | IngestError] = []
    for article in parsed:
        try:
            results.append(enrich(article))
        except IngestError as exc:
            results.append(exc)
        except Exception as exc:
            # A text the extractor trips on is that article's failure, not the batch's.
            log.exception("enriching %r failed", article.title[:80])
            results.append(IngestError(f"the article could not be analysed ({type(exc).__name__})"))
    return results


def _outcome(article: NewArticle, result: AddResult) -> IngestOutcome:
    def names(kind: EntityKind) -> tuple[str, ...]:
        return tuple(e.canonical for e in article.entities if e.kind == kind)

    return IngestOutcome(
        article_id=result.article_id,
        created=result.created,
        title=article.title,
        duplicate_reason=result.duplicate_reason,
        persons=names("person"),
        countries=names("country"),
        orgs=names("org"),
        diplomatic_score=article.classification.score,
        is_diplomatic=article.classification.is_diplomatic,
    )


class Ingest:
    """Storing articles from every kind of source, over one storage and one HTTP client."""

    def __init__(
        self, storage: Storage, http: httpx.AsyncClient, settings: Settings, clock: Clock
    ) -> None:
        self.storage = storage
        self.http = http
        self.settings = settings
        self.clock = clock

    async def store(self, parsed: Sequence[ParsedArticle]) -> list[IngestOutcome]:
        """Enrich and store parsed articles in one transaction.

        An article that cannot be enriched is logged and left out; the others are stored (the
        outcomes are those of the stored ones, in order)."""
        outcomes, failures = await self.store_each(parsed)
        for index, error in failures:
            article = parsed[index]
            log.warning(
                "article %r (%s) not stored: %s",
                article.title[:80],
                article.guid or article.url,
                error.message,
            )
        return outcomes

    async def store_each(
        self, parsed: Sequence[ParsedArticle]
    ) -> tuple[list[IngestOutcome], list[tuple[int, IngestError]]]:
        """Like ``store``, and also the articles left out: (index in ``parsed``, why)."""
        if not parsed:
            return [], []
        # Extraction is CPU-bound and pure: run it off the event loop so the bot stays responsive.
        enriched = await asyncio.to_thread(enrich_each, parsed)
        articles = [a for a in enriched if isinstance(a, NewArticle)]
        failures = [(i, e) for i, e in enumerate(enriched) if isinstance(e, IngestError)]
        if not articles:
            return [], failures
        results = await self.storage.add_articles(articles, now=self.clock())
        # Match the new articles against subscriptions now, whichever process stored them.
        await percolate_all(self.storage, clock=self.clock)
        return [_outcome(a, r) for a, r in zip(articles, results, strict=True)], failures

    async def text(self, raw: str, *, source: str = "telegram") -> IngestOutcome:
        """Store pasted or forwarded article text; raise IngestError when it is not an article."""
        parsed = parse_text(raw, now=self.clock(), source=source)
        return await self._one(parsed)

    async def _one(self, parsed: ParsedArticle) -> IngestOutcome:
        """Store one article; IngestError when it cannot be."""
        outcomes, failures = await self.store_each([parsed])
        if failures:
            raise failures[0][1]
        (outcome,) = outcomes
        return outcome

    async def url(self, url: str) -> IngestOutcome:
        """Fetch an article page (SSRF-guarded), extract it and store it."""
        result = await fetch(
            url,
            client=self.http,
            allow_private=self.settings.fetch_allow_private,
            accept=HTML_TYPES + TEXT_TYPES,
        )
        if result.content_type in TEXT_TYPES:
            parsed = parse_text(
                result.text, now=self.clock(), source=url_domain(result.url), url=result.url
            )
        else:
            # trafilatura is CPU-bound: keep the event loop free while it works.
            parsed = await asyncio.to_thread(
                parse_html, result.text, url=result.url, now=self.clock()
            )
        return await self._one(parsed)

    async def sources(
        self,
        sources: Iterable[str],
        progress: Callable[[int], None] | None = None,
        on_stored: Callable[[Sequence[IngestOutcome]], None] | None = None,
    ) -> IngestReport:
        """Ingest files (JSON, JSONL, text, HTML) and URLs; bad items are reported, not fatal.

        ``on_stored`` hears about each batch right after its transaction committed, so a caller
        can acknowledge articles as they become durable rather than only at the very end.
        """
        report = IngestReport()
        for source in sources:
            if has_http_scheme(source):
                try:
                    outcome = await self.url(source)
                except IngestError as exc:
                    report.fail(source, str(exc))
                else:
                    report.count(outcome)
                    if on_stored:
                        on_stored([outcome])
                if progress:
                    progress(1)
                continue
            await self._file(Path(source), report, progress, on_stored)
        return report

    async def _file(
        self,
        path: Path,
        report: IngestReport,
        progress: Callable[[int], None] | None,
        on_stored: Callable[[Sequence[IngestOutcome]], None] | None,
    ) -> None:
        if await asyncio.to_thread(path.is_dir):
            # Not walked: a folder holds other files too. The shell names the ones meant.
            report.fail(str(path), f"is a directory; name its files instead (e.g. {path}/*.jsonl)")
            return
        if not await asyncio.to_thread(path.is_file):
            report.fail(str(path), "no such file")
            return
        batch: list[BulkItem] = []

        async def flush() -> None:
            outcomes, failures = await self.store_each([item.article for item in batch])
            for index, error in failures:
                report.fail(f"{path}:{batch[index].line_number}", error.message)
            for outcome in outcomes:
                report.count(outcome)
            if on_stored:
                on_stored(outcomes)
            if progress:
                progress(len(batch))
            batch.clear()

        try:
            for item in iter_bulk_file(path, now=self.clock()):
                if isinstance(item, BulkError):
                    where = f"{path}:{item.line_number}" if item.line_number else str(path)
                    report.fail(where, item.message)
                    continue
                batch.append(item)
                if len(batch) >= INGEST_BATCH:
                    await flush()
        except IngestError as exc:
            report.fail(str(path), str(exc))
        if batch:
            await flush()

    async def reindex(self, progress: Callable[[int], None] | None = None) -> int:
        """Re-extract entities and re-classify every stored article (after extractor changes)."""
        done = 0
        async for article in self.storage.iter_articles():
            classification, mentions = await asyncio.to_thread(analyse, article.title, article.text)
            await self.storage.replace_enrichment(article.id, classification, mentions)
            done += 1
            if progress:
                progress(1)
        return done
