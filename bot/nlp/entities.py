"""Persons, countries and organisations with character spans, found by rules and gazetteers.

One regular expression finds runs of capitalised words ("Russian Foreign Minister Sergei Lavrov",
"Charter of the United Nations"). Inside a run, the longest gazetteer phrases become countries,
demonyms or organisations, title words are cut off (and mark the next name as a person), and what
is left is judged word by word: statistics learned from public-domain newswire (how often a
capitalised word is part of a person's name), first-name and office-holder gazetteers, and cues
around the run (titles, "said", "according to"). A later bare surname links to the full name
found earlier in the article. Only dict look-ups and precompiled regexes run per word.

`extract_entities(text)` is the entry point. It knows nothing of the diplomatic classifier:
`bot.nlp.pipeline.extract` runs it and then the classifier, so neither imports the other.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.nlp.model import DATA_DIR, EntitySummary, Extraction, Span, words_of
from bot.nlp.names import TITLE_WORDS, alias_keys, fold_token, person_key
from storage.models import EntityKind

# --- patterns ---------------------------------------------------------------------------------

_UPPER = "".join(
    sorted({chr(c) for c in [*range(0x41, 0x250), *range(0x370, 0x530)] if chr(c).isupper()})
)
_UP = f"[{re.escape(_UPPER)}]"
_ABBREVIATIONS = "Mr|Mrs|Ms|Mme|Dr|Prof|Gen|Lt|Col|Sgt|Capt|Gov|Sen|Rep|Adm|Maj|Rev|Messrs|St|Jr|Sr"
_WORD = (
    rf"(?:(?:{_ABBREVIATIONS})\.(?=[ \t])|(?:{_UP}\.){{2,}}|{_UP}\.(?=[ \t]+{_UP})"
    rf"|(?:(?:al|el|ul|as|ash|ad|an|ar|at|az|bin|ibn|ben|abu|de|d|l|O)['’-])?"
    rf"{_UP}(?:['’]{_UP})?[^\W_]*(?:['’](?!s\b)[^\W\d_]+)?(?:-[^\W_]+)*\+?)"
)
_CONNECTORS = (
    "of|for|and|the|in|on|de|du|des|del|della|da|do|dos|das|van|von|der|den|ter|la|le|bin|ibn|"
    "al|el|y|bint|ben|e|di|zu|wa"
)
_RUN = re.compile(rf"{_WORD}(?:[ \t]+(?:(?:{_CONNECTORS})[ \t]+)*{_WORD})*")
_TOKEN = re.compile(rf"{_WORD}|\b(?:{_CONNECTORS})\b")
_NAME_PARTICLES = frozenset(
    words_of(
        """
        de du des del della da do dos das van von der den ter la le bin ibn al el bint ben
        di zu y e wa
        """
    )
)
_INITIAL = re.compile(rf"{_UP}\.")
_VOWEL = re.compile(r"[AEIOUY]")
# A lower-case particle that opens a surname when no first name is given ("Mr. de Menezes",
# "bin Laden", "da Silva"); "al", "la" and "le" are left out: too often an article or a place.
_PARTICLE_BEFORE = re.compile(r"(?<![\w'’-])(?:bin|ibn|de|da|dos|du|di|del|van|von|der|wa)[ \t]$")
_CAMEL = re.compile(r"^(?:Mc|Mac|O['’]|D['’]|De|Di|Da|Du|La|Le|Van|Von|Al-|El-)?[^\W_][^\W\d_]*$")

_SPEECH_VERBS = (
    "said|says|say|told|tells|added|adds|noted|notes|stressed|stresses|emphasized|emphasised|"
    "underlined|announced|announces|stated|states|declared|insisted|warned|warns|urged|urges|"
    "believes|believed|thinks|argued|argues|explained|explains|recalled|remarked|wrote|writes|"
    "asked|asks|replied|responded|confirmed|denied|admitted|acknowledged|claimed|predicted|"
    "reported|reports|commented|concluded|continued|expressed|agreed|met|meets|visited|visits|"
    "called|calls|accused|praised|criticized|criticised|welcomed|signed|spoke|speaks|led|leads|"
    "заявил|заявила|сказал|сказала|отметил|отметила|сообщил|сообщила|подчеркнул|подчеркнула|"
    "добавил|добавила|считает|пояснил|пояснила|провел|провёл|провела|встретился|встретилась"
)
# Nouns of a person's role: ", the foreign minister of Bulgaria," marks the name before it.
_ROLE_NOUNS = (
    "minister|president|leader|spokesman|spokeswoman|spokesperson|ambassador|envoy|secretary|"
    "chairman|chairwoman|director|head|chief|founder|widow|wife|husband|son|daughter|brother|"
    "sister|father|mother|commander|governor|senator|lawmaker|legislator|official|adviser|"
    "advisor|aide|correspondent|reporter|lawyer|attorney|professor|author|writer|journalist|"
    "activist|candidate|executive|mayor|premier|speaker|judge|prosecutor|champion|coach|singer|"
    "actor|actress|diplomat|negotiator|deputy|representative|cleric|general|colonel|economist|"
    "analyst|researcher|scientist|member|councillor|councilor|chancellor|king|queen|prince"
)
_CUE_AFTER = re.compile(
    rf"[ \t]*(?:(?:,[^,.;:\"“”\n]{{1,90}},[ \t]*)?(?:{_SPEECH_VERBS})\b|"
    rf"(?:also|who)[ \t]+[a-z]|"
    rf",[ \t]*(?:who|whose)\b|"
    rf",[ \t]*(?:the|a|an|his|her|its)[ \t]+(?:[\w-]+[ \t]+){{0,4}}?(?:{_ROLE_NOUNS})s?\b)",
    re.IGNORECASE,
)
# A verb after a name of two or more words ("Heidar Moslehi did not"); after one word it says
# little ("Tucson will", "Fortaleza was").
_AUX_AFTER = re.compile(
    r"[ \t]+(?:was|is|has|had|have|will|would|did|does|could|can|must|should)[ \t]+[a-z]"
)
_BLOCK_AFTER = re.compile(r"[ \t]+(?:administration|doctrine|era|cabinet|government)\b")
_ROMAN = frozenset(
    words_of(
        """
    II III IV V VI VII VIII IX XI XII XIII XIV XV XVI
    """
    )
)
_HEAD_NOUNS = frozenset(
    words_of(
        """
        airport university ministry council party committee commission agency department
        office court army bank institute center centre company corporation street avenue
        square bridge hospital school church mosque palace province region district county
        island islands river sea lake times post journal foundation cup prize prison
        stadium park station hotel airlines news club tower building museum city
        fellowship arboretum initiative award scholarship program programme library memorial
        garden gardens zoo academy laboratory festival
        """
    )
)
_EVENT_HEADS = frozenset(
    words_of(
        """
    hurricane storm typhoon cyclone tropical operation fort camp
    """
    )
)
_HYPHEN_NOT_NAME = re.compile(r"-(?:born|based|led|backed|owned|run|made|style|old|aged|era)$")
_CUE_BEFORE = re.compile(
    r"(?:\b(?:said|says|told|according to|added|stressed|noted|asked|by|with|and|between|"
    r"minister|president|prime minister|spokesman|spokeswoman|spokesperson|ambassador|envoy|"
    r"secretary|chairman|chairwoman|chief|director|head|premier|leader|counterpart|colleague|"
    r"commander|governor|senator|representative|deputy|adviser|advisor|aide|official|"
    r"correspondent|reporter|lawyer|attorney|mr|mrs|ms|dr|по словам|министр|президент|глава|"
    r"посол|заявил|заявила)\.?[ \t]+|[Ss]aid[ \t]*,?[ \t]*)$",
    re.IGNORECASE,
)
_TITLE_BEFORE = re.compile(
    r"(?:\b(?:minister|president|prime minister|spokesman|spokeswoman|spokesperson|ambassador|"
    r"envoy|secretary|chairman|chairwoman|chief|director|premier|leader|counterpart|commander|"
    r"governor|senator|adviser|advisor|aide|correspondent|reporter|lawyer|attorney|mr|mrs|ms|dr|"
    r"colleague|candidate|general|coach|judge|actor|singer|player|economist|analyst|professor|"
    r"author|writer|journalist|activist|dissident|wife|husband|son|daughter|brother|sister|"
    r"mother|father|named|nominee|year-old|ranked|runner|driver|pianist|singers|laureate|"
    r"rapper|striker|goalkeeper|champion|teammate|opponent|publisher|founder|editor|pilot|"
    r"countryman|countrywoman|countrymen|compatriot|compatriots|"
    r"photographer|filmmaker|composer|novelist|poet|artist|cleric|suspect|defendant|"
    r"hostage|businessman|businesswoman|billionaire|tycoon|identified as|министр|президент|"
    r"премьер|глава|посол|председатель|генсек|секретарь|представитель|пресс-секретарь)"
    r"\.?,?[ \t]+)$",
    re.IGNORECASE,
)
# "the Archbishop of Gdańsk, Sławoj Leszek Głódź,": a name in apposition to a titled office.
_OFFICE_OF_PLACE_BEFORE = re.compile(
    r"\b(?i:archbishop|bishop|mayor|governor|president|minister|king|queen|emir|premier|"
    r"chancellor|ambassador|secretary|chief|head|director|leader|speaker|chairman|chairwoman|"
    r"patriarch|metropolitan|rector|commissioner|administrator)[ \t]+of"
    r"(?:[ \t]+(?:the[ \t]+)?[A-Z][^\s,]*){1,4},[ \t]*$"
)
# "the city of São Paulo", "our biggest island Crete": a lower-case place noun names a place.
_PLACE_BEFORE = re.compile(
    r"\b(?:city|town|village|island|province|region|state|district|county|capital|port|"
    r"municipality|suburb|neighbourhood|neighborhood)(?:[ \t]+of)?[ \t]+$"
)
# "President-elect", "Prime Minister-designate": a title with its suffix is still a title.
_TITLE_SUFFIX = re.compile(r"-(?:elect|designate)$")
# "Citibank", "Deutsche Bank": a word ending in "bank" is a bank.
_BANK_WORD = re.compile(r"^[^\W\d_]{3,}bank$")
_PATRONYMIC_PARTICLES = frozenset(("bin", "ibn", "bint"))
_HONORIFICS = frozenset(("mr.", "mrs.", "ms.", "dr.", "prof.", "mr", "mrs", "ms", "dr", "prof"))
_SENTENCE_END = frozenset('.!?:;"“”«»—–-\n([')

# Capitalised words that are never a person's name or part of one in news text.
_NOT_NAMES = frozenset(
    words_of(
        """
        january february march april may june july august september october november
        december monday tuesday wednesday thursday friday saturday sunday today yesterday
        tomorrow eurasian european western eastern northern southern central arab asian
        african latin islamic muslim christian catholic orthodox jewish sunni shiite
        shi'ite shia kurdish baltic nordic near far soviet caucasus caucasian pacific
        atlantic mediterranean middle east west north south read more news events photo
        video source update breaking live opinion editorial ministry foreign affairs
        embassy council union state republic kingdom federation government parliament
        congress senate assembly committee commission agency department office court party
        army police forces force navy bank university institute center centre university
        organization organisation association company group corporation inc ltd airlines
        airport times post journal tribune herald press agency reuters associated afp tass
        ria novosti kazinform belta xinhua interfax itar sputnik voa bbc cnn internet
        charter treaty agreement declaration convention summit conference forum cup league
        championship olympic olympics games world national international global regional
        federal democratic republican liberal socialist communist conservative labour
        labor green greens independent province region district city county island islands
        river sea ocean lake mountain mountains valley street avenue square bridge
        hospital school church mosque temple palace god allah christmas easter ramadan eid
        new year internet covid coronavirus ebola aids hiv english french german spanish
        arabic russian chinese the this that these those there their our we you they he
        she it his her its in on at by for of and or but if as a an to from with minister
        president secretary ambassador king queen prince general chief premier i ii iii iv
        v vi jan feb mar apr jun jul aug sep sept oct nov dec top mr mrs ms dr prof gen
        hurricane storm typhoon cyclone tropical banco
        """
    )
)


# Russian function words and calendar words that open sentences or headlines.
_RUSSIAN_NOT_NAMES = frozenset(
    words_of(
        """
        во на по из за до от для при про без под над об обо как что это эти этот так но и
        или если когда где уже еще ещё также тем кроме после перед между январь февраль март
        апрель май июнь июль август сентябрь октябрь ноябрь декабрь понедельник вторник среда
        четверг пятница суббота воскресенье сегодня вчера завтра москва кремль мид
        """
    )
)


@dataclass(frozen=True, slots=True)
class _Gazetteer:
    phrase_exact: dict[str, tuple[str, str]]  # alias as written -> (kind, id)
    phrase_lower: dict[str, tuple[str, str]]  # lower-cased alias -> (kind, id)
    max_phrase_words: int
    country_names: dict[str, str]  # iso2 -> canonical
    org_names: dict[str, str]  # org key -> canonical
    token_stats: dict[str, tuple[int, int]]  # lower token -> (in person names, capitalised)
    common_lower: frozenset[str]
    first_names: frozenset[str]
    name_tokens: dict[str, int]
    leaders: dict[str, str]  # folded full-name key -> canonical English name
    leader_surnames: dict[str, str]  # folded surname -> canonical (only unambiguous ones)
    leader_short: dict[str, str]  # folded "first last" -> canonical (only unambiguous ones)


def _load_gz(name: str) -> dict[str, object]:
    with gzip.open(DATA_DIR / name, "rt", encoding="utf-8") as fh:
        loaded: dict[str, object] = json.load(fh)
    return loaded


@functools.cache
def _gazetteer() -> _Gazetteer:
    geo = _load_gz("geo.json.gz")
    names = _load_gz("names.json.gz")
    stats = _load_gz("gmb_stats.json.gz")
    exact: dict[str, tuple[str, str]] = {}
    lower: dict[str, tuple[str, str]] = {}

    def add(alias: str, kind: str, ident: str) -> None:
        letters = [c for c in alias if c.isalpha()]
        if letters and all(c.isupper() for c in letters):
            exact.setdefault(alias, (kind, ident))  # acronyms: "WHO" but never "who"
        else:
            lower.setdefault(alias.lower(), (kind, ident))

    country_names: dict[str, str] = {}
    org_names: dict[str, str] = {}
    orgs = geo["orgs"]
    countries = geo["countries"]
    assert isinstance(orgs, list) and isinstance(countries, list)
    for key, canonical, aliases in orgs:
        org_names[key] = canonical
        for alias in aliases:
            add(alias, "org", key)
    for iso2, country_aliases, demonyms in countries:
        country_names[iso2] = country_aliases[0]
        for alias in country_aliases:
            add(alias, "country", iso2)
        for demonym in demonyms:
            add(demonym, "demonym", iso2)
    max_words = max(len(a.split()) for a in [*exact, *lower])

    leaders: dict[str, str] = {}
    surname_owner: dict[str, set[str]] = {}
    short_owner: dict[str, set[str]] = {}
    leader_rows = names["leaders"]
    assert isinstance(leader_rows, list)
    for name_en, _qid, _position in leader_rows:
        key = person_key(name_en)
        leaders.setdefault(key, name_en)
        parts = key.removeprefix("person:").split()
        if len(parts) >= 2:
            surname_owner.setdefault(parts[-1], set()).add(name_en)
            short_owner.setdefault(f"{parts[0]} {parts[-1]}", set()).add(name_en)
    token_stats = stats["token_stats"]
    common = stats["common_lower"]
    first = names["first_names"]
    name_tok = names["name_tokens"]
    assert isinstance(token_stats, dict) and isinstance(common, list)
    assert isinstance(first, list) and isinstance(name_tok, dict)
    common_set = frozenset(common)
    return _Gazetteer(
        phrase_exact=exact,
        phrase_lower=lower,
        max_phrase_words=max_words,
        country_names=country_names,
        org_names=org_names,
        token_stats={k: (v[0], v[1]) for k, v in token_stats.items()},
        common_lower=common_set,
        # The first-name table has stray words from mis-split labels ("Energy", "Defense",
        # "Sheikh"); a word newswire almost never capitalises inside a name is no first name.
        first_names=frozenset(
            f for f in first if not _mostly_not_in_names(token_stats.get(f), common_set, f)
        ),
        name_tokens=name_tok,
        leaders=leaders,
        leader_surnames={s: next(iter(o)) for s, o in surname_owner.items() if len(o) == 1},
        leader_short={s: next(iter(o)) for s, o in short_owner.items() if len(o) == 1},
    )


def _mostly_not_in_names(stat: object, common: frozenset[str], word: str) -> bool:
    """Seen capitalised often, almost never in a person's name, and an ordinary word."""
    if not isinstance(stat, list) or word not in common:
        return False
    in_names, seen = stat
    return (
        isinstance(seen, int) and isinstance(in_names, int) and seen >= 20 and in_names * 10 < seen
    )


