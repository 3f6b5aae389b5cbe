"""Whatever people type into the progress list's dialogs — a percent, a date, an amount, a note, a title, a
reason — the bot answers with valid Telegram HTML of legal length, never the internal-error text, and stores only
what keeps the limits; the parsers accept exactly the documented forms."""

from __future__ import annotations

import asyncio
import itertools
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from bot.core.dispatch import Core
from bot.core.types import ChatRef, MessageEvent, UserRef
from bot.handlers import FALLBACKS, build_router, report_error
from flows import conversation, membership, projects
from flows.clock import FixedClock
from flows.conversation import State
from flows.errors import Invalid
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Project, ProjectMilestone, ProjectReport, User
from tests.bot.test_properties import NOW, SECRET, _check

ADMIN = 1
_ids = itertools.count(40_000)
free_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=600)


# ---------------------------------------------------------------- the parsers


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_percent_accepts_exactly_0_to_100(n: int) -> None:
    for text in (str(n), f"{n}%", f" {n} ％"):
        if 0 <= n <= 100:
            assert projects.parse_percent(text) == n
        else:
            with pytest.raises(Invalid):
                projects.parse_percent(text)


@given(st.text(max_size=30))
def test_any_percent_text_is_a_percent_or_refused(text: str) -> None:
    try:
        value = projects.parse_percent(text)
    except Invalid as err:
        assert err.field == "percent"
        return
    assert 0 <= value <= 100


@given(st.dates(min_value=date(1000, 1, 1)))
def test_dates_round_trip(day: date) -> None:
    assert projects.parse_day("deadline", day.isoformat()) == day
    assert projects.parse_day("deadline", f"{day.year}年{day.month}月{day.day}日") == day


@given(st.text(max_size=30))
def test_any_date_text_is_a_date_or_refused(text: str) -> None:
    try:
        projects.parse_day("due_on", text)
    except Invalid as err:
        assert (err.field, err.reason) == ("due_on", "format")


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_amounts_in_yuan_and_wan(n: int) -> None:
    if 0 <= n <= projects.MAX_BUDGET:
        assert projects.parse_amount(str(n)) == n
        assert projects.parse_amount(f"{n:,}元") == n
    else:
        with pytest.raises(Invalid):
            projects.parse_amount(str(n))
    wan = n // 10_000
    if 0 <= wan * 10_000 <= projects.MAX_BUDGET:
        assert projects.parse_amount(f"{wan}万") == wan * 10_000


@given(st.text(max_size=40))
def test_any_amount_text_is_an_amount_or_refused(text: str) -> None:
    try:
        value = projects.parse_amount(text)
    except Invalid as err:
        assert err.field == "budget"
        return
    assert 0 <= value <= projects.MAX_BUDGET


@given(free_text)
def test_notes_keep_the_limit(text: str) -> None:
    try:
        note = projects.clean("note", text, allow_empty=True)
    except Invalid as err:
        assert (err.field, err.reason) == ("note", "too_long")
        return
    assert len(note) <= 500 and note == note.strip()


# ---------------------------------------------------------------- the dialogs


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{Path(tmp_path_factory.mktemp('projprop')) / 'p.db'}"
    upgrade(url)

    async def seed() -> None:
        db = Database(url)
        async with db.uow() as uow:
            community, invite = await membership.create_community(uow, name="北辰示范社区", now=NOW, buildings=["1"])
            user = await membership.touch_user(uow, tg_id=ADMIN, first_name="王书记", last_name=None, username=None,
                                               tg_language="zh-hans", now=NOW)
            done = await membership.register(uow, user=user, community_id=community.id, building_id=None, now=NOW,
                                             invite_code=invite.code)
            project = Project(community_id=community.id or 0, year=2027, number=1, title="楼道照明改造",
                              category="facility", created_at=NOW - timedelta(days=30),
                              owner_member_id=done.member.id)
            uow.session.add(project)
            await uow.flush()
            uow.session.add(ProjectMilestone(project_id=project.id or 0, position=1, title="方案公示",
                                             due_on=date(2027, 4, 1)))
            await uow.commit()
        await db.dispose()

    asyncio.run(seed())
    return url


