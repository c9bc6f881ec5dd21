"""Percolation for ``SQLiteStorage``: new articles matched against every subscription.

Keyword subscriptions follow exactly the ``/search`` semantics, because the full-text engine
itself decides: each candidate query's FTS5 MATCH expression (the one ``/search`` would run,
:func:`storage.sqlite.search.fts_expression`) is run against a temporary FTS5 table holding
only the batch being matched, tokenised like the main index. Only candidates are verified:

* Distinct queries live once in ``match_queries`` (many chats follow the same words);
  subscriptions point at them.
* ``match_anchors`` is an inverted index of the queries. A query holds a token from every
  option of each required group, so it suffices to index ONE group: the rarest, by document
  frequency in the main index when the query is first registered. Each option contributes its
  rarest token (a phrase's rarest word; a prefix option its prefix, looked up by length).
  Tokens come from SQLite's own tokenizer (a temporary FTS5 table and an ``fts5vocab`` view),
  so stemming and folding are the index's, never re-implemented here.
* For a batch, the distinct tokens of its articles (``fts5vocab`` over the batch table) are
  joined with the anchors to find candidate queries; a query whose groups could not be
  anchored (no indexable token) is a candidate for every batch.

Person, country and organisation subscriptions match through ``article_entities`` by entity
id, so every name variant the extractor linked counts. Source subscriptions are not matched.

Matches are recorded per query or entity, not per chat: for each batch, one ``matches`` row
per distinct keyword query or followed entity, listing the articles it matched, however many
chats follow it (a popular name has thousands of followers; writing their inbox rows at match
time is what used to limit percolation). A chat's inbox rows are materialised lazily, for that
chat only, by :func:`expand_chat` whenever its inbox is read: the matches of its subscriptions
after its cursor (``chats.expanded_seq``) become inbox rows and the cursor advances, in one
transaction.
So a reader of the inbox sees what eager fan-out would have written: one row per matching
subscription per article.

An article matches only subscriptions made no later than it was stored (``created_at <=
ingested_at``, checked when a chat's matches are expanded, through the ``subscription_matches``
view): an article stored before a subscription is not news to it. Chats that blocked the bot
collect nothing (triggers on ``chats.blocked_at``, migration 0002).

New articles are queued by a trigger (``percolate_queue``, migration 0002); a batch is matched,
its ``matches`` rows inserted and its queue rows deleted in the caller's single transaction, so
whichever process stores an article, some process matches it exactly once.

Every function takes the aiosqlite connection; the caller holds the write transaction (on the
writer: the temporary tables are written), except :func:`up_to_date`, a read.
"""

# SQL here is assembled from constant fragments only; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from storage.models import (
    AnyOf,
    Clause,
    PercolateResult,
    Phrase,
    Term,
    TextQuery,
)
from storage.sqlite.search import fts_expression

# Must equal the main index's tokenizer (migration 0001), or matching would drift from search.
TOKENIZE = "porter unicode61 remove_diacritics 2"
ENTITY_KINDS = ("person", "country", "org")

_TEMP_TABLES = (
    # The batch being matched: contentless (the text is in `articles`), full detail for phrases.
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.percolate_fts USING fts5"
    f"(title, text, content = '', tokenize = '{TOKENIZE}')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.percolate_terms"
    " USING fts5vocab('temp', 'percolate_fts', 'row')",
    # Scratch table to tokenise query words exactly as the index does.
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.tokenize_fts USING fts5"
    f"(words, content = '', tokenize = '{TOKENIZE}')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.tokenize_tokens"
    " USING fts5vocab('temp', 'tokenize_fts', 'instance')",
    "CREATE TABLE IF NOT EXISTS temp.percolate_batch (id INTEGER PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS temp.percolate_candidates (query_id INTEGER PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS temp.percolate_query_hits"
    " (query_id INTEGER, article_id INTEGER, PRIMARY KEY (query_id, article_id)) WITHOUT ROWID",
    # The chats being expanded: each one's cursor, and whether it takes diplomatic articles only.
    "CREATE TABLE IF NOT EXISTS temp.expanding"
    " (chat_id INTEGER PRIMARY KEY, after INTEGER NOT NULL, diplomatic_only INTEGER NOT NULL)",
)


