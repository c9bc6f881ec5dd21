"""Digest schedules in the chat's zone, across DST changes (no sleeping: ``now`` is passed in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.chats.schedule import ScheduleError, local_text, next_digest_at, parse_hhmm

BERLIN = "Europe/Berlin"  # CET/CEST: 2024-03-31 02:00 -> 03:00, 2024-10-27 03:00 -> 02:00


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_daily_later_today_in_the_chats_zone() -> None:
    # 05:00 UTC is 08:00 in Minsk (UTC+3 all year): 09:00 local is still ahead today.
    got = next_digest_at("daily", "09:00", 0, "Europe/Minsk", utc(2024, 11, 4, 5, 0))
    assert got == utc(2024, 11, 4, 6, 0)


def test_daily_already_passed_moves_to_tomorrow() -> None:
    got = next_digest_at("daily", "09:00", 0, "Europe/Minsk", utc(2024, 11, 4, 6, 0))
    assert got == utc(2024, 11, 5, 6, 0)  # exactly at the slot: strictly after now


def test_daily_result_is_utc_and_aware() -> None:
    got = next_digest_at("daily", "09:00", 0, "America/New_York", utc(2024, 6, 1, 0, 0))
    assert got is not None and got.tzinfo is UTC
    assert got.astimezone(ZoneInfo("America/New_York")).hour == 9


def test_spring_forward_gap_fires_once_after_the_gap() -> None:
    # 02:30 does not exist in Berlin on 2024-03-31; it is read with the winter offset (+1),
    # i.e. 01:30 UTC = 03:30 CEST: the digest still comes that night, once.
    got = next_digest_at("daily", "02:30", 0, BERLIN, utc(2024, 3, 30, 23, 0))
    assert got == utc(2024, 3, 31, 1, 30)
    assert got.astimezone(ZoneInfo(BERLIN)).strftime("%H:%M") == "03:30"
    following = next_digest_at("daily", "02:30", 0, BERLIN, got)
    assert following == utc(2024, 4, 1, 0, 30)  # back to 02:30 local, now CEST (+2)


def test_fall_back_overlap_fires_at_first_occurrence_only() -> None:
    # 02:30 happens twice in Berlin on 2024-10-27: 00:30 UTC (CEST) and 01:30 UTC (CET).
    got = next_digest_at("daily", "02:30", 0, BERLIN, utc(2024, 10, 26, 22, 0))
    assert got == utc(2024, 10, 27, 0, 30)
    following = next_digest_at("daily", "02:30", 0, BERLIN, got)
    assert following == utc(2024, 10, 28, 1, 30)  # not the repeated 02:30 an hour later


def test_daily_keeps_local_time_across_the_change() -> None:
    before = next_digest_at("daily", "09:00", 0, BERLIN, utc(2024, 3, 30, 12, 0))
    after = next_digest_at("daily", "09:00", 0, BERLIN, before or utc(2000, 1, 1))
    assert before == utc(2024, 3, 31, 7, 0)  # 09:00 CEST
    assert after == utc(2024, 4, 1, 7, 0)
    assert before is not None and after - before == timedelta(hours=24)
    # the day before the change the same local time was 08:00 UTC: 23 real hours between
    saturday = next_digest_at("daily", "09:00", 0, BERLIN, utc(2024, 3, 29, 12, 0))
    assert saturday == utc(2024, 3, 30, 8, 0)


def test_weekly_picks_the_weekday() -> None:
    # 2024-11-04 is a Monday; Friday = 4.
    got = next_digest_at("weekly", "18:00", 4, "Europe/Minsk", utc(2024, 11, 4, 12, 0))
    assert got == utc(2024, 11, 8, 15, 0)
    same_day_passed = next_digest_at("weekly", "09:00", 0, "UTC", utc(2024, 11, 4, 10, 0))
    assert same_day_passed == utc(2024, 11, 11, 9, 0)


def test_weekly_across_fall_back_keeps_local_time() -> None:
    # Sundays around the change in Berlin: 2024-10-20 (CEST) and 2024-10-27 (CET from 03:00).
    first = next_digest_at("weekly", "10:00", 6, BERLIN, utc(2024, 10, 19, 0, 0))
    second = next_digest_at("weekly", "10:00", 6, BERLIN, first or utc(2000, 1, 1))
    assert first == utc(2024, 10, 20, 8, 0)
    assert second == utc(2024, 10, 27, 9, 0)


def test_hourly_at_the_local_minute() -> None:
    got = next_digest_at("hourly", "09:15", 0, "UTC", utc(2024, 11, 4, 10, 20))
    assert got == utc(2024, 11, 4, 11, 15)
    # Kathmandu is UTC+05:45: local minute 00 is UTC minute 15.
    nepal = next_digest_at("hourly", "00:00", 0, "Asia/Kathmandu", utc(2024, 11, 4, 10, 20))
    assert nepal == utc(2024, 11, 5 - 1, 11, 15)


def test_hourly_across_spring_forward_is_one_real_hour() -> None:
    # Berlin 01:30 CET = 00:30 UTC; the next local :00 is 03:00 CEST = 01:00 UTC.
    got = next_digest_at("hourly", "00:00", 0, BERLIN, utc(2024, 3, 31, 0, 30))
    assert got == utc(2024, 3, 31, 1, 0)


def test_hourly_across_fall_back_fires_in_both_repeated_hours() -> None:
    first = next_digest_at("hourly", "00:00", 0, BERLIN, utc(2024, 10, 27, 0, 30))
    second = next_digest_at("hourly", "00:00", 0, BERLIN, first or utc(2000, 1, 1))
    assert (first, second) == (utc(2024, 10, 27, 1, 0), utc(2024, 10, 27, 2, 0))


def test_off_and_instant_have_no_schedule() -> None:
    assert next_digest_at("off", "09:00", 0, "UTC", utc(2024, 1, 1)) is None
    assert next_digest_at("instant", "09:00", 0, "UTC", utc(2024, 1, 1)) is None


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_digest_at("daily", "09:00", 0, "UTC", datetime(2024, 1, 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("9:00", "09:00"), ("0730", "07:30"), ("21.45", "21:45"), (" 23:59 ", "23:59")],
)
def test_parse_hhmm_accepts(text: str, expected: str) -> None:
    assert parse_hhmm(text) == expected


@pytest.mark.parametrize("text", ["24:00", "12:60", "noon", "", "1:2", "99999"])
def test_parse_hhmm_refuses_with_a_hint(text: str) -> None:
    with pytest.raises(ScheduleError, match="09:00"):
        parse_hhmm(text)


def test_local_text_shows_the_zone_time() -> None:
    assert local_text(utc(2024, 11, 4, 6, 0), "Europe/Minsk") == "Mon 04 Nov 2024, 09:00"
