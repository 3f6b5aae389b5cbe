"""The colour rule of the project board, table-driven: every boundary, and time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from flows.projects import STALE_AFTER, Colour, Facts, colour

SH = "Asia/Shanghai"  # UTC+8, no daylight saving
NOW = datetime(2027, 5, 10, 4, 0, tzinfo=UTC)  # 12:00 on 10 May in Shanghai
START = datetime(2027, 4, 20, 2, 0, tzinfo=UTC)
TODAY = date(2027, 5, 10)
DAY = timedelta(days=1)

CASES = [
    # (name, facts, colour, reasons)
    ("fresh project", Facts(started_at=START), Colour.YELLOW, ()),
    ("complete with an after photo", Facts(started_at=START, completed=True, after_photos=1), Colour.GREEN, ("done",)),
    ("complete without an after photo", Facts(started_at=START, completed=True), Colour.YELLOW,
     ("after_photo_missing",)),
    ("complete although the deadline passed", Facts(started_at=START, deadline=TODAY - DAY, completed=True,
                                                    after_photos=2), Colour.GREEN, ("done",)),
    ("milestone due today", Facts(started_at=START, milestones=[(TODAY, None)]), Colour.YELLOW, ()),
    ("milestone due yesterday", Facts(started_at=START, milestones=[(TODAY - DAY, None)]), Colour.RED,
     ("milestone_overdue",)),
    ("milestone due yesterday, done", Facts(started_at=START, milestones=[(TODAY - DAY, TODAY - DAY)]),
     Colour.YELLOW, ()),
    ("milestone done late still counts as done", Facts(started_at=START, milestones=[(TODAY - 5 * DAY, TODAY)]),
     Colour.YELLOW, ()),
    ("deadline today", Facts(started_at=START, deadline=TODAY), Colour.YELLOW, ()),
    ("deadline yesterday", Facts(started_at=START, deadline=TODAY - DAY), Colour.RED, ("deadline_passed",)),
    ("report exactly 35 days ago", Facts(started_at=NOW - 60 * DAY, last_report_at=NOW - STALE_AFTER),
     Colour.YELLOW, ()),
    ("report 35 days and a second ago", Facts(started_at=NOW - 60 * DAY,
                                              last_report_at=NOW - STALE_AFTER - timedelta(seconds=1)),
     Colour.RED, ("no_report",)),
    ("never reported, started 36 days ago", Facts(started_at=NOW - 36 * DAY), Colour.RED, ("no_report",)),
    ("never reported, started 35 days ago", Facts(started_at=NOW - 35 * DAY), Colour.YELLOW, ()),
    ("everything overdue", Facts(started_at=NOW - 90 * DAY, deadline=TODAY - DAY,
                                 milestones=[(TODAY - DAY, None), (TODAY - 2 * DAY, None), (TODAY + DAY, None)]),
     Colour.RED, ("milestone_overdue", "deadline_passed", "no_report")),
    ("override wins over red", Facts(started_at=START, deadline=TODAY - DAY, override=Colour.YELLOW),
     Colour.YELLOW, ("override",)),
    ("override wins over green", Facts(started_at=START, completed=True, after_photos=1, override=Colour.RED),
     Colour.RED, ("override",)),
]


@pytest.mark.parametrize(("name", "facts", "expected", "reasons"), CASES, ids=[c[0] for c in CASES])
def test_colour_rule(name: str, facts: Facts, expected: Colour, reasons: tuple[str, ...]) -> None:
    verdict = colour(facts, now=NOW, timezone=SH)
    assert verdict.colour is expected, name
    assert verdict.reasons == reasons


def test_counts_overdue_milestones_and_quiet_days() -> None:
    facts = Facts(started_at=NOW - 40 * DAY, milestones=[(TODAY - DAY, None), (TODAY - 3 * DAY, None),
                                                        (TODAY - 3 * DAY, TODAY), (TODAY + DAY, None)])
    verdict = colour(facts, now=NOW, timezone=SH)
    assert verdict.overdue_milestones == 2
    assert verdict.days_without_report == 40


@pytest.mark.parametrize(("utc_time", "timezone", "expected"), [
    # a milestone due on 9 May: overdue from local midnight of 10 May, whatever UTC says
    (datetime(2027, 5, 9, 15, 59, tzinfo=UTC), SH, Colour.YELLOW),  # 23:59 on 9 May in Shanghai
    (datetime(2027, 5, 9, 16, 0, tzinfo=UTC), SH, Colour.RED),  # 00:00 on 10 May in Shanghai
    (datetime(2027, 5, 9, 23, 59, tzinfo=UTC), "UTC", Colour.YELLOW),
    (datetime(2027, 5, 10, 0, 0, tzinfo=UTC), "UTC", Colour.RED),
    (datetime(2027, 5, 10, 3, 59, tzinfo=UTC), "America/New_York", Colour.YELLOW),  # 23:59 on 9 May (EDT)
    (datetime(2027, 5, 10, 4, 0, tzinfo=UTC), "America/New_York", Colour.RED),
])
def test_local_date_decides(utc_time: datetime, timezone: str, expected: Colour) -> None:
    facts = Facts(started_at=utc_time - DAY, milestones=[(date(2027, 5, 9), None)])
    assert colour(facts, now=utc_time, timezone=timezone).colour is expected


def test_the_staleness_limit_is_a_setting() -> None:
    facts = Facts(started_at=NOW - 20 * DAY)
    assert colour(facts, now=NOW, timezone=SH).colour is Colour.YELLOW
    assert colour(facts, now=NOW, timezone=SH, stale_after=timedelta(days=14)).colour is Colour.RED
