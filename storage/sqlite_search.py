"""SQL for ``SQLiteStorage.search``: the FTS5 expression and the ranking queries.

Kept as pure functions returning ``(sql, params)`` so the benchmark runs the very same SQL raw.

Ranking ("relevance" order): **BM25 over the newest matches, discounted by age.**

1. The full-text index's rowid is the article id, which grows in storage order. FTS5 walks a
   term's doclist in rowid order, so "the newest N stored matches" costs about N index steps
   however common the words are.
2. Only those newest :data:`RANK_WINDOW` matches are scored: ``relevance = -bm25(title 4x,
   text 1x)`` (FTS5's BM25 is negative: lower is better).
3. ``score = relevance / (1 + age / RECENCY_HALF_LIFE)``, where ``age`` is how much older the
   article (its publication time, or storage time when unknown) is than the newest candidate.
   An article a half-life older than the newest needs twice the relevance to rank level with it.
   Measuring age from the newest candidate rather than from "now" keeps an old archive ranked by
   relevance-with-recency instead of flattening it, and makes a page independent of the clock.
4. Results past the window (page offsets beyond it) continue newest first.

Scoring every match with BM25 costs tens of milliseconds for common words on 100k articles;
this costs a few, and what a news reader asks for is "the best of the recent". ``newest``
order skips scoring: matches come straight off the index, most recently stored first.

Filters: ``since``/``until`` compare ``articles.sort_at`` (publication time, or storage time
when unknown or implausibly in the future). ``since`` also bounds the index scan: a story
published after a day was stored at most a day before it, so no older id can match.
``source`` is a case-insensitive substring of any source that carried the story.

``total`` is exact up to :data:`TOTAL_CAP` matches; past that it is reported as ``TOTAL_CAP``
(callers show "10,000+"), because counting every match of a common word costs more than the
search itself.
"""

# SQL here is assembled from constant fragments only; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from storage.base import HIGHLIGHT_END, HIGHLIGHT_START, Clause, Phrase, SearchQuery, TextQuery

FUTURE_SLACK_S = 86_400  # a publication time more than this after storage is not believed
RANK_WINDOW = 1000  # newest matches scored for relevance order
TOTAL_CAP = 10_000
TITLE_WEIGHT = 4.0
TEXT_WEIGHT = 1.0
RECENCY_HALF_LIFE_S = 14 * 86_400
SNIPPET_TOKENS = 30
ELLIPSIS = "…"

_HIT_COLUMNS = "a.id, a.title, a.url, a.source, a.published_at, a.is_diplomatic"


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
    return expression


def day_start(day: date) -> int:
    """Unix seconds at 00:00 UTC of ``day``."""
    return int(datetime.combine(day, time(), tzinfo=UTC).timestamp())


def _filters(query: SearchQuery, id_column: str) -> tuple[list[str], dict[str, object]]:
    """Conditions on ``articles a`` (and a bound on ``id_column``) and their parameters."""
    conditions: list[str] = []
    params: dict[str, object] = {}
    if query.since is not None:
        params["since"] = day_start(query.since)
        params["stored_since"] = day_start(query.since) - FUTURE_SLACK_S
        conditions.append(
            f"{id_column} >= (SELECT coalesce(min(id), 1 << 62) FROM articles"
            " WHERE ingested_at >= :stored_since)"
        )
        conditions.append("a.sort_at >= :since")
    if query.until is not None:
        conditions.append("a.sort_at < :until")
        params["until"] = day_start(query.until + timedelta(days=1))
    if query.source:
        conditions.append(
            "EXISTS (SELECT 1 FROM article_sources s WHERE s.article_id = a.id"
            " AND instr(s.source_key, :source) > 0)"
        )
        params["source"] = query.source.casefold()
    if query.diplomatic_only:
        conditions.append("a.is_diplomatic = 1")
    for index, group in enumerate(query.entity_groups):
        names = []
        for position, entity_id in enumerate(group):
            name = f"e{index}_{position}"
            params[name] = entity_id
            names.append(":" + name)
        if index == 0 and id_column == "a.id":
            # Browsing by entity: drive from its links (usually far fewer than all articles).
            conditions.insert(
                0,
                f"a.id IN (SELECT article_id FROM article_entities"
                f" WHERE entity_id IN ({', '.join(names)}))",
            )
            continue
        conditions.append(
            "EXISTS (SELECT 1 FROM article_entities ae WHERE ae.article_id = a.id"
            f" AND ae.entity_id IN ({', '.join(names)}))"
        )
    return conditions, params


