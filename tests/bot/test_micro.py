"""Full-grid micro-governance (#16, F-9.1, F-9.2, F-9.4) end to end, over real HTTP on both runtimes: a building's
enthusiast team put together by buttons (a Party-member household added, made leader, taken out again: their /team
stops); a micro-wish from /wish to the resident's thanks (the groups see it without a name, a volunteer claims it
through the group's link, a second volunteer is told kindly it is taken, fulfilled with a photo); a micro deed posted
by the committee, claimed and done."""

from __future__ import annotations

import base64
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flows.clock import local
from tests.bot.conftest import Harness, buttons

ADMIN, RESIDENT, VOL1, VOL2, NEIGHBOUR = 761, 762, 763, 764, 765
BUILDING_GROUP, COMMUNITY_GROUP = -1002000000761, -1002000000760
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def _to_morning(linli: Harness) -> None:
    """10:00 in Tianjin on the next day: out of the quiet hours, and a fresh day for the groups' budget."""
    now = linli.clock.now()
    day = local(now, "Asia/Shanghai").date() + timedelta(days=1)
    linli.clock.advance(seconds=(datetime.combine(day, time(10), tzinfo=ZoneInfo("Asia/Shanghai")) - now)
                        .total_seconds())


async def _setup(linli: Harness) -> None:
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)
    await linli.register(RESIDENT, "赵阿姨", building="3")
    await linli.register(NEIGHBOUR, "孙大爷", building="3")
    for tg, name in ((VOL1, "刘志愿"), (VOL2, "钱志愿")):
        await linli.register(tg, name)
        await linli.say(ADMIN, f"/grant {await linli.member_no(tg)} volunteer")
    await linli.group(BUILDING_GROUP, "3号楼居民群", [ADMIN, RESIDENT, VOL1], admin=ADMIN)
    await linli.say(ADMIN, "/link building 3", chat_id=BUILDING_GROUP)
    await linli.group(COMMUNITY_GROUP, "社区居民群", [ADMIN, RESIDENT, VOL1, VOL2], admin=ADMIN)
    await linli.say(ADMIN, "/link community", chat_id=COMMUNITY_GROUP)
    _to_morning(linli)


async def test_item1_a_team_put_together_by_buttons(linli: Harness) -> None:
    await _setup(linli)
    assert "没有权限" in (await linli.say(RESIDENT, "/team"))[-1]["text"]  # a resident has no team to see
    menu = (await linli.say(ADMIN, "/team"))[-1]
    assert "楼门热心人队伍" in menu["text"] and "3号楼" in buttons(menu)
    _, out = await linli.press(ADMIN, menu, "3号楼")
    assert "暂时还没有" in out[-1]["text"]
    assert buttons(out[-1]) == ["➕ 成员", "➕ 党员户", "⭐ 队长", "➖ 移除", "🤝 结对", "◀ 楼栋"]
    _, out = await linli.press(ADMIN, out[-1], "➕ 党员户")
    assert "请发送要添加的成员编号" in out[-1]["text"]
    assert "请发送一个编号" in (await linli.say(ADMIN, "孙大爷"))[-1]["text"]
    number = await linli.member_no(NEIGHBOUR)
    view = (await linli.say(ADMIN, str(number)))[-1]
    assert f"{number}. 孙大爷 · 党员户" in view["text"]
    told = await linli.last(NEIGHBOUR)
    assert "您已加入北辰示范社区3号楼的楼门热心人队伍" in told["text"] and "党员户" in told["text"]
    mine = await linli.say(NEIGHBOUR, "/team")  # the enthusiast role came with the team
    assert "3号楼楼门热心人队伍" in mine[0]["text"] and buttons(mine[0]) == []  # sees it, manages nothing

    _, out = await linli.press(ADMIN, view, "◀ 返回")
    _, out = await linli.press(ADMIN, out[-1], "⭐ 队长")
    _, out = await linli.press(ADMIN, out[-1], f"孙大爷 ({number})")
    assert "队长：孙大爷" in out[-1]["text"]
    assert "您现在是3号楼楼门热心人队伍的队长" in (await linli.last(NEIGHBOUR))["text"]

    _, out = await linli.press(ADMIN, out[-1], "◀ 返回")
    _, out = await linli.press(ADMIN, out[-1], "➖ 移除")
    _, out = await linli.press(ADMIN, out[-1], f"孙大爷 ({number})")
    assert "确定将编号" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "✅ 确定移除")
    assert "孙大爷" not in out[-1]["text"] and "队长：—" in out[-1]["text"]
    assert "您已不在3号楼的楼门热心人队伍中" in (await linli.last(NEIGHBOUR))["text"]
    assert "没有权限" in (await linli.say(NEIGHBOUR, "/team"))[-1]["text"]  # what the team gave is gone


