"""Issue #12 item 1 end to end, over real HTTP on both runtimes: a resident's need, and one a grid worker
entered for them, go through the vote; the resident and a "+1" supporter are told privately of the
election; /myneeds follows the need to 当选, 进行中 with colour and percent, and 已完成 with the before/after
picture and the ⭐ button; at completion they are told again, with the picture."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import select

from flows import ballot, membership, needs, projects
from flows.roles import Role
from storage.models import Project, User
from tests.bot.conftest import Harness, buttons
from tests.bot.test_acceptance import BLUE, RED, png

ADMIN, GRID, R1, R2, RES = 1201, 1202, 1203, 1204, 1205


def daytime(linli: Harness, hour: int = 10) -> None:
    """Move the bot's clock to `hour`:00 in Tianjin today: private notices wait out the night (21:00–08:00)."""
    real = datetime.now(UTC)
    here = real.astimezone(ZoneInfo("Asia/Shanghai")).replace(hour=hour, minute=0, second=0, microsecond=0)
    linli.clock.offset = here.astimezone(UTC) - real


async def actor(linli: Harness, tg_id: int, uow: Any) -> membership.Actor:
    user = (await uow.session.exec(select(User).where(User.tg_id == tg_id))).one()
    return await membership.load_actor(uow, user)


async def setup(linli: Harness) -> None:
    """Four candidates: #1 the resident's own (+1 by R1), #2 entered for the resident on a door visit."""
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)
    text = (await linli.say(ADMIN, "/invite grid_worker"))[-1]["text"]
    await linli.register(GRID, "张网格", invite=text.split("start=i_")[1].split()[0])
    for who, name in ((R1, "赵代表"), (R2, "钱代表"), (RES, "孙奶奶")):
        await linli.register(who, name)
    async with linli.db.uow() as uow:
        now = linli.clock.now()
        admin, res, grid = [await actor(linli, t, uow) for t in (ADMIN, RES, GRID)]
        await needs.open_period(uow, actor=admin, now=now)
        own = await needs.submit(uow, actor=res, category="facility", text="3号楼楼道灯坏了", now=now)
        assert res.member is not None
        door = await needs.submit(uow, actor=grid, category="elderly", text="希望有老年餐桌", now=now,
                                  channel="door_visit", author_member_id=res.member.id)
        rest = [await needs.submit(uow, actor=admin, category="green", text=f"绿化{n}", now=now) for n in (1, 2)]
        for need, title in zip([own, door, *rest], ["楼道照明改造", "老年餐桌", "补种绿化一", "补种绿化二"],
                               strict=True):
            await needs.promote(uow, actor=admin, need_id=need.id or 0, title=title, now=now)
        await needs.support(uow, actor=await actor(linli, R1, uow), need_id=own.id or 0, now=now)
        for tg_id in (R1, R2):
            rep = await actor(linli, tg_id, uow)
            assert rep.member is not None
            await membership.assign_role(uow, member=rep.member, role=Role.REPRESENTATIVE, org=None, now=now)
        await uow.commit()
    assert linli.app.sender is not None
    linli.app.sender.wake()
    await linli.settle()


async def vote_and_close(linli: Harness) -> None:
    """R1 and R2 both choose #1 and #2; the ballot closes (as the scheduler closes it)."""
    key = linli.app.core.ballot_key
    async with linli.db.uow(write=True) as uow:
        now = linli.clock.now()
        b = await ballot.create(uow, actor=await actor(linli, ADMIN, uow), now=now, choose=2,
                                closes_at=now.replace(year=now.year + 1))
        await ballot.open_ballot(uow, ballot_id=b.id or 0, now=now, actor=await actor(linli, ADMIN, uow))
        await uow.commit()
    bid = b.id or 0
    async with linli.db.uow() as uow:
        cands = (await ballot.view(uow, ballot_id=bid, community_id=b.community_id)).candidates
    for rep in (R1, R2):
        for cand in cands[:2]:
            async with linli.db.uow(write=True) as uow:
                await ballot.toggle(uow, actor=await actor(linli, rep, uow), ballot_id=bid, candidate_id=cand.id,
                                    now=linli.clock.now(), secret=key)
                await uow.commit()
        async with linli.db.uow(write=True) as uow:
            await ballot.submit(uow, actor=await actor(linli, rep, uow), ballot_id=bid, now=linli.clock.now(),
                                secret=key)
            await uow.commit()
    async with linli.db.uow(write=True) as uow:
        await ballot.close(uow, ballot_id=bid, now=linli.clock.now(), secret=key)
        await uow.commit()
    assert linli.app.sender is not None
    linli.app.sender.wake()
    await linli.settle()


