"""Search for ``SQLiteStorage.search``: the FTS5 expression, the filters, the ranking queries.

The SQL is built by pure functions returning :class:`Sql` (statement + named parameters) so the
benchmark runs the very same SQL raw; :func:`run` executes a search with them and maps the rows.
Every statement is self-contained: lookups it needs (date bounds, source ids) are subqueries,
not values computed in Python beforehand.

Ranking ("relevance" order): **BM25 over the newest matches, discounted by age.**

1. The full-text index's rowid is the article id, which grows in storage order. FTS5 walks a
   term's doclist in rowid order, so "the newest N stored matches" costs about N index steps
   however common the words are.
2. Only those newest :data:`RANK_WINDOW` matches are scored: ``relevance = -bm25(title 4x,
   text 1x, tags 0x)`` (FTS5's BM25 is negative: lower is better).
3. ``score = relevance / (1 + age / RECENCY_HALF_LIFE)``, where ``age`` is how much older the
   article (its publication time, or storage time when unknown) is than the newest candidate.
   An article a half-life older than the newest needs twice the relevance to rank level with it.
   Measuring age from the newest candidate rather than from "now" keeps an old archive ranked by
   relevance-with-recency instead of flattening it, and makes a page independent of the clock.
4. Results past the window (page offsets beyond it) continue newest first.

Scoring every match with BM25 costs tens of milliseconds for common words on 100k articles;
this costs a few, and what a news reader asks for is "the best of the recent". ``newest``
order skips scoring: matches come straight off the index, most recently stored first.

Filters are answered by the full-text index itself, so a filtered search costs about what an
unfiltered one does (no article row is read per candidate):

* ``source:``, ``diplomatic_only`` and entity filters are **tag tokens** in a third FTS column,
  ``tags`` (``articles.tags``, kept up to date by storage): ``src<N>`` for every source that
  carried the story (``N`` = ``sources.id``, one row per distinct case-folded source name),
  ``dip1`` for diplomatic stories, ``ent<N>`` for every mentioned entity. The filter becomes
  part of the MATCH expression (``... AND tags : ("src3" OR "src7")``), so FTS5 intersects
  doclists for the page and the count alike. ``source:`` stays a case-insensitive substring of
  a source name: the (small) ``sources`` table is scanned for names containing it, inside the
  statement. The user's words are confined to ``{title text}`` when one of them looks like a
  tag token, so searching for ``src3`` never matches tags.
* ``since``/``until`` compare ``articles.sort_at`` (publication time, or storage time when
  unknown or implausibly in the future). ``article_days`` records, per UTC day of
  ``sort_at``, the smallest and largest article id of that day. That gives each date filter a
  **rowid range** FTS5 applies while walking the index, and inside it a "sure" sub-range
  (ids above every id of an earlier day, for ``since``) whose articles match without a
  check; only the few ids in between (stories stored out of date order) have their
  ``sort_at`` read. When stories arrive roughly in date order, that boundary is a few days'
  worth; an archive imported out of order widens it, and the search gets slower, never wrong.

A search is one statement when its page has hits: the capped count rides along as an extra
column (an uncorrelated subquery, evaluated once); an empty page past the first runs
:func:`count` on its own.

Snippets are computed with the words alone (tags never show in a snippet), in one index scan
over the page's rowid range (a prefix query like ``secur*`` costs FTS5 a full expansion per
scan, so the hits are not looked up one by one).

``total`` is exact up to :data:`TOTAL_CAP` matches; past that it is reported as ``TOTAL_CAP``
with ``SearchPage.total_capped`` set (callers show "10,000+"), because counting every match of
a common word costs more than the search itself.

**Cost.** What a search costs grows with the index entries it reads: a prefix such as ``con*``
merges the entries of every stored word it starts (32 one-letter prefixes ORed took 1-2 s on
10,000 articles). The query language caps words and prefixes (:mod:`bot.search.query`), and
here a search has a time budget, :data:`TIME_BUDGET_S`, enforced inside SQLite by the reader's
progress handler (:mod:`storage.sqlite.connection`): past it the statement is stopped and the
search raises ``QueryTooExpensive``, so it holds its reader (one of a few) no longer than that.

Dates are whole UTC days; any ``date`` Python holds (years 1 to 9999) is a valid bound.
"""

# SQL here is assembled from constant fragments only; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import aiosqlite

from storage.base import SEARCH_TOTAL_CAP
from storage.models import (
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    Clause,
    Phrase,
    SearchHit,
    SearchPage,
    SearchQuery,
    TextQuery,
)
from storage.sqlite.connection import Row, opt_dt, rows, scalar

