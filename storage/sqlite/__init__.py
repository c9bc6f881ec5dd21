"""The SQLite backend of :class:`storage.base.Storage` (aiosqlite, WAL, FTS5).

One public class, :class:`SQLiteStorage` (``storage.sqlite.store``), over modules of one
concern each, so that each can be read (and a second backend compared with it) on its own:

``connection``  the writer and reader connections, pragmas, migrations, transactions, row
                helpers, time conversion
``errors``      driver errors mapped to :mod:`storage.errors`
``articles``    storing articles (duplicate detection), reading them, re-enrichment, counts
``search``      the full-text search SQL, its ranking and filters
``entities``    people, countries and organisations, their aliases and article links
``chats``       chats, their digest settings, and their subscriptions
``percolate``   matching new articles against every subscription
``inbox``       each chat's pending matches, the digest's read of them, delivery marks
``feeds``       polled feeds and the entries already seen

Schema changes are the numbered SQL files in ``storage/sqlite/migrations``.
"""

from storage.sqlite.connection import load_migrations
from storage.sqlite.store import SQLiteStorage

__all__ = ["SQLiteStorage", "load_migrations"]
