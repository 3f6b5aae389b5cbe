"""The progress list end to end, over real HTTP: the admin assigns an owner (who is told), sets the
deadline, milestones, budget and funding, marks a colour; the owner reports with a photo, ticks a
milestone, adds before/after photos and completes the project; a stranger cannot report; bad input
gets clear answers and changes nothing."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.core import callbacks
from flows.clock import local
from storage.models import AuditEntry, Community, Project, ProjectPhoto, ProjectReport
from tests.bot.conftest import Harness, buttons

ADMIN, GRID, R1 = 501, 502, 503
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


async def _setup(linli: Harness) -> list[int]:
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)
    text = (await linli.say(ADMIN, "/invite grid_worker"))[-1]["text"]
    await linli.register(GRID, "张网格", invite=text.split("start=i_")[1].split()[0])
    await linli.register(R1, "赵阿姨")
    now = linli.clock.now()
    async with linli.db.uow(write=True) as uow:
        community = (await uow.session.exec(select(Community))).one()
        year = local(now, community.timezone).year
        rows = [Project(community_id=community.id or 0, year=year, number=n, title=title, category="facility",
                        created_at=now - timedelta(days=3)) for n, title in ((1, "楼道照明改造"), (2, "加装电梯"))]
        for row in rows:
            uow.session.add(row)
        await uow.commit()
        return [r.id or 0 for r in rows]


def _day(linli: Harness, days: int) -> str:
    return (local(linli.clock.now(), "Asia/Shanghai").date() + timedelta(days=days)).isoformat()


async def _signed(linli: Harness, *fields: str | int) -> str:
    """Button data signed with the bot's own secret (a forged press that passes the signature)."""
    return callbacks.pack(linli.app.secret, list(fields), now=linli.clock.now(), ttl=timedelta(hours=1))


async def _photo(linli: Harness, who: int) -> list[dict]:
    before = await linli.tg.cursor()
    await linli.tg.send_photo(who, PNG)
    await linli.settle()
    return await linli.tg.bot_messages(who, before)