FUTURE_SLACK_S = 86_400  # a publication time more than this after storage is not believed
DAY_S = 86_400
RANK_WINDOW = 1000  # newest matches scored for relevance order
TOTAL_CAP = SEARCH_TOTAL_CAP  # the protocol's cap (a module global: tests lower it)
TITLE_WEIGHT = 4.0
TEXT_WEIGHT = 1.0
TAGS_WEIGHT = 0.0
RECENCY_HALF_LIFE_S = 14 * 86_400
SNIPPET_TOKENS = 30
ELLIPSIS = "…"
OPENING_CHARS = 400  # text read for a snippet-less hit (filters only)
TIME_BUDGET_S = 1.0  # a search still running after this is stopped (QueryTooExpensive)

DIPLOMATIC_TAG = "dip1"
_NO_ID = 1 << 62  # larger than any article id
_TAG_LIKE = re.compile(r"(?:src|ent|dip)\d", re.IGNORECASE)
_HIT_COLUMNS = "a.id, a.title, a.url, a.source, a.published_at, a.is_diplomatic"


def source_tag(source_id: int) -> str:
    """The tag token of a source (``sources.id``)."""
    return f"src{source_id}"


def entity_tag(entity_id: int) -> str:
    """The tag token of an entity (``entities.id``)."""
    return f"ent{entity_id}"


def article_tags(source_ids: Iterable[int], is_diplomatic: bool, entity_ids: Iterable[int]) -> str:
    """``articles.tags``: space-separated tag tokens, sources first."""
    tokens = [source_tag(s) for s in sorted(set(source_ids))]
    if is_diplomatic:
        tokens.append(DIPLOMATIC_TAG)
    tokens += [entity_tag(e) for e in sorted(set(entity_ids))]
    return " ".join(tokens)


def day_number(seconds: int) -> int:
    """The UTC day (days since 1970-01-01) of a unix time: the key of ``article_days``."""
    return seconds // DAY_S


@dataclass(frozen=True, slots=True)
class Sql:
    """One statement and its named parameters."""

    sql: str
    params: dict[str, object]


def _quote(words: str) -> str:
    # FTS5 string: a double quote inside is written twice. Parsed queries never contain one,
    # but storage must be safe whatever TextQuery it is handed.
    return '"' + words.replace('"', '""') + '"'


def _clause(clause: Clause) -> str | None:
    if isinstance(clause, Phrase):
        words = [w for w in clause.words if w.strip()]
        return _quote(" ".join(words)) if words else None
    if not clause.text.strip():
        return None
    return _quote(clause.text) + ("*" if clause.prefix else "")


def fts_expression(query: TextQuery) -> str | None:
    """The FTS5 MATCH expression for a parsed query, every token quoted; None if empty."""
    groups: list[str] = []
    for group in query.required:
        options = [c for c in (_clause(o) for o in group.options) if c]
        if len(options) == 1:
            groups.append(options[0])
        elif options:
            groups.append("(" + " OR ".join(options) + ")")
    if not groups:
        return None
    expression = " AND ".join(groups)
    excluded = [c for c in (_clause(o) for o in query.excluded) if c]
    if excluded:
        expression = f"({expression}) NOT ({' OR '.join(excluded)})"
    if _TAG_LIKE.search(expression):
        expression = f"{{title text}} : ({expression})"
    return expression


def day_start(day: date) -> int:
    """Unix seconds at 00:00 UTC of ``day``."""
    return int(datetime.combine(day, time(), tzinfo=UTC).timestamp())


@dataclass(frozen=True, slots=True)
class Plan:
    """How a SearchQuery is run.

    ``match`` is the SQL operand of MATCH (words and tag filters), or None when the query has
    neither (dates only, or nothing): then the articles table is read directly. ``words`` is
    the words' own FTS expression (for snippets), None for a filters-only query.
    ``conditions`` restrict ``:id`` (replaced by the id column) and use ``:sort_at`` (replaced
    by an expression giving that article's sort time).
    """

    match: str | None
    words: str | None
    conditions: tuple[str, ...]
    params: dict[str, object]

    def where(self, id_column: str, sort_at: str) -> str:
        """The conditions for one id column, joined with AND (with a leading AND)."""
        return "".join(
            " AND " + c.replace(":id", id_column).replace(":sort_at", sort_at)
            for c in self.conditions
        )


