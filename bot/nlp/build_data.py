"""Maintainer script: build the gazetteers in `bot/nlp/data/` from the open data set.

Run `python -m bot.nlp.build_data /path/to/shared/data` after changing the tables or the source
files. Nothing at run time reads the source folder; the package ships only what this writes.

Inputs (see `data/README.md` for provenance and licences):
- political_leaders_wikidata.jsonl, name_token_translit_wikidata.jsonl,
  en_spelling_variants_via_ru_pivot.jsonl, country_aliases_wikidata.jsonl (CC0, Wikidata);
- gmb_ner_tokens.jsonl (GMB, public-domain texts): token statistics only. Sentences that also
  occur in gmb_ner_sample1500_spans.jsonl (the evaluation sample) are left out, so the reported
  score is measured on text the statistics never saw. So is a development slice (every sentence
  whose number is 7 modulo 20, see `is_dev_sentence`): rules are tuned by looking at its errors,
  never at the evaluation sample's.
"""

from __future__ import annotations

import gzip
import json
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.nlp.gazetteer_tables import COUNTRIES, ORGANISATIONS
from bot.nlp.model import DATA_DIR

# Leading words the scorer and the extractor treat as titles, not names.
_TITLE_WORDS = {
    "mr", "mrs", "ms", "miss", "dr", "prof", "sir", "dame", "lord", "lady", "president", "vice",
    "prime", "minister", "foreign", "deputy", "secretary", "general", "gen", "lt", "col", "colonel",
    "major", "maj", "capt", "captain", "admiral", "adm", "sgt", "king", "queen", "prince",
    "princess", "pope", "cardinal", "archbishop", "bishop", "rev", "reverend", "father", "sheikh",
    "sheik", "emir", "ayatollah", "imam", "senator", "sen", "rep", "representative", "congressman",
    "congresswoman", "governor", "gov", "mayor", "chancellor", "ambassador", "envoy", "chairman",
    "chairwoman", "chief", "justice", "judge", "premier", "state", "of", "the", "former", "acting",
    "spokesman", "spokeswoman", "spokesperson", "commander",
}  # fmt: skip


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _fold(token: str) -> str:
    decomposed = unicodedata.normalize("NFKD", token.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def is_dev_sentence(sentence_id: str) -> bool:
    """The GMB development slice ("gmb-kaggle-27", "gmb-kaggle-47", ...): about 2,400 sentences."""
    number = sentence_id.rsplit("-", 1)[-1]
    return number.isdigit() and int(number) % 20 == 7


def _gmb_stats(src: Path) -> tuple[dict[str, list[int]], Counter[str], list[str]]:
    """Per capitalised token: [times inside a person name, times seen capitalised mid-sentence]."""
    sample = list(_read_jsonl(src / "gmb_ner_sample1500_spans.jsonl"))
    held_out_texts = {s["text"] for s in sample}
    held_out_ids = {s["id"] for s in sample}
    per: Counter[str] = Counter()
    cap: Counter[str] = Counter()
    lower: Counter[str] = Counter()
    first: Counter[str] = Counter()
    skipped = 0
    for row in _read_jsonl(src / "gmb_ner_tokens.jsonl"):
        tokens: list[str] = row["tokens"]
        held_out = row["id"] in held_out_ids or " ".join(tokens) in held_out_texts
        if held_out or is_dev_sentence(row["id"]):
            skipped += 1
            continue
        tags: list[str] = row["tags"]
        for i, (tok, tag) in enumerate(zip(tokens, tags, strict=True)):
            if not tok[:1].isalpha():
                continue
            if tok[0].islower():
                lower[tok] += 1
                continue
            is_per = tag.endswith("-per")
            if i == 0 and not is_per:
                continue  # sentence-initial capitals say nothing about the word
            key = tok.lower()
            cap[key] += 1
            if is_per and tok.rstrip(".").lower() not in _TITLE_WORDS:
                per[key] += 1
            if tag == "B-per":
                j = i
                while j < len(tokens) and tokens[j].rstrip(".").lower() in _TITLE_WORDS:
                    j += 1
                if j + 1 < len(tokens) and tags[j + 1] == "I-per" and j < len(tokens):
                    first[tokens[j].lower()] += 1
    sys.stderr.write(f"gmb: skipped {skipped} sentences (evaluation sample, development slice)\n")
    stats = {k: [per[k], n] for k, n in cap.items() if n >= 2 or per[k] >= 1}
    common = sorted(w for w, n in lower.items() if n >= 3 and lower[w] >= cap.get(w, 0))
    return stats, first, common


def _variants(src: Path) -> dict[str, str]:
    """English spelling -> one representative spelling (the commonest sharing a Russian form)."""
    out: dict[str, str] = {}
    for row in _read_jsonl(src / "en_spelling_variants_via_ru_pivot.jsonl"):
        spellings = [_fold(v["en"]) for v in row["en_variants"]]
        rep = spellings[0]
        for s in spellings[1:]:
            if s != rep and s not in out and s.isalpha():
                out[s] = rep
    return out


def _ru_to_en(src: Path) -> dict[str, str]:
    """Russian name token -> its commonest English spelling."""
    best: dict[str, tuple[int, str]] = {}
    for row in _read_jsonl(src / "name_token_translit_wikidata.jsonl"):
        en = _fold(row["en"])
        if not en.isalpha():
            continue
        for cand in row.get("ru", []):
            ru = cand["t"].lower()
            if ru.isalpha() and cand["n"] > best.get(ru, (0, ""))[0]:
                best[ru] = (cand["n"], en)
    return {ru: en for ru, (_, en) in best.items()}


def _name_tokens(src: Path) -> dict[str, int]:
    """English name tokens seen in Wikidata person labels, with their frequency."""
    out: dict[str, int] = {}
    for row in _read_jsonl(src / "name_token_translit_wikidata.jsonl"):
        en = _fold(row["en"])
        total = sum(c["n"] for k, v in row.items() if k != "en" for c in v)
        if en.isalpha() and total >= 4:
            out[en] = total
    return out


def _leaders(src: Path) -> list[list[str]]:
    """[English name, QID, latest position] of leaders, foreign ministers, UN officials."""
    out = []
    for row in _read_jsonl(src / "political_leaders_wikidata.jsonl"):
        roles = row.get("roles") or [{}]
        out.append([row["name_en"], row["qid"], roles[-1].get("position", "")])
    return out


def _russian_forms(name: str) -> list[str]:
    """A Russian country name with its case forms ("Россия" -> "России", "Россию", ...).

    News text declines country names ("министр иностранных дел России"). Only one-word names
    written in Cyrillic are declined, by the regular endings; multi-word names are kept as given.
    """
    if not all("\u0400" <= c <= "\u04ff" or c in " -" for c in name) or len(name) < 3:
        return []
    if " " in name or "-" in name or name.isupper():
        return [name]
    if name.endswith("ия"):
        endings = ["ия", "ии", "ию", "ией"]
    elif name.endswith("ь"):
        endings = ["ь", "и", "ью"]
    elif name.endswith("й"):
        endings = ["й", "я", "ю", "е", "ем"]
    elif name.endswith(("а", "я")):
        hard = name[-2] in "гкхжшчщ"
        endings = [name[-1], "и" if hard else "ы", "е", "у", "ой"]
    elif name[-1] in "бвгджзклмнпрстфхцчшщ":
        return [name, *(name + e for e in ("а", "у", "е", "ом"))]
    else:
        return [name]  # indeclinable ("Перу", "Того")
    stem = name[: -len(endings[0])]
    return [stem + e for e in endings]


def _geo(src: Path) -> dict[str, Any]:
    wikidata = {r["iso2"]: r["names"] for r in _read_jsonl(src / "country_aliases_wikidata.jsonl")}
    countries = []
    for line in COUNTRIES.strip().splitlines():
        iso2, name, extra, demonyms = line.split("|")
        names = [name, *filter(None, extra.split(","))]
        for alias in wikidata.get(iso2, {}).get("en", []):
            # Long English aliases only: two-letter codes and odd forms ("Maurice") are noise.
            if alias[:1].isupper() and alias.isascii() and len(alias) >= 5 and alias not in names:
                names.append(alias)
        for alias in wikidata.get(iso2, {}).get("ru", []):
            names += [form for form in _russian_forms(alias) if form not in names]
        countries.append([iso2, names, list(filter(None, demonyms.split(",")))])
    orgs: dict[str, list[Any]] = {}
    for line in ORGANISATIONS.strip().splitlines():
        key, canonical, aliases = line.split("|")
        entry = orgs.setdefault(key, [key, canonical, [canonical]])
        entry[2] += [a for a in aliases.split(",") if a and a not in entry[2]]
    return {"countries": countries, "orgs": list(orgs.values())}


def _write(name: str, payload: dict[str, Any]) -> None:
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    path = DATA_DIR / name
    with gzip.GzipFile(path, "wb", mtime=0) as fh:  # mtime=0: reproducible bytes
        fh.write(raw.encode("utf-8"))
    sys.stderr.write(f"wrote {path} ({path.stat().st_size} bytes)\n")


def main(argv: list[str]) -> int:
    src = Path(argv[1] if len(argv) > 1 else "/work/shared/data")
    stats, first, common = _gmb_stats(src)
    leaders = _leaders(src)
    first_names = {k for k, n in first.items() if n >= 2}
    first_names |= {_fold(n.split()[0]) for n, _, _ in leaders if " " in n}
    _write(
        "names.json.gz",
        {
            "variants": _variants(src),
            "ru_to_en": _ru_to_en(src),
            "name_tokens": _name_tokens(src),
            "first_names": sorted(first_names),
            "leaders": leaders,
        },
    )
    _write("gmb_stats.json.gz", {"token_stats": stats, "common_lower": common})
    _write("geo.json.gz", _geo(src))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
