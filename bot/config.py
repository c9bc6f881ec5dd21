"""Settings: one frozen object read from the environment and an optional ``.env`` file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.urls import has_http_scheme

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_DATABASE_URL = "sqlite:///data/attache.db"
# DATABASE_URL schemes that have a storage backend (``bot.factory.make_storage``).
DATABASE_SCHEMES = ("sqlite",)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


class SettingsError(Exception):
    """A setting has a bad value; the message names the variable."""


def _parse_id_list(value: object) -> object:
    """Accept "1, 2 3" as well as a JSON-ish list."""
    if isinstance(value, str):
        parts = value.replace(",", " ").split()
        return [int(p) for p in parts]
    if isinstance(value, int):
        return [value]
    return value


class Settings(BaseSettings):
    """All configuration. Create with ``load_settings()``; never read os.environ elsewhere."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = DEFAULT_API_BASE_URL
    database_url: str = DEFAULT_DATABASE_URL
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    allowed_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    source_channel_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    default_timezone: str = "UTC"
    log_level: str = "INFO"
    fetch_allow_private: bool = False
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_secret: SecretStr | None = None
    max_subscriptions_per_chat: int = Field(default=50, ge=1, le=10_000)

    @field_validator("admin_ids", "allowed_user_ids", "source_channel_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        return _parse_id_list(value)

    @field_validator("default_timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Europe/Minsk)"
            ) from exc
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return upper

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        scheme = database_scheme(value)
        if scheme is None:
            raise ValueError("must be a URL such as sqlite:///data/attache.db")
        if scheme not in DATABASE_SCHEMES:
            raise ValueError(
                f"unsupported database {scheme!r}: the supported scheme is "
                + ", ".join(f"{s}://" for s in DATABASE_SCHEMES)
            )
        if scheme == "sqlite" and not value.startswith("sqlite:///"):
            raise ValueError(
                "only sqlite:///relative/path.db or sqlite:////abs/path.db is supported"
            )
        return value

    @field_validator("telegram_api_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not has_http_scheme(value):
            raise ValueError("must be an http(s) URL such as https://api.telegram.org/bot")
        return value

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admin_ids

    def may_ingest(self, user_id: int | None) -> bool:
        """Admins and explicitly allowed users may add articles through Telegram."""
        return user_id is not None and (
            user_id in self.admin_ids or user_id in self.allowed_user_ids
        )

    def may_use(self, user_id: int | None) -> bool:
        """An empty ALLOWED_USER_IDS lets everyone use the bot."""
        if not self.allowed_user_ids:
            return True
        return user_id is not None and (
            user_id in self.allowed_user_ids or user_id in self.admin_ids
        )


def database_scheme(url: str) -> str | None:
    """The scheme of a DATABASE_URL (``sqlite`` of ``sqlite:///a.db``), lower-case; None when
    the value is not a URL. ``bot.factory.make_storage`` picks the backend by it."""
    scheme, separator, _ = url.partition("://")
    if not separator or not _SCHEME.fullmatch(scheme):
        return None
    return scheme.lower()


def database_url_for(value: str) -> str:
    """The DATABASE_URL for a ``--db`` value: a URL as it is, anything else a SQLite file."""
    if database_scheme(value) is not None:
        return value
    return f"sqlite:///{Path(value)}"


def load_settings(**overrides: Any) -> Settings:
    """Read settings; turn validation errors into one readable SettingsError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "settings"
            problems.append(f"{name}: {err['msg']}")
        raise SettingsError("bad configuration: " + "; ".join(problems)) from None
