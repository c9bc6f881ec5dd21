"""Use-cases that the Telegram handlers and the CLI call: ingest, search, person lookup, stats.

Each function takes what it needs explicitly; ``Services`` bundles the long-lived parts (storage,
settings, HTTP client) so callers hold one object.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bot import nlp
from bot.config import Settings
from bot.digests.matching import percolate_all
from bot.ingest.bulk import BulkError, iter_bulk_file
from bot.ingest.fetch import fetch, make_client
from bot.ingest.html import parse_html
from bot.ingest.model import IngestError, ParsedArticle
from bot.ingest.normalize import build_new_article, url_domain
from bot.ingest.text import parse_text
from bot.nlp.names import lookup_keys
from bot.search.query import ParsedQuery, parse_query
from storage.base import Storage
from storage.errors import NotFound
from storage.models import (
    AddResult,
    Article,
    Classification,
    Entity,
    EntityKind,
    EntityMention,
    NewArticle,
    SearchHit,
    SearchOrder,
    SearchPage,
    SearchQuery,
    StoreStats,
)

HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("text/plain",)
INGEST_BATCH = 500


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What happened to one ingested article."""

    article_id: int
    created: bool
    title: str
    duplicate_reason: str | None = None
    persons: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    orgs: tuple[str, ...] = ()
    diplomatic_score: float = 0.0
    is_diplomatic: bool = False


@dataclass(frozen=True, slots=True)
class SourceError:
    """A source (file line, URL) that could not be ingested."""

    source: str
    error: str


