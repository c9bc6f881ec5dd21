"""Benchmark: articles per second for persons + countries + orgs + classification on one core.

Usage: `python -m bench.extract [JSONL_WITH_TEXT ...]`. Without files it uses the seed article
and the NLP fixtures, cut or repeated into ~400-word articles.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from bot.nlp import extract

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def _articles(paths: list[str], words: int = 400) -> list[str]:
    texts: list[str] = []
    for path in paths:
        with Path(path).open(encoding="utf-8") as fh:
            texts += [json.loads(line)["text"] for line in fh if line.strip()]
    if not texts:
        texts.append((FIXTURES / "seed_kazinform.txt").read_text(encoding="utf-8"))
        for fixture in sorted((FIXTURES / "nlp").glob("*.jsonl")):
            with fixture.open(encoding="utf-8") as fh:
                texts += [json.loads(line)["text"] for line in fh if line.strip()]
    articles = []
    for text in texts:
        tokens = text.split(" ")
        while len(tokens) < words:
            tokens += tokens
        articles.append(" ".join(tokens[:words]))
    return articles


def main() -> None:
    articles = _articles(sys.argv[1:])
    extract(articles[0])  # load the gazetteers outside the timing
    rounds = max(1, 3000 // len(articles))
    start = time.perf_counter()
    count = 0
    persons = 0
    for _ in range(rounds):
        for article in articles:
            found = extract(article)
            persons += len(found.persons)
            count += 1
    elapsed = time.perf_counter() - start
    print(
        f"{count} articles of ~400 words in {elapsed:.2f}s: {count / elapsed:.0f} articles/s "
        f"({persons} person mentions)"
    )


if __name__ == "__main__":
    main()