async def test_a_project_from_owner_to_after_photo(linli: Harness) -> None:
    ids = await _setup(linli)
    assert "权限" in (await linli.say(R1, "/project"))[-1]["text"]
    out = await linli.say(ADMIN, "/project")
    assert "进度清单" in out[-1]["text"] and "暂无责任人" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "#1 楼道照明改造")
    card = out[-1]
    assert "责任人：未设置" in card["text"] and "🟡 推进中" in card["text"]
    assert {"👤 责任人", "📅 截止日期", "🗂 里程碑", "💰 预算/资金来源", "🎨 标记颜色"} <= set(buttons(card))

    # the owner, by button; they are told in private
    _, out = await linli.press(ADMIN, card, "👤 责任人")
    [pick] = [b for b in buttons(out[-1]) if b.startswith("张网格")]
    before = await linli.tg.cursor()
    _, out = await linli.press(ADMIN, out[-1], pick)
    assert "已设置责任人" in out[-1]["text"] and "责任人：张网格" in out[-1]["text"]
    told = await linli.tg.bot_messages(GRID, before)
    assert "责任人" in told[-1]["text"] and "楼道照明改造" in told[-1]["text"] and "/progress" in told[-1]["text"]

    # the deadline: in the past, not a date, then right
    _, out = await linli.press(ADMIN, out[-1], "📅 截止日期")
    assert "年-月-日" in out[-1]["text"]
    assert "不能早于今天" in (await linli.say(ADMIN, _day(linli, -1)))[-1]["text"]
    assert "格式" in (await linli.say(ADMIN, "下个月"))[-1]["text"]
    out = await linli.say(ADMIN, _day(linli, 60))
    assert f"截止日期已设为 {_day(linli, 60)}" in out[-1]["text"]

    # milestones
    _, out = await linli.press(ADMIN, out[-1], "🗂 里程碑")
    assert "还没有里程碑" in out[-1]["text"]
    for title, days in (("方案公示", 10), ("施工完成", 40)):
        _, out = await linli.press(ADMIN, out[-1], "➕ 添加里程碑")
        out = await linli.say(ADMIN, title)
        out = await linli.say(ADMIN, _day(linli, days))
        assert "里程碑已添加" in out[-1]["text"] and title in out[-1]["text"]
    assert "✓ 1. 方案公示" in buttons(out[-1]) and "🗑 2" in buttons(out[-1])
    # plans slip: the second milestone is renamed and moved, by buttons and two short answers
    _, out = await linli.press(ADMIN, out[-1], "✏️ 2")
    assert "施工完成" in out[-1]["text"] and _day(linli, 40) in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "✏️ 名称")
    out = await linli.say(ADMIN, "主体施工完成")
    assert "里程碑已修改" in out[-1]["text"] and "主体施工完成" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "✏️ 2")
    _, out = await linli.press(ADMIN, out[-1], "📅 到期日")
    assert "不能早于今天" in (await linli.say(ADMIN, _day(linli, -3)))[-1]["text"]
    out = await linli.say(ADMIN, _day(linli, 45))
    assert "里程碑已修改" in out[-1]["text"] and _day(linli, 45) in out[-1]["text"]
    assert _day(linli, 40) not in out[-1]["text"]

    # budget and funding
    _, out = await linli.press(ADMIN, out[-1], "◀ 返回")
    _, out = await linli.press(ADMIN, out[-1], "💰 预算/资金来源")
    assert "10000000000" in (await linli.say(ADMIN, "-5"))[-1]["text"]
    out = await linli.say(ADMIN, "12万")
    assert "120,000 元" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "社区公益金")
    assert "预算：120,000 元 · 资金来源：社区公益金" in out[-1]["text"]

    # a stranger cannot report: not by command, not by a forged button
    assert "不是任何项目的责任人" in (await linli.say(R1, "/progress"))[-1]["text"]
    toast = await linli.tap_data(R1, await linli.last(R1), await _signed(linli, "jg", "r", ids[0]))
    assert toast and "只有该项目的责任人或管理员" in toast

    # the owner reports: percent (140 refused), note, a non-photo, a photo, confirm
    out = await linli.say(GRID, "/progress")
    _, out = await linli.press(GRID, out[-1], "#1 楼道照明改造 · 0%")
    _, out = await linli.press(GRID, out[-1], "📈 报送进度")
    assert "50%" in buttons(out[-1])
    assert "0 到 100" in (await linli.say(GRID, "140"))[-1]["text"]
    out = await linli.say(GRID, "60%")
    assert "60%" in out[-1]["text"] and "跳过 ▶" in buttons(out[-1])
    out = await linli.say(GRID, "灯具已到货，开始安装")
    assert "完成 ▶" in buttons(out[-1])
    before = await linli.tg.cursor()
    await linli.tg.send_document(GRID, PNG, file_name="photo.png")
    await linli.settle()
    assert "不是照片" in (await linli.tg.bot_messages(GRID, before))[-1]["text"]
    out = await _photo(linli, GRID)
    assert "第 1 张" in out[-1]["text"]
    _, out = await linli.press(GRID, out[-1], "完成 ▶")
    assert "进度：60%" in out[-1]["text"] and "照片：1 张" in out[-1]["text"] and "灯具已到货" in out[-1]["text"]
    _, out = await linli.press(GRID, out[-1], "✅ 提交")
    assert "进度报送已保存" in out[-1]["text"] and "进度：60%" in out[-1]["text"]

    # tick a milestone: not in the future, then today
    _, out = await linli.press(GRID, out[-1], "✓ 完成里程碑")
    _, out = await linli.press(GRID, out[-1], "✓ 1. 方案公示")
    assert "不能晚于今天" in (await linli.say(GRID, _day(linli, 1)))[-1]["text"]
    _, out = await linli.press(GRID, out[-1], "今天")
    assert "里程碑已标记完成" in out[-1]["text"] and f"{_day(linli, 0)} 完成" in out[-1]["text"]

    # before photos, then complete without an after photo: stays yellow, and says so
    _, out = await linli.press(GRID, out[-1], "◀ 返回")
    _, out = await linli.press(GRID, out[-1], "📷 整改前照片")
    out = await _photo(linli, GRID)
    _, out = await linli.press(GRID, out[-1], "完成 ▶")
    assert "已保存 1 张新的整改前照片" in out[-1]["text"]
    _, out = await linli.press(GRID, out[-1], "🏁 标记完成")
    assert "还没有整改后照片" in out[-1]["text"]
    _, out = await linli.press(GRID, out[-1], "🏁 确认完成")
    assert "保持 🟡" in out[-1]["text"] and "进度：100%" in out[-1]["text"]
    _, out = await linli.press(GRID, out[-1], "📷 整改后照片")
    out = await _photo(linli, GRID)
    _, out = await linli.press(GRID, out[-1], "完成 ▶")
    assert "🟢 已完成" in out[-1]["text"] and "整改后 1 张" in out[-1]["text"]

    # the admin marks the other project red with a reason, and removes the mark
    out = await linli.say(ADMIN, "/project")
    _, out = await linli.press(ADMIN, out[-1], "#2 加装电梯")
    _, out = await linli.press(ADMIN, out[-1], "🎨 标记颜色")
    _, out = await linli.press(ADMIN, out[-1], "🔴 滞后")
    assert "200" in (await linli.say(ADMIN, "理" * 201))[-1]["text"]
    out = await linli.say(ADMIN, "加装电梯意见未统一")
    assert "🔴 滞后 — 管理员标记：加装电梯意见未统一" in out[-1]["text"] and "取消标记" in buttons(out[-1])
    _, out = await linli.press(ADMIN, out[-1], "取消标记")
    assert "已取消标记" in out[-1]["text"] and "🟡 推进中" in out[-1]["text"]

    async with linli.db.uow() as uow:
        project = await uow.session.get(Project, ids[0])
        assert project is not None and project.percent == 100 and project.completed_at is not None
        kinds = sorted((await uow.session.exec(select(ProjectPhoto.kind))).all())
        assert kinds == ["after", "before", "progress"]
        assert [r.percent for r in (await uow.session.exec(select(ProjectReport))).all()] == [60]
        rows = await uow.session.exec(select(AuditEntry.action).where(col(AuditEntry.action).startswith("project.")))
        actions = set(rows.all())
    assert actions == {"project.owner", "project.deadline", "project.milestone_add", "project.milestone_edit",
                       "project.budget", "project.report", "project.milestone_done", "project.photos", "project.complete",
                       "project.override", "project.override_clear"}