@dataclass(slots=True)
class IngestReport:
    """Totals of a bulk ingest."""

    added: int = 0
    duplicates: int = 0
    failed: int = 0
    errors: list[SourceError] = field(default_factory=list)
    outcomes: list[IngestOutcome] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A page of search results for a user query."""

    query: str
    total: int
    page: int  # 1-based
    pages: int
    hits: tuple[SearchHit, ...]
    warnings: tuple[str, ...] = ()
    total_capped: bool = False  # ``total`` is a floor: counting stopped there


@dataclass(frozen=True, slots=True)
class PersonResult:
    """Who a name may refer to, and (when it is one person) their latest articles."""

    query: str
    candidates: tuple[Entity, ...]
    results: SearchResult | None  # None when the name is ambiguous or unknown


@dataclass(frozen=True, slots=True)
class ArticleView:
    """One stored article with the entities it mentions, in order of first mention."""

    article: Article
    entities: tuple[Entity, ...]


def _result(
    query: str, found: SearchPage, page: int, page_size: int, warnings: Sequence[str] = ()
) -> SearchResult:
    """A storage page as the use-cases report it, with the number of pages."""
    pages = max(1, math.ceil(found.total / page_size)) if found.total else 0
    return SearchResult(
        query, found.total, page, pages, found.hits, tuple(warnings), found.total_capped
    )


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


async def resolve_entities(storage: Storage, name: str, kind: EntityKind) -> tuple[Entity, ...]:
    """Entities a name may refer to: the most specific lookup key that matches wins, so
    "Sergey Lavrov" finds that person while "Kim" finds every Kim."""
    for key in lookup_keys(name):
        found = await storage.find_entities([key], kind)
        if found:
            return tuple(found)
    return ()


def enrich(parsed: ParsedArticle) -> NewArticle:
    """Extract entities and classify, then build the storable article."""
    classification, mentions = analyse(parsed.title, parsed.text)
    return build_new_article(parsed, classification=classification, entities=mentions)


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


class Services:
    """The application's use-cases over one storage and one HTTP client."""

    def __init__(self, storage: Storage, settings: Settings) -> None:
        self.storage = storage
        self.settings = settings
        self._http: httpx.AsyncClient | None = None

    async def open(self) -> None:
        await self.storage.open()
        self._http = make_client(allow_private=self.settings.fetch_allow_private)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        await self.storage.close()

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            raise RuntimeError("Services.open() was not called")
        return self._http

    def now(self) -> datetime:
        return datetime.now(UTC)

    # ------------------------------------------------------------------ ingest

    async def store(self, parsed: Sequence[ParsedArticle]) -> list[IngestOutcome]:
        """Enrich and store parsed articles in one transaction."""
        if not parsed:
            return []
        # Extraction is CPU-bound and pure: run it off the event loop so the bot stays responsive.
        articles = await asyncio.to_thread(lambda: [enrich(p) for p in parsed])
        results = await self.storage.add_articles(articles)
        # Match the new articles against subscriptions now, whichever process stored them.
        await percolate_all(self.storage)
        return [_outcome(a, r) for a, r in zip(articles, results, strict=True)]

    async def ingest_text(self, raw: str, *, source: str = "telegram") -> IngestOutcome:
        """Store pasted or forwarded article text; raise IngestError when it is not an article."""
        parsed = parse_text(raw, now=self.now(), source=source)
        (outcome,) = await self.store([parsed])
        return outcome

    async def ingest_url(self, url: str) -> IngestOutcome:
        """Fetch an article page (SSRF-guarded), extract it and store it."""
        result = await fetch(
            url,
            client=self.http,
            allow_private=self.settings.fetch_allow_private,
            accept=HTML_TYPES + TEXT_TYPES,
        )
        if result.content_type in TEXT_TYPES:
            parsed = parse_text(
                result.text, now=self.now(), source=url_domain(result.url), url=result.url
            )
        else:
            # trafilatura is CPU-bound: keep the event loop free while it works.
            parsed = await asyncio.to_thread(
                parse_html, result.text, url=result.url, now=self.now()
            )
        (outcome,) = await self.store([parsed])
        return outcome

    async def ingest_sources(
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
            if source.startswith(("http://", "https://")):
                try:
                    outcome = await self.ingest_url(source)
                except IngestError as exc:
                    report.failed += 1
                    report.errors.append(SourceError(source, str(exc)))
                else:
                    self._count(report, outcome)
                    if on_stored:
                        on_stored([outcome])
                if progress:
                    progress(1)
                continue
            await self._ingest_file(Path(source), report, progress, on_stored)
        return report

    async def _ingest_file(
        self,
        path: Path,
        report: IngestReport,
        progress: Callable[[int], None] | None,
        on_stored: Callable[[Sequence[IngestOutcome]], None] | None,
    ) -> None:
        if not await asyncio.to_thread(path.is_file):
            report.failed += 1
            report.errors.append(SourceError(str(path), "no such file"))
            return
        batch: list[ParsedArticle] = []

        async def flush() -> None:
            outcomes = await self.store(batch)
            for outcome in outcomes:
                self._count(report, outcome)
            if on_stored:
                on_stored(outcomes)
            if progress:
                progress(len(batch))
            batch.clear()

        try:
            for item in iter_bulk_file(path, now=self.now()):
                if isinstance(item, BulkError):
                    report.failed += 1
                    where = f"{path}:{item.line_number}" if item.line_number else str(path)
                    report.errors.append(SourceError(where, item.message))
                    continue
                batch.append(item.article)
                if len(batch) >= INGEST_BATCH:
                    await flush()
        except IngestError as exc:
            report.failed += 1
            report.errors.append(SourceError(str(path), str(exc)))
        if batch:
            await flush()

    @staticmethod
    def _count(report: IngestReport, outcome: IngestOutcome) -> None:
        report.outcomes.append(outcome)
        if outcome.created:
            report.added += 1
        else:
            report.duplicates += 1

    # ------------------------------------------------------------------ search

    async def find_entities(self, name: str, kind: EntityKind) -> tuple[Entity, ...]:
        return await resolve_entities(self.storage, name, kind)

    async def search(
        self,
        text: str,
        *,
        page: int = 1,
        page_size: int = 5,
        order: SearchOrder | None = None,
        diplomatic_only: bool = False,
    ) -> SearchResult:
        """Run a user query: words, "phrases", OR, -not, prefix*, and filters."""
        parsed: ParsedQuery = parse_query(text)
        warnings = list(parsed.warnings)
        groups: list[tuple[int, ...]] = []
        filters: tuple[tuple[tuple[str, ...], EntityKind], ...] = (
            (parsed.persons, "person"),
            (parsed.countries, "country"),
            (parsed.orgs, "org"),
        )
        for names, kind in filters:
            for name in names:
                found = await self.find_entities(name, kind)
                if not found:
                    warnings.append(f"no {kind} known as {name!r}")
                    return SearchResult(text, 0, 1, 0, (), tuple(warnings))
                groups.append(tuple(e.id for e in found))
        if (
            parsed.text is None
            and not groups
            and not (parsed.since or parsed.until or parsed.source)
        ):
            return SearchResult(text, 0, 1, 0, (), (*warnings, "the query has no words to search"))
        page = max(1, page)
        query = parsed.to_search_query(
            tuple(groups),
            limit=page_size,
            offset=(page - 1) * page_size,
            diplomatic_only=diplomatic_only,
        )
        if order is not None:
            query = replace(query, order=order)
        return _result(text, await self.storage.search(query), page, page_size, warnings)

    async def latest(
        self, limit: int = 10, *, diplomatic_only: bool = True
    ) -> tuple[SearchHit, ...]:
        page = await self.storage.search(
            SearchQuery(diplomatic_only=diplomatic_only, order="newest", limit=limit)
        )
        return page.hits

    async def person(self, name: str, *, page: int = 1, page_size: int = 5) -> PersonResult:
        """Resolve a name to persons; list articles when exactly one person matches."""
        candidates = await self.find_entities(name, "person")
        if len(candidates) != 1:
            return PersonResult(name, candidates, None)
        return PersonResult(
            name,
            candidates,
            await self.person_articles(
                candidates[0].id, page=page, page_size=page_size, query=name
            ),
        )

    async def person_articles(
        self, entity_id: int, *, page: int = 1, page_size: int = 5, query: str = ""
    ) -> SearchResult:
        page = max(1, page)
        result = await self.storage.search(
            SearchQuery(
                entity_groups=((entity_id,),),
                order="newest",
                limit=page_size,
                offset=(page - 1) * page_size,
            )
        )
        return _result(query, result, page, page_size)

    async def article(self, article_id: int) -> ArticleView | None:
        """One article and its entities; None when there is no such article."""
        try:
            article = await self.storage.get_article(article_id)
        except NotFound:
            return None
        return ArticleView(article, tuple(await self.storage.article_entities(article_id)))

    async def entity(self, entity_id: int) -> Entity | None:
        try:
            return await self.storage.get_entity(entity_id)
        except NotFound:
            return None

    async def mark_blocked(self, chat_id: int) -> None:
        """The chat blocked the bot or is gone: stop its digests."""
        await self.storage.mark_blocked(chat_id, self.now())

    async def stats(self) -> StoreStats:
        return await self.storage.stats()

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