async def _ensure_temp_tables(db: aiosqlite.Connection) -> None:
    # Temporary tables belong to the connection; created on first use (cheap when they exist).
    for statement in _TEMP_TABLES:
        await db.execute(statement)


async def _clear_batch(db: aiosqlite.Connection) -> None:
    await db.execute("INSERT INTO temp.percolate_fts (percolate_fts) VALUES ('delete-all')")
    for table in ("percolate_batch", "percolate_candidates", "percolate_query_hits"):
        await db.execute(f"DELETE FROM temp.{table}")


# ---------------------------------------------------------------------- tokens


async def tokenize(db: aiosqlite.Connection, texts: Sequence[str]) -> list[list[str]]:
    """Each text's tokens as the full-text index stores them (stemmed, folded), in order."""
    await _ensure_temp_tables(db)
    await db.executemany(
        "INSERT INTO temp.tokenize_fts (rowid, words) VALUES (?, ?)",
        [(index, text) for index, text in enumerate(texts, start=1)],
    )
    tokens: list[list[str]] = [[] for _ in texts]
    for doc, term in await db.execute_fetchall(
        "SELECT doc, term FROM temp.tokenize_tokens ORDER BY doc, offset"
    ):
        tokens[doc - 1].append(term)
    await db.execute("INSERT INTO temp.tokenize_fts (tokenize_fts) VALUES ('delete-all')")
    return tokens


# ---------------------------------------------------------------------- queries and anchors


def plain_words(query: str) -> TextQuery | None:
    """A query read as plain words, all required (for callers that did not parse it).

    Each word is quoted in the MATCH expression, so the index tokenises it: ``U.S.`` becomes
    the phrase ``u s``, as ``/search`` reads it.
    """
    words = [w for w in query.split() if any(c.isalnum() for c in w)]
    return TextQuery(tuple(AnyOf((Term(w),)) for w in words)) if words else None


@dataclass(frozen=True, slots=True)
class _Option:
    """One option of a required group: its tokens, and whether the last is a prefix."""

    tokens: tuple[str, ...]
    prefix: bool


def _clause_text(clause: Clause) -> tuple[str, bool] | None:
    """The words FTS5 receives for a clause (None where fts_expression drops it)."""
    if isinstance(clause, Phrase):
        words = [w for w in clause.words if w.strip()]
        return (" ".join(words), False) if words else None
    if not clause.text.strip():
        return None
    return clause.text, clause.prefix


async def _document_frequency(db: aiosqlite.Connection, term: str, prefix: bool) -> int:
    """How many stored articles hold ``term`` (for a prefix, summed over its terms: an
    over-estimate, which is all a choice between groups needs)."""
    if prefix:
        sql = "SELECT sum(doc) FROM articles_vocab WHERE term >= ? AND term < ? || char(1114111)"
        params: tuple[str, ...] = (term, term)
    else:
        sql = "SELECT doc FROM articles_vocab WHERE term = ?"
        params = (term,)
    rows = list(await db.execute_fetchall(sql, params))
    return int(rows[0][0] or 0) if rows else 0


