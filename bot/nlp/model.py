"""The values the nlp modules pass between them, kept apart so no extractor owns them.

The entity extractor (`entities`) produces `Span`s and `EntitySummary`s, the classifier
(`classify`) reads an `Extraction` and returns a `Verdict`, and the pipeline (`pipeline`)
joins the two. Defining these types here lets both sides import them without importing each
other. This module imports nothing else from `bot.nlp`; the entity kinds are the storage
vocabulary (`storage.models.EntityKind`), so an extracted entity is stored as it is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from storage.models import EntityKind

# The shipped gazetteers (written by `build_data`, read by `names` and `entities`).
DATA_DIR = Path(__file__).parent / "data"


def words_of(block: str) -> list[str]:
    """Whitespace-separated words of a literal block (keeps long word lists readable)."""
    return block.split()


@dataclass(frozen=True, slots=True)
class Span:
    """One mention: text[start:end] == text; canonical name and entity key it resolves to."""

    start: int
    end: int
    text: str
    canonical: str
    key: str


@dataclass(frozen=True, slots=True)
class EntitySummary:
    """One distinct entity of an article with its lookup aliases and how often it is mentioned."""

    kind: EntityKind
    canonical: str
    key: str
    aliases: tuple[str, ...]
    mentions: int
    first_offset: int


@dataclass(frozen=True, slots=True)
class Verdict:
    """Diplomatic relevance: a score in 0..1, the label, and the cues that fired."""

    score: float
    label: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Extraction:
    """Everything `extract` finds in one text."""

    persons: tuple[Span, ...]
    countries: tuple[Span, ...]
    orgs: tuple[Span, ...]
    entities: tuple[EntitySummary, ...]
    diplomatic: Verdict = field(default_factory=lambda: Verdict(0.0, False, ()))
