"""Command-line entry point: ``attache run | console | ingest | search | person | extract | ...``.

``--json`` output goes to stdout alone; logs and progress go to stderr.

A failure the user can act on (a bad option, a database that is missing, damaged, newer or on a
full disk, a file that cannot be read or written, a refused token) ends in ONE line on stderr
saying what is wrong and what to do, and a non-zero exit status: :func:`explain_failure`, called
from :func:`main`, is the one place that turns such errors into that line (the traceback goes
to the log at DEBUG level only). Anything else is a bug and is logged with its traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import errno
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO

from bot.config import Settings, SettingsError, database_url_for, load_settings
from bot.factory import database_location, open_services
from bot.logs import setup_logging
from bot.render import plain_snippet
from bot.search.model import SearchResult
from bot.services import Services
from storage.errors import Corrupt, MigrationError, NoDatabase, StorageError, Unavailable
from storage.models import (
    Feed,
    SearchHit,
)

log = logging.getLogger(__name__)

SETUP_HELP = """\
TELEGRAM_BOT_TOKEN is not set, so the bot cannot connect to Telegram.

  1. In Telegram, talk to @BotFather, send /newbot and follow the steps; it gives you a token.
  2. Put it in a .env file next to this README:  TELEGRAM_BOT_TOKEN=123456:ABC...
     (copy .env.example to .env to start from the documented defaults)
  3. Run `make run` again.

To try the bot without a token, run `make console` (or `attache console`): it starts a local
Telegram-like server and lets you talk to the bot in this terminal.
"""


#: ``--limit`` of search and person: results on one page.
MAX_LIMIT = 100
#: ``--page`` is clamped to this (a page past the last is refused with the number of pages;
#: the clamp only keeps the offset inside SQLite's integers).
MAX_PAGE = 1_000_000_000


class CommandError(Exception):
    """A command cannot do what was asked; the message says why and what to do."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _token_missing(settings: Settings) -> bool:
    """Without a token nothing can reach Telegram: say how to get one."""
    token = settings.telegram_bot_token
    if token is not None and token.get_secret_value():
        return False
    print(SETUP_HELP, file=sys.stderr)
    return True


def _hit_json(hit: SearchHit) -> dict[str, Any]:
    return {
        "id": hit.id,
        "title": hit.title,
        "url": hit.url,
        "source": hit.source,
        "published_at": hit.published_at.isoformat() if hit.published_at else None,
        "snippet": plain_snippet(hit.snippet),
        "is_diplomatic": hit.is_diplomatic,
    }


def _search_json(result: SearchResult) -> dict[str, Any]:
    return {
        "query": result.query,
        "total": result.total,
        "total_capped": result.total_capped,
        "page": result.page,
        "pages": result.pages,
        "warnings": list(result.warnings),
        "results": [_hit_json(h) for h in result.hits],
    }


def _print_hits(result: SearchResult, out: TextIO) -> None:
    for warning in result.warnings:
        print(f"note: {warning}", file=out)
    print(f"{result.total} result(s); page {result.page} of {max(result.pages, 1)}", file=out)
    for hit in result.hits:
        when = hit.published_at.date().isoformat() if hit.published_at else "undated"
        print(f"\n#{hit.id}  {hit.title}\n    {hit.source} · {when}", file=out)
        if hit.url:
            print(f"    {hit.url}", file=out)
        print(f"    {plain_snippet(hit.snippet, mark='*')}", file=out)


def _past_the_last(result: SearchResult, page: int) -> bool:
    return page > 1 and not result.hits and not result.too_broad


def _no_such_page(first: SearchResult, page: int, limit: int) -> CommandError:
    """The error for a page past the last, told from the first page (whose total is exact up
    to the cap; a page past the end reports its offset as the total)."""
    if not first.hits:
        return CommandError(f"there is no page {page:,}: nothing matches; leave out --page")
    if first.total_capped:
        return CommandError(
            f"page {page:,} is past the last page of results (there are more than"
            f" {first.total:,} results, {limit} a page); ask for a lower --page"
        )
    pages = first.pages
    counted = f"{pages:,} page{'s' if pages != 1 else ''} of results"
    return CommandError(
        f"there {'are' if pages != 1 else 'is'} only {counted}"
        f" ({first.total:,} at {limit} a page); ask for --page {pages:,}"
        + (" or lower" if pages > 1 else "")
    )