@pytest.mark.parametrize("runtime", ["aiogram"])
async def test_bad_input_changes_nothing(linli: Harness) -> None:
    ids = await _setup(linli)
    out = await linli.say(ADMIN, "/project")
    _, out = await linli.press(ADMIN, out[-1], "#1 楼道照明改造")
    card = out[-1]
    # forged buttons: an unknown project, an unknown action, a resident pressing an admin's button
    assert "不存在" in (await linli.tap_data(ADMIN, card, await _signed(linli, "jp", "v", 999_999)) or "")
    assert "无效" in (await linli.tap_data(ADMIN, card, await _signed(linli, "jp", "zz", ids[0])) or "")
    mine = (await linli.say(R1, "/progress"))[-1]
    assert "权限" in (await linli.tap_data(R1, mine, await _signed(linli, "jp", "O", ids[0], 1)) or "")
    # an owner by a member number that is not in the community, then by a typed number
    _, out = await linli.press(ADMIN, card, "👤 责任人")
    assert "成员编号" in (await linli.say(ADMIN, "张三"))[-1]["text"]
    assert "没有编号是 999999 的成员" in (await linli.say(ADMIN, "999999"))[-1]["text"]
    out = await linli.say(ADMIN, str(await linli.member_no(R1)))
    assert "责任人：赵阿姨" in out[-1]["text"]

    # the owner: a percent out of range by a forged button, and eleven photos
    out = await linli.say(R1, "/progress")
    _, out = await linli.press(R1, out[-1], "#1 楼道照明改造 · 0%")
    _, out = await linli.press(R1, out[-1], "📈 报送进度")
    ask = out[-1]
    assert "0 到 100" in (await linli.tap_data(R1, ask, await _signed(linli, "jg", "p", ids[0], 140)) or "")
    _, out = await linli.press(R1, ask, "75%")
    _, out = await linli.press(R1, out[-1], "跳过 ▶")
    for n in range(1, 11):
        got = (await _photo(linli, R1))[-1]
        assert f"第 {n} 张" in got["text"]
    assert "最多 10 张" in (await _photo(linli, R1))[-1]["text"]
    _, out = await linli.press(R1, got, "完成 ▶")
    assert "照片：10 张" in out[-1]["text"]
    # a button of an earlier step
    assert "之前的步骤" in (await linli.tap_data(R1, ask, await _signed(linli, "jg", "p", ids[0], 50)) or "")
    _, out = await linli.press(R1, out[-1], "✅ 提交")
    assert "进度：75%" in out[-1]["text"]
    async with linli.db.uow() as uow:
        assert len((await uow.session.exec(select(ProjectPhoto))).all()) == 10
        other = await uow.session.get(Project, ids[1])
        assert other is not None and other.owner_member_id is None and other.percent == 0