async def _anchors(db: aiosqlite.Connection, text: TextQuery) -> list[tuple[int, str]] | None:
    """``(prefix, term)`` anchors of the query's rarest anchorable group; None if none is."""
    groups: list[list[tuple[str, bool]]] = []
    for required in text.required:
        kept = [c for c in (_clause_text(o) for o in required.options) if c is not None]
        if kept:
            groups.append(kept)
    flat = [words for group in groups for words, _ in group]
    token_lists = iter(await tokenize(db, flat))
    best: tuple[int, list[tuple[int, str]]] | None = None
    for group in groups:
        options = [_Option(tuple(next(token_lists)), prefix) for _, prefix in group]
        cost = 0
        anchors: list[tuple[int, str]] = []
        for option in options:
            if option.prefix and len(option.tokens) == 1:
                choices = [(1, option.tokens[0])]
            else:
                # In a phrase ending in a prefix (``"u s"*``), only the other tokens are exact.
                exact = option.tokens[:-1] if option.prefix else option.tokens
                choices = [(0, token) for token in exact]
            if not choices:
                break  # an option with no indexable token: this group cannot anchor
            rated = [(await _document_frequency(db, t, bool(p)), p, t) for p, t in choices]
            frequency, prefix, term = min(rated)
            cost += frequency
            anchors.append((prefix, term))
        else:
            if best is None or cost < best[0]:
                best = (cost, anchors)
    return None if best is None else best[1]


async def register_query(db: aiosqlite.Connection, text: TextQuery | None) -> int | None:
    """The ``match_queries`` id for a keyword query, indexed on first use; None when the
    query has no words (it can never match)."""
    if text is None:
        return None
    expression = fts_expression(text)
    if expression is None:
        return None
    rows = list(
        await db.execute_fetchall(
            "SELECT id FROM match_queries WHERE expression = ?", (expression,)
        )
    )
    if rows:
        return int(rows[0][0])
    anchors = await _anchors(db, text)
    cursor = await db.execute(
        "INSERT INTO match_queries (expression, anchored) VALUES (?, ?)",
        (expression, int(anchors is not None)),
    )
    query_id = cursor.lastrowid
    assert query_id is not None  # set by a successful INSERT
    await db.executemany(
        "INSERT OR IGNORE INTO match_anchors (prefix, term, query_id) VALUES (?, ?, ?)",
        [(prefix, term, query_id) for prefix, term in anchors or ()],
    )
    return query_id


# ---------------------------------------------------------------------- percolation


async def percolate(db: aiosqlite.Connection, limit: int, now: int) -> PercolateResult:
    """Match up to ``limit`` queued articles (oldest first) and record ``matches`` stamped ``now``.

    Runs inside the caller's write transaction; the matched articles leave the queue in it.
    ``matches`` in the result counts (query or entity, article) pairs; ``chats`` lists only
    the chats on ``instant`` (not paused, not blocked) with new matches.
    """
    await _ensure_temp_tables(db)
    await _clear_batch(db)
    cursor = await db.execute(
        "INSERT INTO temp.percolate_batch (id)"
        " SELECT article_id FROM percolate_queue ORDER BY article_id LIMIT ?",
        (max(1, limit),),
    )
    articles = cursor.rowcount
    if articles <= 0:
        return PercolateResult(articles=0, matches=0)
    before = await last_match(db)
    await _match_keywords(db, now)
    await _match_entities(db, now)
    rows = list(
        await db.execute_fetchall(
            "SELECT coalesce(sum(json_array_length(article_ids)), 0) FROM matches WHERE seq > ?",
            (before,),
        )
    )
    matches = int(rows[0][0])
    chats = await _instant_chats(db, before) if matches else ()
    await db.execute(
        "DELETE FROM percolate_queue WHERE article_id IN (SELECT id FROM temp.percolate_batch)"
    )
    await _clear_batch(db)
    return PercolateResult(articles=articles, matches=matches, chats=chats)


async def last_match(db: aiosqlite.Connection) -> int:
    """The newest ``matches.seq`` (0 when there is none)."""
    rows = list(await db.execute_fetchall("SELECT coalesce(max(seq), 0) FROM matches"))
    return int(rows[0][0])


# A chat's matches not yet expanded into its inbox (a correlated condition on `chats`).
UNEXPANDED = (
    "EXISTS (SELECT 1 FROM subscription_matches v"
    " WHERE v.chat_id = chats.id AND v.seq > chats.expanded_seq)"
)


