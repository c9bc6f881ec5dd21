"""When a chat's next digest is due: pure functions over ``zoneinfo``, correct across DST.

A local wall time is turned into an instant with PEP 495 semantics: a time that does not exist
(the spring-forward gap) is read with the offset in force before the change, so "02:30" on the
night clocks jump from 02:00 to 03:00 fires at 03:30 local; a time that happens twice (the
fall-back overlap) fires at its first occurrence only. Hourly digests fire once per real hour,
at the chosen minute of the local clock.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from storage.models import DigestFrequency

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_HHMM = re.compile(r"^(\d{1,2})[:.h]?(\d{2})$")


class ScheduleError(ValueError):
    """A digest time or weekday the user typed is not valid."""


def parse_hhmm(text: str) -> str:
    """Normalise ``9:00``, ``0900``, ``21.30`` to ``HH:MM``; raise ScheduleError otherwise."""
    match = _HHMM.match(text.strip())
    if not match:
        raise ScheduleError("a time looks like 09:00 or 21:30")
    hours, minutes = int(match[1]), int(match[2])
    if hours > 23 or minutes > 59:
        raise ScheduleError("a time looks like 09:00 or 21:30 (hours 00-23, minutes 00-59)")
    return f"{hours:02d}:{minutes:02d}"


def _clock(hhmm: str) -> time:
    hours, minutes = parse_hhmm(hhmm).split(":")
    return time(int(hours), int(minutes))


def _instant(day: date, at: time, zone: tzinfo) -> datetime:
    """The UTC instant of a local wall time (fold=0: first occurrence, gap read as before)."""
    local = datetime.combine(day, at, tzinfo=zone)
    return local.astimezone(UTC)


def _next_hourly(now: datetime, minute: int, zone: tzinfo) -> datetime:
    # Walk real minutes: an offset change never hides a local minute for more than an hour.
    start = now.replace(second=0, microsecond=0)
    for step in range(1, 2 * 60 + 1):
        candidate = start + timedelta(minutes=step)
        if candidate.astimezone(zone).minute == minute:
            return candidate
    # Unreachable for real zones (an hour always holds the minute); keep the schedule alive.
    return start + timedelta(hours=1)


def next_digest_at(
    frequency: DigestFrequency,
    digest_time: str,
    weekday: int,
    tz_name: str,
    now: datetime,
) -> datetime | None:
    """The next digest instant (UTC) strictly after ``now``; None for ``off`` and ``instant``.

    ``digest_time`` is local ``HH:MM`` (hourly digests use only its minute); ``weekday`` is
    0 = Monday; ``now`` must be timezone-aware.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if frequency in ("off", "instant"):
        return None
    zone = ZoneInfo(tz_name)
    now = now.astimezone(UTC)
    at = _clock(digest_time)
    if frequency == "hourly":
        return _next_hourly(now, at.minute, zone)
    today = now.astimezone(zone).date()
    for days in range(8 + 1):
        day = today + timedelta(days=days)
        if frequency == "weekly" and day.weekday() != weekday % 7:
            continue
        candidate = _instant(day, at, zone)
        if candidate > now:
            return candidate
    raise AssertionError("a daily or weekly slot always exists within 9 days")


def local_text(instant: datetime, tz_name: str) -> str:
    """``Mon 04 Nov 2024, 09:00 (Europe/Minsk)`` for showing a next delivery time."""
    local = instant.astimezone(ZoneInfo(tz_name))
    return f"{local:%a %d %b %Y, %H:%M}"
