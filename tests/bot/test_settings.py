"""/settings end to end over real HTTP, on both runtimes: an admin sees the check-in settings with their
defaults, changes one (a bad value answered, nothing written), resets it, cancels an edit; a resident is refused;
in a group the command is not offered (private only); a forged button is answered."""

from __future__ import annotations

from sqlmodel import select

from flows.checkins import settings_of
from storage.models import AuditEntry, Community
from tests.bot.conftest import Harness, buttons

ADMIN, RESIDENT = 321, 322
GROUP = -1002000000161


async def _remind_after(linli: Harness) -> int:
    async with linli.db.uow() as uow:
        community = (await uow.session.exec(select(Community))).first()
        assert community is not None
        return int(settings_of(community)["remind_after"])


async def test_admin_changes_a_check_in_setting_and_resets_it(linli: Harness) -> None:
    await linli.register(ADMIN, "王书记", invite=await linli.create_community())
    await linli.register(RESIDENT, "赵阿姨")
    out = await linli.say(ADMIN, "/settings")
    assert "设置" in out[-1]["text"] and buttons(out[-1]) == ["每日巡查", "群消息免打扰时段", "诉求办理时限", "重点人员走访", "物业考核", "微效空间与就业增收"]
    _, out = await linli.press(ADMIN, out[-1], "每日巡查")
    assert "• 发出后再次提醒：15 分钟（默认）" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "✏ 发出后再次提醒")
    assert "请发送新的分钟数" in out[-1]["text"] and "↺ 恢复默认（15 分钟）" in buttons(out[-1])
    out = await linli.say(ADMIN, "两小时")
    assert "这不是数字" in out[-1]["text"]
    out = await linli.say(ADMIN, "2000")
    assert "不超过 1440" in out[-1]["text"]
    assert await _remind_after(linli) == 15  # nothing written by the refusals
    out = await linli.say(ADMIN, "20")
    assert "✅ 发出后再次提醒：20 分钟。立即生效。" in out[-1]["text"]
    assert "• 发出后再次提醒：20 分钟（本社区设置）" in out[-1]["text"]
    assert await _remind_after(linli) == 20
    _, out = await linli.press(ADMIN, out[-1], "✏ 发出后再次提醒")
    _, out = await linli.press(ADMIN, out[-1], "↺ 恢复默认（15 分钟）")
    assert "✅ 发出后再次提醒：15 分钟" in out[-1]["text"] and await _remind_after(linli) == 15
    # an edit cancelled: the next message is not taken as a value
    _, out = await linli.press(ADMIN, out[-1], "✏ 早间巡查（开窗帘）")
    _, out = await linli.press(ADMIN, out[-1], "✖ 取消")
    assert "• 早间巡查（开窗帘）：09:00（默认）" in out[-1]["text"]
    out = await linli.say(ADMIN, "07:00")
    assert "早间巡查" not in out[-1]["text"] or "✅" not in out[-1]["text"]
    async with linli.db.uow() as uow:
        changes = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "settings.set"))).all()
    assert [(a.details["key"], a.details["new"]) for a in changes] == [("checkin.remind_after", 20),
                                                                       ("checkin.remind_after", None)]


async def test_settings_are_for_admins_in_private(linli: Harness) -> None:
    await linli.register(ADMIN, "王书记", invite=await linli.create_community())
    await linli.register(RESIDENT, "赵阿姨")
    assert "权限" in (await linli.say(RESIDENT, "/settings"))[-1]["text"]
    help_text = (await linli.say(RESIDENT, "/help"))[-1]["text"]
    assert "/settings" not in help_text
    assert "/settings" in (await linli.say(ADMIN, "/help"))[-1]["text"]
    await linli.group(GROUP, "北辰社区群", [ADMIN, RESIDENT], admin=ADMIN)
    assert "私聊" in (await linli.say(ADMIN, "/settings", chat_id=GROUP))[-1]["text"]
    screen = (await linli.say(ADMIN, "/settings"))[-1]
    toast = await linli.tap_data(ADMIN, screen, "sg:forged")
    assert toast and ("无效" in toast or "过期" in toast)
