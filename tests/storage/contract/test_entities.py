"""Contract: entities, their aliases, and their links to articles."""

from __future__ import annotations

import pytest

from storage.base import Storage
from storage.errors import NotFound
from storage.models import EntityMention
from tests.storage.contract.support import NOW, article


async def test_entities(loaded: Storage) -> None:
    found = await loaded.find_entities(["lavrov"])
    assert [(e.canonical, e.kind, e.articles) for e in found] == [("Sergei Lavrov", "person", 1)]
    assert set(found[0].aliases) == {"lavrov", "sergei lavrov"}
    assert await loaded.find_entities(["lavrov"], kind="country") == []
    belarus = await loaded.get_entity((await loaded.find_entities(["belarus"]))[0].id)
    assert belarus.articles == 2
    linked = await loaded.article_entities(1)
    assert [e.canonical for e in linked] == ["Belarus", "Sergei Lavrov"]  # by first offset
    with pytest.raises(NotFound):
        await loaded.get_entity(12345)
    assert await loaded.find_entities([]) == []
    assert await loaded.article_entities(999) == []


async def test_most_mentioned_first(loaded: Storage) -> None:
    # Both answer to "minsk": the one mentioned by more articles comes first.
    rare = EntityMention("org", "Minsk Group", "org:minsk group", ("minsk",), 1, 0)
    common = EntityMention("country", "Minsk", "country:minsk", ("minsk",), 1, 0)
    await loaded.add_articles(
        [
            article("A", "first text about Minsk", url="m:1", entities=(rare, common)),
            article("B", "second text about Minsk", url="m:2", entities=(common,)),
        ],
        now=NOW,
    )
    found = await loaded.find_entities(["minsk", "nobody"])
    assert [(e.key, e.articles) for e in found] == [("country:minsk", 2), ("org:minsk group", 1)]


async def test_ensure_entity_creates_once_and_adds_aliases(storage: Storage) -> None:
    first = EntityMention(
        "person", "Raman Pratasevich", "person:raman pratasevich", ("pratasevich",), 0, 0
    )
    created = await storage.ensure_entity(first)
    assert (created.canonical, created.articles, created.aliases) == (
        "Raman Pratasevich",
        0,
        ("pratasevich",),
    )
    more = EntityMention(
        "person", "Raman Pratasevich", "person:raman pratasevich", ("raman pratasevich",), 0, 0
    )
    again = await storage.ensure_entity(more)
    assert again.id == created.id
    assert again.aliases == ("pratasevich", "raman pratasevich")
    assert [e.id for e in await storage.find_entities(["raman pratasevich"], "person")] == [
        created.id
    ]
    # An article naming it later links to the same entity.
    [stored] = await storage.add_articles(
        [article("Pratasevich", "Raman Pratasevich was arrested.", url="p:1", entities=(first,))],
        now=NOW,
    )
    assert [e.id for e in await storage.article_entities(stored.article_id)] == [created.id]
    assert (await storage.get_entity(created.id)).articles == 1
