"""Diplomatic relevance of an article: a score in 0..1, a label, and the cues behind it.

A linear score over weighted cue phrases (meetings, visits, talks, treaties, sanctions,
ambassadors, foreign ministries, summits, UN/OSCE business) minus cues of other beats (company
earnings, sport, technology, domestic crime), plus what the entities say (several countries,
diplomatic organisations), squashed by a logistic curve. One precompiled regex finds every cue.

`classify_extraction` scores a text given the entities already found in it and never runs the
extractor itself; `bot.nlp.pipeline` joins the two (and offers `classify` for a bare text).
"""

from __future__ import annotations

import math
import re

from bot.nlp.model import Extraction, Verdict, words_of

# cue label -> (weight, phrases separated by "|"); matched on lower-cased words.
_CUES: dict[str, tuple[float, str]] = {
    "foreign ministry": (
        1.6,
        (
            "foreign ministry|foreign ministries|foreign office|foreign affairs|"
            "ministry of foreign affairs|ministries of foreign affairs|"
            "state department|department of state|mfa"
        ),
    ),
    "foreign minister": (
        1.4,
        (
            "foreign minister|foreign ministers|secretary of state|"
            "minister of foreign affairs|top diplomat|top diplomats"
        ),
    ),
    "diplomacy": (
        1.4,
        (
            "diplomacy|diplomatic|diplomat|diplomats|bilateral|multilateral|"
            "foreign policy|consulate|consulates|consul"
        ),
    ),
    "ambassador": (
        1.4,
        "ambassador|ambassadors|envoy|envoys|embassy|embassies|charge d'affaires|credentials",
    ),
    "talks": (
        1.0,
        (
            "talks|negotiation|negotiations|negotiate|negotiated|negotiating|"
            "consultations|dialogue|mediation|ceasefire|peace process|peace deal"
        ),
    ),
    "meeting": (
        0.7,
        (
            "met with|meeting|meetings|held talks|counterpart|counterparts|"
            "delegation|delegations|readout"
        ),
    ),
    "visit": (
        0.8,
        "official visit|state visit|working visit|visit to|visited|visits to|arrived in",
    ),
    "summit": (
        1.2,
        "summit|summits|ministerial|heads of state|g7|g20|general assembly|security council",
    ),
    "treaty": (
        1.2,
        (
            "treaty|treaties|accord|accords|memorandum of understanding|"
            "joint statement|joint declaration|communique|ratify|ratified|"
            "ratification"
        ),
    ),
    "sanctions": (
        1.2,
        ("sanction|sanctions|embargo|export controls|asset freeze"),
    ),
    "international organisation": (
        0.9,
        (
            "united nations|u.n|osce|nato|european union|eaeu|csto|"
            "shanghai cooperation|brics|asean|african union|arab league|union state|"
            "iaea|un charter"
        ),
    ),
    "cooperation": (
        0.6,
        (
            "cooperation|co-operation|partnership|integration|relations between|"
            "bilateral relations|strategic partnership"
        ),
    ),
    "security": (
        0.5,
        (
            "international security|nuclear|non-proliferation|arms control|"
            "territorial integrity|sovereignty|human rights"
        ),
    ),
    "head of state": (
        0.5,
        ("prime minister|president|foreign secretary|chancellor"),
    ),
}
_NEGATIVE: dict[str, tuple[float, str]] = {
    "sport": (
        1.2,
        (
            "match|matches|goal|goals|scored|tournament|championship|cup final|"
            "coach|striker|midfielder|goalkeeper|olympic|olympics|medal|grand prix|"
            "innings|wicket|wickets|batsman|tennis|football|soccer|cricket|rugby|"
            "basketball|baseball|hockey|stadium|fifa|uefa|nba|nfl|athlete|athletes|"
            "premier league"
        ),
    ),
    "company earnings": (
        1.2,
        (
            "revenue|revenues|profit|profits|earnings|quarterly|shareholder|"
            "shareholders|dividend|dividends|stock market|shares rose|shares fell|"
            "nasdaq|ipo|ceo|fiscal quarter|net income|sales rose|sales fell"
        ),
    ),
    "technology": (
        1.0,
        (
            "smartphone|smartphones|software|app|apps|iphone|android|microsoft|"
            "google|apple|startup|artificial intelligence|processor|spacecraft|"
            "rocket|nasa|astronomers|astronomer|telescope|wikipedia|website|"
            "computer"
        ),
    ),
    "domestic crime": (
        1.0,
        (
            "police|arrested|murder|murdered|stabbed|stabbing|shooting|shot dead|"
            "robbery|court heard|sentenced|prison|jailed|convicted|suspect|homicide|"
            "burglary|detective|detectives"
        ),
    ),
    "disaster": (
        0.6,
        "earthquake|flood|floods|flooding|hurricane|wildfire|wildfires|explosion|collapsed|tornado",
    ),
    "culture": (
        0.6,
        ("film|album|concert|festival|actor|actress|singer|museum|novel"),
    ),
}
_WORDS = re.compile(r"[a-z0-9]+(?:['’.\-][a-z0-9]+)*")


