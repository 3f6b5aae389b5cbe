"""Issue #10, item 2 in Telegram transcripts over real HTTP, on both runtimes: /revoke takes a volunteer's
key persons and buttons away and tells the grid worker; /invites lists and withdraws; an invite from an
issuer who lost the role is refused."""

from __future__ import annotations

from tests.bot.conftest import Harness, buttons
from tests.bot.test_checkins import _go_to, _new, _tick, _world

ADMIN, GRID, NEWCOMER, LATECOMER = 201, 202, 203, 204


async def test_item2_revoked_volunteer_loses_the_buttons_and_the_grid_worker_is_told(linli: Harness) -> None:
    w = await _world(linli)
    _go_to(linli, 9, 0)
    start = await linli.tg.cursor()
    await _tick(linli)
    [prompt] = await _new(linli, w.tg["primary"], start)
    out = await linli.say(w.tg["admin"], f"/revoke {w.members['primary']} volunteer")
    assert "志愿者" not in out[-1]["text"].split("：", 1)[-1]
    await linli.settle()
    [told] = await _new(linli, w.tg["grid"], start)
    assert "已不再是志愿者" in told["text"] and "3-2-401 李奶奶" in told["text"] and "/pair" in told["text"]
    texts = [m["text"] for m in await _new(linli, w.tg["backup"], start)]  # the open check, handed at once
    assert any("备用志愿者" in t and "窗帘" in t for t in texts) and any("结对志愿者" in t for t in texts)
    # the old ✅ of the revoked volunteer: a clear refusal, nothing changed
    toast, _ = await linli.press(w.tg["primary"], prompt, "✅ 窗帘已开")
    assert toast is not None and "志愿者身份已结束" in toast
    # no more prompts for them, the evening's goes to the former backup
    _go_to(linli, 19, 30)
    before = await linli.tg.cursor()
    await _tick(linli)
    assert [m for m in await _new(linli, w.tg["primary"], before) if "亮灯" in m["text"]] == []
    assert any("亮灯" in m["text"] for m in await _new(linli, w.tg["backup"], before))


async def test_item2_invites_lists_withdraws_and_a_revoked_issuers_invite_is_refused(linli: Harness) -> None:
    await linli.register(ADMIN, "王书记", invite=await linli.create_community())
    invite = (await linli.say(ADMIN, "/invite grid_worker"))[-1]["text"]
    await linli.register(GRID, "张网格", invite=invite.split("start=i_")[1].split()[0])
    assert "/invites" in (await linli.say(GRID, "/help"))[-1]["text"]
    first = (await linli.say(GRID, "/invite volunteer"))[-1]["text"].split("start=i_")[1].split()[0]
    second = (await linli.say(GRID, "/invite volunteer"))[-1]["text"].split("start=i_")[1].split()[0]
    out = await linli.say(GRID, "/invites")
    assert "未使用的邀请链接" in out[-1]["text"] and "（2 个）" in out[-1]["text"]
    assert buttons(out[-1]) == ["❌ 撤回第 1 个", "❌ 撤回第 2 个"]
    toast, out = await linli.press(GRID, out[-1], "❌ 撤回第 1 个")  # the newest: `second`
    assert toast == "❌ 邀请已撤回，该链接不能再使用。"
    assert "（1 个）" in out[-1]["text"]
    await linli.user(NEWCOMER, "新志愿者")
    out = await linli.say(NEWCOMER, f"/start i_{second}")
    assert "邀请链接已撤回" in out[-1]["text"]
    # the issuer loses the role: their remaining invite stops working too
    await linli.say(ADMIN, f"/revoke {await linli.member_no(GRID)} grid_worker")
    assert "/invites" not in (await linli.say(GRID, "/help"))[-1]["text"]
    await linli.user(LATECOMER, "晚来的人")
    out = await linli.say(LATECOMER, f"/start i_{first}")
    assert "邀请链接已撤回" in out[-1]["text"]
    out = await linli.say(ADMIN, "/invites")
    assert "没有未使用的邀请链接" in out[-1]["text"]


async def test_item15_unlink_frees_the_group_for_another_community(linli: Harness) -> None:
    admin_b = 205
    await linli.register(ADMIN, "甲书记", invite=await linli.create_community("甲社区"))
    await linli.register(admin_b, "乙书记", invite=await linli.create_community("乙社区"))
    group = await linli.group(-1002000000077, "共用的群", [ADMIN, admin_b], admin=ADMIN)
    out = await linli.say(ADMIN, "/link community", chat_id=group)
    assert "甲社区" in out[-1]["text"]
    out = await linli.say(admin_b, "/link community", chat_id=group)
    # linked: another community's admin is an outsider here and cannot take it
    assert "本群属于甲社区" in out[-1]["text"] and "不是该社区的成员" in out[-1]["text"]
    out = await linli.say(ADMIN, "/unlink", chat_id=group)
    assert "不再关联" in out[-1]["text"] or "/link" in out[-1]["text"]
    out = await linli.say(admin_b, "/link volunteers", chat_id=group)
    assert "乙社区" in out[-1]["text"] and "✅" in out[-1]["text"]
