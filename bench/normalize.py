"""Benchmark: fingerprint + MinHash signature + band keys per ~2 kB article, on one core.

Usage: ``python -m bench.normalize [--articles N]``. Texts are ~2,000-character windows of the
seed article and the State Department fixture, each made distinct, so nothing is cached.
Target: <= 0.15 ms per article.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bot.ingest.normalize import fingerprint_and_signature, normalize_text

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def _texts(count: int, chars: int = 2000) -> list[str]:
    source = " ".join(
        (FIXTURES / name).read_text(encoding="utf-8")
        for name in ("seed_kazinform.txt", "statedept_thailand_dialogue.txt")
    )
    source = (source + " ") * 3
    span = len(source) - chars
    return [f"{index} " + source[(index * 97) % span :][:chars] for index in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=20_000)
    args = parser.parse_args()
    texts = _texts(args.articles)
    for text in texts[:200]:  # warm up numpy and the caches
        fingerprint_and_signature(text)
    rounds: list[float] = []
    for _ in range(5):
        start = time.perf_counter()
        for text in texts:
            fingerprint_and_signature(text)
        rounds.append((time.perf_counter() - start) / len(texts) * 1000)
    start = time.perf_counter()
    for text in texts:
        normalize_text(text)
    normalize_ms = (time.perf_counter() - start) / len(texts) * 1000
    print(
        f"{len(texts)} articles of {len(texts[0])} chars: fingerprint + signature + bands "
        f"{statistics.median(rounds):.4f} ms median of 5 rounds (best {min(rounds):.4f} ms; "
        f"normalize_text alone {normalize_ms:.4f} ms); target <= 0.15 ms"
    )


if __name__ == "__main__":
    main()