async def test_item1_myneeds_and_private_notices_close_the_loop(linli: Harness) -> None:
    daytime(linli)
    await setup(linli)
    told = [m["text"] for m in await linli.tg.bot_messages(RES) if "候选项目" in m["text"]]
    assert any("的需求 #1 已列为候选项目" in t and "网格员" not in t for t in told), told
    assert any("🎉 网格员代您提交的需求 #2 已列为候选项目：「老年餐桌」" in t for t in told), told
    mine = (await linli.say(RES, "/myneeds"))[-1]["text"]
    assert "候选项目：楼道照明改造" in mine and "网格员代您提交的需求" in mine

    before = await linli.tg.cursor()
    await vote_and_close(linli)
    told = [m["text"] for m in await linli.tg.bot_messages(RES, before) if "居民代表点选" in m["text"]]
    assert len(told) == 1, told  # one notice for both needs
    assert "您提出或支持的这些需求成为" in told[0]
    assert "• 您的需求 #1：第 1 项实事「楼道照明改造」" in told[0], told
    assert "• 网格员代您提交的需求 #2：第 2 项实事「老年餐桌」" in told[0], told
    supporter = [m["text"] for m in await linli.tg.bot_messages(R1, before) if "当选" in m["text"]]
    assert len(supporter) == 1 and "您点过「+1」支持的需求 #1 在居民代表点选中当选" in supporter[0]
    assert "第 1 项民生实事「楼道照明改造」" in supporter[0]
    theirs = (await linli.say(R1, "/myneeds"))[-1]["text"]  # /myneeds follows it for the supporter too
    assert "🗳 当选：今年第 1 项实事「楼道照明改造」" in theirs and "您点了「+1」支持这条需求" in theirs

    out = await linli.say(RES, "/myneeds")
    mine = out[-1]["text"]
    assert "🗳 当选：今年第 1 项实事「楼道照明改造」" in mine and "候选项目" not in mine
    assert "📋 第 1 项实事" in buttons(out[-1])

    # progress reported: 进行中 with the colour and percent
    async with linli.db.uow(write=True) as uow:
        first = (await uow.session.exec(select(Project).where(Project.number == 1))).one()
        await projects.report(uow, actor=await actor(linli, ADMIN, uow), project_id=first.id or 0, percent=40,
                              now=linli.clock.now())
        await uow.commit()
    mine = (await linli.say(RES, "/myneeds"))[-1]["text"]
    assert "🟡 进行中：第 1 项实事「楼道照明改造」· 40% · 推进中" in mine

    # completed with before/after photos: 已完成, the picture, ⭐; the resident and the supporter are told
    photos = {}
    for kind, colour in (("before", RED), ("after", BLUE)):
        sent = await linli.tg.send_photo(ADMIN, png(colour))
        photos[kind] = (sent["photo"][-1]["file_id"], sent["photo"][-1]["file_unique_id"])
    await linli.settle()
    before = await linli.tg.cursor()
    async with linli.db.uow(write=True) as uow:
        admin = await actor(linli, ADMIN, uow)
        now = linli.clock.now()
        await projects.add_photos(uow, actor=admin, project_id=first.id or 0, kind="before", photos=[photos["before"]],
                                  now=now)
        await projects.complete(uow, actor=admin, project_id=first.id or 0, now=now)
        await projects.add_photos(uow, actor=admin, project_id=first.id or 0, kind="after", photos=[photos["after"]],
                                  now=now)
        await uow.commit()
    linli.app.sender.wake()  # type: ignore[union-attr]
    await linli.settle()
    done = [m for m in await linli.tg.bot_messages(RES, before) if "已经办好了" in (m.get("caption") or "")]
    assert len(done) == 1 and done[0]["photo"] is not None and buttons(done[0]) == ["⭐ 评价"]
    assert "您的需求 #1" in done[0]["caption"]
    assert [m for m in await linli.tg.bot_messages(R1, before) if "已经办好了" in (m.get("caption") or "")]

    out = await linli.say(RES, "/myneeds")
    assert "✅ 已完成" in out[-1]["text"] and {"🖼", "⭐ 评价"} <= set(buttons(out[-1]))
    toast, _ = await linli.press(RES, out[-1], "🖼")
    assert toast and "前后对比图" in toast
    picture = await linli.last(RES)
    assert picture["photo"] is not None and "楼道照明改造" in (picture.get("caption") or "")
    rate = await linli.follow(RES, out[-1], "⭐ 评价")
    assert "验收单" in rate[-1]["text"]
