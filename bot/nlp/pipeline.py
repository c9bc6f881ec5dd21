"""The extraction pipeline: entities first, then the diplomatic verdict that reads them.

It exists so the two stages stay independent: `entities` finds persons, countries and
organisations without knowing about the classifier, and `classify` scores a text given an
`Extraction` without running the extractor. Only this module imports both.
"""

from __future__ import annotations

from bot.nlp.classify import classify_extraction
from bot.nlp.entities import extract_entities
from bot.nlp.model import Extraction, Verdict


def extract(text: str) -> Extraction:
    """Find persons, countries and organisations in `text`, and judge whether it is diplomatic."""
    ents = extract_entities(text)
    return Extraction(
        persons=ents.persons,
        countries=ents.countries,
        orgs=ents.orgs,
        entities=ents.entities,
        diplomatic=classify_extraction(text, "", ents),
    )


def classify(text: str, title: str = "", extraction: Extraction | None = None) -> Verdict:
    """Is this article diplomatic news? Extracts entities itself unless they are given."""
    if extraction is None:
        extraction = extract_entities(f"{title}\n{text}" if title else text)
    return classify_extraction(text, title, extraction)
