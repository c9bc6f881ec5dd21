"""What the ingest parsers produce, what ingesting reports, and the errors they raise.

A ``ParsedArticle`` is an article as read from its source (plain text, an HTML page, a bulk file
line) before normalisation and enrichment; ``bot.ingest.normalize.build_new_article`` turns it into
the ``storage.models.NewArticle`` that is stored.

``IngestOutcome`` and ``IngestReport`` say what became of stored articles; they live here, below
the use-cases, so that presentation (``bot.render``) can show them without importing a use-case.

Every ingest error derives from ``IngestError`` and carries a message fit to show a user as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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
    """Totals of a bulk ingest."""

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
        """Record a source that could not be ingested."""
        self.failed += 1
        self.errors.append(SourceError(source, error))