# --------------------------------------------------------------------------- commands


async def cmd_ingest(services: Services, args: argparse.Namespace) -> int:
    from bot.ingest.model import IngestOutcome
    from bot.progress import Progress

    def acknowledge(outcomes: Sequence[IngestOutcome]) -> None:
        # One line per article as soon as its batch is committed: a line printed is an
        # article stored, even if the run is interrupted later.
        for outcome in outcomes:
            state = "added" if outcome.created else f"duplicate of #{outcome.article_id}"
            print(f"#{outcome.article_id} {state}: {outcome.title}", flush=True)

    with Progress("ingest", unit="article") as progress:
        report = await services.ingest.sources(
            args.sources,
            progress=progress.advance,
            on_stored=None if args.json else acknowledge,
        )
    if args.json:
        payload = {
            "added": report.added,
            "duplicates": report.duplicates,
            "failed": report.failed,
            "errors": [{"source": e.source, "error": e.error} for e in report.errors],
        }
        if report.unlisted:  # the list keeps the first errors only; this counts the rest
            payload["errors_not_listed"] = report.unlisted
        print(json.dumps(payload, ensure_ascii=False))
    else:
        for error in report.errors:
            print(f"error: {error.source}: {error.error}", file=sys.stderr)
        if report.unlisted:
            print(f"error: ... and {report.unlisted:,} more", file=sys.stderr)
        print(f"{report.added} added, {report.duplicates} duplicates, {report.failed} failed")
    return 0 if report.failed == 0 else 1


async def cmd_search(services: Services, args: argparse.Namespace) -> int:
    query = " ".join(args.query)

    async def search(page: int) -> SearchResult:
        return await services.search.query(
            query, page=page, page_size=args.limit, order="newest" if args.newest else None
        )

    result = await search(args.page)
    if _past_the_last(result, args.page):
        raise _no_such_page(await search(1), args.page, args.limit)
    if args.json:
        print(json.dumps(_search_json(result), ensure_ascii=False))
    else:
        _print_hits(result, sys.stdout)
    return 0


async def cmd_person(services: Services, args: argparse.Namespace) -> int:
    name = " ".join(args.name)
    result = await services.search.person(name, page=args.page, page_size=args.limit)
    if result.results is not None and _past_the_last(result.results, args.page):
        first = await services.search.person(name, page=1, page_size=args.limit)
        if first.results is not None:
            raise _no_such_page(first.results, args.page, args.limit)
    if args.json:
        payload = {
            "query": name,
            "candidates": [
                {
                    "id": c.id,
                    "canonical": c.canonical,
                    "aliases": list(c.aliases),
                    "articles": c.articles,
                }
                for c in result.candidates
            ],
            "results": [_hit_json(h) for h in result.results.hits] if result.results else [],
        }
        print(json.dumps(payload, ensure_ascii=False))
        return 0
    if not result.candidates:
        print(f"No person known as {name!r}.")
    elif result.results is None:
        print(f"{name!r} may mean several people:")
        for c in result.candidates:
            print(f"  {c.canonical} ({c.articles} article(s))")
    else:
        person = result.candidates[0]
        print(f"{person.canonical} — also: {', '.join(person.aliases)}")
        _print_hits(result.results, sys.stdout)
    return 0


async def cmd_stats(services: Services, args: argparse.Namespace) -> int:
    fields = dataclasses.asdict(await services.search.stats())
    if args.json:
        print(json.dumps(fields))
    else:
        for key, value in fields.items():
            print(f"{key:>14}: {value}")
    return 0


async def cmd_reindex(services: Services, args: argparse.Namespace) -> int:
    from bot.progress import Progress

    total = (await services.search.stats()).articles
    with Progress("reindex", unit="article", total=total) as progress:
        done = await services.ingest.reindex(progress=progress.advance)
    print(f"re-extracted entities of {done} article(s)", file=sys.stderr)
    return 0


