"""Diplomatic classifier on real articles: State Department readouts vs Wikinews sport, crime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.nlp import extract
from bot.nlp.pipeline import classify

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _articles() -> list[dict[str, Any]]:
    with (FIXTURES / "nlp" / "classify_articles.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_seed_is_diplomatic_with_reasons() -> None:
    seed = (FIXTURES / "seed_kazinform.txt").read_text(encoding="utf-8")
    verdict = extract(seed).diplomatic
    assert verdict.label is True
    assert verdict.score > 0.9
    joined = " ".join(verdict.reasons)
    assert "foreign minist" in joined
    assert "OSCE" in joined


@pytest.mark.parametrize("article", _articles(), ids=lambda a: f"{a['kind']}-{a['id']}")
def test_real_articles(article: dict[str, Any]) -> None:
    verdict = classify(article["text"], article["title"])
    assert verdict.label is article["diplomatic"]
    assert 0.0 <= verdict.score <= 1.0
    assert verdict.reasons  # a user can always see why


def test_negative_reason_is_reported() -> None:
    sport = next(a for a in _articles() if a["kind"] == "sport")
    verdict = classify(sport["text"], sport["title"])
    assert any(r.startswith("not diplomatic: sport") for r in verdict.reasons)


def test_reuses_given_extraction() -> None:
    text = "The foreign ministers of Russia and Belarus signed a treaty at the OSCE summit."
    found = extract(text)
    assert classify(text, extraction=found) == found.diplomatic
    assert found.diplomatic.label is True


def test_company_earnings_are_not_diplomatic() -> None:
    text = (
        "The company reported quarterly revenue of $4.1 billion, and net income rose 12 percent. "
        "Shareholders will receive a higher dividend, the CEO told analysts on the earnings call."
    )
    assert classify(text).label is False
