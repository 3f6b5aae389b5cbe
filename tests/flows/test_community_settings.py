"""A community's settings (/settings, `linli community settings`) against a real database: what is shown (own
value or default), parsing and ranges, the rules across settings, reset, who may, the audit of each change, and
that the features read what was written (check-in ladder minutes, quiet hours, request clocks)."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from sqlmodel import select

from flows import community_settings as cs
from flows import membership, quiet, requests
from flows.checkins import settings_of
from flows.clock import FixedClock
from flows.errors import Forbidden, Invalid, NotFound
from flows.roles import Role
from storage.db import Database
from storage.models import AuditEntry, Community
from tests.flows.people import actor_of, enrol


@pytest.fixture
async def cid(db: Database, clock: FixedClock) -> int:
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", now=clock.now(), buildings=["1"])
        await enrol(uow, community_id=community.id or 0, people={"admin": Role.ADMIN, "worker": Role.GRID_WORKER},
                    first_tg_id=700, now=clock.now())
        await uow.commit()
    return community.id or 0


async def _set(db: Database, clock: FixedClock, tg_id: int, key: str, text: str | None) -> cs.Value:
    actor = await actor_of(db, tg_id)
    async with db.uow() as uow:
        done = await cs.set_value(uow, actor=actor, key=key, text=text, now=clock.now())
        await uow.commit()
    return done


async def _community(db: Database, cid: int) -> Community:
    async with db.uow() as uow:
        return (await uow.session.exec(select(Community).where(Community.id == cid))).one()


async def test_defaults_then_own_values_are_read_by_the_features(db: Database, clock: FixedClock, cid: int) -> None:
    shown = {v.setting.key: v for v in cs.values(await _community(db, cid))}
    assert shown["checkin.remind_after"].value == 15 and not shown["checkin.remind_after"].own
    assert shown["clock.hazard.assess"].value == 2 and shown["quiet_from"].value == "21:00"

    assert (await _set(db, clock, 700, "checkin.remind_after", "20")).value == 20
    await _set(db, clock, 700, "checkin.morning", "8:15")
    await _set(db, clock, 700, "quiet_until", "08：00")  # a full-width colon, as Chinese keyboards type it
    await _set(db, clock, 700, "clock.hazard.assess", "1.5")
    community = await _community(db, cid)
    cfg = settings_of(community)
    assert cfg["remind_after"] == 20 and cfg["morning"] == "08:15"
    assert quiet.window(community) == (time(21, 0), time(8, 0))
    assert requests.clock_of(community, "hazard", "assess") == timedelta(hours=1.5)
    assert requests.clock_of(community, "hazard", "resolve") == timedelta(hours=24)  # untouched: the default
    shown = {v.setting.key: v for v in cs.values(community)}
    assert shown["checkin.morning"].own and shown["checkin.morning"].value == "08:15"

    # back to the default: the key is gone from the community's settings, empty parents too
    await _set(db, clock, 700, "clock.hazard.assess", None)
    community = await _community(db, cid)
    assert "request_clocks" not in (community.settings or {})
    assert requests.clock_of(community, "hazard", "assess") == timedelta(hours=2)
    await _set(db, clock, 700, "checkin.remind_after", "默认")
    assert settings_of(await _community(db, cid))["remind_after"] == 15

    async with db.uow() as uow:
        rows = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "settings.set")
                                       .order_by(AuditEntry.id))).all()
    assert [(r.details["key"], r.details["old"], r.details["new"]) for r in rows] == [
        ("checkin.remind_after", None, 20), ("checkin.morning", None, "08:15"), ("quiet_until", None, "08:00"),
        ("clock.hazard.assess", None, 1.5), ("clock.hazard.assess", 1.5, None), ("checkin.remind_after", 20, None)]


@pytest.mark.parametrize(("key", "text", "reason"), [
    ("checkin.morning", "25:00", "bad_time"), ("checkin.morning", "早上", "bad_time"),
    ("checkin.remind_after", "abc", "bad_number"), ("checkin.remind_after", "0", "range"),
    ("checkin.remind_after", "1441", "range"), ("clock.request.resolve", "-3", "range"),
    ("checkin.morning", "13:00", "order"),  # after the midday check (12:30)
    ("checkin.evening", "12:00", "order"),
    ("quiet_from", "07:30", "empty_quiet"),  # the same as the end: no quiet hours at all
])
async def test_bad_values_are_refused_and_nothing_is_written(db: Database, clock: FixedClock, cid: int, key: str,
                                                             text: str, reason: str) -> None:
    with pytest.raises(Invalid) as caught:
        await _set(db, clock, 700, key, text)
    assert caught.value.reason == reason
    assert (await _community(db, cid)).settings.get("checkin") is None
    assert "quiet_from" not in (await _community(db, cid)).settings


async def test_only_admins_and_only_known_settings(db: Database, clock: FixedClock, cid: int) -> None:
    with pytest.raises(Forbidden):
        await _set(db, clock, 701, "checkin.remind_after", "20")  # a grid worker
    with pytest.raises(NotFound):
        await _set(db, clock, 700, "checkin.anything", "20")
    assert (await _community(db, cid)).settings.get("checkin") is None


async def test_a_community_stays_its_own(db: Database, clock: FixedClock, cid: int) -> None:
    async with db.uow() as uow:
        other, _ = await membership.create_community(uow, name="别的社区", now=clock.now(), buildings=["9"])
        await uow.commit()
    await _set(db, clock, 700, "checkin.grace", "45")
    assert settings_of(await _community(db, other.id or 0))["grace"] == 30
    assert settings_of(await _community(db, cid))["grace"] == 45


async def test_the_command_line_shows_and_sets_settings(db: Database, db_url: str, clock: FixedClock,
                                                        cid: int) -> None:
    """`linli community settings SLUG [KEY=VALUE …]`: the table, a change audited via cli, a bad value refused
    with the setting named and nothing written."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    slug = (await _community(db, cid)).slug

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, LINLI_DATABASE_URL=db_url, LINLI_SECRET_KEY="settings-secret-0123456789abcdef01",
                   PYTHONPATH=str(root))
        return subprocess.run([sys.executable, "-m", "linli_cli", "community", "settings", slug, *args],
                              capture_output=True, text=True, env=env, cwd=root, timeout=120)

    shown = run()
    assert shown.returncode == 0, shown.stderr
    assert "checkin.remind_after\t15 min\tdefault" in shown.stdout and "quiet_from\t21:00\tdefault" in shown.stdout
    done = run("checkin.remind_after=25", "clock.request.resolve=72")
    assert done.returncode == 0, done.stderr
    assert "checkin.remind_after\t25 min\tset" in done.stdout and "clock.request.resolve\t72 h\tset" in done.stdout
    bad = run("checkin.morning=13:00")
    assert bad.returncode == 2 and "checkin.morning" in bad.stderr and "order" in bad.stderr
    assert settings_of(await _community(db, cid))["morning"] == "09:00"
    assert run("nothing.here=1").returncode == 2
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "settings.set"))).all()
    assert [(r.details["key"], r.details["via"]) for r in rows] == [("checkin.remind_after", "cli"),
                                                                    ("clock.request.resolve", "cli")]


