"""What the ingest parsers produce, what ingesting reports, and the errors they raise.

A ``ParsedArticle`` is an article as read from its source (plain text, an HTML page, a bulk file
line) before normalisation and enrichment; ``bot.ingest.normalize.build_new_article`` turns it into
the ``storage.models.NewArticle`` that is stored.

``IngestOutcome`` and ``IngestReport`` say what became of stored articles; they live here, below
the use-cases, so that presentation (``bot.render``) can show them without importing a use-case.

Every ingest error derives from ``IngestError`` and carries a message fit to show a user as is.

A ``ParsedArticle`` cleans its own fields when it is built (``bot.ingest.sanitize``): however a
parser, a feed or ``dataclasses.replace`` makes one, it never holds a lone surrogate, a control
character or a text longer than the stored maximum, so nothing later has to check again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.ingest.sanitize import clean_chars, clean_name, clean_text, clean_title

#: Errors an ``IngestReport`` lists; later ones are only counted (``IngestReport.unlisted``).
MAX_LISTED_ERRORS = 1_000
#: A listed error's message is cut to this many characters (a record can quote a lot).
MAX_ERROR_CHARS = 500


class IngestError(Exception):
    """A source could not be turned into an article; ``message`` says why, in plain words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidURLError(IngestError):
    """A URL that cannot be parsed or used (no host, bad port, unsupported scheme...)."""


@dataclass(frozen=True, slots=True)
class ParsedArticle:
    """An article as read from its source, before normalisation and enrichment.

    ``url`` is the URL as found (not yet canonical). ``published_at`` is timezone-aware (UTC)
    or ``None``. ``agency`` is the wire agency of the dateline ("Kazinform"); ``attribution`` the
    agency the text credits ("BelTA" from "..., BelTA reports.").

    Building one cleans every field (``bot.ingest.sanitize``): the text within
    ``MAX_TEXT_CHARS`` (with a note when cut), the title and names on one line within their
    limits; a name left empty becomes ``None``.
    """

    title: str
    text: str
    url: str | None = None
    source: str | None = None
    published_at: datetime | None = None
    dateline_place: str | None = None
    agency: str | None = None
    attribution: str | None = None
    lang: str = "en"
    guid: str | None = None

    def __post_init__(self) -> None:
        # Frozen: the cleaned values are set as __init__ would have set them.
        setattr_ = object.__setattr__
        setattr_(self, "title", clean_title(self.title))
        setattr_(self, "text", clean_text(self.text))
        setattr_(self, "lang", clean_name(self.lang) or "und")
        for name in ("source", "dateline_place", "agency", "attribution"):
            value = getattr(self, name)
            if value is not None:
                setattr_(self, name, clean_name(value) or None)
        for name in ("url", "guid"):
            value = getattr(self, name)
            if value is not None:
                setattr_(self, name, clean_chars(value).strip() or None)


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What happened to one ingested article."""

    article_id: int
    created: bool
    title: str
    duplicate_reason: str | None = None
    persons: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    orgs: tuple[str, ...] = ()
    diplomatic_score: float = 0.0
    is_diplomatic: bool = False


@dataclass(frozen=True, slots=True)
class SourceError:
    """A source (file line, URL) that could not be ingested."""

    source: str
    error: str


@dataclass(slots=True)
class IngestReport:
    """Totals of a bulk ingest.

    ``failed`` counts every source that failed; ``errors`` lists the first
    ``MAX_LISTED_ERRORS`` of them (messages cut to ``MAX_ERROR_CHARS``), so a file of a million
    bad lines costs a bounded report; ``unlisted`` says how many more there were.
    """

    added: int = 0
    duplicates: int = 0
    failed: int = 0
    errors: list[SourceError] = field(default_factory=list)
    outcomes: list[IngestOutcome] = field(default_factory=list)

    def count(self, outcome: IngestOutcome) -> None:
        """Add one stored article's outcome to the totals."""
        self.outcomes.append(outcome)
        if outcome.created:
            self.added += 1
        else:
            self.duplicates += 1

    def fail(self, source: str, error: str) -> None:
        """Record a source that could not be ingested (listed while the list has room)."""
        self.failed += 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append(SourceError(_cut(source), _cut(error)))

    @property
    def unlisted(self) -> int:
        """Failures counted in ``failed`` but not listed in ``errors``."""
        return self.failed - len(self.errors)


def _cut(message: str) -> str:
    return message if len(message) <= MAX_ERROR_CHARS else message[: MAX_ERROR_CHARS - 1] + "…"
