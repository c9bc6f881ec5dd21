"""Entities and diplomatic relevance for news text: pure, synchronous, no network.

`extract(text)` returns persons, countries and organisations with character spans, one summary
per distinct entity (with the alias keys it is stored under) and the diplomatic verdict.
"""

from __future__ import annotations

from bot.nlp.entities import EntitySummary, Extraction, Span, Verdict, extract

__all__ = ["EntitySummary", "Extraction", "Span", "Verdict", "extract"]