# --- person decisions -------------------------------------------------------------------------

_NAME, _UNKNOWN, _WEAK, _NOT = 3, 2, 1, 0


def _word_class(word: str, gaz: _Gazetteer) -> int:
    """Is this capitalised word a name word, a non-name word, or unknown?"""
    low = word.lower()
    if low in _NOT_NAMES or _is_title_word(low) or _BANK_WORD.match(low):
        return _NOT
    if len(word) > 1 and word[1:2] != "." and word.isupper():
        return _NOT  # ALL CAPS: an acronym or a shouted headline
    if _is_cyrillic(word):
        if len(word) == 1 or low in _RUSSIAN_NOT_NAMES:
            return _NOT  # "В Минске": a capitalised preposition opening the sentence
        return _cyrillic_class(word, gaz)
    if not _CAMEL.match(word.replace("-", "")) and "-" not in word:
        return _NOT  # "BelTA", "iPhone": brands and agencies, not names
    if _HYPHEN_NOT_NAME.search(low):
        return _NOT  # "Nigerian-born", "Thirty-one-year-old"
    stat = gaz.token_stats.get(low)
    if stat is not None:
        in_names, seen = stat
        if seen >= 2:
            ratio = in_names / seen
            if ratio >= 0.5:
                return _NAME
            if ratio < 0.2 and seen >= 3:
                return _WEAK  # usually a place or an organisation word
    if low in gaz.first_names or low in gaz.leader_surnames:
        return _NAME
    if low in gaz.common_lower:
        return _WEAK
    return _UNKNOWN


