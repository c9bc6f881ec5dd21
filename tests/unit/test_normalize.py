"""bot.ingest.normalize: canonical URLs, exact fingerprints, MinHash near-duplicates."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.ingest.model import InvalidURLError, ParsedArticle
from bot.ingest.normalize import (
    BANDS,
    NUM_PERM,
    ROWS,
    build_new_article,
    canonical_url,
    minhash_signature,
    normalize_text,
    text_fingerprint,
)
from bot.ingest.text import parse_text
from bot.urls import has_http_scheme, is_http_url
from storage.models import (
    NEAR_DUPLICATE_MIN_SIMILARITY,
    Classification,
    signature_similarity,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"
NOW = datetime(2024, 11, 5, tzinfo=UTC)
SEED = parse_text((FIXTURES / "seed_kazinform.txt").read_text(encoding="utf-8"), now=NOW)
STATE_DEPT = parse_text(
    (FIXTURES / "statedept_thailand_dialogue.txt").read_text(encoding="utf-8"), now=NOW
)


# --------------------------------------------------------------------------- canonical URLs


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        # scheme/host case, default ports, fragment, trailing slash, sorted query
        (
            "HTTP://WWW.Example.COM:80/News/Story/?b=2&a=1#top",
            "http://www.example.com/News/Story?a=1&b=2",
        ),
        ("https://example.com:443/", "https://example.com/"),
        ("https://example.com", "https://example.com/"),
        ("http://example.com:8080/a/", "http://example.com:8080/a"),
        ("https://example.com./a", "https://example.com/a"),
        ("https://user:secret@example.com/a", "https://example.com/a"),
        # tracking parameters
        (
            "https://example.com/a?utm_source=tg&utm_medium=social&utm_campaign=x&id=5",
            "https://example.com/a?id=5",
        ),
        (
            "https://example.com/a?fbclid=1&gclid=2&yclid=3&mc_cid=4&mc_eid=5&igshid=6&_ga=7&ref=tw",
            "https://example.com/a",
        ),
        (
            "https://example.com/search?q=lavrov&ref_src=twsrc",
            "https://example.com/search?q=lavrov",
        ),
        # AMP variants
        ("https://example.com/news/story/amp", "https://example.com/news/story"),
        ("https://example.com/news/story/amp/", "https://example.com/news/story"),
        ("https://example.com/amp/news/story", "https://example.com/news/story"),
        ("https://example.com/news/story.amp", "https://example.com/news/story"),
        ("https://example.com/news/story.amp.html", "https://example.com/news/story.html"),
        ("https://example.com/story?amp=1", "https://example.com/story"),
        ("https://example.com/story?amp", "https://example.com/story"),
        ("https://example.com/story?outputType=amp&page=2", "https://example.com/story?page=2"),
        ("https://amp.example.com/story", "https://example.com/story"),
        (
            "https://www-example-com.cdn.ampproject.org/c/s/www.example.com/story?x=1",
            "https://www.example.com/story?x=1",
        ),
        # ... without breaking real paths and hosts
        ("https://example.com/amp", "https://example.com/amp"),
        ("https://example.com/campaign/amplifier", "https://example.com/campaign/amplifier"),
        ("https://amp.dev/", "https://amp.dev/"),
        ("https://example.com/story?amp=full", "https://example.com/story?amp=full"),
        # IDN to punycode; escapes normalised; dot segments resolved
        ("https://пример.рф/", "https://xn--e1afmkfd.xn--p1ai/"),
        ("https://bücher.de/a", "https://xn--bcher-kva.de/a"),
        ("https://example.com/%7euser/%2fx", "https://example.com/~user/%2Fx"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/a b?q=a b", "https://example.com/a%20b?q=a%20b"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_canonical_url_is_idempotent() -> None:
    once = canonical_url("HTTPS://Example.com/News/?utm_source=x&z=1&a=2#frag")
    assert canonical_url(once) == once


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a",
        "mailto:a@b.c",
        "not a url",
        "http://:80/",
        # Characters no URL can carry: a UnicodeError before, far from the record that held it.
        "https://example.com/\ud800",
        "https://example.com/?q=\udfff",
        "https://exa\ud800mple.com/",
    ],
)
def test_canonical_url_refuses_non_web_urls(url: str) -> None:
    with pytest.raises(InvalidURLError):
        canonical_url(url)


# --------------------------------------------------------------------------- exact fingerprint


def test_normalize_text_folds_case_width_and_punctuation() -> None:
    assert normalize_text("  Lavrov’s  «VISIT» — to\u00a0MINSK!! ") == "lavrov s visit to minsk"
    assert normalize_text("ＬＡＶＲＯＶ") == "lavrov"  # full-width letters (NFKC)
    assert normalize_text("Straße") == "strasse"  # case-folding, not lower()


def test_fingerprint_ignores_form_but_not_content() -> None:
    reflowed = SEED.text.replace("\n\n", " ").replace('"', "“").upper()
    assert text_fingerprint(reflowed) == text_fingerprint(SEED.text)
    changed = SEED.text.replace("Belarus", "Kazakhstan", 1)
    assert text_fingerprint(changed) != text_fingerprint(SEED.text)
    assert re.fullmatch(r"[0-9a-f]{32}", text_fingerprint(SEED.text))


# --------------------------------------------------------------------------- near duplicates


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = normalize_text(text).split()
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def _jaccard(a: str, b: str) -> float:
    first, second = _shingles(a), _shingles(b)
    return len(first & second) / len(first | second)


def _lightly_edited(text: str) -> str:
    # What a second outlet does to wire copy: another spelling, a dropped closing paragraph,
    # a changed word, its own credit line.
    paragraphs = text.split("\n\n")[:-1]
    edited = "\n\n".join(paragraphs).replace("Sergei Lavrov said", "Sergey Lavrov said")
    edited = edited.replace("useful platform", "valuable platform")
    return edited + "\n\nSource: BelTA"


def test_lightly_edited_copy_is_a_near_duplicate() -> None:
    edited = _lightly_edited(SEED.text)
    signature, bands = minhash_signature(SEED.text)
    edited_signature, edited_bands = minhash_signature(edited)
    assert text_fingerprint(edited) != text_fingerprint(SEED.text)
    assert _jaccard(SEED.text, edited) >= 0.85
    similarity = signature_similarity(signature, edited_signature)
    assert similarity >= NEAR_DUPLICATE_MIN_SIMILARITY
    assert abs(similarity - _jaccard(SEED.text, edited)) < 0.1
    assert set(bands) & set(edited_bands)


def test_unrelated_release_is_not_a_near_duplicate() -> None:
    signature, bands = minhash_signature(SEED.text)
    other_signature, other_bands = minhash_signature(STATE_DEPT.text)
    assert signature_similarity(signature, other_signature) < 0.1
    assert not set(bands) & set(other_bands)


def test_half_overlapping_texts_are_estimated_near_half() -> None:
    # Two texts sharing the seed's first half, each with a different second half.
    half = SEED.text[: len(SEED.text) // 2]
    first = half + " " + STATE_DEPT.text[: len(SEED.text) // 2]
    second = half + " " + STATE_DEPT.text[len(STATE_DEPT.text) // 2 :]
    similarity = signature_similarity(minhash_signature(first)[0], minhash_signature(second)[0])
    assert abs(similarity - _jaccard(first, second)) < 0.15
    assert similarity < NEAR_DUPLICATE_MIN_SIMILARITY


def test_banding_meets_the_documented_probabilities() -> None:
    def collide(similarity: float) -> float:
        return 1 - (1 - similarity**ROWS) ** BANDS

    assert BANDS * ROWS <= NUM_PERM
    assert collide(NEAR_DUPLICATE_MIN_SIMILARITY) > 0.99
    assert collide(0.5) < 0.1


def test_signature_shape_and_stability() -> None:
    signature, bands = minhash_signature(SEED.text)
    assert len(signature) == NUM_PERM * 4
    assert len(bands) == BANDS
    assert all(-(2**63) <= band < 2**63 for band in bands)
    # Stored signatures must keep matching new ones: these values may never change.
    assert signature[:8].hex() == "29fe3700ea252900"
    assert bands[0] == 6391904847119039414
    assert text_fingerprint(SEED.text) == "aae00b3c26ea2b9313a2ea6932026de9"


def test_short_and_empty_texts_have_signatures() -> None:
    assert len(minhash_signature("Lavrov")[0]) == NUM_PERM * 4
    assert minhash_signature("")[0] == b"\xff" * (NUM_PERM * 4)


# --------------------------------------------------------------------------- NewArticle


def test_build_new_article() -> None:
    parsed = ParsedArticle(
        title=SEED.title,
        text=SEED.text,
        url="https://WWW.inform.kz/en/story/?utm_source=telegram",
        source=None,
        published_at=SEED.published_at,
        dateline_place="Minsk",
        agency="Kazinform",
        attribution="BelTA",
    )
    verdict = Classification(score=0.9, is_diplomatic=True, reasons=("foreign minister",))
    new = build_new_article(parsed, classification=verdict)
    assert new.url == "https://www.inform.kz/en/story"
    assert new.source == "Kazinform"
    assert new.fingerprint == text_fingerprint(SEED.text)
    assert (new.signature, new.bands) == minhash_signature(SEED.text)
    assert new.classification is verdict
    assert (new.dateline_place, new.agency, new.attribution) == ("Minsk", "Kazinform", "BelTA")


def test_build_new_article_source_falls_back_to_the_domain() -> None:
    parsed = ParsedArticle(title="T", text=STATE_DEPT.text, url="https://www.state.gov/release/")
    assert build_new_article(parsed).source == "state.gov"
    assert build_new_article(ParsedArticle(title="T", text="x")).source == "unknown"


@pytest.mark.parametrize(
    ("text", "scheme", "whole"),
    [
        ("https://www.state.gov/release/", True, True),
        ("http://inform.kz/en/story?id=1", True, True),
        ("  https://www.state.gov/release/\n", False, True),  # trimmed only for the whole check
        ("https://www.state.gov/release/ and more words", True, False),
        ("http://", True, False),  # the prefix alone: an attempt at a URL, not a URL
        ("HTTPS://www.state.gov/", False, False),  # the scheme as written, lower-case
        ("ftp://example.org/file", False, False),
        ("javascript:alert(1)", False, False),
        ("www.state.gov/release/", False, False),
        ("notes/https://x.txt", False, False),
        ("", False, False),
    ],
)
def test_http_url_checks(text: str, scheme: bool, whole: bool) -> None:
    assert has_http_scheme(text) is scheme
    assert is_http_url(text) is whole
