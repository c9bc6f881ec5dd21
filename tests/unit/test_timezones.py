"""``/timezone`` parsing: IANA names, cities, UTC offsets, and helpful refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.chats.timezones import TimezoneError, describe_zone, parse_timezone


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("Europe/Minsk", "Europe/Minsk"),
        ("europe/minsk", "Europe/Minsk"),
        ("  EUROPE/MINSK ", "Europe/Minsk"),
        ("america/new york", "America/New_York"),
        ("Minsk", "Europe/Minsk"),
        ("minsk", "Europe/Minsk"),
        ("New York", "America/New_York"),
        ("Kyiv", "Europe/Kyiv"),
        ("Kiev", "Europe/Kyiv"),
        ("Beijing", "Asia/Shanghai"),
        ("Astana", "Asia/Almaty"),
        ("UTC", "UTC"),
        ("gmt", "GMT"),
    ],
)
def test_names_and_cities(text: str, zone: str) -> None:
    assert parse_timezone(text) == zone


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("UTC+3", "Etc/GMT-3"),
        ("utc+03:00", "Etc/GMT-3"),
        ("+03:00", "Etc/GMT-3"),
        ("GMT-5", "Etc/GMT+5"),
        ("UTC -5", "Etc/GMT+5"),
        ("UTC+0", "UTC"),
        ("UTC+14", "Etc/GMT-14"),
        ("UTC-12", "Etc/GMT+12"),
        ("+05:30", "Asia/Kolkata"),
        ("UTC+5:45", "Asia/Kathmandu"),
    ],
)
def test_offsets(text: str, zone: str) -> None:
    got = parse_timezone(text)
    assert got == zone
    ZoneInfo(got)  # loadable


def test_offset_zone_has_the_offset_asked_for() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    for text, hours in (("UTC+3", 3), ("UTC-5", -5)):
        offset = now.astimezone(ZoneInfo(parse_timezone(text))).utcoffset()
        assert offset is not None and offset.total_seconds() == hours * 3600


@pytest.mark.parametrize(
    "text", ["", "Atlantis", "UTC+15", "UTC-13", "+02:30", "x" * 500, "../../etc/passwd", "Europe/"]
)
def test_bad_values_get_examples(text: str) -> None:
    with pytest.raises(TimezoneError) as caught:
        parse_timezone(text)
    assert "Europe/Minsk" in str(caught.value)


def test_describe_zone() -> None:
    assert describe_zone("Etc/GMT-3") == "UTC+3"
    assert describe_zone("Etc/GMT+5") == "UTC-5"
    assert describe_zone("Europe/Minsk") == "Europe/Minsk"