def _event(text: str) -> MessageEvent:
    return MessageEvent(update_id=next(_ids), chat=ChatRef(id=ADMIN, type="private"),
                        user=UserRef(id=ADMIN, first_name="王书记", language_code="zh-hans"), message_id=1, text=text)


async def _run(url: str, state: State, text: str) -> list:
    db = Database(url)
    try:
        async with db.uow() as uow:
            project = (await uow.session.exec(select(Project))).one()
            milestone = (await uow.session.exec(select(ProjectMilestone))).one()
            milestone.done_on = None  # a tick may have happened: open it again for the next example
            uow.session.add(milestone)
            data = {**state.data, "id": project.id, "ms": milestone.id}
            await conversation.put(uow, chat_id=ADMIN, user_id=ADMIN, state=State(state.flow, state.step, data),
                                   now=NOW)
            assert (await uow.session.exec(select(User))).first() is not None
            await uow.commit()
        core = Core(db=db, clock=FixedClock(NOW), secret=SECRET, router=build_router(), errors=report_error,
                    fallbacks=FALLBACKS)
        replies = await core.handle(_event(text))
        async with db.uow() as uow:
            project = (await uow.session.exec(select(Project))).one()
            assert 0 <= project.percent <= 100
            assert project.budget_yuan is None or 0 <= project.budget_yuan <= projects.MAX_BUDGET
            assert project.deadline is None or project.deadline >= NOW.date()
            assert len(project.funding or "") <= 30 and len(project.override_reason or "") <= 200
            for m in (await uow.session.exec(select(ProjectMilestone))).all():
                assert 0 < len(m.title) <= 40 and (m.done_on is None or m.done_on <= date(2027, 3, 1))
            for r in (await uow.session.exec(select(ProjectReport))).all():
                assert 0 <= r.percent <= 100 and len(r.note) <= 500
        return replies
    finally:
        await db.dispose()


ADMIN_STEPS = ["owner", "deadline", "ms_title", "ms_date", "tick", "budget", "funding", "reason", "nonsense"]
OWNER_STEPS = ["percent", "note", "photos", "before", "after", "tick", "confirm"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(step=st.sampled_from(ADMIN_STEPS), text=free_text)
def test_any_text_at_any_step_of_project(seeded: str, step: str, text: str) -> None:
    state = State("project_admin", step, {"title": "方案公示", "colour": "red"})
    _check(asyncio.run(_run(seeded, state, text)))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(step=st.sampled_from(OWNER_STEPS), text=free_text)
def test_any_text_at_any_step_of_progress(seeded: str, step: str, text: str) -> None:
    state = State("project_progress", step, {"percent": 40, "note": "", "photos": []})
    _check(asyncio.run(_run(seeded, state, text)))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(percent=st.integers(min_value=-1000, max_value=1000) | st.from_regex(r"\d{1,4}%?", fullmatch=True))
def test_typed_percents(seeded: str, percent: object) -> None:
    text = str(percent)
    replies = asyncio.run(_run(seeded, State("project_progress", "percent", {}), text))
    _check(replies)

    async def step() -> State | None:
        db = Database(seeded)
        try:
            async with db.uow() as uow:
                return await conversation.get(uow, chat_id=ADMIN, user_id=ADMIN, now=NOW)
        finally:
            await db.dispose()

    state = asyncio.run(step())
    assert state is not None
    number = int(text.rstrip("%"))
    if text.isascii() and not text.startswith("-") and 0 <= number <= 100:
        assert (state.step, state.data["percent"]) == ("note", number)
    else:
        assert state.step == "percent" and "percent" not in state.data  # refused: nothing changed
