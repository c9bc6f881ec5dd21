"""The errors a fetch raises, in one module of their own.

The address guard (``bot.ingest.guard``), the body decoder (``bot.ingest.decode``) and the fetch
loop (``bot.ingest.fetch``) all raise these. Keeping them here lets the guard and the decoder
stay independent of the fetch loop (which imports both), and lets callers catch ``FetchError``
or one of its kinds without caring which step failed.
"""

from __future__ import annotations

from bot.ingest.model import IngestError


class FetchError(IngestError):
    """A URL could not be fetched."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class BlockedURLError(FetchError):
    """The URL is not allowed: wrong scheme, or its host is a private/loopback/... address."""


class TooLargeError(FetchError):
    """The response body is larger than the cap."""


class TooManyRedirectsError(FetchError):
    """More redirects than allowed, or a redirect loop."""


class FetchTimeoutError(FetchError):
    """The fetch took longer than its time limit."""


class UnsupportedContentTypeError(FetchError):
    """The server sent something that is not a page or feed (an image, a PDF...)."""


class HTTPStatusError(FetchError):
    """The server answered with an error status (4xx/5xx)."""

    def __init__(
        self, message: str, *, url: str, status: int, retry_after: str | None = None
    ) -> None:
        super().__init__(message, url=url)
        self.status = status
        self.retry_after = retry_after


class ConnectionFailedError(FetchError):
    """The host could not be resolved or reached, or the connection broke."""


class UndecodableBodyError(ConnectionFailedError):
    """The compressed body is corrupt, or ends before its compressed stream does.

    A kind of ConnectionFailedError: a body cut short is most often a broken transfer."""
