"""The one notion of "now": a ``Clock`` is a callable returning an aware UTC ``datetime``.

Use-cases take a clock instead of reading the system time, so tests (and the acceptance test's
simulated days) can move time, and storage never reads the clock itself: callers pass ``now``.
A *clock* is the callable; *now* is the moment it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The system clock, in UTC."""
    return datetime.now(UTC)
