"""How the bot reaches storage: the backend chosen by DATABASE_URL's scheme in one factory,
``--db`` turned into a DATABASE_URL, and no database driver outside ``storage``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import (
    DATABASE_SCHEMES,
    Settings,
    SettingsError,
    database_scheme,
    database_url_for,
    load_settings,
)
from bot.factory import BACKENDS, make_storage, sqlite_path
from storage.sqlite import SQLiteStorage

ROOT = Path(__file__).parents[2]


def test_sqlite_urls_make_a_sqlite_storage(tmp_path: Path) -> None:
    settings = Settings.model_validate({"database_url": f"sqlite:///{tmp_path / 'a.db'}"})
    storage = make_storage(settings)
    assert isinstance(storage, SQLiteStorage)
    assert storage.path == tmp_path / "a.db"
    assert sqlite_path("sqlite:///data/attache.db") == Path("data/attache.db")
    assert sqlite_path("sqlite:////srv/attache.db") == Path("/srv/attache.db")


def test_every_accepted_scheme_has_a_backend() -> None:
    assert set(BACKENDS) == set(DATABASE_SCHEMES)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://bot@db/attache", "unsupported database 'postgresql'"),
        ("data/attache.db", "must be a URL"),
        ("sqlite://data/attache.db", "only sqlite:///"),
    ],
)
def test_a_bad_database_url_is_a_settings_error_naming_it(url: str, problem: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(database_url=url)
    assert f"DATABASE_URL: Value error, {problem}" in str(refused.value)


def test_the_factory_refuses_a_scheme_without_backend() -> None:
    # Settings built without validation (as a test or a future caller might).
    settings = Settings.model_construct(database_url="mysql://db/attache")
    with pytest.raises(SettingsError, match=r"^DATABASE_URL: no storage backend for 'mysql'"):
        make_storage(settings)


def test_db_option_becomes_a_database_url() -> None:
    assert database_url_for("a/b.db") == "sqlite:///a/b.db"
    assert database_url_for("/srv/attache.db") == "sqlite:////srv/attache.db"
    assert database_url_for("sqlite:///x.db") == "sqlite:///x.db"
    assert database_url_for("postgresql://db/attache") == "postgresql://db/attache"
    assert database_scheme("SQLite:///x.db") == "sqlite"
    assert database_scheme("C:\\data\\x.db") is None


def test_no_database_driver_outside_storage() -> None:
    driver = re.compile(r"^\s*(import|from)\s+(sqlite3|aiosqlite)\b", re.MULTILINE)
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("bot", "handlers")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if driver.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