async def test_visit_intervals_by_risk_colour(db: Database, clock: FixedClock, cid: int) -> None:
    """The visits' days per risk colour (#17) are set here too: whole days only, read by flows.visits."""
    from flows.visits.access import interval

    await _set(db, clock, 700, "visits.red", "3")
    with pytest.raises(Invalid) as caught:
        await _set(db, clock, 700, "visits.green", "2.5")
    assert caught.value.reason == "whole_days"
    community = await _community(db, cid)
    assert interval(community, "red") == timedelta(days=3) and interval(community, "green") == timedelta(days=30)


async def test_property_and_spaces_settings(db: Database, clock: FixedClock, cid: int) -> None:
    """The property evaluation's survey day, sample and fixing days (#15) and the loans' overdue reminders (#16)
    are set here too and read by their features; 0 is a valid sample (every household) and reminder count."""
    from flows.loans import overdue_limit
    from flows.property.rectify import fix_days

    await _set(db, clock, 700, "property_fix_days", "14")
    await _set(db, clock, 700, "property_survey_sample", "0")
    await _set(db, clock, 700, "overdue_reminders", "0")
    for key, text, reason in (("property_survey_day", "29", "range"), ("overdue_reminders", "1.5", "whole"),
                              ("overdue_reminders", "11", "range")):
        with pytest.raises(Invalid) as caught:
            await _set(db, clock, 700, key, text)
        assert caught.value.reason == reason
    community = await _community(db, cid)
    assert fix_days(community) == 14 and overdue_limit(community) == 0
    assert community.settings["property_survey_sample"] == 0