async def test_item2_a_wish_from_post_to_thanks(linli: Harness) -> None:
    await _setup(linli)
    out = await linli.say(RESIDENT, "/wish", chat_id=BUILDING_GROUP)  # about oneself: in private only
    assert out and "私聊" in out[-1]["text"]
    before = await linli.tg.cursor()
    out = await linli.say(RESIDENT, "/wish")
    assert "您的心愿是什么" in out[-1]["text"]
    assert "太长了：共 201 字，最多 200 字" in (await linli.say(RESIDENT, "长" * 201))[-1]["text"]
    await linli.tg.send_photo(RESIDENT, PNG, caption="想请人帮忙换个楼道灯泡")
    await linli.settle()
    ask = await linli.last(RESIDENT)
    assert buttons(ask) == ["3 天内", "7 天内", "14 天内", "✖ 取消"]
    _, out = await linli.press(RESIDENT, ask, "7 天内")
    assert out[-2]["photo"] and "想请人帮忙换个楼道灯泡" in out[-2]["caption"]
    _, out = await linli.press(RESIDENT, out[-1], "✅ 发布")
    assert "第 1 号心愿已发布" in out[-1]["text"]
    await linli.settle()
    for chat in (BUILDING_GROUP, COMMUNITY_GROUP):
        [post] = [m for m in await linli.tg.bot_messages(chat, before) if "微心愿" in (m["caption"] or "")]
        assert "第 1 号微心愿" in post["caption"] and "赵阿姨" not in post["caption"]  # no name in the groups
        assert buttons(post) == ["🙋 我来帮忙"]
    card = (await linli.follow(VOL1, post, "🙋 我来帮忙"))[-1]
    assert buttons(card) == ["🙋 认领"]
    card2 = (await linli.follow(VOL2, post, "🙋 我来帮忙"))[-1]
    toast, out = await linli.press(VOL1, card, "🙋 认领")
    assert toast == "认领成功！" and "您认领了第 1 号心愿" in out[-2]["text"]
    assert buttons(out[-1]) == ["✅ 可以，写上我的名字", "不用了，谢谢"]  # asked once
    consent = out[-1]
    toast, _ = await linli.press(VOL2, card2, "🙋 认领")
    assert toast and "刚刚已被一位志愿者认领" in toast  # told kindly, no name
    assert "已由一位志愿者刘志愿认领" in (await linli.last(RESIDENT))["text"]
    _, out = await linli.press(VOL1, consent, "✅ 可以，写上我的名字")
    assert "感谢名单中会写上您的名字" in out[-1]["text"]
    mind = (await linli.say(VOL1, "/wishes thanks"))[-1]  # remembered, and changeable
    assert "每月感谢名单中会写上您的名字" in mind["text"]
    _, out = await linli.press(VOL1, mind, "不用了，谢谢")
    assert "感谢名单中不会出现您的名字" in out[-1]["text"]

    _, out = await linli.press(VOL1, (await linli.say(VOL1, "/wishes mine"))[-1], "1")
    _, out = await linli.press(VOL1, out[-1], "✅ 已实现")
    assert "请发送一张照片" in out[-1]["text"]
    await linli.tg.send_photo(VOL1, PNG, caption="换好了")
    await linli.settle()
    assert "已标记为实现" in (await linli.last(VOL1))["text"]
    fulfilled = await linli.last(RESIDENT)
    assert fulfilled["photo"] and buttons(fulfilled) == ["🙏 感谢", "✖ 没有实现"]
    _, out = await linli.press(RESIDENT, fulfilled, "🙏 感谢")
    assert "您的感谢已经转达" in out[-1]["text"]
    assert "居民感谢您帮助实现第 1 号心愿" in (await linli.last(VOL1))["text"]
    stats = (await linli.say(ADMIN, "/wishes stats"))[-1]["text"]
    assert "全年：1 / 1 / 1 / 1" in stats


async def test_item4_a_micro_deed_posted_claimed_and_done(linli: Harness) -> None:
    await _setup(linli)
    before = await linli.tg.cursor()
    menu = (await linli.say(ADMIN, "/micro"))[-1]
    _, out = await linli.press(ADMIN, menu, "➕ 发布新事项")
    assert buttons(out[-1]) == ["微项目", "微实事", "微岗位", "✖ 取消"]
    _, out = await linli.press(ADMIN, out[-1], "微实事")
    await linli.say(ADMIN, "清理3号楼楼道堆物")
    _, out = await linli.press(ADMIN, await linli.last(ADMIN), "⏭ 跳过")
    assert "第 1 号已发布到社区各群" in out[-1]["text"]
    [post] = [m for m in await linli.tg.bot_messages(COMMUNITY_GROUP, before) if "微实事" in (m["text"] or "")]
    assert "清理3号楼楼道堆物" in post["text"] and buttons(post) == ["🙋 我来认领"]
    assert buttons((await linli.say(RESIDENT, "/micro"))[-1]) == ["1"]  # a resident claims, never posts
    card = (await linli.follow(RESIDENT, post, "🙋 我来认领"))[-1]
    toast, out = await linli.press(RESIDENT, card, "🙋 认领")
    assert toast == "认领成功！"
    _, out = await linli.press(RESIDENT, out[-2], "✅ 完成")
    await linli.say(RESIDENT, "已清理干净")
    assert "第 1 号已完成" in (await linli.last(RESIDENT))["text"]
    assert "赵阿姨 完成了第 1 号：清理3号楼楼道堆物" in (await linli.last(ADMIN))["text"]
