"""Articles, queries and helpers the contract tests share (no backend in sight).

Times are explicit: storage never reads the clock, so every test says when things happen.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.ingest.normalize import fingerprint_and_signature
from bot.ingest.service import analyse
from bot.search.query import parse_query, word_runs
from storage.base import Storage
from storage.models import (
    Classification,
    EntityMention,
    NewArticle,
    PercolateResult,
    SearchQuery,
)

FIXTURES = Path(__file__).parents[2] / "fixtures"
SEED = (FIXTURES / "seed_kazinform.txt").read_text(encoding="utf-8")
SEED_TITLE = "Eurasian integration named one of priorities of Russia, Belarus"
SEED_BODY = SEED.split(SEED_TITLE, 2)[-1].strip()

# Sentences from U.S. State Department press releases (public domain, 17 U.S.C. 105).
STATEDEPT = [
    (
        "Secretary Blinken's Call with Danish Foreign Minister Kofod",
        "Secretary of State Antony J. Blinken spoke today with Danish Foreign Minister Jeppe "
        "Kofod. The Secretary and Foreign Minister discussed cooperation in the Arctic, "
        "including climate change, and the importance of transatlantic unity in responding to "
        "Russia's further invasion of Ukraine.",
    ),
    (
        "Joint Statement on the U.S.-Thailand Strategic Dialogue",
        "The United States and Thailand held the Strategic Dialogue in Bangkok. Both sides "
        "reaffirmed their commitment to a free and open Indo-Pacific and discussed health "
        "security, climate, and economic recovery. The delegations discussed energy security "
        "and regional security in Southeast Asia.",
    ),
    (
        "Sanctions on Russian Officials",
        "The United States is imposing sanctions on officials of the Russian Federation. The "
        "Department of State is designating individuals responsible for violations of human "
        "rights; these sanctions promote accountability for the minister and his deputies.",
    ),
    (
        "Secretary Blinken's Meeting with Belarusian Democratic Leader",
        "Secretary Blinken met with Belarusian democratic leader Sviatlana Tsikhanouskaya in "
        "Vilnius. They discussed the ongoing crackdown in Belarus and the need for the release "
        "of all political prisoners. Eurasian matters were not on the agenda.",
    ),
]
# Publication times of the articles above; storage times are NOW (later, so believed).
T0 = datetime(2022, 3, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2022, 6, 1, 8, 30, tzinfo=UTC)

LAVROV = EntityMention(
    "person", "Sergei Lavrov", "person:sergei lavrov", ("lavrov", "sergei lavrov"), 3, 120
)
BELARUS = EntityMention("country", "Belarus", "country:by", ("belarus",), 5, 40)


def article(
    title: str,
    text: str,
    *,
    url: str | None = None,
    source: str = "Test Wire",
    published_at: datetime | None = T0,
    guid: str | None = None,
    entities: tuple[EntityMention, ...] = (),
    diplomatic: bool = False,
) -> NewArticle:
    fingerprint, signature, bands = fingerprint_and_signature(text)
    return NewArticle(
        title=title,
        text=text,
        url=url,
        source=source,
        fingerprint=fingerprint,
        signature=signature,
        bands=bands,
        published_at=published_at,
        guid=guid,
        entities=entities,
        classification=Classification(0.9 if diplomatic else 0.1, diplomatic, ("test",)),
    )


def loaded_articles() -> list[NewArticle]:
    """The seed (ids 1) and the four State Department releases (ids 2-5, a day apart)."""
    items = [
        article(
            SEED_TITLE,
            SEED_BODY,
            url="https://www.inform.kz/en/eurasian-integration",
            source="Kazinform",
            entities=(LAVROV, BELARUS),
            diplomatic=True,
            published_at=T0 - timedelta(days=30),
        )
    ]
    for day, (title, text) in enumerate(STATEDEPT):
        items.append(
            article(
                title,
                text,
                url=f"https://www.state.gov/release-{day}",
                source="State Department",
                published_at=T0 + timedelta(days=day),
                diplomatic=day % 2 == 0,
                entities=(BELARUS,) if "Belarus" in text else (),
            )
        )
    return items


def text_query(
    text: str,
    *,
    limit: int = 10,
    diplomatic_only: bool = False,
    entity_groups: tuple[tuple[int, ...], ...] = (),
) -> SearchQuery:
    return parse_query(text).to_search_query(
        entity_groups, limit=limit, diplomatic_only=diplomatic_only
    )


async def ids(storage: Storage, query: SearchQuery) -> list[int]:
    """The ids a search finds, checking that they all fit on its one page."""
    page = await storage.search(query)
    assert page.total == len(page.hits)  # every test using this fits on one page
    return [hit.id for hit in page.hits]


async def drain(storage: Storage, now: datetime = NOW, batch: int = 500) -> PercolateResult:
    """``percolate`` until nothing waits: the totals, and every instant chat listed."""
    articles = matches = 0
    chats: set[int] = set()
    while True:
        result = await storage.percolate(batch, now=now)
        if result.articles == 0:
            return PercolateResult(articles, matches, tuple(sorted(chats)))
        articles += result.articles
        matches += result.matches
        chats.update(result.chats)


# --------------------------------------------------------------------------- matching corpus


def _paragraphs(name: str, separator: str) -> list[str]:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return [p.strip() for p in text.split(separator) if len(p.strip()) > 80]


# The seed (Kazinform) and a State Department release (public domain, see LICENCE-statedept.md),
# one article per paragraph, plus short texts for folding: Cyrillic, accents, possessives.
TARGETS: list[tuple[str, str]] = [
    (f"Seed paragraph {i}", p) for i, p in enumerate(_paragraphs("seed_kazinform.txt", "\n"))
] + [
    (f"Thailand dialogue {i}", p)
    for i, p in enumerate(_paragraphs("statedept_thailand_dialogue.txt", "\n\n"))
]
TARGETS += [
    (
        "Лавров провёл переговоры",
        "Сергей Лавров провёл переговоры в Минске о евразийской интеграции.",
    ),
    ("Café diplomacy", "Ministers met at a café in Zürich; the naïve résumé of Ukraine's envoy."),
    ("Lavrov's remarks", "Lavrov's remarks on NATO's security guarantees; the OSCE responded."),
]
# Stored before the subscriptions, so the index's document frequencies steer anchor choice.
BACKGROUND = [
    (
        "Secretary Blinken's Call with Danish Foreign Minister Kofod",
        "Secretary of State Antony J. Blinken spoke today with Danish Foreign Minister Jeppe "
        "Kofod. The Secretary and Foreign Minister discussed cooperation in the Arctic, "
        "including climate change, and the importance of transatlantic unity.",
    ),
    STATEDEPT[2],  # Sanctions on Russian Officials
    STATEDEPT[3],  # Meeting with Belarusian Democratic Leader
]

HAND_QUERIES = [
    "eurasian integration",
    "Eurasian Integration",
    "integrated",  # stemming: integr
    '"foreign minister"',
    '"minister foreign"',
    '"foreign ministry"',
    "lavrov",
    "Lavrov's",
    "лавров",
    "евразийской",
    "cafe",
    "zurich",
    "resume naive",
    "NATO OR osce",
    "thailand OR belarus -russia",
    'cooperation -"climate change"',
    "secur*",
    "integr* russia",
    "minist* -lavrov",
    "U.S.-Thai",
    "twenty-first century",
    "osce | nato | thailand security",
    '"united states" thailand -virtually',
    'belarus russia -"union state" -osce',
    "nonexistentword",
    "prisoners",  # only in the background: nothing new matches
    "the",
    "of OR the",
]


def random_queries(count: int, seed: int = 7) -> list[str]:
    """Queries over the corpus' own words: words, phrases, OR, prefixes and exclusions."""
    rng = random.Random(seed)
    texts = [text for _, text in TARGETS + BACKGROUND]
    vocabulary = sorted({w for t in texts for w in word_runs(t) if len(w) > 2})

    def phrase() -> str:
        words = word_runs(rng.choice(texts))
        start = rng.randrange(len(words) - 2)
        return '"' + " ".join(words[start : start + rng.randint(2, 3)]) + '"'

    def option() -> str:
        roll = rng.random()
        if roll < 0.2:
            return phrase()
        word = rng.choice(vocabulary)
        if roll < 0.35 and len(word) > 4:
            return word[: rng.randint(3, len(word) - 1)] + "*"
        return word

    queries = []
    for _ in range(count):
        groups = [
            " OR ".join(option() for _ in range(rng.choice((1, 1, 1, 2, 3))))
            for _ in range(rng.choice((1, 1, 2, 3)))
        ]
        if rng.random() < 0.3:
            groups.append("-" + option().rstrip("*"))
        queries.append(" ".join(groups))
    return queries


ALL_QUERIES = HAND_QUERIES + random_queries(45)


def make_article(title: str, text: str, entities: bool = False) -> NewArticle:
    """A pasted article (no URL); ``entities``: extracted and classified as ingest does."""
    fingerprint, signature, bands = fingerprint_and_signature(f"{title}\n{text}")
    stored = NewArticle(
        title=title,
        text=text,
        url=None,
        source="Test Wire",
        fingerprint=fingerprint,
        signature=signature,
        bands=bands,
    )
    if not entities:
        return stored
    classification, mentions = analyse(title, text)
    return replace(stored, classification=classification, entities=mentions)
