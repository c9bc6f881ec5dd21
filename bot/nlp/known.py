"""Entities known before any article names them: resolve a user's name from the gazetteers.

People subscribe before the news arrives. ``known_entities("Lavrov", "person")`` answers from
the shipped tables alone (countries with their short names and demonyms, organisations with
acronyms and long forms, office holders) and returns each entity exactly as the extractor would
report it for an article mentioning it by that name: the same key, canonical name and alias
keys, so the article found later links to the same stored entity.

A full person name the tables do not know ("Maria Zakharova") is taken as written, keyed with
the extractor's own key function; a bare surname nobody in the tables carries is not guessed.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from bot.nlp.entities import (
    _NAME,
    _NOT,
    _NOT_NAMES,
    _Gazetteer,
    _gazetteer,
    _is_first_name,
    _word_class,
    extract_entities,
)
from bot.nlp.model import EntitySummary
from bot.nlp.names import TITLE_WORDS, alias_keys, name_tokens, person_key
from storage.models import EntityKind

# Longer queries are sentences, not names.
MAX_NAME_WORDS = 6
_QUOTES = "\"'«»“”„‘’`"
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['’.\-][^\W\d_]*)*\.?")
_INITIAL_TOKEN = re.compile(r"[^\W\d_]")


def known_entities(query: str, kind: EntityKind) -> tuple[EntitySummary, ...]:
    """The entities of ``kind`` the shipped gazetteers know under ``query``.

    Countries and organisations resolve to at most one entity. A person name resolves to the
    office holder it names, to every office holder with that surname (several: the caller asks
    "which one?"), or, for a full name the tables do not know, to the person it spells; a bare
    unknown surname or something that is no person's name gives nothing.
    """
    cleaned = " ".join(unicodedata.normalize("NFC", query).split()).strip(_QUOTES + " ")
    if not cleaned:
        return ()
    gaz = _gazetteer()
    if kind == "person":
        return tuple(_person(name) for name in _person_names(cleaned, gaz))
    found = _phrase(cleaned, gaz)
    if found is None:
        return ()
    found_kind, ident, written = found
    if kind == "country" and found_kind in ("country", "demonym"):
        canonical, key = gaz.country_names[ident], f"country:{ident}"
    elif kind == "org" and found_kind == "org":
        canonical, key = gaz.org_names[ident], f"org:{ident}"
    else:
        return ()
    # As for an article mentioning it by the query's words (see entities._summaries).
    aliases = tuple(dict.fromkeys([canonical.lower(), written.lower()]))
    return (EntitySummary(kind, canonical, key, aliases, mentions=0, first_offset=0),)


def _phrase(text: str, gaz: _Gazetteer) -> tuple[str, str, str] | None:
    """(kind, id, the words as matched) of a country, demonym or organisation phrase."""
    forms = [text]
    if text.lower().startswith("the "):
        forms.append(text[4:])
    for form in forms:
        for written in (form, form.upper()):
            # Acronyms match as written ("WHO", never "who"); users typing "osce" mean OSCE.
            found = gaz.phrase_exact.get(written) or gaz.phrase_lower.get(written.lower())
            if found is not None:
                return found[0], found[1], form
    return None


def _person(canonical: str) -> EntitySummary:
    """A person as the extractor summarises one: keyed by its canonical name."""
    return EntitySummary(
        kind="person",
        canonical=canonical,
        key=person_key(canonical),
        aliases=alias_keys(canonical),
        mentions=0,
        first_offset=0,
    )


@functools.cache
def _leaders_by_surname() -> dict[str, tuple[str, ...]]:
    """Folded surname -> every office holder's canonical name with it."""
    owners: dict[str, list[str]] = {}
    for key, canonical in _gazetteer().leaders.items():
        parts = key.removeprefix("person:").split()
        if len(parts) >= 2:
            owners.setdefault(parts[-1], []).append(canonical)
    return {surname: tuple(dict.fromkeys(names)) for surname, names in owners.items()}


@functools.cache
def _leaders_by_short_name() -> dict[str, tuple[str, ...]]:
    """Short forms (first + last name, initial + last name) -> the office holders they fit."""
    owners: dict[str, list[str]] = {}
    for key, canonical in _gazetteer().leaders.items():
        parts = key.removeprefix("person:").split()
        if len(parts) >= 2:
            for short in (f"{parts[0]} {parts[-1]}", f"{parts[0][0]} {parts[-1]}"):
                owners.setdefault(short, []).append(canonical)
    return {short: tuple(dict.fromkeys(names)) for short, names in owners.items()}


def _person_names(query: str, gaz: _Gazetteer) -> tuple[str, ...]:
    """Canonical names of the persons a query may mean (see ``known_entities``)."""
    tokens = name_tokens(query)
    if not tokens or len(tokens) > MAX_NAME_WORDS:
        return ()
    leader = gaz.leaders.get("person:" + " ".join(tokens))
    if leader is not None:
        return (leader,)
    if len(tokens) == 1:
        return _leaders_by_surname().get(tokens[0], ())
    first, last = tokens[0], tokens[-1]
    short = _leaders_by_short_name()
    initial_only = _INITIAL_TOKEN.fullmatch(first) is not None
    # "Sergei Viktorovich Lavrov" or "S. Lavrov": the office holder it abbreviates.
    fits = short.get(f"{first} {last}") or (short.get(f"{first[0]} {last}") if initial_only else ())
    if fits:
        return fits
    display = _display_name(query)
    if display is not None:
        display = _as_extracted(display)
    if initial_only or display is None or not _looks_like_a_name(display, gaz):
        return ()  # "S. Ivanov", "Zzyzx Qwerty", "Eurasian Integration": no person to key
    return (display,)


def _as_extracted(name: str) -> str:
    """The name as the extractor delimits it in a sentence ("Journalist Raman Pratasevich"
    -> "Raman Pratasevich"); unchanged when the extractor finds no person ending with it."""
    sentence = f"{name} said."
    persons = extract_entities(sentence).persons
    if len(persons) == 1 and persons[0].end == len(name):
        return persons[0].text
    return name


def _looks_like_a_name(display: str, gaz: _Gazetteer) -> bool:
    """No word the extractor rules out of names ("Union", "Ministry"), and at least one word
    the name tables know as part of people's names ("Raman" of Raman Pratasevich)."""
    words = display.split()
    # (The word classes judge Latin script; a Cyrillic name is left to the name tables.)
    if any(word.isascii() and _word_class(word, gaz) == _NOT for word in words):
        return False
    return any(
        _is_first_name(word, gaz)
        or word.lower() in gaz.name_tokens
        or _word_class(word, gaz) == _NAME
        for word in words
    )


def _display_name(query: str) -> str | None:
    """The name as an article would print it: titles dropped, "Surname, First" reordered,
    shouted or lower-case input in title case; None when a word cannot be part of a name."""
    text = query
    if text.count(",") == 1:
        surname, given = (part.strip() for part in text.split(","))
        if surname and given:
            text = f"{given} {surname}"
    words = text.split()
    while len(words) > 1 and words[0].lower().rstrip(".") in TITLE_WORDS:
        words.pop(0)
    if any(not _NAME_WORD.fullmatch(w) or w.lower() in _NOT_NAMES for w in words):
        return None
    letters = [c for c in "".join(words) if c.isalpha()]
    if all(c.islower() for c in letters) or all(c.isupper() for c in letters):
        words = [w.capitalize() if len(w) > 1 else w.upper() for w in words]
    display = " ".join(words)
    # Re-casing and reordering must not change who it is.
    return display if person_key(display) == person_key(query) else None
