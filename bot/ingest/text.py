"""Plain text -> ParsedArticle: headline, wire dateline, attribution, boilerplate removed.

Wire copy pasted or saved as text looks like this (tests/fixtures/seed_kazinform.txt)::

    News and Events
    Eurasian integration named one of priorities of Russia, Belarus
    Eurasian integration named one of priorities of Russia, Belarus
    MINSK. October 30. KAZINFORM The development of Eurasian integration is ...
    ... Sergei Lavrov noted, BelTA reports.
    Read more here

The headline is the first line that is not site furniture ("News and Events"); repeats of it and
furniture lines ("Read more here", share/subscribe lines) are dropped. The dateline opening the
first paragraph gives the place, the date and the agency, and is cut from the body. The forms read:

    MINSK. October 30. KAZINFORM The ...        (Kazinform, BelTA)
    WASHINGTON (Reuters) - The ...              (Reuters, AP, Xinhua "--")
    ASTANA, 12 March 2024 — The ...
    MOSCOW, Oct 30 /TASS/ - The ...
    ASTANA. KAZINFORM - The ...

A date without a year is the most recent such date not after ``now`` (one day of slack: a
dateline is local time, and Asia is up to 14 hours ahead of UTC). The agency the text credits
("BelTA reports", "reports TASS", "according to Xinhua") is kept as ``attribution``.

The input is cleaned first (``bot.ingest.sanitize.clean_chars``: control, invisible and bidi
characters), so datelines and headlines are read from the text as it will be stored. Only the
first ``PARSE_CHARS`` characters of a very long input are parsed: the stored text is at most
``MAX_TEXT_CHARS`` anyway, and its truncation note counts what was left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.ingest.model import IngestError, ParsedArticle
from bot.ingest.sanitize import MAX_TEXT_CHARS, cap_text, clean_chars, clean_line, clean_title

# A body shorter than this (after cleaning) is not an article: a caption, a link, a greeting.
MIN_BODY_CHARS = 80
# A first line longer than this is a paragraph, not a headline.
MAX_HEADLINE_LINE_CHARS = 250
# When a text has no headline line, its first sentence is cut to this length for a title.
DERIVED_TITLE_CHARS = 120
# Input beyond this is not parsed (furniture lines dropped on the way leave ample margin to fill
# the stored maximum): parsing time and memory stay bounded however long the input is.
PARSE_CHARS = 2 * MAX_TEXT_CHARS

# Wire agencies by their upper-case name, with the spelling they use for themselves.
KNOWN_AGENCIES: dict[str, str] = {
    name.upper(): name
    for name in (
        "Kazinform", "BelTA", "TASS", "Xinhua", "Reuters", "AP", "AFP", "RIA Novosti", "RIA",
        "Interfax", "Trend", "AZERTAC", "APA", "Ukrinform", "Anadolu", "Kyodo", "Yonhap",
        "Bernama", "Antara", "IRNA", "WAFA", "MENA", "SANA", "KUNA", "WAM", "SPA", "QNA", "BNA",
        "ONA", "Petra", "AKIpress", "Kabar", "UzA", "Dunyo", "Armenpress", "Sputnik", "Regnum",
        "PTI", "IANS", "dpa", "EFE", "ANSA", "PAP", "MTI", "BTA", "Agerpres", "Tanjug", "HINA",
        "CNA", "UPI", "Bloomberg", "Prensa Latina", "Kazakhstan Today", "Tengrinews", "Belta",
    )
}  # fmt: skip
KNOWN_AGENCIES["BELTA"] = "BelTA"

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
        ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
        ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
        ("december", "dec"),
    ),
    start=1,
):  # fmt: skip
    for _name in _names:
        _MONTHS[_name] = _number
_MONTH = "(?i:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b\.?"

# An upper-case word (apostrophes and hyphens inside): datelines shout the place and agency.
_UPPER = "A-ZÀ-ÖØ-ÞĀ-ŽА-ЯЁІЇЄЎҚҒҮҰӘӨҺ"
_WORD = rf"[{_UPPER}][{_UPPER}'’\-]*"
_DATE = (
    rf"(?:(?P<m1>{_MONTH})\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y1>\d{{4}}))?"
    rf"|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m2>{_MONTH})(?:,?\s+(?P<y2>\d{{4}}))?"
    r"|(?P<iso>\d{4}-\d{2}-\d{2})"
    r"|(?P<dmy>\d{1,2}\.\d{1,2}\.\d{4}))"
)
_DATELINE = re.compile(
    rf"""
    (?P<place>{_WORD}(?:\s{_WORD}){{0,3}})
    (?:\s*[.,]\s*(?P<date>{_DATE}))?
    (?:
        \s*\((?P<paren>[^()\n\d]{{2,40}})\)
      | \s*/(?P<slash>[^/\n\d]{{2,30}})/
      | \s*[.,]\s*(?P<bare>{_WORD}(?:\s{_WORD})?)(?=\s*[-–—:]|\s+["“«\w])
    )?
    \s*[.,]?\s*(?P<sep>--|[-–—:])?\s*
    (?P<rest>.*)
    """,
    re.VERBOSE | re.DOTALL,
)

# Words of a name are bounded: an unbounded run would make finditer quadratic on text such
# as "A.A.A.A..." (a word boundary at every letter, each start scanning to the end).
_NAME = r"[A-Z][\w.\-]{0,39}(?:\s[A-Z][\w.\-]{0,39}){0,2}"
_ATTRIBUTION_AFTER = re.compile(rf"\b(?P<name>{_NAME})\s+(?:reports|reported|informs|writes)\b")
_ATTRIBUTION_BEFORE = re.compile(
    rf"\b(?i:reports|reported by|according to|citing|cited by|quoted by|told)\s+(?:the\s+)?"
    rf"(?P<name>{_NAME})"
)

_BOILERPLATE = re.compile(
    r"""^(?:
        news(?:\s+and\s+events)? | latest\s+news | top\s+news | all\s+news
      | read\s+(?:more|also|next)(?:\s+here)? | see\s+also | more\s+on\s+this\s+topic
      | related(?:\s+(?:news|articles|stories|posts))?
      | share(?:\s+this(?:\s+(?:article|story|page|post))?)?(?:\s+(?:on|via)\s+\w+)?
      | tweet | print(?:\s+version)? | e-?mail | advertisement | comments? | \d+\s+comments?
      | (?:subscribe|follow\s+us|join\s+(?:us|our)|click\s+here|download\s+our)\b.*
      | all\s+rights\s+reserved.* | (?:©|\(c\)|copyright)\s.* | tags?:.* | photo(?:\s+credit)?:.*
    )[.!:…]*$""",
    re.IGNORECASE | re.VERBOSE,
)
_ONLY_SYMBOLS = re.compile(r"^[\W_]*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


@dataclass(frozen=True, slots=True)
class Dateline:
    """A parsed wire dateline and the text that follows it."""

    place: str
    published: date | None
    agency: str | None
    rest: str


def canonical_agency(name: str) -> str:
    """The agency's own spelling for a known agency; otherwise the name, title-cased if shouted."""
    cleaned = " ".join(name.split()).strip(" .,")
    known = KNOWN_AGENCIES.get(cleaned.upper())
    if known:
        return known
    if cleaned.isupper() and len(cleaned) > 5:
        return cleaned.title()
    return cleaned


def _is_upper_place(place: str) -> bool:
    letters = [ch for ch in place if ch.isalpha()]
    return len(letters) >= 2 and all(ch.isupper() for ch in letters)


def _title_place(place: str) -> str:
    # str.title() would give "Nur-Sultan" and "New York" but also "Xi'An"; fix the apostrophe case.
    titled = place.title()
    return re.sub(r"(['’])([A-Z])", lambda m: m.group(1) + m.group(2).lower(), titled)


def resolve_date(month: int, day: int, year: int | None, *, now: datetime) -> date | None:
    """The date; without a year, the most recent such date not after ``now`` (+1 day slack)."""
    if year is not None:
        try:
            return date(year, month, day)
        except ValueError:
            return None
    today = now.astimezone(UTC).date() if now.tzinfo else now.date()
    latest = today + timedelta(days=1)
    for candidate_year in range(latest.year, latest.year - 9, -1):  # 8 years covers Feb 29
        try:
            candidate = date(candidate_year, month, day)
        except ValueError:
            continue
        if candidate <= latest:
            return candidate
    return None


def _dateline_date(match: re.Match[str], *, now: datetime) -> date | None:
    groups = match.groupdict()
    if groups["iso"]:
        try:
            return date.fromisoformat(groups["iso"])
        except ValueError:
            return None
    if groups["dmy"]:
        day_s, month_s, year_s = groups["dmy"].split(".")
        return resolve_date(int(month_s), int(day_s), int(year_s), now=now)
    month_name = groups["m1"] or groups["m2"]
    day_s = groups["d1"] or groups["d2"]
    year_s = groups["y1"] or groups["y2"]
    if not month_name or not day_s:
        return None
    month = _MONTHS[month_name.rstrip(".").lower()]
    return resolve_date(month, int(day_s), int(year_s) if year_s else None, now=now)


def parse_dateline(paragraph: str, *, now: datetime) -> Dateline | None:
    """Read a wire dateline at the start of ``paragraph``; ``None`` if it does not open with one."""
    match = _DATELINE.match(paragraph.lstrip())
    if match is None or not _is_upper_place(match["place"]):
        return None
    agency_raw = match["paren"] or match["slash"] or match["bare"]
    known_agency = agency_raw is not None and agency_raw.strip().upper() in KNOWN_AGENCIES
    if match["bare"] and not (known_agency or (match["sep"] and match["bare"].isupper())):
        return None  # "MINSK. October 30. NATO said" is a sentence, not an agency
    if (match["paren"] or match["slash"]) and not (known_agency or match["sep"]):
        return None  # "NATO (North Atlantic ...)" is an expansion, not a dateline
    if not match["date"] and not agency_raw:
        return None
    published = _dateline_date(match, now=now) if match["date"] else None
    if match["date"] and published is None:
        return None  # "MARCH 45" is not a date; do not guess
    return Dateline(
        place=_title_place(match["place"]),
        published=published,
        agency=canonical_agency(agency_raw) if agency_raw else None,
        rest=match["rest"].strip(),
    )


def find_attribution(text: str) -> str | None:
    """The agency a text credits ("BelTA reports", "reports TASS", "according to Xinhua")."""
    candidates: list[tuple[int, str]] = []
    for pattern, any_acronym in ((_ATTRIBUTION_AFTER, True), (_ATTRIBUTION_BEFORE, False)):
        for match in pattern.finditer(text):
            name = match["name"].strip(" .,")
            # Drop a trailing word that is not part of the name ("TASS said" -> "TASS").
            for length in range(len(name.split()), 0, -1):
                candidate = " ".join(name.split()[:length])
                if candidate.upper() in KNOWN_AGENCIES:
                    candidates.append((match.start(), KNOWN_AGENCIES[candidate.upper()]))
                    break
            else:
                # Unknown names count only as "<Name> reports" with an acronym-like first word
                # ("BelTA", "KazTAG"), never "according to Sergei Lavrov".
                first = name.split()[0]
                if any_acronym and sum(ch.isupper() for ch in first) >= 2 and len(first) >= 3:
                    candidates.append((match.start(), first))
    if not candidates:
        return None
    return min(candidates)[1]


def _same_line(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()).strip(" .") == " ".join(b.casefold().split()).strip(" .")


def is_boilerplate(line: str) -> bool:
    """Whether a line is site furniture rather than article text."""
    return bool(_BOILERPLATE.match(line) or _ONLY_SYMBOLS.match(line))


def guess_lang(text: str) -> str:
    """A rough language code from the script of the first letters: "ru", "en" or "und"."""
    sample = text[:2000]
    cyrillic = sum(1 for ch in sample if "\u0400" <= ch <= "\u04ff")
    latin = sum(1 for ch in sample if ch.isascii() and ch.isalpha())
    if cyrillic > latin:
        return "ru"
    if latin and latin >= len([ch for ch in sample if ch.isalpha()]) // 2:
        return "en"
    return "und"


def derive_title(body: str) -> str:
    """A title from the first sentence, cut at a word boundary when long."""
    first = _SENTENCE_END.split(body.strip(), maxsplit=1)[0].strip()
    if len(first) <= DERIVED_TITLE_CHARS:
        return first.rstrip(".")
    cut = first[:DERIVED_TITLE_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


def _looks_like_headline(line: str, *, now: datetime) -> bool:
    if len(line) > MAX_HEADLINE_LINE_CHARS or parse_dateline(line, now=now) is not None:
        return False
    # A headline rarely has more than one sentence.
    return len(_SENTENCE_END.findall(line)) == 0 or len(line.split()) <= 25


def _head(raw: str) -> tuple[str, int]:
    """The part of ``raw`` worth parsing (cut at a line end) and the characters left out."""
    if len(raw) <= PARSE_CHARS:
        return raw, 0
    end = raw.rfind("\n", PARSE_CHARS // 2, PARSE_CHARS)
    end = end if end > 0 else PARSE_CHARS
    return raw[:end], len(raw) - end


def parse_text(
    raw: str,
    *,
    now: datetime,
    source: str | None = None,
    title: str | None = None,
    url: str | None = None,
    published_at: datetime | None = None,
    guid: str | None = None,
) -> ParsedArticle:
    """Parse plain wire text into a ParsedArticle.

    ``title`` and ``published_at`` are used when the caller knows them (a bulk record, a feed
    entry, an HTML page); otherwise the headline line and the dateline date are used. Raises
    ``IngestError`` when there is too little text to be an article.
    """
    raw, dropped = _head(raw)
    lines = [clean_line(line) for line in clean_chars(raw).splitlines()]
    lines = [line for line in lines if line and not is_boilerplate(line)]
    if not lines:
        raise IngestError("the text is empty: there is no article to read")

    headline = clean_title(title) if title else None
    if headline is None and len(lines) > 1 and _looks_like_headline(lines[0], now=now):
        headline = lines[0]
    body_lines = [line for line in lines if headline is None or not _same_line(line, headline)]

    dateline = parse_dateline(body_lines[0], now=now) if body_lines else None
    if dateline is not None:
        body_lines = ([dateline.rest] if dateline.rest else []) + body_lines[1:]
    body = "\n\n".join(body_lines)
    if len(body) < MIN_BODY_CHARS:
        raise IngestError(
            f"the text is too short to be an article: {len(body)} characters after cleaning, "
            f"at least {MIN_BODY_CHARS} are needed"
        )

    agency = dateline.agency if dateline else None
    attribution = find_attribution(body)
    if published_at is None and dateline is not None and dateline.published is not None:
        day = dateline.published
        published_at = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return ParsedArticle(
        title=headline or derive_title(body),
        text=cap_text(body, dropped=dropped),
        url=url,
        source=source or agency or attribution,
        published_at=published_at,
        dateline_place=dateline.place if dateline else None,
        agency=agency,
        attribution=attribution,
        lang=guess_lang(body),
        guid=guid,
    )
