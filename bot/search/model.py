"""What the search use-cases answer: a page of results, a person lookup, one article.

These live below the use-cases so that presentation (``bot.render``) can show them without
importing a use-case.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.models import Article, Entity, SearchHit

# Said (as a note) when a search was stopped for costing too much.
TOO_BROAD_NOTE = (
    "the search is too broad to answer quickly; narrow it: more words, fewer or longer "
    "prefixes (diplomat* rather than dip*), fewer OR alternatives, or a date (since:2024-01)"
)


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A page of search results for a user query; ``too_broad``: the search was stopped for
    costing too much (nothing found is known; ``warnings`` ends with :data:`TOO_BROAD_NOTE`)."""

    query: str
    total: int
    page: int  # 1-based
    pages: int
    hits: tuple[SearchHit, ...]
    warnings: tuple[str, ...] = ()
    total_capped: bool = False  # ``total`` is a floor: counting stopped there
    too_broad: bool = False


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