async def cmd_feeds(services: Services, args: argparse.Namespace) -> int:
    """``attache feeds add|list|remove|import|export``: the admin commands, from a shell."""
    from bot.feeds.service import Added, NotAdded
    from bot.ingest.model import IngestError

    feeds = services.feeds
    action: str = args.feeds_command
    if action == "add":
        outcome = await feeds.add(args.url, args.interval)
        if isinstance(outcome, NotAdded):
            print(f"attache: not added: {outcome.url}: {outcome.reason}", file=sys.stderr)
            return 1
        state = "added" if isinstance(outcome, Added) else "already polled as"
        feed = outcome.feed
        print(f"{state} feed #{feed.id}: {feed.title or feed.url} ({feed.url})")
        return 0
    if action == "list":
        listed = await feeds.list()
        if args.json:
            print(json.dumps([_feed_json(f) for f in listed], ensure_ascii=False))
            return 0
        for feed in listed:
            _print_feed(feed)
        print(f"{len(listed)} feed(s)")
        return 0
    if action == "remove":
        removed = await feeds.remove(args.id)
        if removed is None:
            print(f"attache: there is no feed #{args.id}", file=sys.stderr)
            return 1
        print(f"removed feed #{removed.id}: {removed.title or removed.url}")
        return 0
    if action == "import":
        try:
            data = await asyncio.to_thread(Path(args.file).read_bytes)
        except OSError as exc:
            raise CommandError(f"cannot read {args.file}: {_os_problem(exc)}") from exc
        try:
            report = await feeds.import_opml(data, args.interval)
        except IngestError as exc:  # the document itself: encoding, XML, not OPML, too big
            raise CommandError(f"cannot read {args.file}: {exc.message}") from exc
        for feed in sorted(report.added, key=lambda added: added.id):
            print(f"added #{feed.id}: {feed.title or feed.url} ({feed.url})")
        for url in report.existing:
            print(f"existing: {url}")
        for url, reason in report.failed:
            print(f"failed: {url}: {reason}")
        counts = (len(report.added), len(report.existing), len(report.failed))
        print("{} added, {} existing, {} failed".format(*counts))
        return 0 if not report.failed else 1
    # export
    document = await feeds.export_opml()
    if args.file in (None, "-"):
        sys.stdout.write(document)
        return 0
    await asyncio.to_thread(_write_text, Path(args.file), document)
    print(f"wrote {args.file}", file=sys.stderr)
    return 0


_OS_ADVICE = {
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "check the path (a part of it is a file, not a folder)",
    errno.EISDIR: "name a file instead",
    errno.EACCES: "check the permissions",
    errno.EPERM: "check the permissions",
    errno.ENOSPC: "free some disk space",
    errno.EROFS: "choose a place that can be written",
}


def _os_problem(exc: OSError) -> str:
    """What an OSError means, and what to do about it when that is plain."""
    reason = exc.strerror or str(exc)
    reason = reason[:1].lower() + reason[1:]
    advice = _OS_ADVICE.get(exc.errno or 0)
    return f"{reason}; {advice}" if advice else reason


def _write_text(path: Path, text: str) -> None:
    """Write a file the user named, saying plainly why it cannot be written."""
    try:
        path.write_text(text, encoding="utf-8")
    except FileNotFoundError as exc:
        raise CommandError(
            f"cannot write {path}: the folder {path.parent} does not exist;"
            " create it first or choose another path"
        ) from exc
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {_os_problem(exc)}") from exc


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _feed_json(feed: Feed) -> dict[str, Any]:
    """A feed as a JSON object (times in ISO 8601, UTC)."""
    return {
        "id": feed.id,
        "url": feed.url,
        "title": feed.title,
        "interval_minutes": feed.interval_s // 60,
        "enabled": feed.enabled,
        "last_success_at": _iso(feed.last_success_at),
        "next_poll_at": _iso(feed.next_poll_at),
        "failures": feed.failures,
        "last_error": feed.last_error,
        "etag": feed.etag,
        "last_modified": feed.last_modified,
    }


def _print_feed(feed: Feed) -> None:
    def when(value: datetime | None) -> str:
        return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if value else "never"

    state = "enabled" if feed.enabled else "DISABLED"
    print(f"#{feed.id}  {feed.title or feed.url}\n    {feed.url}")
    next_poll = when(feed.next_poll_at) if feed.enabled else "-"
    print(
        f"    every {feed.interval_s // 60} min · {state}"
        f" · last success {when(feed.last_success_at)} · next poll {next_poll}"
        f" · failures {feed.failures}"
    )
    if feed.last_error:
        print(f"    last error: {feed.last_error}")


