"""The sandbox's demo (#16): a micro space with a drill on loan (and a ladder free), an opening and a training with
a sign-up — and none of their past notices or group posts is sent as the sandbox starts."""

from __future__ import annotations

from sqlmodel import select

from bot.sandbox import seed_database
from flows.clock import FixedClock
from storage.db import Database
from storage.models import OutboxMessage
from storage.models_spaces import Job, Loan, Space, Tool, Training, TrainingSignup


async def test_the_demo_has_a_space_with_a_drill_on_loan_a_job_and_a_training(db: Database, clock: FixedClock) -> None:
    await seed_database(db, clock)
    async with db.uow() as uow:
        spaces = (await uow.session.exec(select(Space))).all()
        tools = {t.name: t.state for t in (await uow.session.exec(select(Tool))).all()}
        loans = (await uow.session.exec(select(Loan))).all()
        jobs = (await uow.session.exec(select(Job))).all()
        trainings = (await uow.session.exec(select(Training))).all()
        signups = (await uow.session.exec(select(TrainingSignup))).all()
        kinds = {(m.payload or {}).get("notice") for m in (await uow.session.exec(select(OutboxMessage))).all()}
    assert [s.name for s in spaces] == ["3号楼门岗微空间", "党群服务中心活动室"]
    assert tools == {"电钻": "out", "梯子": "in"}
    assert [(x.state, x.due_on > clock.now().date()) for x in loans] == [("out", True)]
    assert [j.title for j in jobs] == ["手工编织"] and [t.seats_taken for t in trainings] == [1] and len(signups) == 1
    assert not kinds & {"loan_requested", "loan_answered", "job_posted", "training_posted"}