def _phrase_table() -> tuple[dict[str, tuple[str, bool]], frozenset[str]]:
    table: dict[str, tuple[str, bool]] = {}
    for positive, cues in ((True, _CUES), (False, _NEGATIVE)):
        for label, (_, phrases) in cues.items():
            for phrase in phrases.split("|"):
                table[" ".join(_WORDS.findall(phrase.replace("’", "'")))] = (label, positive)
    starts = frozenset(p.split(" ", 1)[0] for p in table if " " in p)
    return table, starts


_PHRASES, _PHRASE_STARTS = _phrase_table()
_MAX_PHRASE = max(p.count(" ") + 1 for p in _PHRASES)
_DIPLOMATIC_ORGS = frozenset(
    words_of(
        """
        org:un org:unsc org:unga org:unhrc org:osce org:nato org:eu org:eaeu org:csto
        org:cis org:sco org:brics org:unionstate org:g7 org:g8 org:g20 org:asean org:au
        org:arableague org:iaea org:oic org:gcc org:oas org:coe org:cica org:ohchr org:icj
        """
    )
)
_BIAS = -2.2
_THRESHOLD = 0.5


def _count(text: str) -> tuple[dict[str, int], dict[str, int]]:
    """Occurrences of each positive and negative cue label (longest phrase wins)."""
    words = _WORDS.findall(text.lower().replace("’", "'"))
    pos: dict[str, int] = {}
    neg: dict[str, int] = {}
    phrases, starts = _PHRASES, _PHRASE_STARTS
    i, n = 0, len(words)
    while i < n:
        word = words[i]
        hit = None
        size = 1
        if word in starts:
            for size in range(min(_MAX_PHRASE, n - i), 1, -1):
                hit = phrases.get(" ".join(words[i : i + size]))
                if hit is not None:
                    break
        if hit is None:
            size = 1
            hit = phrases.get(word)
        if hit is not None:
            label, positive = hit
            counts = pos if positive else neg
            counts[label] = counts.get(label, 0) + 1
        i += size
    return pos, neg


def classify_extraction(text: str, title: str, extraction: Extraction) -> Verdict:
    """Score `text` (and its title) given the entities already extracted from it."""
    full = f"{title}\n{text}" if title else text
    words = max(1, full.count(" ") + 1)
    # Long texts repeat cues; log-damped counts and a per-1000-words scale keep them comparable.
    scale = min(1.0, 400 / words) ** 0.5
    score = _BIAS
    reasons: list[tuple[float, str]] = []
    positive, negative = _count(full)
    for label, n in positive.items():
        gain = _CUES[label][0] * (1 + math.log(n)) * max(scale, 0.5)
        score += gain
        reasons.append((gain, f"{label} ({n}x)"))
    for label, n in negative.items():
        loss = _NEGATIVE[label][0] * (1 + math.log(n)) * max(scale, 0.5)
        score -= loss
        reasons.append((-loss, f"not diplomatic: {label} ({n}x)"))
    country_keys = {s.key for s in extraction.countries}
    if len(country_keys) >= 2:
        gain = min(1.5, 0.5 * (len(country_keys) - 1))
        score += gain
        names = sorted({s.canonical for s in extraction.countries})
        reasons.append((gain, "countries: " + ", ".join(names[:5])))
    dip_orgs = sorted({s.canonical for s in extraction.orgs if s.key in _DIPLOMATIC_ORGS})
    if dip_orgs:
        gain = min(1.5, 0.8 * len(dip_orgs))
        score += gain
        reasons.append((gain, "organisations: " + ", ".join(dip_orgs[:5])))
    probability = 1 / (1 + math.exp(-score))
    reasons.sort(key=lambda r: -abs(r[0]))
    return Verdict(
        score=round(probability, 4),
        label=probability >= _THRESHOLD,
        reasons=tuple(r for _, r in reasons),
    )
