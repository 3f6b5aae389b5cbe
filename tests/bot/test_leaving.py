"""A membership ends, end to end over real HTTP on both runtimes: /leave asks first (✖ changes nothing, ✅
ends it), the menu goes back to a newcomer's, and /start registers again; an admin's /remove N asks first and
the member is told; the only admin cannot leave."""

from __future__ import annotations

from tests.bot.conftest import Harness, buttons

ADMIN, VOL, RESIDENT = 341, 342, 343


async def _setup(linli: Harness) -> None:
    await linli.register(ADMIN, "王书记", invite=await linli.create_community())
    text = (await linli.say(ADMIN, "/invite volunteer"))[-1]["text"]
    await linli.register(VOL, "钱志愿", invite=text.split("start=i_")[1].split()[0])
    await linli.register(RESIDENT, "赵阿姨")


async def test_leave_asks_first_then_ends_the_membership(linli: Harness) -> None:
    await _setup(linli)
    out = await linli.say(VOL, "/leave")
    assert "确认退出" in out[-1]["text"] and "志愿者" in out[-1]["text"]
    assert buttons(out[-1]) == ["✅ 确认退出社区", "✖ 取消"]
    _, out = await linli.press(VOL, out[-1], "✖ 取消")
    assert "没有任何改动" in out[-1]["text"]
    assert "志愿者" in (await linli.say(VOL, "/me"))[-1]["text"]
    out = await linli.say(VOL, "/leave")
    _, out = await linli.press(VOL, out[-1], "✅ 确认退出社区")
    assert "您已退出" in out[-1]["text"]
    assert "/leave" not in (await linli.say(VOL, "/help"))[-1]["text"]
    assert "登记" in (await linli.say(VOL, "/me"))[-1]["text"]  # not registered any more
    members = (await linli.say(ADMIN, "/members"))[-1]["text"]
    assert "钱志愿" not in members and "赵阿姨" in members
    out = await linli.say(VOL, "/start")  # registering again: a resident, nothing of the old roles
    if "号楼" in str(out[-1].get("reply_markup")):
        _, out = await linli.press(VOL, out[-1], "3号楼")
    _, out = await linli.press(VOL, out[-1], "同意")
    assert "欢迎" in out[-1]["text"]
    assert "志愿者" not in (await linli.say(VOL, "/me"))[-1]["text"]


async def test_an_admin_removes_a_member_and_the_only_admin_cannot_leave(linli: Harness) -> None:
    await _setup(linli)
    out = await linli.say(ADMIN, "/leave")
    assert "唯一的管理员" in out[-1]["text"]
    assert "用法" in (await linli.say(ADMIN, "/remove 赵阿姨"))[-1]["text"]
    assert "权限" in (await linli.say(RESIDENT, "/remove 1"))[-1]["text"]
    number = await linli.member_no(RESIDENT)
    out = await linli.say(ADMIN, f"/remove {number}")
    assert "赵阿姨" in out[-1]["text"] and buttons(out[-1]) == ["✅ 确认移出", "✖ 取消"]
    _, out = await linli.press(ADMIN, out[-1], "✅ 确认移出")
    assert "已移出社区" in out[-1]["text"]
    told = await linli.last(RESIDENT)
    assert "不再是" in told["text"]
    assert "/start" in told["text"]
    assert "没有" in (await linli.say(ADMIN, f"/remove {number}"))[-1]["text"]