def plan(query: SearchQuery) -> Plan | None:
    """The plan for a query; None when it has text that reduces to nothing (no results)."""
    params: dict[str, object] = {}
    words = fts_expression(query.text) if query.text is not None else None
    if query.text is not None and words is None:
        return None
    parts: list[str] = [] if words is None else [f"({words})"]
    if query.diplomatic_only:
        parts.append(f'tags : "{DIPLOMATIC_TAG}"')
    for group in query.entity_groups:
        if not group:
            return None
        parts.append("tags : (" + " OR ".join(f'"{entity_tag(e)}"' for e in group) + ")")
    match: str | None = None
    if parts:
        params["q"] = " AND ".join(parts)
        match = ":q"
    if query.source:
        params["source"] = query.source.casefold()
        sources = (
            "'tags : (' || (SELECT coalesce(group_concat('\"src' || id || '\"', ' OR '),"
            " '\"src0\"') FROM sources WHERE instr(key, :source) > 0) || ')'"
        )
        match = sources if match is None else f"({match} || ' AND ' || {sources})"
    if words is not None:
        params["words"] = words

    conditions: list[str] = []
    if query.since is not None:
        since = day_start(query.since)
        params.update(since=since, since_day=day_number(since))
        # Every id of a day on or after `since` is at least `lo`; an id above every id of an
        # earlier day surely matches; only the ids in between need their row read.
        conditions.append(
            f":id >= (SELECT coalesce(min(first_id), {_NO_ID}) FROM article_days"
            " WHERE day >= :since_day)"
        )
        conditions.append(
            "(:id > (SELECT coalesce(max(last_id), 0) FROM article_days WHERE day < :since_day)"
            " OR :sort_at >= :since)"
        )
    if query.until is not None:
        until = day_start(query.until) + DAY_S  # exclusive (a day after date.max is no date)
        params.update(until=until, until_day=day_number(until))
        conditions.append(
            ":id <= (SELECT coalesce(max(last_id), 0) FROM article_days WHERE day < :until_day)"
        )
        conditions.append(
            f"(:id < (SELECT coalesce(min(first_id), {_NO_ID}) FROM article_days"
            " WHERE day >= :until_day) OR :sort_at < :until)"
        )
    return Plan(match, words, tuple(conditions), params)


_FTS_SORT_AT = "(SELECT sort_at FROM articles WHERE id = articles_fts.rowid)"


def _fts_matches(p: Plan) -> str:
    """``FROM ... WHERE ...`` over the index: the matching ids (``articles_fts.rowid``)."""
    assert p.match is not None
    return (
        f"FROM articles_fts WHERE articles_fts MATCH {p.match}"
        f"{p.where('articles_fts.rowid', _FTS_SORT_AT)}"
    )


def _count_source(p: Plan) -> str:
    if p.match is None:
        return f"FROM articles a WHERE 1{p.where('a.id', 'a.sort_at')}"
    return _fts_matches(p)


def _total_column(p: Plan, with_total: bool) -> str:
    """An extra result column with the capped count (evaluated once per statement), or ''."""
    if not with_total:
        return ""
    return f", (SELECT count(*) FROM (SELECT 1 {_count_source(p)} LIMIT :cap)) AS total"


def _hits_select(p: Plan, page_cte: str, order: str, with_total: bool) -> str:
    """The hits of a materialised ``page(k, ...)``: snippets from one scan over its range."""
    total = _total_column(p, with_total)
    if p.words is None:
        return (
            f"WITH {page_cte} SELECT {_HIT_COLUMNS}, substr(a.text, 1, {OPENING_CHARS}){total} "
            f"FROM page CROSS JOIN articles a ON a.id = page.k ORDER BY {order}"
        )
    snippet = (
        f"snippet(articles_fts, -1, '{HIGHLIGHT_START}', '{HIGHLIGHT_END}', '{ELLIPSIS}', "
        f"{SNIPPET_TOKENS})"
    )
    # `+rowid IN`: checked per row, not handed to FTS5 (which would re-run the MATCH per id).
    return (
        f"WITH {page_cte}, span AS (SELECT min(k) AS lo, max(k) AS hi FROM page) "
        f"SELECT {_HIT_COLUMNS}, {snippet}{total} "
        "FROM span CROSS JOIN articles_fts CROSS JOIN page CROSS JOIN articles a "
        "WHERE articles_fts MATCH :words AND articles_fts.rowid BETWEEN span.lo AND span.hi "
        "AND +articles_fts.rowid = page.k AND a.id = page.k "
        f"ORDER BY {order}"
    )