async def cmd_digest(services: Services, args: argparse.Namespace) -> int:
    from bot.app import send_due_once

    token = services.settings.telegram_bot_token
    if token is None or not token.get_secret_value():
        raise CommandError(
            "TELEGRAM_BOT_TOKEN is not set, so no digest can be sent; put the bot's token"
            " (from @BotFather) in .env or the environment",
            code=2,
        )
    report = await send_due_once(services)
    fields = {
        "chats": report.chats,
        "digests": report.digests,
        "messages": report.messages,
        "articles": report.articles,
        "empty": report.empty,
        "blocked": report.blocked,
        "failed": report.failed,
    }
    if args.json:
        print(json.dumps(fields))
    else:
        print(", ".join(f"{value} {key}" for key, value in fields.items()))
    return 0 if report.failed == 0 else 1


def cmd_extract(args: argparse.Namespace) -> int:
    from bot.nlp.cli import extract_file

    return extract_file(args.file, sys.stdout)


def cmd_run(settings: Settings) -> int:
    if _token_missing(settings):
        return 2
    from bot.app import run_bot

    run_bot(settings)  # BotStartError: explain_failure says what to check
    return 0


def cmd_console(settings: Settings, args: argparse.Namespace) -> int:
    from bot.sandbox.console import run_console

    return run_console(settings, script=args.script)


# --------------------------------------------------------------------------- parser


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error said in one line (argparse prints the usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_LIMIT}, not {text!r}")
    return value