def _is_title_word(low: str) -> bool:
    """A lower-cased word that is a title: "minister", "dr.", "president-elect"."""
    bare = low.rstrip(".")
    if bare in TITLE_WORDS:
        return True
    return _TITLE_SUFFIX.search(bare) is not None and _TITLE_SUFFIX.sub("", bare) in TITLE_WORDS


def _is_cyrillic(word: str) -> bool:
    return "\u0400" <= word[0] <= "\u04ff"


def _cyrillic_class(word: str, gaz: _Gazetteer) -> int:
    """A capitalised Cyrillic word, judged by its Latin form against the name tables.

    Russian capitalises little beyond names and sentence starts, so an unknown word is left to
    the cues ("заявил", a title before it) as an unknown Latin word is.
    """
    folded = fold_token(word)
    if folded in gaz.first_names or folded in gaz.leader_surnames:
        return _NAME
    if gaz.name_tokens.get(folded, 0) >= 40 and folded not in gaz.common_lower:
        return _NAME
    return _UNKNOWN


@dataclass(slots=True)
class _Candidate:
    start: int
    end: int
    words: list[str]
    classes: list[int]
    title_before: bool
    cue: bool
    sentence_initial: bool
    blocked: bool


def _is_first_name(word: str, gaz: _Gazetteer) -> bool:
    low = word.lower()
    if low in gaz.first_names:
        return True
    folded = fold_token(word)
    return folded in gaz.first_names or (
        gaz.name_tokens.get(low, 0) >= 40 and low not in gaz.common_lower
    )


