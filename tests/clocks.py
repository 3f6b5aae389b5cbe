"""Clocks for tests that run the bot on the system's time (OffsetClock): start them at a fixed hour of the day.

Notices wait out the quiet hours (private ones 21:00–08:00, group posts at night), and a day ends at midnight: a test
of what is sent at once passed by day and failed by night, and one running across midnight saw two days. Starting at
10:00 in the demo community's zone (the next 10:00, less than a day ahead) makes the hour of every run the same."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flows.clock import OffsetClock, local

ZONE = "Asia/Shanghai"
HOUR = time(10)


def at_daytime(clock: OffsetClock | None = None, *, tz: str = ZONE, at: time = HOUR) -> OffsetClock:
    """`clock` (a new one by default) moved forward to the next `at` in `tz`."""
    clock = clock or OffsetClock()
    now = local(clock.now(), tz)
    target = datetime.combine(now.date(), at, tzinfo=now.tzinfo)
    if target <= now:
        target += timedelta(days=1)
    clock.advance(seconds=(target - now).total_seconds())
    return clock