async def _instant_chats(db: aiosqlite.Connection, after: int) -> tuple[int, ...]:
    """Chats on ``instant`` (not paused, not blocked) with matches after ``after``: the only
    per-chat work at match time, proportional to the instant chats' subscriptions."""
    rows = await db.execute_fetchall(
        "SELECT id FROM chats WHERE digest_frequency = 'instant' AND paused = 0"
        " AND blocked_at IS NULL AND EXISTS (SELECT 1 FROM subscription_matches v"
        " WHERE v.chat_id = chats.id AND v.seq > ?) ORDER BY id",
        (after,),
    )
    return tuple(int(row[0]) for row in rows)


# Expansion written out rather than through the `subscription_matches` view, to skip
# non-diplomatic articles for chats that take diplomatic ones only (the view has no such
# column): the `expanding` chats' matches after each one's cursor, up to `:top`.
_EXPAND = """
INSERT OR IGNORE INTO inbox (chat_id, article_id, subscription_id, matched_at)
SELECT s.chat_id, a.id, s.id, m.matched_at
FROM temp.expanding e
CROSS JOIN subscriptions s ON s.chat_id = e.chat_id
CROSS JOIN matches m ON m.{column} = s.{column} AND m.seq > e.after AND m.seq <= :top
CROSS JOIN json_each(m.article_ids) j
CROSS JOIN articles a ON a.id = j.value
WHERE s.{column} IS NOT NULL AND m.{column} IS NOT NULL {kinds}
    AND s.created_at <= a.ingested_at AND (e.diplomatic_only = 0 OR a.is_diplomatic = 1)
"""
_EXPAND_QUERIES = _EXPAND.format(column="query_id", kinds="")
_EXPAND_ENTITIES = _EXPAND.format(
    column="entity_id", kinds="AND s.kind IN ('person', 'country', 'org')"
)


async def expand_chats(
    db: aiosqlite.Connection, chat_ids: Sequence[int], diplomatic_only: bool | None = False
) -> int:
    """Materialise these chats' matches after their cursors as inbox rows and advance the
    cursors; the number of rows added. A blocked chat's cursor advances without rows.

    ``diplomatic_only``: True or False for every chat, or None for each chat's own setting.
    A chat expanded diplomatic-only never gets rows for the other matches: they are passed
    over, as a digest passes them over.

    One statement per kind of match for all the chats (writing chat after chat in key order),
    inside the caller's write transaction, so a crash leaves cursors and rows as they were.
    """
    await _ensure_temp_tables(db)
    top = await last_match(db)
    ids = json.dumps(list(chat_ids))
    await db.execute("DELETE FROM temp.expanding")
    cursor = await db.execute(
        "INSERT INTO temp.expanding (chat_id, after, diplomatic_only)"
        " SELECT c.id, c.expanded_seq, coalesce(?, c.only_diplomatic) FROM json_each(?) j"
        " CROSS JOIN chats c ON c.id = j.value"
        " WHERE c.expanded_seq < ? AND c.blocked_at IS NULL ORDER BY c.id",
        (None if diplomatic_only is None else int(diplomatic_only), ids, top),
    )
    added = 0
    if cursor.rowcount > 0:
        for statement in (_EXPAND_QUERIES, _EXPAND_ENTITIES):
            cursor = await db.execute(statement, {"top": top})
            added += max(cursor.rowcount, 0)
    await db.execute(
        "UPDATE chats SET expanded_seq = ? WHERE id IN (SELECT value FROM json_each(?))"
        " AND expanded_seq < ?",
        (top, ids, top),
    )
    return added