def _is_person(cand: _Candidate, gaz: _Gazetteer) -> bool:
    words, classes = cand.words, cand.classes
    real = [c for w, c in zip(words, classes, strict=True) if w.lower() not in _NAME_PARTICLES]
    if not real or cand.blocked:
        return False
    if any(_INITIAL.fullmatch(w) for w in words[:-1]):
        return True  # "S. Lavrov", "George W. Bush"
    if len(real) >= 2:
        if cand.title_before or cand.cue or _NAME in real:
            return True
        if _is_first_name(words[0], gaz):
            return True
        return person_key(" ".join(words)) in gaz.leaders
    cls = real[0]
    if cand.sentence_initial and not cand.title_before:
        # A capital at the start of a sentence says nothing: "Top", "Industrial".
        if words[0].lower() in gaz.common_lower:
            return cand.cue and cls == _NAME
        return cls == _NAME or (cand.cue and cls == _UNKNOWN)
    if cls == _NAME:
        return True
    return (cand.title_before or cand.cue) and cls == _UNKNOWN


@dataclass(slots=True)
class _Word:
    start: int
    end: int
    text: str
    cls: int


def _trim(words: list[_Word], gaz: _Gazetteer) -> list[_Word]:
    """Drop particles and place-like words from the edges; keep "Tony Hall", "Segolene Royal"."""
    while words and (words[0].cls == _WEAK or words[0].text.lower() in _NAME_PARTICLES):
        if words[0].text[0].isupper() and words[0].text.lower() in _NAME_PARTICLES:
            break  # "Al", "De" opening a name ("De Keyser")
        if len(words) == 2 and words[1].cls == _UNKNOWN and _given_name_and_place(words[0], gaz):
            break  # a given name that is also a place, then a surname: "Victoria Nuland"
        words = words[1:]
    while words and (words[-1].cls == _WEAK or words[-1].text.lower() in _NAME_PARTICLES):
        last = words[-1]
        if (
            last.cls == _WEAK
            and len(words) == 2
            and words[0].cls != _WEAK
            and _is_first_name(words[0].text, gaz)
            and words[0].text.lower() not in ("abu", "al", "san", "saint", "el")
        ):
            break  # a first name then an ordinary word: a surname ("Carlos Slim")
        if last.cls == _WEAK and len(words) >= 3 and all(w.cls == _NAME for w in words[:-1]):
            break  # "Kim Jong Un"
        words = words[:-1]
    return words


