"""What the ingest parsers produce, and the errors they raise.

A ``ParsedArticle`` is an article as read from its source (plain text, an HTML page, a bulk file
line) before normalisation and enrichment; ``bot.ingest.normalize.build_new_article`` turns it into
the ``storage.models.NewArticle`` that is stored.

Every ingest error derives from ``IngestError`` and carries a message fit to show a user as is.
"""

from __future__ import annotations

from dataclasses import dataclass
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
