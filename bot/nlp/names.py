"""Person-name normalisation: fold spellings, scripts and word order into lookup keys.

"Sergei Lavrov", "Sergey Lavrov", "SERGEI LAVROV", "Lavrov, Sergei", "Сергей Лавров" and
"Lavrov's" all fold to the tokens ("sergei", "lavrov"): diacritics dropped, Cyrillic written in
Latin (a Wikidata-derived table of name tokens, then a rule-based transliteration), and spelling
variants that share one Russian form (Sergei/Sergey/Serguei/Siarhei) replaced by one spelling.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import unicodedata
from dataclasses import dataclass

from bot.nlp.model import DATA_DIR, words_of

# Words that precede a name without being part of it ("President", "Mr.", "Foreign Minister").
TITLE_WORDS = frozenset(
    words_of(
        """
        mr mrs ms miss mme dr prof sir dame lord lady president vice prime minister
        foreign deputy secretary general secretary-general gen lt col colonel major maj
        capt captain admiral adm sgt king queen prince princess pope cardinal archbishop
        bishop rev reverend father sheikh sheik emir ayatollah imam senator sen rep
        representative congressman congresswoman governor gov mayor chancellor ambassador
        envoy chairman chairwoman chairperson chief justice judge premier former acting
        spokesman spokeswoman spokesperson commander minister-counsellor counsellor
        undersecretary under-secretary director director-general ministers presidents
        leader messrs mullah mufti rabbi marshal brigadier lieutenant sergeant corporal
        private general senior special permanent coordinator commissioner high vice-
        president vice-premier first lady crown tsar chairman-in-office superintendent
        inspector detective constable officer emperor sultan monsignor patriarch
        metropolitan head adviser advisor administrator
        министр президент премьер премьер-министр глава посол председатель генсек
        генеральный секретарь господин госпожа г-н г-жа заместитель замминистра
        пресс-секретарь представитель официальный спикер канцлер король королева
        """
    )
)

_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєўґ",
        words_of(
            """
            a b v g d e yo zh z i y k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya i
            yi ye w g
            """
        ),
        strict=True,
    )
)
_POSSESSIVE = re.compile(r"['’]s?$")
_NON_NAME_CHARS = re.compile(r"[^\w\- ]+")


@dataclass(frozen=True)
class _NameTables:
    variants: dict[str, str]
    ru_to_en: dict[str, str]


@functools.cache
def _tables() -> _NameTables:
    with gzip.open(DATA_DIR / "names.json.gz", "rt", encoding="utf-8") as fh:
        raw = json.load(fh)
    return _NameTables(variants=raw["variants"], ru_to_en=raw["ru_to_en"])


# Russian case endings of names -> the nominative ending ("Путиным" -> "Путин", "Сергея" ->
# "Сергей"), tried only when the written form is not itself a known name token.
# (Not "-а": "Захарова" is a woman's name, not the genitive of "Захаров".)
_RUSSIAN_CASE_ENDINGS = (("ым", ""), ("ом", ""), ("ем", "й"), ("у", ""), ("е", ""), ("я", "й"),
                         ("ю", "й"), ("ии", "ия"), ("ией", "ия"))  # fmt: skip


def _transliterate(token: str) -> str:
    ru_to_en = _tables().ru_to_en
    known = ru_to_en.get(token)
    if known is not None:
        return known
    for ending, nominative in _RUSSIAN_CASE_ENDINGS:
        if token.endswith(ending) and len(token) > len(ending) + 2:
            known = ru_to_en.get(token[: -len(ending)] + nominative)
            if known is not None:
                return known
    return "".join(_CYRILLIC.get(c, c) for c in token).replace("_", "")


@functools.lru_cache(maxsize=65536)
def fold_token(token: str) -> str:
    """One name token -> its key form: lower case, no diacritics, Latin, one spelling variant."""
    token = token.lower().strip(".")
    if any("\u0400" <= c <= "\u04ff" for c in token):
        token = "-".join(_transliterate(part) for part in token.split("-"))
    decomposed = unicodedata.normalize("NFKD", token)
    token = "".join(c for c in decomposed if not unicodedata.combining(c))
    if len(token) == 1:
        return token  # an initial, not the name the table happens to spell ("J" is no "Jay")
    return _tables().variants.get(token, token)


def name_tokens(name: str) -> tuple[str, ...]:
    """Folded tokens of a person name, titles and possessive dropped, "Surname, First" reordered."""
    name = unicodedata.normalize("NFC", name).strip()
    if name.count(",") == 1:
        surname, given = (part.strip() for part in name.split(","))
        if surname and given:
            name = f"{given} {surname}"
    words = [_POSSESSIVE.sub("", w) for w in name.replace(".", ". ").split()]
    words = [w for w in (_NON_NAME_CHARS.sub("", w) for w in words) if w.strip("-")]
    while len(words) > 1 and words[0].lower() in TITLE_WORDS:
        words.pop(0)
    return tuple(fold_token(w) for w in words)


@functools.lru_cache(maxsize=65536)
def person_key(name: str) -> str:
    """The entity key of a person: "person:" + the folded full name ("person:sergei lavrov").

    Middle initials are left out ("Sergei V. Lavrov", "Antony J. Blinken" key as "Sergei
    Lavrov", "Antony Blinken"): newswire adds and drops them for the same person. A leading
    initial stays ("S. Lavrov" is "s lavrov"; the extractor links it to a full name).
    """
    tokens = name_tokens(name)
    if len(tokens) >= 3:
        tokens = (tokens[0], *(t for t in tokens[1:-1] if len(t) > 1), tokens[-1])
    return "person:" + " ".join(tokens)


def alias_keys(name: str) -> tuple[str, ...]:
    """Every lookup key an entity with this canonical name is stored under.

    The folded full name, first + last name (middle names and initials dropped), initial + last
    name ("s lavrov") and the surname alone ("lavrov"): a surname shared by several people then
    returns several candidates, which is what a caller needs to ask "which Kim?".
    """
    tokens = name_tokens(name)
    if not tokens:
        return ()
    keys = [" ".join(tokens)]
    if len(tokens) >= 2:
        first, last = tokens[0], tokens[-1]
        keys += [f"{first} {last}", f"{first[0]} {last}", last]
    return tuple(dict.fromkeys(keys))


def lookup_keys(query: str) -> tuple[str, ...]:
    """Alias keys to look up for a user's query, most specific first.

    Use the first key that matches any entity: "Sergey Lavrov" tries "sergei lavrov" before the
    bare surname, so a full name never falls back to every Lavrov while a full match exists.
    """
    tokens = name_tokens(query)
    if not tokens:
        return ()
    if len(tokens) == 1:
        return tokens
    first, last = tokens[0], tokens[-1]
    keys = [" ".join(tokens), f"{first} {last}", f"{first[0]} {last}"]
    if len(first) == 1:  # "S. Lavrov": the initial form is the most specific we have
        keys = [f"{first} {last}"]
    keys.append(last)
    return tuple(dict.fromkeys(keys))
