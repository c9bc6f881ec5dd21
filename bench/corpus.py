"""A synthetic news corpus for benchmarks, recombined from real press-release sentences.

Each article is ~2 kB: a headline from templates over real persons, countries and topics, a
dateline, and real sentences from the State Department press releases in ``bench/fixtures``
(public domain), with persons and places varied. Dates run forward through time with jitter,
from several sources; about 2% are exact reposts (another source and URL) and 1% near-copies
(one sentence changed), so deduplication has work to do. Deterministic for a given seed.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from bot.ingest.normalize import fingerprint_and_signature
from storage.models import (
    Classification,
    EntityMention,
    NewArticle,
)

FIXTURE = Path(__file__).parent / "fixtures" / "statedept_press_releases_300.jsonl.gz"
START = datetime(2021, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)

PERSONS = (
    "Sergei Lavrov", "Antony Blinken", "Wang Yi", "Annalena Baerbock", "Dmytro Kuleba",
    "Catherine Colonna", "James Cleverly", "Hakan Fidan", "Subrahmanyam Jaishankar",
    "Yoko Kamikawa", "Penny Wong", "Melanie Joly", "Mauro Vieira", "Ahmed Attaf",
    "Faisal bin Farhan", "Abbas Araghchi", "Radoslaw Sikorski", "Antonio Tajani",
    "Jose Manuel Albares", "Tobias Billstrom", "Jeppe Kofod", "Ayman Safadi", "Sameh Shoukry",
    "Naledi Pandor", "Retno Marsudi", "Vivian Balakrishnan", "Cho Tae-yul", "Maxim Ryzhenkov",
    "Murat Nurtleu", "Ararat Mirzoyan", "Jeyhun Bayramov", "Ilia Darchiashvili",
    "Bakhtiyor Saidov", "Jeenbek Kulubaev", "Sirojiddin Muhriddin", "Rashid Meredov",
    "Josep Borrell", "Jens Stoltenberg", "Antonio Guterres", "Rafael Grossi",
)  # fmt: skip
COUNTRIES = (
    "Russia", "Belarus", "Kazakhstan", "China", "Ukraine", "Germany", "France", "Poland",
    "Turkey", "India", "Japan", "Australia", "Canada", "Brazil", "Algeria", "Saudi Arabia",
    "Iran", "Italy", "Spain", "Sweden", "Denmark", "Jordan", "Egypt", "South Africa",
    "Indonesia", "Singapore", "South Korea", "Armenia", "Azerbaijan", "Georgia", "Uzbekistan",
    "Kyrgyzstan", "Tajikistan", "Turkmenistan", "Mongolia", "Vietnam", "Mexico", "Nigeria",
)  # fmt: skip
CITIES = (
    "Minsk", "Moscow", "Astana", "Beijing", "Kyiv", "Berlin", "Paris", "Warsaw", "Ankara",
    "New Delhi", "Tokyo", "Canberra", "Ottawa", "Brasilia", "Algiers", "Riyadh", "Tehran",
    "Rome", "Madrid", "Stockholm", "Copenhagen", "Amman", "Cairo", "Pretoria", "Jakarta",
    "Singapore", "Seoul", "Yerevan", "Baku", "Tbilisi", "Tashkent", "Bishkek", "Dushanbe",
    "Geneva", "Vienna", "Brussels", "New York", "Washington",
)  # fmt: skip
TOPICS = (
    "regional security", "trade and investment", "energy cooperation", "climate finance",
    "humanitarian assistance", "nuclear non-proliferation", "food security", "sanctions",
    "a ceasefire", "Eurasian integration", "visa facilitation", "maritime security",
    "counterterrorism", "cyber security", "health security", "migration", "arms control",
)  # fmt: skip
HEADLINES = (
    "{p} holds talks with {c} counterpart on {t}",
    "{c} and {c2} sign memorandum on {t}",
    "{p} visits {city} to discuss {t}",
    "Foreign ministers of {c} and {c2} meet in {city}",
    "{c} calls for dialogue on {t}",
    "{p}: {t} remains a priority for {c}",
    "Joint statement of {c} and {c2} on {t}",
    "{p} meets ambassador of {c}",
    "{c} to host conference on {t} in {city}",
)
OPENERS = (
    "{p} met {p2} in {city} on {d} to discuss {t}.",
    "The foreign ministers of {c} and {c2} discussed {t} during the talks in {city}.",
    "{p} said that {c} is ready to deepen cooperation with {c2} on {t}.",
    "{city} hosted a round of consultations between {c} and {c2} on {d}.",
)
SOURCES = (
    ("Kazinform", "inform.kz"), ("BelTA", "eng.belta.by"), ("TASS", "tass.com"),
    ("Reuters", "reuters.com"), ("Xinhua", "english.news.cn"), ("Anadolu Agency", "aa.com.tr"),
    ("Trend", "en.trend.az"), ("AKIpress", "akipress.com"), ("Ukrinform", "ukrinform.net"),
    ("State Department", "state.gov"),
)  # fmt: skip
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")


@dataclass(frozen=True, slots=True)
class RawArticle:
    """A generated article before normalisation."""

    title: str
    text: str
    url: str
    source: str
    published_at: datetime
    persons: tuple[str, ...] = ()  # persons named in it (what an extractor would find)
    diplomatic: bool = False  # what a classifier would say (here: a meeting or talks)


def load_sentences(path: Path = FIXTURE) -> list[str]:
    """Real sentences of 40-400 characters from the fixture releases."""
    sentences: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            text = json.loads(line)["text"]
            for paragraph in text.split("\n"):
                for sentence in _SENTENCE_SPLIT.split(paragraph.strip()):
                    if 40 <= len(sentence) <= 400 and sentence[-1] in '.!?"”':
                        sentences.append(sentence)
    return sentences


def generate(count: int, seed: int = 2021, target_chars: int = 2000) -> Iterator[RawArticle]:
    """``count`` articles, oldest first (with jitter), deterministic for a seed."""
    rng = random.Random(seed)
    sentences = load_sentences()
    made: list[RawArticle] = []
    for index in range(count):
        roll = rng.random()
        if made and roll < 0.02:  # exact repost elsewhere
            original = rng.choice(made[-500:])
            name, domain = rng.choice(SOURCES)
            yield RawArticle(
                original.title,
                original.text,
                f"https://{domain}/repost/{index}",
                name,
                original.published_at + timedelta(hours=rng.randint(1, 12)),
                original.persons,
                original.diplomatic,
            )
            continue
        if made and roll < 0.03:  # near copy: one sentence replaced
            original = rng.choice(made[-500:])
            parts = original.text.split("\n\n")
            parts[-1] = rng.choice(sentences)
            name, domain = rng.choice(SOURCES)
            yield RawArticle(
                original.title,
                "\n\n".join(parts),
                f"https://{domain}/copy/{index}",
                name,
                original.published_at + timedelta(hours=rng.randint(1, 12)),
                original.persons,
                original.diplomatic,
            )
            continue
        when = START + SPAN * (index / max(count, 1)) + timedelta(hours=rng.uniform(-48, 48))
        fill = {
            "p": rng.choice(PERSONS),
            "p2": rng.choice(PERSONS),
            "c": rng.choice(COUNTRIES),
            "c2": rng.choice(COUNTRIES),
            "city": rng.choice(CITIES),
            "t": rng.choice(TOPICS),
            "d": when.strftime("%B %-d"),
        }
        title = rng.choice(HEADLINES).format(**fill)
        name, domain = rng.choice(SOURCES)
        dateline = f"{fill['city'].upper()}. {when.strftime('%B %-d')}. {name.upper()}"
        paragraphs = [dateline, rng.choice(OPENERS).format(**fill)]
        size = sum(len(p) for p in paragraphs)
        goal = rng.gauss(target_chars, target_chars * 0.15)
        while size < goal:
            sentence = rng.choice(sentences)
            if rng.random() < 0.1:
                sentence = rng.choice(OPENERS).format(
                    **fill | {"p": rng.choice(PERSONS), "c2": rng.choice(COUNTRIES)}
                )
            paragraphs.append(sentence)
            size += len(sentence) + 2
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]
        text = "\n\n".join(paragraphs)
        article = RawArticle(
            title,
            text,
            f"https://{domain}/news/{when:%Y/%m}/{slug}-{index}",
            name,
            when,
            tuple(p for p in dict.fromkeys((fill["p"], fill["p2"])) if p in title or p in text),
            any(word in title for word in ("talks", "meet", "Joint statement", "memorandum")),
        )
        made.append(article)
        yield article


DIPLOMATIC = Classification(score=1.0, is_diplomatic=True, reasons=("meeting",))


def to_new_article(raw: RawArticle, entities: tuple[EntityMention, ...]) -> NewArticle:
    """A corpus article ready to store: fingerprinted, with the given entities and the
    corpus's own diplomatic flag (extraction is measured on its own, in bench/extract.py)."""
    fingerprint, signature, bands = fingerprint_and_signature(raw.text)
    return NewArticle(
        title=raw.title,
        text=raw.text,
        url=raw.url,
        source=raw.source,
        fingerprint=fingerprint,
        signature=signature,
        bands=bands,
        published_at=raw.published_at,
        classification=DIPLOMATIC if raw.diplomatic else Classification(),
        entities=entities,
    )


def schema_tag() -> str:
    """A short hash of the storage migrations: cached benchmark databases carry it in their
    file name, so a changed schema builds a fresh database instead of reusing a stale one."""
    digest = hashlib.blake2b(digest_size=4)
    folder = resources.files("storage.sqlite") / "migrations"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            digest.update(entry.read_bytes())
    return digest.hexdigest()
