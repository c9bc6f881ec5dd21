"""Logging to stderr, with every configured secret redacted from every record, and library
tracebacks cut to one line unless ``LOG_LEVEL=DEBUG``."""

from __future__ import annotations

import logging
import sys
from types import TracebackType
from typing import TextIO

from bot.config import Settings

REDACTED = "[REDACTED]"


class RedactSecrets(logging.Filter):
    """Replace secret values (bot token, webhook secret) wherever they appear in a record.

    The token is part of every Bot API URL, so HTTP client logs would otherwise print it.
    """

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        cleaned = self._clean(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class BriefLibraryErrors(logging.Filter):
    """An exception logged by a library named in ``roots`` becomes one line (its type and
    message) instead of a traceback.

    python-telegram-bot logs the network failures it handles itself with full tracebacks: a
    start-up request that failed (``deleteWebhook`` answering 500), a poll that timed out, the
    last ``getUpdates`` at stop. They point into its own internals and say nothing an operator
    can act on beyond the message. Installed unless ``LOG_LEVEL=DEBUG``; Attaché's own errors
    keep their tracebacks.
    """

    def __init__(self, roots: tuple[str, ...] = ("telegram",)) -> None:
        super().__init__()
        self._roots = roots

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info is None or record.name.split(".", 1)[0] not in self._roots:
            return True
        error = record.exc_info[1]
        if error is not None:
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
            record.args = None
        record.exc_info = None
        record.exc_text = None
        return True


def secrets_of(settings: Settings) -> list[str]:
    """The configured secret values (bot token, webhook secret)."""
    return [
        s.get_secret_value()
        for s in (settings.telegram_bot_token, settings.webhook_secret)
        if s is not None and s.get_secret_value()
    ]


def redact(text: str, settings: Settings) -> str:
    """``text`` with every configured secret replaced by ``[REDACTED]``."""
    for secret in secrets_of(settings):
        text = text.replace(secret, REDACTED)
    return text


def _log_uncaught(
    kind: type[BaseException], value: BaseException, traceback: TracebackType | None
) -> None:
    # Python prints an uncaught exception itself, past every log filter, and some messages carry
    # the token (python-telegram-bot's InvalidToken does); send it through logging instead.
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, traceback)
        return
    logging.getLogger(__name__).critical("uncaught exception", exc_info=(kind, value, traceback))


def setup_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Configure the root logger once: level from LOG_LEVEL, secrets redacted (also in uncaught
    exceptions, which are logged instead of printed)."""
    secrets = secrets_of(settings)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if settings.log_level != "DEBUG":
        handler.addFilter(BriefLibraryErrors())  # before redaction: the line may carry secrets
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    sys.excepthook = _log_uncaught
    # httpx logs every request URL at INFO, and Bot API URLs carry the token.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
