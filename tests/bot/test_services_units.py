"""A resident unit's (驻区单位) member and services (#17) in Telegram transcripts, on both runtimes: /help lists
/services for them (not for a plain resident), /services offer declares what they offer, and a claim works."""

from __future__ import annotations

from sqlmodel import select

from storage.models import RoleGrant, User
from storage.models_visits import ServiceOffer
from tests.bot.conftest import Harness
from tests.flows.checkin_world import build

TG = 9500
PEOPLE = {"primary": ("volunteer",), "grid": ("grid_worker",), "unit": ("committee",), "resident": ()}


async def test_item17_a_resident_units_member_offers_services(linli: Harness) -> None:
    w = await build(linli.db, tg_base=TG, group=False, people=PEOPLE)
    async with linli.db.uow(write=True) as uow:
        grant = (await uow.session.exec(select(RoleGrant).where(RoleGrant.member_id == w.members["unit"],
                                                                RoleGrant.role == "committee"))).one()
        grant.organisation = "unit"
        uow.session.add(grant)
        for u in (await uow.session.exec(select(User))).all():
            u.active_community_id = w.community_id
            uow.session.add(u)
        await uow.commit()
    for name, tg_id in w.tg.items():
        await linli.user(tg_id, name)
    out = await linli.say(w.tg["unit"], "/help")
    assert "/services" in out[-1]["text"]
    out = await linli.say(w.tg["resident"], "/help")
    assert "/services" not in out[-1]["text"]
    out = await linli.say(w.tg["resident"], "/services offer 助洁")
    assert "/services offer" not in out[-1]["text"] and "您提供" not in out[-1]["text"]  # refused, nothing saved
    out = await linli.say(w.tg["unit"], "/services offer 助洁 助行")
    assert "您提供" in out[-1]["text"] and "助洁" in out[-1]["text"] and "助行" in out[-1]["text"]
    async with linli.db.uow() as uow:
        kinds = (await uow.session.exec(select(ServiceOffer.kind).where(
            ServiceOffer.member_id.in_([w.members["unit"], w.members["resident"]])))).all()  # type: ignore[attr-defined]
    assert sorted(kinds) == ["cleaning", "mobility"]
    out = await linli.say(w.tg["primary"], f"/services ask {w.persons[0]} 助洁 12-30 09:00")
    assert "S-1" in out[-1]["text"]
    await linli.settle()
    out = await linli.say(w.tg["unit"], "/services")
    _, pressed = await linli.press(w.tg["unit"], out[-1], "🙋")
    assert "3-2-401 李奶奶" in pressed[-1]["text"]