async def expand_chat(db: aiosqlite.Connection, chat_id: int) -> int:
    """:func:`expand_chats` for one chat, every match (diplomatic or not)."""
    rows = list(
        await db.execute_fetchall(
            "SELECT expanded_seq < (SELECT coalesce(max(seq), 0) FROM matches) FROM chats"
            " WHERE id = ?",
            (chat_id,),
        )
    )
    if not rows or not rows[0][0]:
        return 0
    return await expand_chats(db, (chat_id,), False)


async def up_to_date(db: aiosqlite.Connection, chat_id: int) -> bool:
    """Whether the chat's inbox holds every match recorded so far (or the chat is unknown)."""
    rows = list(
        await db.execute_fetchall(
            "SELECT expanded_seq >= (SELECT coalesce(max(seq), 0) FROM matches) FROM chats"
            " WHERE id = ?",
            (chat_id,),
        )
    )
    return not rows or bool(rows[0][0])


async def _match_keywords(db: aiosqlite.Connection, now: int) -> None:
    if not list(await db.execute_fetchall("SELECT 1 FROM match_queries LIMIT 1")):
        return
    await db.execute(
        "INSERT INTO temp.percolate_fts (rowid, title, text)"
        " SELECT a.id, a.title, a.text FROM temp.percolate_batch b"
        " CROSS JOIN articles a ON a.id = b.id"
    )
    # Candidates: queries anchored on a token of the batch ...
    await db.execute(
        "INSERT OR IGNORE INTO temp.percolate_candidates (query_id)"
        " SELECT m.query_id FROM temp.percolate_terms t"
        " CROSS JOIN match_anchors m ON m.prefix = 0 AND m.term = t.term"
    )
    # ... or on a prefix of one (one index probe per token and distinct prefix length) ...
    await db.execute(
        "INSERT OR IGNORE INTO temp.percolate_candidates (query_id)"
        " SELECT m.query_id"
        " FROM (SELECT DISTINCT length(term) AS size FROM match_anchors WHERE prefix = 1) p"
        " CROSS JOIN temp.percolate_terms t"
        " CROSS JOIN match_anchors m ON m.prefix = 1 AND m.term = substr(t.term, 1, p.size)"
        " WHERE length(t.term) >= p.size"
    )
    # ... or not anchored at all.
    await db.execute(
        "INSERT OR IGNORE INTO temp.percolate_candidates (query_id)"
        " SELECT id FROM match_queries WHERE anchored = 0"
    )
    # Verification: the full expression, by the full-text engine, against the batch only.
    await db.execute(
        "INSERT OR IGNORE INTO temp.percolate_query_hits (query_id, article_id)"
        " SELECT q.id, percolate_fts.rowid FROM temp.percolate_candidates c"
        " CROSS JOIN match_queries q ON q.id = c.query_id"
        " CROSS JOIN temp.percolate_fts ON percolate_fts MATCH q.expression"
    )
    # One row per query: the batch's articles it matched (in primary key order, ascending).
    await db.execute(
        "INSERT INTO matches (query_id, article_ids, matched_at)"
        " SELECT query_id, json_group_array(article_id), ? FROM temp.percolate_query_hits"
        " GROUP BY query_id ORDER BY query_id",
        (now,),
    )


async def _match_entities(db: aiosqlite.Connection, now: int) -> None:
    # One row per followed entity: the batch's articles that mention it.
    await db.execute(
        "INSERT INTO matches (entity_id, article_ids, matched_at)"
        " SELECT entity_id, json_group_array(article_id), ? FROM"
        " (SELECT ae.entity_id, ae.article_id FROM temp.percolate_batch b"
        " CROSS JOIN article_entities ae ON ae.article_id = b.id"
        " WHERE EXISTS (SELECT 1 FROM subscriptions s"
        " WHERE s.entity_id = ae.entity_id AND s.kind IN (?, ?, ?))"
        " ORDER BY ae.entity_id, ae.article_id)"
        " GROUP BY entity_id ORDER BY entity_id",
        (now, *ENTITY_KINDS),
    )
