"""Entities and diplomatic relevance for news text: pure, synchronous, no network.

`extract(text)` returns persons, countries and organisations with character spans, one summary
per distinct entity (with the alias keys it is stored under) and the diplomatic verdict.
`known_entities(name, kind)` resolves a name from the shipped gazetteers alone, to the same
entity identity an article mentioning it would get (for subscribing before the news arrives).
"""

from __future__ import annotations

from bot.nlp.known import known_entities
from bot.nlp.model import EntitySummary, Extraction, Span, Verdict
from bot.nlp.pipeline import extract

__all__ = ["EntitySummary", "Extraction", "Span", "Verdict", "extract", "known_entities"]