def _matches(
    query: SearchQuery, expression: str, *, need_row: bool = False
) -> tuple[str, dict[str, object]]:
    """``FROM ... WHERE ...`` selecting the matching articles (``articles_fts.rowid``)."""
    conditions, params = _filters(query, "articles_fts.rowid")
    params["q"] = expression
    where = " AND ".join(["articles_fts MATCH :q", *conditions])
    if conditions or need_row:
        # The index drives (newest first); each candidate's row is looked up for the filters.
        source = "articles_fts CROSS JOIN articles a ON a.id = articles_fts.rowid"
    else:
        source = "articles_fts"
    return f"FROM {source} WHERE {where}", params


def _hits_select(keys_cte: str, order: str) -> str:
    snippet = (
        f"snippet(articles_fts, -1, '{HIGHLIGHT_START}', '{HIGHLIGHT_END}', '{ELLIPSIS}', "
        f"{SNIPPET_TOKENS})"
    )
    return (
        f"WITH {keys_cte} SELECT {_HIT_COLUMNS}, {snippet} "
        "FROM page CROSS JOIN articles_fts CROSS JOIN articles a "
        "WHERE articles_fts MATCH :q AND articles_fts.rowid = page.k AND a.id = page.k "
        f"ORDER BY {order}"
    )


def relevance_page(query: SearchQuery, expression: str, limit: int, offset: int) -> Sql:
    """The best-scored hits among the newest RANK_WINDOW matches (offset + limit <= window)."""
    matches, params = _matches(query, expression, need_row=True)
    params.update(
        window=RANK_WINDOW,
        limit=limit,
        offset=offset,
        title_weight=TITLE_WEIGHT,
        text_weight=TEXT_WEIGHT,
        half_life=float(RECENCY_HALF_LIFE_S),
    )
    cte = (
        "candidates AS MATERIALIZED ("
        "SELECT articles_fts.rowid AS k,"
        " bm25(articles_fts, :title_weight, :text_weight) AS b, a.sort_at AS t "
        f"{matches} ORDER BY articles_fts.rowid DESC LIMIT :window), "
        "page AS ("
        "SELECT k, -b / (1.0 + (max(t) OVER () - t) / :half_life) AS score FROM candidates "
        "ORDER BY score DESC, k DESC LIMIT :limit OFFSET :offset)"
    )
    return Sql(_hits_select(cte, "page.score DESC, page.k DESC"), params)


def newest_page(query: SearchQuery, expression: str, limit: int, offset: int) -> Sql:
    """Matching hits, newest first."""
    matches, params = _matches(query, expression)
    params.update(limit=limit, offset=offset)
    cte = (
        f"page AS (SELECT articles_fts.rowid AS k {matches} "
        "ORDER BY articles_fts.rowid DESC LIMIT :limit OFFSET :offset)"
    )
    return Sql(_hits_select(cte, "page.k DESC"), params)


def text_count(query: SearchQuery, expression: str) -> Sql:
    """How many articles match, counted up to TOTAL_CAP."""
    matches, params = _matches(query, expression)
    params["cap"] = TOTAL_CAP
    return Sql(f"SELECT count(*) FROM (SELECT 1 {matches} LIMIT :cap)", params)


def _browse_where(query: SearchQuery) -> tuple[str, dict[str, object]]:
    conditions, params = _filters(query, "a.id")
    return (" WHERE " + " AND ".join(conditions)) if conditions else "", params


def browse_page(query: SearchQuery, limit: int, offset: int) -> Sql:
    """Articles matching only filters (no words), newest first, with the text's opening."""
    where, params = _browse_where(query)
    params.update(limit=limit, offset=offset)
    return Sql(
        f"SELECT {_HIT_COLUMNS}, substr(a.text, 1, 400) FROM articles a{where} "
        "ORDER BY a.id DESC LIMIT :limit OFFSET :offset",
        params,
    )


def browse_count(query: SearchQuery) -> Sql:
    """How many articles match the filters, counted up to TOTAL_CAP."""
    where, params = _browse_where(query)
    params["cap"] = TOTAL_CAP
    return Sql(f"SELECT count(*) FROM (SELECT 1 FROM articles a{where} LIMIT :cap)", params)