def _given_name_and_place(word: _Word, gaz: _Gazetteer) -> bool:
    """A word newswire writes mostly as a place but Wikidata knows as a common name token.

    "Victoria", "Georgia", "Florence": in one name in ten or more of their capitalised uses.
    """
    low = word.text.lower()
    stat = gaz.token_stats.get(low)
    return (
        word.cls == _WEAK
        and gaz.name_tokens.get(low, 0) >= 200
        and stat is not None
        and stat[0] * 10 >= stat[1]
    )


def _is_caps_name(
    word: str,
    low: str,
    tokens: list[tuple[int, int, str]],
    index: int,
    after_name: bool,
    after_title: bool,
    gaz: _Gazetteer,
) -> bool:
    """An all-capitals word that is a surname: next to a mixed-case name or after a title.

    Acronyms known to the gazetteers never get here (they are matched first); a shouted
    headline has no mixed-case neighbour, so its capitals stay out.
    """
    if len(word) < 3 or not word.isupper() or not _VOWEL.search(word) or not word.isalpha():
        return False
    if low in _NOT_NAMES or low in TITLE_WORDS:
        return False
    if after_name or after_title:
        return True
    if index + 1 < len(tokens):
        following = tokens[index + 1][2]
        if following[:1].isupper() and not following.isupper():
            return _word_class(following, gaz) == _NAME
    return False


