"""Search use-cases: a user's query, the latest articles, a person's articles, one article.

Queries are parsed by ``bot.search.query`` into a safe ``SearchQuery``; entity filters
(``person:``, ``country:``, ``org:``) and ``/person`` resolve names with ``resolve_entities``,
the same resolver subscriptions use, so a name finds the same entity everywhere.

A search that storage stops for costing too much (``QueryTooExpensive``: past its time
budget) is answered as ``too_broad``, with a note saying how to narrow it, never as an error
nor as "nothing found".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from bot.nlp.names import lookup_keys
from bot.search.model import TOO_BROAD_NOTE, ArticleView, PersonResult, SearchResult
from bot.search.query import ParsedQuery, parse_query
from storage.base import Storage
from storage.errors import NotFound, QueryTooExpensive
from storage.models import (
    Entity,
    EntityKind,
    SearchHit,
    SearchOrder,
    SearchPage,
    SearchQuery,
    StoreStats,
)


def _result(
    query: str, found: SearchPage, page: int, page_size: int, warnings: Sequence[str] = ()
) -> SearchResult:
    """A storage page as the use-cases report it, with the number of pages."""
    pages = max(1, math.ceil(found.total / page_size)) if found.total else 0
    return SearchResult(
        query, found.total, page, pages, found.hits, tuple(warnings), found.total_capped
    )


def _too_broad(query: str, page: int, warnings: Sequence[str] = ()) -> SearchResult:
    return SearchResult(query, 0, page, 0, (), (*warnings, TOO_BROAD_NOTE), too_broad=True)


async def resolve_entities(storage: Storage, name: str, kind: EntityKind) -> tuple[Entity, ...]:
    """Entities a name may refer to: the most specific lookup key that matches wins, so
    "Sergey Lavrov" finds that person while "Kim" finds every Kim."""
    for key in lookup_keys(name):
        found = await storage.find_entities([key], kind)
        if found:
            return tuple(found)
    return ()


class Search:
    """Reading the archive: queries, persons, single articles and what the database holds."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def query(
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
                found = await resolve_entities(self.storage, name, kind)
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
        try:
            searched = await self.storage.search(query)
        except QueryTooExpensive:
            return _too_broad(text, page, warnings)
        return _result(text, searched, page, page_size, warnings)

    async def latest(
        self, limit: int = 10, *, diplomatic_only: bool = True
    ) -> tuple[SearchHit, ...]:
        """The newest articles (by default the diplomatic ones)."""
        page = await self.storage.search(
            SearchQuery(diplomatic_only=diplomatic_only, order="newest", limit=limit)
        )
        return page.hits

    async def person(self, name: str, *, page: int = 1, page_size: int = 5) -> PersonResult:
        """Resolve a name to persons; list articles when exactly one person matches."""
        candidates = await resolve_entities(self.storage, name, "person")
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
        """A page of the articles that mention one entity, newest first."""
        page = max(1, page)
        try:
            result = await self.storage.search(
                SearchQuery(
                    entity_groups=((entity_id,),),
                    order="newest",
                    limit=page_size,
                    offset=(page - 1) * page_size,
                )
            )
        except QueryTooExpensive:
            return _too_broad(query, page)
        return _result(query, result, page, page_size)

    async def article(self, article_id: int) -> ArticleView | None:
        """One article and its entities; None when there is no such article."""
        try:
            article = await self.storage.get_article(article_id)
        except NotFound:
            return None
        return ArticleView(article, tuple(await self.storage.article_entities(article_id)))

    async def entity(self, entity_id: int) -> Entity | None:
        """One entity; None when there is no such entity."""
        try:
            return await self.storage.get_entity(entity_id)
        except NotFound:
            return None

    async def stats(self) -> StoreStats:
        """What the database holds (articles, sources, entities, chats, feeds, size)."""
        return await self.storage.stats()
