"""Parse what a user types after ``/timezone`` into a zone name that ``zoneinfo`` can load.

Accepted: IANA names in any letter case (``europe/minsk``), city names (``Minsk``,
``New York``, ``Kyiv``), and UTC offsets (``UTC+3``, ``GMT-5``, ``+03:00``, ``UTC+5:30``).
Whole-hour offsets become ``Etc/GMT∓N`` (POSIX inverts the sign there); the few half- and
quarter-hour offsets that a zone without daylight saving uses map to that zone. Anything else
raises ``TimezoneError`` whose message carries examples.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

EXAMPLES = "Europe/Minsk, Minsk, New York, UTC+3, +05:30"
_REGIONS = (
    "Africa/",
    "America/",
    "Antarctica/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
)
# Cities people name that the zone database spells differently or files under another city.
_CITY_ALIASES = {
    "kiev": "Europe/Kyiv",
    "kyiv": "Europe/Kyiv",
    "washington": "America/New_York",
    "san francisco": "America/Los_Angeles",
    "beijing": "Asia/Shanghai",
    "delhi": "Asia/Kolkata",
    "new delhi": "Asia/Kolkata",
    "mumbai": "Asia/Kolkata",
    "calcutta": "Asia/Kolkata",
    "astana": "Asia/Almaty",
    "geneva": "Europe/Zurich",
    "brussels": "Europe/Brussels",
    "the hague": "Europe/Amsterdam",
    "hanoi": "Asia/Bangkok",
    "saigon": "Asia/Ho_Chi_Minh",
    "ho chi minh city": "Asia/Ho_Chi_Minh",
    "rangoon": "Asia/Yangon",
    "utc": "UTC",
    "gmt": "UTC",
    "z": "UTC",
}
# Offsets that are not whole hours, each observed all year by one zone without daylight saving.
_FRACTIONAL_OFFSETS = {
    (+1, 3, 30): "Asia/Tehran",
    (+1, 4, 30): "Asia/Kabul",
    (+1, 5, 30): "Asia/Kolkata",
    (+1, 5, 45): "Asia/Kathmandu",
    (+1, 6, 30): "Asia/Yangon",
    (+1, 8, 45): "Australia/Eucla",
    (+1, 9, 30): "Australia/Darwin",
    (-1, 9, 30): "Pacific/Marquesas",
}
_OFFSET = re.compile(
    r"^(?:utc|gmt)?\s*(?P<sign>[+\-−])\s*(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?$"
)
MAX_INPUT = 64


class TimezoneError(ValueError):
    """The text names no time zone we know; the message says what to type instead."""


@cache
def _tables() -> tuple[dict[str, str], dict[str, str]]:
    """(lower-case IANA name -> name, lower-case city -> name), built once."""
    names = sorted(available_timezones())
    by_name = {n.lower(): n for n in names}
    by_city: dict[str, str] = {}
    for name in names:
        if name.startswith(_REGIONS):
            city = name.rsplit("/", 1)[1].replace("_", " ").lower()
            by_city.setdefault(city, name)
    by_city.update(_CITY_ALIASES)
    return by_name, by_city


def _loadable(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _from_offset(match: re.Match[str]) -> str:
    sign = -1 if match["sign"] in "-−" else 1
    hours = int(match["hours"])
    minutes = int(match["minutes"] or 0)
    if minutes == 0:
        if hours == 0:
            return "UTC"
        if (sign > 0 and hours <= 14) or (sign < 0 and hours <= 12):
            # POSIX-style names invert the sign: UTC+3 is Etc/GMT-3.
            return f"Etc/GMT{'-' if sign > 0 else '+'}{hours}"
    zone = _FRACTIONAL_OFFSETS.get((sign, hours, minutes))
    if zone is None:
        raise TimezoneError(
            f"no time zone has the offset UTC{'+' if sign > 0 else '-'}{hours:02d}:{minutes:02d}"
            f" all year. Try a city or a zone name, e.g. {EXAMPLES}"
        )
    return zone


def parse_timezone(text: str) -> str:
    """Return the zone name for ``text``; raise TimezoneError with examples if there is none."""
    # Zero-width and bidi characters come along when a zone is copied from a web page.
    visible = "".join(char for char in text if unicodedata.category(char) != "Cf")
    cleaned = " ".join(visible.split())
    if not cleaned:
        raise TimezoneError(f"name a time zone, e.g. {EXAMPLES}")
    if len(cleaned) > MAX_INPUT:
        raise TimezoneError(f"that is too long for a time zone. Examples: {EXAMPLES}")
    lowered = cleaned.lower()
    by_name, by_city = _tables()
    if lowered in by_name and _loadable(by_name[lowered]):
        return by_name[lowered]
    underscored = lowered.replace(" ", "_")
    if underscored in by_name and _loadable(by_name[underscored]):
        return by_name[underscored]
    if lowered in by_city:
        return by_city[lowered]
    match = _OFFSET.match(lowered.replace(" ", ""))
    if match:
        return _from_offset(match)
    raise TimezoneError(f"unknown time zone. Examples: {EXAMPLES}")


def describe_zone(name: str) -> str:
    """A readable zone label: ``Europe/Minsk`` stays, ``Etc/GMT-3`` becomes ``UTC+3``."""
    if name.startswith("Etc/GMT") and len(name) > len("Etc/GMT"):
        offset = name[len("Etc/GMT") :]
        flipped = ("-" if offset[0] == "+" else "+") + offset[1:]
        return f"UTC{flipped}"
    return name