def _split_candidates(
    text: str,
    tokens: list[tuple[int, int, str]],
    title_before: bool,
    gaz: _Gazetteer,
) -> list[_Candidate]:
    """Cut a run's leftover words (no gazetteer phrases) into name candidates."""
    out: list[_Candidate] = []
    cur: list[_Word] = []
    titled = title_before
    blocked = False

    def flush(next_titled: bool, next_blocked: bool = False) -> None:
        nonlocal cur, titled, blocked
        words = _trim(cur, gaz)
        if words:
            start, end = words[0].start, words[-1].end
            before = text[max(0, start - 40) : start]
            cue = (
                bool(_CUE_AFTER.match(text, end))
                or bool(_CUE_BEFORE.search(before))
                or (len(words) >= 2 and bool(_AUX_AFTER.match(text, end)))
            )
            last_before = before.rstrip()[-1:]
            title = (
                titled
                or bool(_TITLE_BEFORE.search(before))
                or (
                    last_before == ","
                    and bool(_OFFICE_OF_PLACE_BEFORE.search(text, max(0, start - 70), start))
                )
            )
            out.append(
                _Candidate(
                    start=start,
                    end=end,
                    words=[w.text for w in words],
                    classes=[w.cls for w in words],
                    title_before=title,
                    cue=cue,
                    sentence_initial=_sentence_initial(text, start),
                    blocked=blocked
                    or bool(_BLOCK_AFTER.match(text, end))
                    or (last_before.islower() and bool(_PLACE_BEFORE.search(before))),
                )
            )
        cur = []
        titled = next_titled
        blocked = next_blocked

    def _block_current() -> None:
        nonlocal blocked
        blocked = True
        flush(False)

    prev_title = False
    prev_mixed_title = False
    prev_honorific = False
    portfolio = False  # after "Minister of": the portfolio, then perhaps the holder's name
    for index, (start, end, word) in enumerate(tokens):
        low = word.lower()
        after_mixed_title, prev_mixed_title = prev_mixed_title, False
        after_honorific, prev_honorific = prev_honorific, low in _HONORIFICS
        if cur and cur[-1].text in _PATRONYMIC_PARTICLES:
            # "Mohamed bin Zayed bin Sultan Al Nahyan": a father's name follows "bin", even one
            # that is also a title ("Sultan").
            cur.append(_Word(start, end, word, _NAME))
            prev_title = False
            continue
        if after_honorific and _is_title_word(low) and _is_first_name(word, gaz):
            # "Dr. Sultan Al Jaber": after "Dr." comes the name, whatever else the word can be.
            cur.append(_Word(start, end, word, _UNKNOWN))
            prev_title = False
            continue
        if _is_caps_name(word, low, tokens, index, bool(cur), after_mixed_title, gaz):
            # "Rafael CORREA", "President GBAGBO", "KIM Jong Il": the reference style of the
            # CIA World Factbook and UN documents writes surnames in capitals.
            cur.append(_Word(start, end, word, _NAME if cur else _UNKNOWN))
            prev_title = False
            continue
        if low in _EVENT_HEADS:
            flush(False, True)  # "Hurricane Dean", "Tropical Storm Fay"
            continue
        if prev_title and low == "of":
            flush(False, True)  # "Archbishop of Canterbury": a place follows
            portfolio = True
            continue
        is_title = _is_title_word(low) and not (cur and low in gaz.first_names)
        if is_title:
            portfolio = False
        prev_title = is_title
        prev_mixed_title = is_title and not word.isupper()
        if is_title:
            flush(True, blocked and not cur)
            continue
        if word in _ROMAN and cur:
            cur.append(_Word(start, end, word, _NAME))  # "Abdullah II", "Benedict XVI"
            continue
        if low in _NAME_PARTICLES and not word[0].isupper():
            if cur:
                cur.append(_Word(start, end, word, _UNKNOWN))
            else:
                flush(titled, blocked)
            continue
        cls = _word_class(word, gaz)
        # Russian writes the first name first: "В Минске Александр Лукашенко".
        russian_first_name = cls == _NAME and _is_cyrillic(word) and _is_first_name(word, gaz)
        if cur and russian_first_name and not any(_is_first_name(w.text, gaz) for w in cur):
            flush(False)
        if low in _HEAD_NOUNS and cls != _NAME:
            # "Henderson Executive Airport", "Davis Cup": the words before a head noun name it.
            _block_current()
            portfolio = False
            continue
        if cls == _NOT and not _INITIAL.fullmatch(word):
            flush(False)
            portfolio = False
            continue
        if (
            portfolio
            and cur
            and cls >= _UNKNOWN
            and all(w.cls == _WEAK for w in cur)
            and _name_continues(tokens, index + 1, gaz)
        ):
            # "Minister of Energy Abdulaziz bin Salman": the portfolio ends where a name of
            # two or more words begins; the name is the minister's.
            cur = []
            blocked, titled, portfolio = False, True, False
        cur.append(_Word(start, end, word, cls))
    flush(False)
    return out


def _name_continues(tokens: list[tuple[int, int, str]], index: int, gaz: _Gazetteer) -> bool:
    """Does a name word (or a particle such as "bin") follow at `index`?"""
    if index >= len(tokens):
        return False
    word = tokens[index][2]
    if word in _PATRONYMIC_PARTICLES:
        return True
    return word[:1].isupper() and _word_class(word, gaz) >= _UNKNOWN


# --- extraction -------------------------------------------------------------------------------


