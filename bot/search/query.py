"""Parse what a user types after ``/search`` into a safe, structured query.

Syntax (Google-like; everything else is treated as plain words):

=====================  ==========================================================
``eurasian union``     both words (AND); words are stemmed by the index
``"foreign minister"`` the words next to each other, in order
``nato OR osce``       either word (``|`` works too); binds tighter than AND
``-ukraine``           exclude a word or a ``-"quoted phrase"`` (``NOT x`` too)
``secur*``             words starting with ``secur`` (at least 3 letters; 8 prefixes at most)
``since:2022-01-31``   published on or after; ``2022-01`` and ``2022`` work too
``until:2022-12``      published on or before (inclusive; a month or year to its end)
``source:reuters``     carried by a source whose name contains ``reuters``
``person:"S. Lavrov"`` mentions this person (``person:lavrov``); likewise
``country:Belarus``    ``country:`` and ``org:``; resolved to entities by the caller
``order:newest``       newest first instead of the relevance/recency blend
=====================  ==========================================================

:func:`parse_query` never raises. Every word is reduced to the tokens the full-text index
makes of it (:func:`word_runs`: runs of Unicode letters and digits, cut where the index's
tokenizer cuts), so nothing the user types reaches the full-text engine's query language; a
word that is several runs (``U.S.``, ``al-Assad``) becomes a phrase, which is how the index
tokenised it. What was ignored or changed (a bad or out-of-range date, a lone ``*``, an
unknown ``title:`` filter, terms or prefixes past the caps) is reported in
:attr:`ParsedQuery.warnings`.

**Cost.** A query's cost grows with its words and, above all, its prefixes: ``con*`` reads the
index entries of every stored word starting with ``con``. So a query searches at most
:data:`MAX_WORDS` words, a prefix needs :data:`MIN_PREFIX_CHARS` letters *as the index sees
them* (``s`` followed by two combining marks is the one-letter prefix ``s``, not three), and
at most :data:`MAX_PREFIX_TERMS` prefixes are expanded (the rest are searched as whole
words). Whatever still costs too much is stopped by storage's time budget.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from storage.models import (
    AnyOf,
    Clause,
    Phrase,
    SearchOrder,
    SearchQuery,
    Term,
    TextQuery,
)

MAX_QUERY_CHARS = 1000  # longer input is cut (with a warning); nobody types more
MAX_WORDS = 32  # words across all terms and phrases; more is noise and costs time
MAX_WORD_CHARS = 64
MAX_FILTER_VALUE_CHARS = 100
MIN_PREFIX_CHARS = 3  # shorter prefixes (``a*``) would match most of the vocabulary
# 32 common 3-letter prefixes ORed took ~0.45 s on 10,000 articles, 8 took ~0.07-0.15 s.
MAX_PREFIX_TERMS = 8
# Dates outside these are clamped to them (with a note): no news archive reaches past them,
# and every backend can hold them.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2100, 12, 31)
# The combining accents the index's tokenizer (``unicode61 remove_diacritics 2``) drops inside a
# word: SQLite's ``sqlite3Fts5UnicodeIsdiacritic``, 25 marks between U+0300 and U+0331. Any
# other combining mark ends a token there, like a space.
_DROPPED_ACCENTS = frozenset(
    chr(code)
    for code in (
        *range(0x300, 0x305), *range(0x306, 0x30D), 0x30F, 0x311, 0x31B,
        *range(0x323, 0x329), 0x32D, 0x32E, 0x330, 0x331,
    )
)  # fmt: skip

_FILTER_KEYS = frozenset({"since", "until", "source", "person", "country", "org", "order", "sort"})
_ORDER_WORDS: dict[str, SearchOrder] = {
    "newest": "newest",
    "new": "newest",
    "latest": "newest",
    "date": "newest",
    "recent": "newest",
    "relevance": "relevance",
    "best": "relevance",
    "rank": "relevance",
}
_DATE_RE = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_FILTER_RE = re.compile(r"([A-Za-z]+):(.*)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A parsed ``/search`` query. Entity filters stay strings until the caller resolves them."""

    text: TextQuery | None = None
    since: date | None = None
    until: date | None = None  # inclusive
    source: str | None = None
    persons: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    orgs: tuple[str, ...] = ()
    order: SearchOrder | None = None  # None: the caller's default
    warnings: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to search for (no words and no entity filter)."""
        return self.text is None and not (self.persons or self.countries or self.orgs)

    def to_search_query(
        self,
        entity_groups: tuple[tuple[int, ...], ...] = (),
        *,
        limit: int = 5,
        offset: int = 0,
        diplomatic_only: bool = False,
        default_order: SearchOrder = "relevance",
    ) -> SearchQuery:
        """The storage query, once the caller has resolved the entity filters to ids."""
        return SearchQuery(
            text=self.text,
            since=self.since,
            until=self.until,
            source=self.source,
            entity_groups=entity_groups,
            diplomatic_only=diplomatic_only,
            order=self.order or default_order,
            limit=limit,
            offset=offset,
        )


def visible_text(text: str) -> str:
    """``text`` without format characters (Unicode category Cf): zero-width spaces and joiners,
    soft hyphens, byte-order marks, bidi controls. Pasted from web pages they sit inside words
    ("Lav\u200brov") without being seen, and a right-to-left override would reorder the
    rest of any line that echoes the text back."""
    return "".join(char for char in text if unicodedata.category(char) != "Cf")


def _is_token_char(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LN" or category == "Co"


def word_runs(text: str) -> list[str]:
    """The tokens the full-text index makes of ``text`` in NFC (before stemming): lower-cased
    runs of letters, digits and private-use characters. As in the index, an accent it drops
    (:data:`_DROPPED_ACCENTS`) is dropped and any other combining mark ends a run, so ``s``
    followed by marks is the one letter ``s``; each run is one token of the index, of as many
    letters. Invisible format characters are dropped, not taken as word breaks (see
    :func:`visible_text`)."""
    runs: list[str] = []
    current: list[str] = []
    for char in unicodedata.normalize("NFC", visible_text(text).lower()):
        if char in _DROPPED_ACCENTS:
            continue
        if _is_token_char(char):
            current.append(char)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return [run[:MAX_WORD_CHARS] for run in runs]


class _Parser:
    """One parse: a cursor over the text plus what has been collected so far."""

    def __init__(self, text: str) -> None:
        self.warnings: list[str] = []
        if len(text) > MAX_QUERY_CHARS:
            self.warnings.append(f"query cut to its first {MAX_QUERY_CHARS} characters")
            text = text[:MAX_QUERY_CHARS]
        self.text = text
        self.pos = 0
        self.groups: list[list[Clause]] = []
        self.excluded: list[Clause] = []
        self.words = 0
        self.prefixes = 0
        self.pending_or = False
        self.last_was_positive = False
        self.negate_next = False
        self.since: date | None = None
        self.until: date | None = None
        self.source: str | None = None
        self.persons: list[str] = []
        self.countries: list[str] = []
        self.orgs: list[str] = []
        self.order: SearchOrder | None = None

    # ------------------------------------------------------------------ scanning

    def _read_quoted(self) -> str:
        """Read from after an opening quote to the closing one (or the end)."""
        end = self.text.find('"', self.pos)
        if end < 0:
            value, self.pos = self.text[self.pos :], len(self.text)
        else:
            value, self.pos = self.text[self.pos : end], end + 1
        return value

    def _read_word(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and not (
            self.text[self.pos].isspace() or self.text[self.pos] == '"'
        ):
            self.pos += 1
        return self.text[start : self.pos]

    def run(self) -> ParsedQuery:
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char.isspace():
                self.pos += 1
            elif char == '"':
                self.pos += 1
                self._add_clause(self._phrase_clause(self._read_quoted()), negated=False)
            elif char == "-" and self.text.startswith('-"', self.pos):
                self.pos += 2
                self._add_clause(self._phrase_clause(self._read_quoted()), negated=True)
            else:
                self._word(self._read_word())
        if self.pending_or:
            self.warnings.append("OR at the end ignored")
        return self._result()

    # ------------------------------------------------------------------ tokens

    def _word(self, raw: str) -> None:
        if raw in ("OR", "|", "||"):
            if self.last_was_positive:
                self.pending_or = True
            else:
                self.warnings.append("OR without a word before it ignored")
            return
        if raw in ("AND", "&", "&&"):
            return
        if raw == "NOT":
            self.negate_next = True
            return
        negated = raw.startswith("-")
        body = raw.lstrip("-")
        match = _FILTER_RE.fullmatch(body)
        if match:
            key, value = match.group(1).lower(), match.group(2)
            if key in _FILTER_KEYS:
                if not value and self.text.startswith('"', self.pos):
                    self.pos += 1
                    value = self._read_quoted()
                if negated:
                    self.warnings.append(f"-{key}: is not supported; filter ignored")
                else:
                    self._filter(key, value)
                self.last_was_positive = False
                return
            if value:
                self.warnings.append(f"{key}: is not a filter; searching for {value!r}")
                body = value
        prefix = body.endswith("*")
        self._add_clause(self._word_clause(body.rstrip("*"), prefix, raw), negated)

    def _word_clause(self, body: str, prefix: bool, raw: str) -> Clause | None:
        runs = word_runs(body)
        if not runs:
            if raw.strip("-*()[]{}^:.,;!?'`~"):
                self.warnings.append(f"{raw[:20]!r} has no letters or digits; ignored")
            return None
        if len(runs) > 1:
            return Phrase(tuple(runs))
        if prefix and len(runs[0]) < MIN_PREFIX_CHARS:
            self.warnings.append(
                f"{runs[0]}* is too short a prefix (min {MIN_PREFIX_CHARS} letters); "
                "searching the word"
            )
            prefix = False
        if prefix and self.prefixes >= MAX_PREFIX_TERMS:
            if self.prefixes == MAX_PREFIX_TERMS:
                self.warnings.append(
                    f"only the first {MAX_PREFIX_TERMS} prefixes (word*) are expanded; "
                    "the others are searched as whole words"
                )
                self.prefixes += 1  # warn once
            prefix = False
        elif prefix:
            self.prefixes += 1
        return Term(runs[0], prefix=prefix)

    def _phrase_clause(self, body: str) -> Clause | None:
        runs = word_runs(body)
        if not runs:
            return None
        if len(runs) == 1:
            return Term(runs[0])
        return Phrase(tuple(runs))

    def _add_clause(self, clause: Clause | None, negated: bool) -> None:
        negated = negated or self.negate_next
        self.negate_next = False
        if clause is None:
            return
        size = len(clause.words) if isinstance(clause, Phrase) else 1
        if self.words + size > MAX_WORDS:
            if self.words < MAX_WORDS + 1:
                self.warnings.append(f"only the first {MAX_WORDS} words are searched")
                self.words = MAX_WORDS + 1  # warn once
            return
        self.words += size
        if negated:
            if self.pending_or:
                self.warnings.append("OR before an exclusion ignored")
                self.pending_or = False
            self.excluded.append(clause)
            self.last_was_positive = False
            return
        if self.pending_or and self.groups:
            if clause not in self.groups[-1]:
                self.groups[-1].append(clause)
        else:
            self.groups.append([clause])
        self.pending_or = False
        self.last_was_positive = True

    # ------------------------------------------------------------------ filters

    def _filter(self, key: str, raw_value: str) -> None:
        value = " ".join(
            "".join(c if unicodedata.category(c)[0] != "C" else " " for c in raw_value).split()
        )[:MAX_FILTER_VALUE_CHARS]
        if not value:
            self.warnings.append(f"{key}: needs a value; ignored")
            return
        if key in ("since", "until"):
            parsed = _parse_date(value, end=key == "until")
            if parsed is None:
                self.warnings.append(f"{key}:{value} is not a date like 2022-01-31; ignored")
                return
            clamped = min(max(parsed, EARLIEST_DATE), LATEST_DATE)
            if clamped != parsed:
                self.warnings.append(
                    f"{key}:{value} is outside {EARLIEST_DATE.year}-{LATEST_DATE.year}; "
                    f"read as {key}:{clamped.isoformat()}"
                )
                parsed = clamped
            if key == "since":
                self.since = parsed
            else:
                self.until = parsed
        elif key == "source":
            self.source = value
        elif key == "person":
            self.persons.append(value)
        elif key == "country":
            self.countries.append(value)
        elif key == "org":
            self.orgs.append(value)
        else:  # order / sort
            order = _ORDER_WORDS.get(value.lower())
            if order is None:
                self.warnings.append(f"{key}:{value} is unknown (use newest or relevance)")
            else:
                self.order = order

    def _result(self) -> ParsedQuery:
        text: TextQuery | None = None
        groups = tuple(AnyOf(tuple(group)) for group in self.groups)
        if groups:
            text = TextQuery(required=groups, excluded=tuple(dict.fromkeys(self.excluded)))
        elif self.excluded:
            self.warnings.append("a search needs a word to look for, not only exclusions")
        since, until = self.since, self.until
        if since and until and since > until:
            self.warnings.append("since: is after until:; swapped them")
            since, until = until, since
        return ParsedQuery(
            text=text,
            since=since,
            until=until,
            source=self.source,
            persons=tuple(dict.fromkeys(self.persons)),
            countries=tuple(dict.fromkeys(self.countries)),
            orgs=tuple(dict.fromkeys(self.orgs)),
            order=self.order,
            warnings=tuple(self.warnings),
        )


def _parse_date(value: str, *, end: bool) -> date | None:
    """``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``; a month or year means its last day if ``end``."""
    match = _DATE_RE.fullmatch(value)
    if not match:
        return None
    year, month, day = (int(g) if g else None for g in match.groups())
    assert year is not None  # the pattern requires it
    try:
        if month is None:
            return date(year, 12, 31) if end else date(year, 1, 1)
        if day is None:
            if not end:
                return date(year, month, 1)
            if month == 12:
                return date(year, 12, 31)
            return date(year, month + 1, 1) - timedelta(days=1)
        return date(year, month, day)
    except ValueError:
        return None


def parse_query(text: str) -> ParsedQuery:
    """Parse user search text. Never raises; what was ignored is listed in ``warnings``."""
    try:
        return _Parser(text).run()
    except Exception as exc:  # a parser bug must not break /search; degrade to plain words
        words = word_runs(text[:MAX_QUERY_CHARS])[:MAX_WORDS]
        fallback = TextQuery(tuple(AnyOf((Term(w),)) for w in words)) if words else None
        return ParsedQuery(text=fallback, warnings=(f"query read as plain words ({exc!r})",))


def _format_clause(clause: Clause) -> str:
    if isinstance(clause, Phrase):
        return '"' + " ".join(clause.words) + '"'
    return clause.text + ("*" if clause.prefix else "")


def format_text_query(query: TextQuery) -> str:
    """A normalised, human-readable form that :func:`parse_query` reads back the same."""
    parts = [" OR ".join(_format_clause(c) for c in group.options) for group in query.required]
    parts.extend("-" + _format_clause(c) for c in query.excluded)
    return " ".join(parts)
