"""Maintainer script: how many of a document's persons the extractor finds.

`python -m bot.nlp.evaluate FILE.jsonl ...` reads documents with gold persons in either shape:

- GMB-style spans: `{"id", "text", "entities": [{"label": "per", "start", "end"}, ...]}`;
- article person lists: `{"id", "text", "persons": ["Sergei Lavrov", "Lavrov", ...]}`.

It prints the "index found" rate: for each document with gold persons, the share of its distinct
persons (by canonical key, so "Lavrov" after "Sergei Lavrov" is one person) that the extractor
found at least once, averaged over documents; and the micro rate over all (document, person)
pairs. A gold person counts as found when some extracted person has its key, or, for a gold
surname alone, when an extracted person's key ends with that surname.

For article person lists (which name every person of the text) it also prints the precision of
person mentions: a mention is right when its name tokens are all in one gold name ("Kosgei",
"Laurentino Cortizo" for "Laurentino Cortizo Cohen"), and the wrong ones are listed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path

from bot.nlp.entities import extract_entities
from bot.nlp.names import TITLE_WORDS, name_tokens, person_key


def _gold_names(record: dict[str, object]) -> list[str]:
    text = record["text"]
    assert isinstance(text, str)
    persons = record.get("persons")
    if isinstance(persons, list):
        return [str(p) for p in persons]
    names = []
    entities = record.get("entities")
    assert isinstance(entities, list)
    for entity in entities:
        if str(entity.get("label", "")).lower() in ("per", "person"):
            words = text[entity["start"] : entity["end"]].split()
            while len(words) > 1 and words[0].rstrip(".").lower() in TITLE_WORDS:
                words.pop(0)
            names.append(" ".join(words))
    return names


def _distinct_persons(names: Iterable[str]) -> list[str]:
    """Gold names folded to persons: a surname alone joins an earlier full name."""
    keys: list[str] = []
    for name in names:
        key = person_key(name).removeprefix("person:")
        if not key:
            continue
        if " " not in key and any(k.endswith(" " + key) for k in keys):
            continue
        if key not in keys:
            keys.append(key)
    return keys


def index_found(records: Iterable[dict[str, object]]) -> tuple[float, float, int, int]:
    """(mean per-document rate, micro rate, persons found, gold persons) over the records."""
    rates: list[float] = []
    found_total = gold_total = 0
    for record in records:
        text = record["text"]
        assert isinstance(text, str)
        gold = _distinct_persons(_gold_names(record))
        if not gold:
            continue
        persons = extract_entities(text).persons
        found_keys = {p.key.removeprefix("person:") for p in persons}
        found_keys |= {person_key(p.text).removeprefix("person:") for p in persons}
        found = sum(
            1 for key in gold if key in found_keys or any(k.endswith(" " + key) for k in found_keys)
        )
        rates.append(found / len(gold))
        found_total += found
        gold_total += len(gold)
    mean = sum(rates) / len(rates) if rates else 0.0
    micro = found_total / gold_total if gold_total else 0.0
    return mean, micro, found_total, gold_total


def person_precision(
    records: Iterable[dict[str, object]],
) -> tuple[float, int, int, list[tuple[str, str]]]:
    """(precision, right mentions, all mentions, [(record id, wrong mention)]) over records
    whose gold is a complete `persons` list; other records are skipped."""
    right = total = 0
    wrong: list[tuple[str, str]] = []
    for record in records:
        text, persons = record["text"], record.get("persons")
        if not isinstance(text, str) or not isinstance(persons, list):
            continue
        gold_tokens = [set(name_tokens(str(p))) for p in persons]
        for span in extract_entities(text).persons:
            total += 1
            tokens = set(name_tokens(span.text))
            if tokens and any(tokens <= gold for gold in gold_tokens):
                right += 1
            else:
                wrong.append((str(record.get("id")), span.text))
    return (right / total if total else 0.0), right, total, wrong


def main(argv: list[str]) -> int:
    for path in argv[1:]:
        with Path(path).open(encoding="utf-8") as fh:
            records = [json.loads(line) for line in fh if line.strip()]
        mean, micro, found, gold = index_found(records)
        sys.stdout.write(
            f"{path}: index found {mean:.3f} per document, {micro:.3f} overall ({found}/{gold})\n"
        )
        precision, right, total, wrong = person_precision(records)
        if total:
            sys.stdout.write(f"{path}: person precision {precision:.3f} ({right}/{total})\n")
            for record_id, mention in wrong:
                sys.stdout.write(f"  not a gold person: {record_id}: {mention}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
