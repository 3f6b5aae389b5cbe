"""Quiet hours: when the bot posts nothing that can wait, in a community's local time.

One rule for every feature: a time in the quiet hours is moved to their end (`after`). The hours are per
community (its settings `quiet_from` / `quiet_until`, "HH:MM"), with defaults the caller names — private notices
(flows/needs_loop.py) wait out 21:00–08:00, group posts (flows/announce.py) 21:00–07:30."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flows.clock import local
from storage.models import Community

#: Group posts: none between these local times unless urgent (F-11.4).
GROUP_FROM, GROUP_UNTIL = time(21, 0), time(7, 30)


def after(now: datetime, tz: str, *, start: time, until: time) -> datetime:
    """`now`, or the end of the quiet hours `start`–`until` (local time `tz`, across midnight) when `now` is in them."""
    here = local(now, tz)
    if until <= here.time() < start:
        return now
    day = here.date() if here.time() < until else here.date() + timedelta(days=1)
    return datetime.combine(day, until, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def _setting(community: Community, key: str, default: time) -> time:
    raw = (community.settings or {}).get(key)
    if not isinstance(raw, str):
        return default
    try:
        hour, minute = (int(x) for x in raw.split(":"))
        return time(hour, minute)
    except ValueError:
        return default


def window(community: Community) -> tuple[time, time]:
    """The community's quiet hours for group posts (settings quiet_from, quiet_until; default 21:00–07:30)."""
    return _setting(community, "quiet_from", GROUP_FROM), _setting(community, "quiet_until", GROUP_UNTIL)


def group_post_time(community: Community, at: datetime) -> datetime:
    """When a non-urgent group post due at `at` may go out."""
    start, until = window(community)
    return after(at, community.timezone, start=start, until=until)
