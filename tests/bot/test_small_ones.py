"""Issue #12 item 6, the small ones met in the sandbox, in transcripts over real HTTP on both runtimes."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from flows import checkins
from storage.models import Community, User
from tests.bot.conftest import Harness, buttons
from tests.flows.checkin_world import SECRET_NAME, build

SH = ZoneInfo("Asia/Shanghai")
ADMIN, RESIDENT = 401, 402
GROUP = -1002000000088
REGISTER = "在“邻里”登记"  # the button under a linked group's confirmation
TG = 9500


# ---------------------------------------------------------------- the group's 登记 button, pressed by a member


async def test_item6_a_member_following_the_groups_register_button_is_not_asked_for_consent_again(
        linli: Harness) -> None:
    await linli.register(ADMIN, "王书记", invite=await linli.create_community())
    await linli.register(RESIDENT, "赵阿姨")
    await linli.group(GROUP, "3号楼楼门群", [ADMIN, RESIDENT], admin=ADMIN)
    welcome = await linli.last(GROUP)
    _, out = await linli.press(ADMIN, welcome, "楼门群")
    _, out = await linli.press(ADMIN, out[-1], "3号楼")
    linked = out[-1]
    out = await linli.follow(RESIDENT, linked, REGISTER)
    text = out[-1]["text"]
    assert "隐私" not in text and "同意" not in " ".join(buttons(out[-1]))
    assert "已经在北辰示范社区登记好了" in text
    assert "/need" in text and "/me" in text  # what they can do
    # the community group's button (c_…) too
    out = await linli.say(RESIDENT, "/start c_" + (await _slug(linli)))
    assert "登记好了" in out[-1]["text"] and "隐私" not in out[-1]["text"]
    # someone not registered still gets the privacy notice
    await linli.user(403, "小周")
    out = await linli.follow(403, linked, REGISTER)
    assert "隐私" in out[-1]["text"]


async def _slug(linli: Harness) -> str:
    async with linli.db.uow() as uow:
        return (await uow.session.exec(select(Community))).one().slug


# ---------------------------------------------------------------- a check closed by the grid worker


async def _go_to(linli: Harness, hh: int, mm: int) -> None:
    local = linli.clock.now().astimezone(SH)
    target = local.replace(hour=hh, minute=mm, second=5, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    linli.clock.advance(seconds=(target - local).total_seconds())


async def _tick(linli: Harness) -> None:
    async with linli.db.uow(write=True) as uow:
        await checkins.tick(uow, now=linli.clock.now())
        await uow.commit()
    linli.app.sender.wake()
    await linli.settle()


async def test_item6_a_check_closed_by_the_grid_worker_says_who_closed_it_and_when(linli: Harness) -> None:
    w = await build(linli.db, tg_base=TG, group=False)
    for name, tg_id in w.tg.items():
        await linli.user(tg_id, name)
        await linli.tg.send(tg_id, "/help")
    await linli.settle()
    async with linli.db.uow(write=True) as uow:
        for tg_id in w.tg.values():
            u = (await uow.session.exec(select(User).where(User.tg_id == tg_id))).one()
            u.active_community_id = w.community_id
            uow.session.add(u)
        await uow.commit()
    await _go_to(linli, 9, 0)
    start = await linli.tg.cursor()
    await _tick(linli)
    [prompt] = [m for m in await linli.tg.bot_messages(w.tg["primary"], start) if m.get("reply_markup")]
    for minutes in (15, 30, 30):  # reminder, the backup, the grid worker
        linli.clock.advance(minutes=minutes)
        await _tick(linli)
    [to_backup] = [m for m in await linli.tg.bot_messages(w.tg["backup"], start) if m.get("reply_markup")]
    [alert] = [m for m in await linli.tg.bot_messages(w.tg["grid"], start) if m.get("reply_markup")]
    linli.clock.advance(minutes=7)
    _, out = await linli.press(w.tg["grid"], alert, "🏃 我去看看")
    _, out = await linli.press(w.tg["grid"], out[-1], "睡过头了")
    closed_at = linli.clock.now().astimezone(SH)
    linli.clock.advance(minutes=20)
    for tg_id, message in ((w.tg["backup"], to_backup), (w.tg["primary"], prompt)):
        toast, _ = await linli.press(tg_id, message, "✅ 窗帘已开")
        assert toast is not None and "已经回复过了" not in toast
        assert "志愿者grid" in toast and f"{closed_at:%H:%M}" in toast and "关闭" in toast, toast
        assert SECRET_NAME not in toast and "睡过头" not in toast  # nothing of the ledger, nor the outcome


# ---------------------------------------------------------------- counts in plural forms


async def test_item6_counts_are_worded_with_plural_forms_in_english(linli: Harness) -> None:
    await linli.register(ADMIN, "王书记", invite=await linli.create_community())
    await linli.say(ADMIN, "/needs open")
    await linli.register(RESIDENT, "Zhao")
    await linli.say(RESIDENT, "/lang en")
    offer = (await linli.say(RESIDENT, "The corridor light is broken again"))[-1]
    _, out = await linli.press(RESIDENT, offer, "📝 Submit it as a need")
    _, out = await linli.press(RESIDENT, out[-1], "Facilities")
    _, out = await linli.press(RESIDENT, out[-1], "✅ Submit")
    listing = (await linli.say(RESIDENT, "/needs"))[-1]
    assert "· 1 need." in listing["text"] and "1 needs" not in listing["text"]
    _, out = await linli.press(RESIDENT, listing, "Facilities (1)")
    assert "· 1 need" in out[-1]["text"] and "👍 0 supporters" in out[-1]["text"]
    await linli.register(403, "孙大爷")
    listing = (await linli.say(403, "/needs"))[-1]
    _, out = await linli.press(403, listing, "设施维护 (1)")
    toast, out = await linli.press(403, out[-1], "+1 我也需要 #1")
    assert toast is not None and "1 位邻居" in toast
    listing = (await linli.say(RESIDENT, "/needs"))[-1]
    _, out = await linli.press(RESIDENT, listing, "Facilities (1)")
    assert "👍 1 supporter" in out[-1]["text"] and "1 supporters" not in out[-1]["text"]