def _sentence_initial(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in " \t":
        i -= 1
    return i < 0 or text[i] in _SENTENCE_END


def extract_entities(text: str) -> Extraction:
    """Entities only (the `diplomatic` verdict is left empty)."""
    gaz = _gazetteer()
    countries: list[Span] = []
    orgs: list[Span] = []
    accepted: list[_Candidate] = []
    rejected: list[_Candidate] = []
    exact, lower, max_words = gaz.phrase_exact, gaz.phrase_lower, gaz.max_phrase_words
    for run in _RUN.finditer(text):
        run_start = run.start()
        tokens = [
            (m.start() + run_start, m.end() + run_start, m.group())
            for m in _TOKEN.finditer(run.group())
        ]
        leftover: list[tuple[int, int, str]] = []
        title_next = False
        pieces: list[tuple[list[tuple[int, int, str]], bool]] = []
        i, n = 0, len(tokens)
        while i < n:
            hit = None
            for size in range(min(max_words, n - i), 0, -1):
                phrase = text[tokens[i][0] : tokens[i + size - 1][1]]
                found = exact.get(phrase) or lower.get(phrase.lower())
                if found is not None and (size > 1 or tokens[i][2][0].isupper()):
                    hit = (size, found)
                    break
            if hit is None:
                leftover.append(tokens[i])
                i += 1
                continue
            size, (kind, ident) = hit
            s, e = tokens[i][0], tokens[i + size - 1][1]
            if leftover:
                pieces.append((leftover, title_next))
                leftover = []
            if kind == "org":
                orgs.append(Span(s, e, text[s:e], gaz.org_names[ident], f"org:{ident}"))
            else:
                countries.append(
                    Span(s, e, text[s:e], gaz.country_names[ident], f"country:{ident}")
                )
            # "Russian Foreign Minister X": a demonym can open a title; a country name cannot.
            title_next = kind == "demonym"
            i += size
        if leftover:
            pieces.append((leftover, title_next))
        named_thing = _ends_in_head_noun(tokens, gaz)
        for piece, titled in pieces:
            for cand in _split_candidates(text, piece, titled, gaz):
                cand.blocked = cand.blocked or named_thing
                if _is_person(cand, gaz):
                    accepted.append(cand)
                else:
                    rejected.append(cand)
    accepted = _drop_places_beside_countries(text, accepted, countries, rejected)
    persons = _link_persons(text, accepted, rejected, gaz)
    return Extraction(
        persons=persons,
        countries=tuple(countries),
        orgs=tuple(orgs),
        entities=_summaries(persons, countries, orgs),
    )


def _ends_in_head_noun(tokens: list[tuple[int, int, str]], gaz: _Gazetteer) -> bool:
    """Does the run name a thing ("Young Southeast Asian Leaders Initiative")?

    Not after a title: "Foreign Minister Park" ends in a head noun that is a surname; and not
    across a connector.
    """
    if len(tokens) < 2 or any(t[2][0].islower() for t in tokens):
        return False  # "Professor Carl Lipo of Binghamton University": the name is not the thing
    last = tokens[-1][2]
    return (
        last.lower() in _HEAD_NOUNS
        and not _is_title_word(tokens[-2][2].lower())
        and _word_class(last, gaz) != _NAME
    )


def _drop_places_beside_countries(
    text: str, accepted: list[_Candidate], countries: list[Span], rejected: list[_Candidate]
) -> list[_Candidate]:
    """A lone untitled word listed with a country is a place: "between Crete and Cyprus".

    Not a known name, nor the surname of a person named in full ("between Trump and Ukraine").
    """
    if not countries:
        return accepted
    starts = {span.start for span in countries}
    ends = {span.end for span in countries}
    surnames = {person_key(c.words[-1]) for c in accepted if len(c.words) >= 2}
    kept = []
    for cand in accepted:
        if (
            len(cand.words) == 1
            and not cand.title_before
            and cand.classes[0] != _NAME
            and person_key(cand.words[0]) not in surnames
            and _listed_with(text, cand, starts, ends)
        ):
            cand.blocked = True
            rejected.append(cand)
        else:
            kept.append(cand)
    return kept


def _listed_with(text: str, cand: _Candidate, starts: set[int], ends: set[int]) -> bool:
    """Is the candidate joined by "and" or a comma to a span starting or ending at these offsets?"""
    for end in range(max(0, cand.start - 8), cand.start):
        if end in ends and _COORDINATION.fullmatch(text, end, cand.start):
            return True
    for start in range(cand.end + 1, min(len(text), cand.end + 9)):
        if start in starts and _COORDINATION.fullmatch(text, cand.end, start):
            return True
    return False


_COORDINATION = re.compile(r"[ \t]*(?:,|and|&|,[ \t]*and)[ \t]*")


def _coordinated(cand: _Candidate) -> bool:
    """Could this rejected candidate be a name in a list of names ("Brittney Griner and ...")?"""
    if cand.blocked or any(c in (_WEAK, _NOT) for c in cand.classes):
        return False
    real = [w for w in cand.words if w.lower() not in _NAME_PARTICLES]
    return len(real) >= 2 or (len(real) == 1 and not cand.sentence_initial)


def _accept_coordinated(
    text: str, accepted: list[_Candidate], rejected: list[_Candidate]
) -> list[_Candidate]:
    """Names joined to a found person by "and" or a comma are persons too; returns the rest.

    "Brittney Griner and Paul Whelan", "Jarome Iginla, Dany Heatley, Shane Doan": a list that
    names one person names people. Words that look like places or organisations stay out.
    """
    pending = [c for c in rejected if _coordinated(c)]
    if not pending or not accepted:
        return rejected
    changed = True
    while changed and pending:
        changed = False
        for cand in list(pending):
            for person in accepted:
                if len(person.words) < 2:
                    continue  # a lone word is too weak a witness: "Rhode", "Dolls"
                if person.end <= cand.start:
                    gap = text[person.end : cand.start]
                elif cand.end <= person.start:
                    gap = text[cand.end : person.start]
                else:
                    continue
                if len(gap) <= 8 and _COORDINATION.fullmatch(gap):
                    accepted.append(cand)
                    pending.remove(cand)
                    changed = True
                    break
    return [c for c in rejected if c not in accepted]


def _accept_named_by_surname(
    accepted: list[_Candidate], rejected: list[_Candidate]
) -> list[_Candidate]:
    """A full name whose surname the article uses alone as a person is a person; returns the rest.

    "Brigid Kosgei of Kenya won ... said Kosgei": the later cue vouches for the earlier name.
    """
    surnames = {person_key(c.words[0]) for c in accepted if len(c.words) == 1 and not c.blocked}
    if not surnames:
        return rejected
    rest = []
    for cand in rejected:
        if (
            2 <= len(cand.words) <= 3
            and not cand.blocked
            and all(c in (_UNKNOWN, _NAME) for c in cand.classes)
            and person_key(cand.words[-1]) in surnames
        ):
            accepted.append(cand)
        else:
            rest.append(cand)
    return rest


def _with_particle(text: str, cand: _Candidate) -> _Candidate:
    """Let a lower-case particle opening a bare surname into the span ("Mr. de Menezes")."""
    if cand.words[0][:1].isupper() and cand.start >= 3:
        match = _PARTICLE_BEFORE.search(text, max(0, cand.start - 6), cand.start)
        if match is not None:
            particle = match.group().rstrip()
            cand.start = match.start()
            cand.words = [particle, *cand.words]
            cand.classes = [_UNKNOWN, *cand.classes]
    return cand


def _full_name_canonical(name: str, gaz: _Gazetteer) -> str:
    """The canonical form of a full name: the office holder it names, else the name itself.

    "Sergei Viktorovich Lavrov" is the office holder Sergey Lavrov (first and last name agree
    and no other office holder shares them); an unknown name stands for itself.
    """
    key = person_key(name)
    leader = gaz.leaders.get(key)
    if leader is not None:
        return leader
    parts = key.removeprefix("person:").split()
    if len(parts) >= 3 and len(parts[0]) > 1:
        return gaz.leader_short.get(f"{parts[0]} {parts[-1]}", name)
    return name


def _link_persons(
    text: str, accepted: list[_Candidate], rejected: list[_Candidate], gaz: _Gazetteer
) -> tuple[Span, ...]:
    """Give every mention its canonical person; a bare surname joins the full name it shares."""
    rejected = _accept_coordinated(text, accepted, rejected)
    rejected = _accept_named_by_surname(accepted, rejected)
    by_surname: dict[str, str] = {}  # folded surname -> canonical full name in this article
    by_short: dict[str, str] = {}  # folded "first last" -> canonical full name in this article
    full_names: dict[int, str] = {}
    for cand in accepted:
        if len(cand.words) >= 2 and not _INITIAL.fullmatch(cand.words[0]):
            canonical = _full_name_canonical(text[cand.start : cand.end], gaz)
            parts = person_key(canonical).removeprefix("person:").split()
            if len(parts) < 2:
                continue
            short = f"{parts[0]} {parts[-1]}"
            canonical = by_short.setdefault(short, canonical)
            full_names[cand.start] = canonical
            by_surname.setdefault(parts[-1], canonical)
    for cand in rejected:
        folded = person_key(cand.words[0]).removeprefix("person:")
        if len(cand.words) == 1 and not cand.blocked and folded in by_surname:
            accepted.append(cand)
    accepted.sort(key=lambda c: c.start)
    spans = []
    for cand in accepted:
        if len(cand.words) == 1:
            cand = _with_particle(text, cand)
        name = text[cand.start : cand.end]
        folded = person_key(name).removeprefix("person:")
        if cand.start in full_names:
            canonical = full_names[cand.start]
        elif len(cand.words) == 1:
            canonical = by_surname.get(folded) or gaz.leader_surnames.get(folded) or name
        else:
            # "S. Lavrov" after "Sergei Lavrov" in the same article is the same man.
            canonical = by_surname.get(folded.rsplit(" ", 1)[-1], name)
            if person_key(canonical).removeprefix("person:")[:1] != folded[:1]:
                canonical = gaz.leaders.get(person_key(name), name)
        spans.append(Span(cand.start, cand.end, name, canonical, person_key(canonical)))
    return tuple(spans)


def _summaries(
    persons: Iterable[Span], countries: Iterable[Span], orgs: Iterable[Span]
) -> tuple[EntitySummary, ...]:
    groups: list[tuple[EntityKind, Iterable[Span]]] = [
        ("person", persons),
        ("country", countries),
        ("org", orgs),
    ]
    summaries: list[EntitySummary] = []
    for kind, spans in groups:
        seen: dict[str, list[Span]] = {}
        for span in spans:
            seen.setdefault(span.key, []).append(span)
        for key, mentions in seen.items():
            canonical = mentions[0].canonical
            if kind == "person":
                aliases = tuple(dict.fromkeys(k for m in mentions for k in alias_keys(m.canonical)))
            else:
                aliases = tuple(
                    dict.fromkeys([canonical.lower(), *(m.text.lower() for m in mentions)])
                )
            summaries.append(
                EntitySummary(
                    kind=kind,
                    canonical=canonical,
                    key=key,
                    aliases=aliases,
                    mentions=len(mentions),
                    first_offset=min(m.start for m in mentions),
                )
            )
    summaries.sort(key=lambda s: s.first_offset)
    return tuple(summaries)
