"""The sandbox's demo community with a year under way, for the public board's tests: the demo's people, groups,
needs and care ledger (bot.sandbox.seed_database), then ten projects (owners, milestones, progress notes,
before/after pictures, 👍 and ⭐), check-ins and incidents — written as rows, as the bot would have left them."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from PIL import Image
from sqlmodel import select

from bot.sandbox import KEY_PERSONS, PEOPLE, seed_database
from flows.clock import FixedClock
from storage.crypto import Sealer
from storage.db import Database
from storage.models import (
    CheckinPrompt,
    Community,
    Incident,
    KeyPerson,
    Member,
    Project,
    ProjectLike,
    ProjectMilestone,
    ProjectPhoto,
    ProjectRating,
    ProjectReport,
    User,
)

NOW = datetime(2027, 6, 15, 2, 0, tzinfo=UTC)  # 10:00 in Tianjin
YEAR = 2027
SECRET = b"w" * 32
TITLES = ["楼道照明改造", "老年助餐点", "停车位挖潜增设", "中心花园绿化提升", "单元门禁维修", "垃圾分类站点改造",
          "电动车充电桩", "老年活动室", "四点半课堂", "监控补盲"]
CONTACTS = ["13800001111", "13900002222", "13700003333"]


def jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (1600, 1200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", quality=90)
    return out.getvalue()


@dataclass
class Demo:
    slug: str
    community_id: int
    #: media id (file_unique_id) → file id of every public picture
    pictures: dict[str, str] = field(default_factory=dict)
    #: what must never appear on a public page
    secrets: list[str] = field(default_factory=list)


async def seed(db: Database) -> Demo:
    clock = FixedClock(NOW - timedelta(days=160))
    sealer = Sealer(SECRET)
    await seed_database(db, clock, sealer)
    async with db.uow(write=True) as uow:
        community = (await uow.session.exec(select(Community).where(Community.slug == "beichen-demo"))).one()
        cid = community.id or 0
        members = {u.tg_id: m.id or 0 for m, u in (await uow.session.exec(
            select(Member, User).join(User, User.id == Member.user_id).where(Member.community_id == cid))).all()}
        persons = (await uow.session.exec(select(KeyPerson).where(KeyPerson.community_id == cid))).all()
        for person, contact in zip(persons, CONTACTS, strict=False):  # the demo has no contacts: give them some
            person.contact_enc = sealer.seal(contact)
            uow.session.add(person)
        demo = Demo(slug=community.slug, community_id=cid)
        made = NOW - timedelta(days=150)
        owners = [members[10002], members[10001], members[10005], members[10003], members[10006]]
        for n, title in enumerate(TITLES, start=1):
            done = n in (1, 4)
            p = Project(community_id=cid, year=YEAR, number=n, title=title, category="facility", created_at=made,
                        owner_member_id=owners[n % len(owners)], percent=100 if done else n * 8,
                        deadline=date(YEAR, 12, 31), budget_yuan=120000 if n == 1 else None,
                        funding="finance" if n == 1 else None,
                        last_report_at=NOW - timedelta(days=50 if n == 3 else 5),
                        completed_at=NOW - timedelta(days=3) if done else None)
            uow.session.add(p)
            await uow.session.flush()
            pid = p.id or 0
            uow.session.add(ProjectMilestone(project_id=pid, position=1, title="方案公示", due_on=date(YEAR, 3, 1),
                                             done_on=date(YEAR, 2, 27)))
            uow.session.add(ProjectMilestone(project_id=pid, position=2, title="施工完成",
                                             due_on=date(YEAR, 6, 1) if n == 5 else date(YEAR, 9, 30)))
            report = ProjectReport(project_id=pid, member_id=owners[n % len(owners)], percent=p.percent,
                                   note="已完成材料采购，下周进场施工 🚧", created_at=NOW - timedelta(days=5))
            uow.session.add(report)
            await uow.session.flush()
            kinds = [("progress", report.id)] + ([("before", None), ("after", None)] if done else [])
            for k, (kind, report_id) in enumerate(kinds):
                unique = f"AQADdemo{pid}{kind}"
                file_id = f"AgACAgQAAxdemo-{pid}-{k}"
                uow.session.add(ProjectPhoto(project_id=pid, report_id=report_id, kind=kind, file_id=file_id,
                                             file_unique_id=unique, member_id=owners[0], created_at=NOW))
                demo.pictures[unique] = file_id
            if done:
                for tg, stars in ((10006, 5), (10008, 4)):
                    uow.session.add(ProjectLike(project_id=pid, member_id=members[tg], created_at=NOW))
                    uow.session.add(ProjectRating(project_id=pid, member_id=members[tg], stars=stars,
                                                  comment="赵阿姨说很好", updated_at=NOW))
        # a month of check-ins: most answered at once, some after a reminder, a few missed; two incidents
        for day in range(30):
            local_date = (NOW.date() - timedelta(days=30 - day)).isoformat()
            for i, person in enumerate(persons):
                status = "missed" if (day + i) % 11 == 0 else "answered"
                stage = 1 if (day + i) % 7 == 0 else 0
                uow.session.add(CheckinPrompt(
                    community_id=cid, person_id=person.id or 0, local_date=local_date, slot="morning",
                    due_at=NOW - timedelta(days=30 - day), status=status, stage=stage,
                    answer="ok" if status == "answered" else None, created_at=NOW))
        for person, outcome in zip(persons, ("safe", "hospital", None), strict=False):
            uow.session.add(Incident(community_id=cid, person_id=person.id or 0, reason="no_answer",
                                     status="closed" if outcome else "open", outcome=outcome,
                                     note_enc=sealer.seal("送医，家属已到"), opened_at=NOW - timedelta(days=10),
                                     closed_at=NOW - timedelta(days=9) if outcome else None))
        # the demo's requests (bot/sandbox.py seeds one in every state): their texts are never public
        from storage.models_requests import Request

        # and three solved this year (R-2027-0101 … 0103), one more being handled
        for number, (kind, category, state, org) in enumerate((
                ("request", "repair", "confirmed", "property"), ("hazard", "fire", "confirmed", "rc"),
                ("dispute", "neighbour", "closed_default", "rc"), ("request", "noise", "accepted", "property")),
                start=101):
            uow.session.add(Request(
                community_id=cid, year=YEAR, number=number, kind=kind, category=category, state=state,
                organisation=org, text=f"2-401 李秀兰家楼上漏水，电话{CONTACTS[0]}", reporter_member_id=members[10006],
                photos=["AgACrequestphoto"], created_at=NOW - timedelta(days=120 - number),
                updated_at=NOW - timedelta(days=110 - number),
                closed_at=NOW - timedelta(days=110 - number) if state != "accepted" else None))
        await uow.session.flush()
        request_texts = [r.text for r in (await uow.session.exec(select(Request))).all() if r.text]
        await uow.commit()
    demo.secrets = ([p.name for p in PEOPLE] + [k[3] for k in KEY_PERSONS] + [k[2] for k in KEY_PERSONS]
                    + [k[2].split()[-1] for k in KEY_PERSONS] + [k[1] for k in KEY_PERSONS] + CONTACTS
                    + ["赵阿姨说很好", "送医，家属已到", "AgACrequestphoto"] + request_texts)
    return demo