def relevance_page(p: Plan, limit: int, offset: int, *, with_total: bool = False) -> Sql:
    """The best-scored hits among the newest RANK_WINDOW matches (offset + limit <= window).

    ``with_total``: each row ends with the capped count of all matches (as :func:`count`), so
    one statement answers a search that has any hit on its page.
    """
    params = p.params | {
        "cap": TOTAL_CAP,
        "window": RANK_WINDOW,
        "limit": limit,
        "offset": offset,
        "title_weight": TITLE_WEIGHT,
        "text_weight": TEXT_WEIGHT,
        "tags_weight": TAGS_WEIGHT,
        "half_life": float(RECENCY_HALF_LIFE_S),
    }
    cte = (
        "candidates AS MATERIALIZED ("
        "SELECT articles_fts.rowid AS k,"
        " bm25(articles_fts, :title_weight, :text_weight, :tags_weight) AS b "
        f"{_fts_matches(p)} ORDER BY articles_fts.rowid DESC LIMIT :window), "
        "timed AS MATERIALIZED (SELECT k, b, a.sort_at AS t"
        " FROM candidates CROSS JOIN articles a ON a.id = candidates.k), "
        "page AS MATERIALIZED ("
        "SELECT k, -b / (1.0 + (max(t) OVER () - t) / :half_life) AS score FROM timed "
        "ORDER BY score DESC, k DESC LIMIT :limit OFFSET :offset)"
    )
    return Sql(_hits_select(p, cte, "page.score DESC, page.k DESC", with_total), params)


def newest_page(p: Plan, limit: int, offset: int, *, with_total: bool = False) -> Sql:
    """Matching hits, newest (most recently stored) first; ``with_total`` as for
    :func:`relevance_page`."""
    params = p.params | {"limit": limit, "offset": offset, "cap": TOTAL_CAP}
    if p.match is None:
        return Sql(
            f"SELECT {_HIT_COLUMNS}, substr(a.text, 1, {OPENING_CHARS})"
            f"{_total_column(p, with_total)} FROM articles a "
            f"WHERE 1{p.where('a.id', 'a.sort_at')} "
            "ORDER BY a.id DESC LIMIT :limit OFFSET :offset",
            params,
        )
    cte = (
        f"page AS MATERIALIZED (SELECT articles_fts.rowid AS k {_fts_matches(p)} "
        "ORDER BY articles_fts.rowid DESC LIMIT :limit OFFSET :offset)"
    )
    return Sql(_hits_select(p, cte, "page.k DESC", with_total), params)


def count(p: Plan) -> Sql:
    """How many articles match, counted up to TOTAL_CAP."""
    params = p.params | {"cap": TOTAL_CAP}
    return Sql(f"SELECT count(*) FROM (SELECT 1 {_count_source(p)} LIMIT :cap)", params)


# ---------------------------------------------------------------------- running a search


async def run(db: aiosqlite.Connection, query: SearchQuery) -> SearchPage:
    """One search: usually one statement (page and capped count); the caller reads in one
    snapshot when there are more."""
    limit, offset = max(0, query.limit), max(0, query.offset)
    p = plan(query)
    if p is None:
        return SearchPage(total=0, hits=())
    pages: list[Sql] = []
    if query.order == "relevance" and p.words is not None:
        ranked_end = min(offset + limit, RANK_WINDOW)
        if offset < ranked_end:
            pages.append(relevance_page(p, ranked_end - offset, offset, with_total=True))
        if offset + limit > RANK_WINDOW:
            start = max(offset, RANK_WINDOW)
            pages.append(newest_page(p, offset + limit - start, start, with_total=not pages))
    elif limit:
        # Newest first; also every search without words (filters only, or nothing).
        pages.append(newest_page(p, limit, offset, with_total=True))
    found: list[Row] = []
    counted: int | None = None
    for page in pages:
        page_rows = await rows(db, page.sql, page.params)
        if page_rows and counted is None:
            counted = page_rows[0][7]  # the count column of the first statement
        found += page_rows
    if counted is None and (offset or not pages):
        statement = count(p)
        counted = await scalar(db, statement.sql, statement.params)
    if p.words is None:
        hits = [_hit(r, _opening(r[6])) for r in found]
    else:
        hits = [_hit(r, r[6]) for r in found]
    total = max(counted or 0, min(offset + len(hits), TOTAL_CAP))
    return SearchPage(total=total, hits=tuple(hits), total_capped=total >= TOTAL_CAP)


def _opening(text: str, words: int = SNIPPET_TOKENS) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (ELLIPSIS if len(parts) > words else "")


def _hit(row: Row, snippet: str) -> SearchHit:
    return SearchHit(
        id=row[0],
        title=row[1],
        url=row[2],
        source=row[3],
        published_at=opt_dt(row[4]),
        snippet=snippet,
        is_diplomatic=bool(row[5]),
    )