def _page(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text!r}")
    return min(value, MAX_PAGE)


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--db", metavar="PATH", help="SQLite file or a URL (default: from DATABASE_URL)"
    )
    parser = _Parser(prog="attache", description="Attaché: diplomatic news in Telegram.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("run", parents=[common], help="start the Telegram bot")
    console = sub.add_parser(
        "console", parents=[common], help="try the bot in this terminal, without a token"
    )
    console.add_argument("--script", metavar="FILE", help="read the user's lines from FILE")

    ingest = sub.add_parser(
        "ingest",
        parents=[common],
        help="store articles from files (JSON, JSONL, text, HTML) or URLs",
    )
    ingest.add_argument("sources", nargs="+", metavar="SOURCE")
    ingest.add_argument("--json", action="store_true", help="print a JSON summary")

    search = sub.add_parser("search", parents=[common], help="search stored articles")
    search.add_argument("query", nargs="+", metavar="QUERY")
    search.add_argument("--json", action="store_true")
    search.add_argument(
        "--limit", type=_limit, default=10, help=f"results per page, 1 to {MAX_LIMIT} (default 10)"
    )
    search.add_argument("--page", type=_page, default=1, help="which page (default 1)")
    search.add_argument("--newest", action="store_true", help="newest first instead of best first")

    person = sub.add_parser("person", parents=[common], help="articles that mention a person")
    person.add_argument("name", nargs="+", metavar="NAME")
    person.add_argument("--json", action="store_true")
    person.add_argument(
        "--limit", type=_limit, default=10, help=f"articles per page, 1 to {MAX_LIMIT} (default 10)"
    )
    person.add_argument("--page", type=_page, default=1, help="which page (default 1)")

    extract = sub.add_parser(
        "extract", parents=[common], help="JSON lines in, persons/countries/orgs/verdict out"
    )
    extract.add_argument("file", nargs="?", help="input file (default: standard input)")

    stats = sub.add_parser("stats", parents=[common], help="what the database holds")
    stats.add_argument("--json", action="store_true")

    sub.add_parser("reindex", parents=[common], help="re-extract entities of every article")

    digest = sub.add_parser("digest", parents=[common], help="scheduled digests")
    digest_sub = digest.add_subparsers(dest="digest_command", required=True, metavar="ACTION")
    send_due = digest_sub.add_parser(
        "send-due", parents=[common], help="send every due digest once and exit (for cron)"
    )
    send_due.add_argument("--json", action="store_true", help="print a JSON summary")

    interval = _Parser(add_help=False)
    interval.add_argument(
        "--interval",
        type=_minutes,
        default=10,
        metavar="MIN",
        help="minutes between polls (default 10, at least 1)",
    )
    feeds = sub.add_parser("feeds", help="manage polled feeds: add, list, remove, import, export")
    feed_actions = feeds.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    feeds_add = feed_actions.add_parser(
        "add", parents=[common, interval], help="fetch a feed once to check it, then poll it"
    )
    feeds_add.add_argument("url", metavar="URL")
    feeds_list = feed_actions.add_parser("list", parents=[common], help="every feed and its health")
    feeds_list.add_argument("--json", action="store_true", help="print a JSON array")
    feeds_remove = feed_actions.add_parser("remove", parents=[common], help="stop polling a feed")
    feeds_remove.add_argument("id", type=_feed_id, metavar="ID")
    feeds_import = feed_actions.add_parser(
        "import", parents=[common, interval], help="add every feed of an OPML file"
    )
    feeds_import.add_argument("file", metavar="FILE.opml")
    feeds_export = feed_actions.add_parser(
        "export", parents=[common], help="write every feed as OPML 2.0 (to FILE or stdout)"
    )
    feeds_export.add_argument("file", nargs="?", metavar="FILE")
    return parser


def _minutes(text: str) -> int:
    from bot.feeds.service import FeedArgumentError, parse_interval

    try:
        return parse_interval(text)
    except FeedArgumentError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _feed_id(text: str) -> int:
    from bot.feeds.service import FeedArgumentError, parse_feed_id

    try:
        return parse_feed_id(text)
    except FeedArgumentError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if getattr(args, "db", None):
        overrides["database_url"] = database_url_for(args.db)
    return load_settings(**overrides)


#: The commands that store what they are given, and so create the database when there is none.
#: Every other command needs an existing database and creates nothing (a mistyped --db says
#: "no database at PATH" instead of leaving an empty database behind): reading commands, and
#: those with nothing to do on a new database (reindex, removing a feed, sending digests).
CREATING_COMMANDS = {("ingest", None), ("feeds", "add"), ("feeds", "import")}


def _creates_database(args: argparse.Namespace) -> bool:
    return (args.command, getattr(args, "feeds_command", None)) in CREATING_COMMANDS


async def _with_services(
    settings: Settings,
    command: Callable[[Services, argparse.Namespace], Awaitable[int]],
    args: argparse.Namespace,
) -> int:
    async with open_services(settings, create=_creates_database(args)) as services:
        return await command(services, args)


ASYNC_COMMANDS: dict[str, Callable[[Services, argparse.Namespace], Awaitable[int]]] = {
    "ingest": cmd_ingest,
    "search": cmd_search,
    "person": cmd_person,
    "stats": cmd_stats,
    "reindex": cmd_reindex,
    "digest": cmd_digest,
    "feeds": cmd_feeds,
}


def _storage_problem(exc: StorageError, settings: Settings | None) -> str:
    """A storage error as one line: where the database is, what is wrong, what to do."""
    message = str(exc)
    if isinstance(exc, NoDatabase):
        return f"{message}; run `attache ingest` first to create it, or check --db / DATABASE_URL"
    where = database_location(settings) if settings is not None else None
    if where and where not in message:
        message = f"database {where}: {message}"
    if not isinstance(exc, Unavailable | Corrupt | MigrationError):
        message += " (LOG_LEVEL=DEBUG shows the details)"
    return message


def explain_failure(exc: BaseException, settings: Settings | None) -> tuple[str, int] | None:
    """The one line for stderr and the exit status for a failure the user can act on; None
    for anything else (a bug, which keeps its traceback). The one place the CLI maps errors."""
    from bot.ingest.model import IngestError
    from bot.nlp.cli import InputError

    if isinstance(exc, CommandError):
        return f"attache: {exc}", exc.code
    if isinstance(exc, SettingsError):
        return f"attache: {exc}", 2
    if isinstance(exc, StorageError):
        return f"attache: {_storage_problem(exc, settings)}", 1
    if isinstance(exc, InputError):
        return f"attache: {exc}", 1
    if isinstance(exc, IngestError):
        return f"attache: {exc.message}", 1
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"attache: {where}{_os_problem(exc)}", 1
    if "bot.app" in sys.modules:  # BotStartError can only come from there (it imports telegram)
        from bot.app import BotStartError

        if isinstance(exc, BotStartError):
            return f"attache: {exc}", 1
    return None


def _run_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "run":
        return cmd_run(settings)
    if args.command == "console":
        return cmd_console(settings, args)
    if args.command == "extract":
        return cmd_extract(args)
    return asyncio.run(_with_services(settings, ASYNC_COMMANDS[args.command], args))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
    except SettingsError as exc:
        print(f"attache: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings)
    try:
        return _run_command(args, settings)
    except Exception as exc:
        explained = explain_failure(exc, settings)
        if explained is None:
            raise
        line, code = explained
        log.debug("attache %s failed", args.command, exc_info=True)
        print(line.replace("\n", " "), file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
