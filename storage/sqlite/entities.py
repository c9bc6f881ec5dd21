"""Entities (people, countries, organisations), their aliases and their links to articles.

Kept apart because both storing an article (its extracted mentions) and subscribing (a name
nobody has written about yet) create entities, and person lookups read them: one place owns
the rows. Functions take the connection: the writing ones run inside the caller's write
transaction, the reading ones on the reader.
"""

# SQL here is assembled from constant fragments only; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from storage.errors import NotFound
from storage.models import Entity, EntityKind, EntityMention
from storage.sqlite.connection import json_list, rows

_KINDS: dict[str, EntityKind] = {"person": "person", "country": "country", "org": "org"}


# ---------------------------------------------------------------------- writing


async def upsert(db: aiosqlite.Connection, mentions: Sequence[EntityMention]) -> dict[str, int]:
    """Store the mentioned entities and their aliases; return their ids by key."""
    if not mentions:
        return {}
    await db.executemany(
        "INSERT INTO entities (kind, canonical, key) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
        [(m.kind, m.canonical, m.key) for m in mentions],
    )
    ids = {
        r[0]: r[1]
        for r in await db.execute_fetchall(
            "SELECT key, id FROM entities WHERE key IN (SELECT value FROM json_each(?))",
            (json_list({m.key for m in mentions}),),
        )
    }
    await db.executemany(
        "INSERT OR IGNORE INTO entity_aliases (alias_key, entity_id) VALUES (?, ?)",
        [(alias, ids[m.key]) for m in mentions for alias in m.aliases],
    )
    return ids


async def link(
    db: aiosqlite.Connection,
    links: Sequence[tuple[int, Sequence[EntityMention]]],
    ids: dict[str, int],
) -> None:
    """Record which entities each article mentions (``ids`` from :func:`upsert`)."""
    if not any(found for _, found in links):
        return
    await db.executemany(
        "INSERT OR IGNORE INTO article_entities"
        " (article_id, entity_id, mentions, first_offset) VALUES (?, ?, ?, ?)",
        [
            (article_id, ids[m.key], m.mentions, m.first_offset)
            for article_id, found in links
            for m in found
        ],
    )


# ---------------------------------------------------------------------- reading


async def _entities(
    db: aiosqlite.Connection, where: str, params: Sequence[object], order: str
) -> list[Entity]:
    found = await rows(
        db,
        "SELECT e.id, e.kind, e.canonical, e.key,"
        " (SELECT count(*) FROM article_entities ae WHERE ae.entity_id = e.id) AS n"
        f" FROM entities e {where} ORDER BY {order}",
        params,
    )
    if not found:
        return []
    aliases: dict[int, list[str]] = {}
    for entity_id, alias in await rows(
        db,
        "SELECT entity_id, alias_key FROM entity_aliases"
        " WHERE entity_id IN (SELECT value FROM json_each(?)) ORDER BY alias_key",
        (json_list(r[0] for r in found),),
    ):
        aliases.setdefault(entity_id, []).append(alias)
    return [
        Entity(
            id=r[0],
            kind=_KINDS[r[1]],
            canonical=r[2],
            key=r[3],
            aliases=tuple(aliases.get(r[0], ())),
            articles=r[4],
        )
        for r in found
    ]


async def find(
    db: aiosqlite.Connection, alias_keys: Sequence[str], kind: EntityKind | None
) -> list[Entity]:
    """Entities having any of these alias keys, most-mentioned first."""
    where = (
        "WHERE e.id IN (SELECT entity_id FROM entity_aliases"
        " WHERE alias_key IN (SELECT value FROM json_each(?)))"
    )
    params: list[object] = [json_list(alias_keys)]
    if kind is not None:
        where += " AND e.kind = ?"
        params.append(kind)
    return await _entities(db, where, params, "n DESC, e.id")


async def get(db: aiosqlite.Connection, entity_id: int) -> Entity:
    found = await _entities(db, "WHERE e.id = ?", (entity_id,), "e.id")
    if not found:
        raise NotFound(f"entity {entity_id}")
    return found[0]


async def of_article(db: aiosqlite.Connection, article_id: int) -> list[Entity]:
    """The entities an article mentions, in order of first mention."""
    return await _entities(
        db,
        "JOIN article_entities link ON link.entity_id = e.id WHERE link.article_id = ?",
        (article_id,),
        "link.first_offset, e.id",
    )
