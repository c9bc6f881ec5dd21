"""Subscribing before the news arrives: names resolved from the shipped gazetteers.

The entity a subscription creates must be the very row the later article links to, or
percolation (which matches person/country/org subscriptions by entity id) would miss it. So each
test subscribes on an empty database, then stores real text (the Kazinform seed, U.S. State
Department press releases: public domain, see fixtures/LICENCE-statedept.md) and checks the ids.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import nlp
from bot.chats.service import Ambiguous, Chats, Subscribed, Unknown
from bot.config import Settings
from bot.factory import make_storage
from bot.nlp.names import person_key
from bot.sandbox import BotApiServer
from bot.services import Services
from storage.models import Entity
from tests.conftest import SEED_TEXT
from tests.e2e.test_acceptance_digest import empty_bot
from tests.e2e.test_handlers_subscribe import OTHER_LAVROV
from tests.storage.peek import pending_inbox
from tests.unit.test_digest_support import STATEDEPT

ALICE, BOB, CAROL = 501, 502, 503
# "Diversion of Ryanair Flight to Belarus and Arrest of Journalist Raman Pratasevich"
PRATASEVICH = STATEDEPT[8]


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings.model_validate({"database_url": f"sqlite:///{tmp_path / 'attache.db'}"})
    services = Services(make_storage(settings), settings)
    await services.open()
    try:
        yield services
    finally:
        await services.close()


@pytest.fixture
async def chats(services: Services) -> Chats:
    chats = Chats(services.storage, services.settings)
    for chat_id in (ALICE, BOB, CAROL):
        await chats.ensure(chat_id, "private", f"chat {chat_id}")
    return chats


def seed_summary(kind: str, key: str) -> nlp.EntitySummary:
    (found,) = [e for e in nlp.extract(SEED_TEXT).entities if e.kind == kind and e.key == key]
    return found


async def subscribed_entity(chats: Chats, chat_id: int, text: str) -> Entity:
    outcome = await chats.subscribe(chat_id, text)
    assert isinstance(outcome, Subscribed), outcome
    assert outcome.entity is not None
    assert outcome.subscription.entity_id == outcome.entity.id
    return outcome.entity


async def seed_entities(services: Services) -> tuple[int, dict[str, int]]:
    """Store the seed; its article id and the ids of its entities by key."""
    outcome = await services.ingest.text(SEED_TEXT, source="Kazinform")
    assert outcome.created
    linked = await services.storage.article_entities(outcome.article_id)
    return outcome.article_id, {e.key: e.id for e in linked}


# ---------------------------------------------------------------- the gazetteer look-up


@pytest.mark.parametrize(
    "name",
    [
        *("Lavrov", "Sergei Lavrov", "Sergey Lavrov", "SERGEI LAVROV", "Lavrov, Sergei"),
        *("Лавров", "Сергей Лавров", "S. Lavrov", "Foreign Minister Lavrov"),
        "Sergei Viktorovich Lavrov",
    ],
)
def test_every_form_of_lavrov_is_the_seed_s_lavrov(name: str) -> None:
    from_article = seed_summary("person", "person:sergei lavrov")
    (known,) = nlp.known_entities(name, "person")
    assert (known.kind, known.key, known.canonical, known.aliases) == (
        from_article.kind,
        from_article.key,
        from_article.canonical,
        from_article.aliases,
    )


@pytest.mark.parametrize(
    ("name", "kind", "key"),
    [
        ("Belarus", "country", "country:BY"),
        ("belarusian", "country", "country:BY"),
        ("Byelorussia", "country", "country:BY"),
        ("Russian Federation", "country", "country:RU"),
        ("OSCE", "org", "org:osce"),
        ("osce", "org", "org:osce"),
        ("Organization for Security and Co-operation in Europe", "org", "org:osce"),
        ("Union State", "org", "org:unionstate"),
        ("the United Nations", "org", "org:un"),
    ],
)
def test_countries_and_organisations_by_any_name(name: str, kind: str, key: str) -> None:
    assert kind in ("country", "org")
    (known,) = nlp.known_entities(name, "country" if kind == "country" else "org")
    from_article = seed_summary(kind, key)
    assert (known.key, known.canonical) == (from_article.key, from_article.canonical)
    assert from_article.aliases[0] in known.aliases  # the canonical name, lower-cased


def test_a_name_is_only_looked_up_as_the_kind_asked() -> None:
    assert nlp.known_entities("UN", "country") == ()
    assert nlp.known_entities("Belarus", "org") == ()
    assert nlp.known_entities("Belarus", "person") == ()


def test_a_full_name_the_tables_do_not_know_is_keyed_like_the_extractor_keys_it() -> None:
    text = f"{PRATASEVICH['title']}\n\n{PRATASEVICH['text']}"
    (in_article,) = [e for e in nlp.extract(text).entities if e.kind == "person"]
    for name in ("Raman Pratasevich", "raman pratasevich", "Journalist Raman Pratasevich"):
        (known,) = nlp.known_entities(name, "person")
        assert (known.key, known.canonical, known.aliases) == (
            in_article.key,
            in_article.canonical,
            in_article.aliases,
        )
        assert known.key == person_key("Raman Pratasevich")


def test_one_person_however_the_name_is_written() -> None:
    keys = {
        known.key
        for name in ("Maria Zakharova", "MARIA ZAKHAROVA", "Zakharova, Maria", "Мария Захарова")
        for known in nlp.known_entities(name, "person")
    }
    assert keys == {person_key("Maria Zakharova")}


@pytest.mark.parametrize(
    "name",
    [
        *("Pratasevich", "Zakharova", "Zzyzx Qwerty", "Eurasian Integration"),
        *("Foreign Minister", "Read More", "S. Pratasevich", "Galactic Empire", "", "  "),
    ],
)
def test_no_guess_for_a_bare_unknown_surname_or_a_non_name(name: str) -> None:
    assert nlp.known_entities(name, "person") == ()


def test_a_surname_several_office_holders_share_gives_them_all() -> None:
    found = nlp.known_entities("Mitchell", "person")
    assert {e.canonical for e in found} == {"Dickon Mitchell", "Fred Mitchell", "Keith Mitchell"}
    assert len({e.key for e in found}) == 3


# ---------------------------------------------------------------- subscribing, then the news


async def test_subscribe_before_the_seed_then_the_seed_matches_by_entity_id(
    services: Services, chats: Chats
) -> None:
    assert (await services.storage.stats()).articles == 0
    lavrov = await subscribed_entity(chats, ALICE, "person Lavrov")
    belarus = await subscribed_entity(chats, ALICE, "country Belarus")
    osce = await subscribed_entity(chats, ALICE, "org OSCE")
    assert (lavrov.canonical, belarus.canonical, osce.canonical) == (
        "Sergey Lavrov",
        "Belarus",
        "OSCE",
    )
    assert lavrov.articles == belarus.articles == osce.articles == 0

    article_id, linked = await seed_entities(services)
    assert linked["person:sergei lavrov"] == lavrov.id
    assert linked["country:BY"] == belarus.id
    assert linked["org:osce"] == osce.id
    # percolation matched all three subscriptions to the seed
    inbox = await pending_inbox(services.storage, ALICE)
    subs = {s.id: s.entity_id for s in await services.storage.list_subscriptions(ALICE)}
    assert sorted(
        subs[row.subscription_id] or 0 for row in inbox if row.article_id == article_id
    ) == sorted([lavrov.id, belarus.id, osce.id])
    # one Lavrov row, now with its article
    (stored,) = await services.storage.find_entities(["lavrov"], "person")
    assert stored.id == lavrov.id and stored.articles == 1


async def test_name_variants_subscribe_to_one_entity(services: Services, chats: Chats) -> None:
    sergey = await subscribed_entity(chats, ALICE, "person Sergey Lavrov")
    cyrillic = await subscribed_entity(chats, BOB, "person Лавров")
    sergei = await subscribed_entity(chats, CAROL, "person Sergei Lavrov")
    assert sergey.id == cyrillic.id == sergei.id
    again = await chats.subscribe(ALICE, "person Лавров")
    assert not isinstance(again, Subscribed)  # the same entity: a duplicate
    _, linked = await seed_entities(services)
    assert linked["person:sergei lavrov"] == sergey.id
    for chat_id in (ALICE, BOB, CAROL):
        assert len(await pending_inbox(services.storage, chat_id)) == 1


async def test_full_name_subscribed_ahead_gets_the_press_release(
    services: Services, chats: Chats
) -> None:
    person = await subscribed_entity(chats, ALICE, "person Raman Pratasevich")
    assert person.canonical == "Raman Pratasevich" and person.articles == 0
    outcome = await services.ingest.text(
        f"{PRATASEVICH['title']}\n\n{PRATASEVICH['text']}", source="U.S. Department of State"
    )
    linked = {e.key: e.id for e in await services.storage.article_entities(outcome.article_id)}
    assert linked[person.key] == person.id
    (row,) = await pending_inbox(services.storage, ALICE)
    assert row.article_id == outcome.article_id


async def test_unknown_bare_surname_is_refused_and_stores_nothing(
    services: Services, chats: Chats
) -> None:
    outcome = await chats.subscribe(ALICE, "person Pratasevich")
    assert outcome == Unknown("person", "Pratasevich")
    assert await chats.subscribe(ALICE, "country Atlantis") == Unknown("country", "Atlantis")
    assert await chats.subscribe(ALICE, "org Galactic Empire") == Unknown("org", "Galactic Empire")
    assert (await services.search.stats()).entities == 0
    assert await services.storage.list_subscriptions(ALICE) == []


async def test_ambiguous_surname_offers_each_office_holder_with_an_id(
    services: Services, chats: Chats
) -> None:
    outcome = await chats.subscribe(ALICE, "person Mitchell")
    assert isinstance(outcome, Ambiguous)
    names = {c.canonical: c.id for c in outcome.candidates}
    assert set(names) == {"Dickon Mitchell", "Fred Mitchell", "Keith Mitchell"}
    picked = await chats.subscribe_entity(ALICE, names["Keith Mitchell"])
    assert isinstance(picked, Subscribed) and picked.subscription.query == "Keith Mitchell"
    # asking again finds the same rows, not new ones
    again = await chats.subscribe(BOB, "person Mitchell")
    assert isinstance(again, Ambiguous)
    assert {c.id for c in again.candidates} == set(names.values())


async def test_a_stored_namesake_does_not_hide_the_office_holder(
    services: Services, chats: Chats
) -> None:
    await services.ingest.text(OTHER_LAVROV, source="Kazinform")
    (andrei,) = await services.storage.find_entities(["lavrov"], "person")
    assert andrei.canonical == "Andrei Lavrov"
    # a full name is never taken for the namesake
    sergey = await subscribed_entity(chats, ALICE, "person Sergei Lavrov")
    assert sergey.canonical == "Sergey Lavrov" and sergey.id != andrei.id
    # the bare surname now fits both: the user picks
    both = await chats.subscribe(BOB, "person Lavrov")
    assert isinstance(both, Ambiguous)
    assert {c.id for c in both.candidates} == {andrei.id, sergey.id}
    _, linked = await seed_entities(services)
    assert linked["person:sergei lavrov"] == sergey.id


# ---------------------------------------------------------------- through the bot


async def test_bot_confirms_a_subscription_ahead_of_the_news(
    tmp_path: Path, sandbox: BotApiServer
) -> None:
    async with empty_bot(tmp_path, sandbox) as bot:
        chat = bot.alice_chat
        done = await bot.ask(chat, bot.alice, "/subscribe person Lavrov")
        assert "Subscribed #" in done.text and "Sergey Lavrov" in done.text
        assert "No stored article mentions Sergey Lavrov yet" in done.text
        org = await bot.ask(chat, bot.alice, "/subscribe org osce")
        assert "articles about OSCE" in org.text
        unknown = await bot.ask(chat, bot.alice, "/subscribe person Zakharova")
        assert "No person known as Zakharova" in unknown.text
        assert "full name" in unknown.text and "/subscribe Zakharova" in unknown.text
        which = await bot.ask(chat, bot.alice, "/subscribe person Mitchell")
        assert which.text.endswith("Which one?") and len(which.flat_buttons) == 3
        keith = which.button("Keith Mitchell")
        assert "0 articles" in keith.text
        await bot.server.press_button(which, keith.callback_data or "")
        picked = await bot.server.wait_for_edit(chat.id, which.message_id)
        assert "Subscribed #" in picked.text and "Keith Mitchell" in picked.text
        subs = await bot.services.storage.list_subscriptions(chat.id)
        assert [s.query for s in subs] == ["Sergey Lavrov", "OSCE", "Keith Mitchell"]
