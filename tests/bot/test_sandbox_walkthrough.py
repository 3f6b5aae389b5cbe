"""README's "Try it", steps 5 and 6, walked literally in a real sandbox (stand-in, bot, scheduler flows
through `/clock`) over HTTP, as the demo people, with the texts and buttons a newcomer sees in Chinese:
a year of needs, the representatives' vote, ten projects; then the board, an owner's report, a milestone
turning red, completion with photos, the before/after picture in 3号楼楼门群, and 赵阿姨's rating."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

from PIL import Image

from bot.config import Settings
from bot.sandbox import Sandbox
from bot.standin.client import StandInClient
from flows.clock import local

ADMIN, GRID, ZHAO = 10001, 10002, 10006  # 王书记, 张网格, 赵阿姨
REPS = (10004, 10010, 10011)  # 陈代表, 吴代表, 郑代表
RESIDENTS_GROUP, BUILDING_3 = -1001000000001, -1001000000003
COMMITTEE_GROUP, VOLUNTEERS_GROUP = -1001000000010, -1001000000020
TZ = "Asia/Shanghai"
RED, GREEN = (200, 40, 40), (30, 160, 60)


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "JPEG")
    return out.getvalue()


def _text(m: dict[str, Any]) -> str:
    return m.get("text") or m.get("caption") or ""


def _buttons(m: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for row in (m.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]


def _labels(m: dict[str, Any]) -> list[str]:
    return [b["text"] for b in _buttons(m)]


def _start_payload(m: dict[str, Any], label: str) -> str:
    """A deep-link button (t.me/linli_bot?start=…): the chat page sends `/start PAYLOAD` in private."""
    url = next(b["url"] for b in _buttons(m) if b["text"] == label and "url" in b)
    assert urlparse(url).netloc == "t.me"
    return parse_qs(urlparse(url).query)["start"][0]


def _share_near(image: Image.Image, colour: tuple[int, int, int]) -> float:
    rgb = image.convert("RGB")
    colours = rgb.getcolors(maxcolors=rgb.width * rgb.height) or []
    near = sum(n for n, c in colours if all(abs(a - b) <= 40 for a, b in zip(c, colour, strict=True)))
    return near / (rgb.width * rgb.height)


class Walk:
    """One newcomer at the chat page: say things as someone, press buttons, wait for the bot's answer."""

    def __init__(self, client: StandInClient) -> None:
        self.client = client

    async def wait(self, chat: int, since: int, contains: str, tries: int = 200) -> dict[str, Any]:
        for _ in range(tries):  # notices go through the outbox; answers are quick
            found = [m for m in await self.client.bot_messages(chat, since) if contains in _text(m)]
            if found:
                return found[-1]
            await asyncio.sleep(0.05)
        seen = [_text(m)[:80] for m in await self.client.bot_messages(chat, since)]
        raise AssertionError(f"no message with {contains!r} in chat {chat}; seen {seen}")

    async def say(self, user: int, text: str, expect: str, chat: int | None = None) -> dict[str, Any]:
        since = await self.client.cursor()
        await self.client.send(user, text, chat_id=chat)
        # a /clock jump runs every step of the days it passes over: give it a minute on a busy machine
        return await self.wait(user if chat is None else chat, since, expect,
                               tries=1200 if text.startswith("/clock") else 200)

    async def photo(self, user: int, colour: tuple[int, int, int], expect: str) -> dict[str, Any]:
        since = await self.client.cursor()
        await self.client.send_photo(user, _jpeg(colour))
        return await self.wait(user, since, expect)

    async def press(self, user: int, m: dict[str, Any], label: str, expect: str | None = None) -> tuple[str, dict]:
        """Tap the button labelled exactly `label` on message `m`; (toast text, the message answering)."""
        assert label in _labels(m), f"no button {label!r} in {_labels(m)}"
        since = await self.client.cursor()
        data = next(b["callback_data"] for b in _buttons(m) if b["text"] == label and "callback_data" in b)
        answer = (await self.client.tap(user, m["chat_id"], m["message_id"], data=data))["answer"] or {}
        if expect is None:
            return answer.get("text") or "", m
        return answer.get("text") or "", await self.wait(m["chat_id"], since, expect)


async def _vote(walk: Walk, rep: int, picks: list[int]) -> str:
    """As a representative: the invitation's button opens the sheet; tick, page, 📨 提交; the receipt code."""
    invitation = await walk.wait(rep, 0, "从 14 个候选项目中点选")
    assert _labels(invitation) == ["🗳 打开选票"]
    sheet = await walk.say(rep, f"/start {_start_payload(invitation, '🗳 打开选票')}", "已选 0/10")
    for ticked, n in enumerate(picks, 1):
        if not any(label.startswith(f"⬜ {n}.") for label in _labels(sheet)):
            _, sheet = await walk.press(rep, sheet, "▶", "已选")
            assert "2/2" in _labels(sheet)
        label = next(label for label in _labels(sheet) if label.startswith(f"⬜ {n}."))
        _, sheet = await walk.press(rep, sheet, label, f"已选 {ticked}/10")
        assert "✅ " + label[2:] in _labels(sheet)
    assert "已选 10/10" in _text(sheet)
    toast, sheet = await walk.press(rep, sheet, "📨 提交", "回执码")
    code = re.search(r"回执码 (\S+?)，", toast)
    assert code and code.group(1) in _text(sheet) and "✅ 已提交" in _text(sheet)
    return code.group(1)


async def _step5_needs_and_vote(walk: Walk) -> None:
    # 赵阿姨: /need (category → text → skip the photo → submit), then /needs and "+1 我也需要"
    m = await walk.say(ZHAO, "/need", "属于哪一类？")
    _, m = await walk.press(ZHAO, m, "设施维护", "请用几句话描述需求")
    m = await walk.say(ZHAO, "3号楼单元门口的台阶坏了，老人容易摔。", "发一张照片")
    _, m = await walk.press(ZHAO, m, "跳过 ▶", "请确认您的需求")
    _, m = await walk.press(ZHAO, m, "✅ 提交", "需求 #15")
    m = await walk.say(ZHAO, "/needs", "需求清单 · 共 15 条")
    _, m = await walk.press(ZHAO, m, "绿化美化 (2)", "中心花园绿化提升")
    toast, _ = await walk.press(ZHAO, m, "+1 我也需要 #4")
    assert "已有 4 位邻居需要" in toast
    toast, _ = await walk.press(ZHAO, m, "+1 我也需要 #4")
    assert "您已经支持过" in toast

    # 张网格: /need_for 6, a door visit for 赵阿姨 (member 6)
    m = await walk.say(GRID, "/need_for 6", "代 赵阿姨 登记（入户走访）")
    _, m = await walk.press(GRID, m, "为老服务", "请用几句话描述需求")
    m = await walk.say(GRID, "楼里老人多，希望楼道台阶装扶手。", "发一张照片")
    _, m = await walk.press(GRID, m, "跳过 ▶", "入户走访")
    _, m = await walk.press(GRID, m, "✅ 提交", "已登记为需求 #16")

    # 王书记: /needs review — merge #16 into #15, reject #14, promote #15 and #13
    review = await walk.say(ADMIN, "/needs review", "待审核的需求（4）")
    assert _labels(review) == ["#13", "#14", "#15", "#16"]
    _, m = await walk.press(ADMIN, review, "#16", "渠道：入户走访")
    _, m = await walk.press(ADMIN, m, "🔗 合并", "合并到哪条需求")
    m = await walk.say(ADMIN, "15", "需求 #16 已并入需求 #15")
    await walk.wait(ZHAO, 0, "代您提交的需求 #16 与您的需求 #15 内容相同，已合并")  # a door visit (#12)
    _, m = await walk.press(ADMIN, m, "◀ 审核列表", "待审核的需求（3）")
    _, m = await walk.press(ADMIN, m, "#14", "希望有人上门帮老人理发")
    _, m = await walk.press(ADMIN, m, "✖ 不采纳", "为什么不采纳")
    m = await walk.say(ADMIN, "志愿者服务队每月上门理发，不再列入。", "需求 #14 未采纳")
    await walk.wait(10008, 0, "您的需求 #14 今年未被采纳")  # 孙大爷, its author, is told why
    for number, title, left in (("#15", "楼道台阶扶手改造", "（2）"), ("#13", "楼前树木修剪", "（1）")):
        _, m = await walk.press(ADMIN, m, "◀ 审核列表", "待审核的需求" + left)
        _, m = await walk.press(ADMIN, m, number, "渠道：聊天提交")
        _, m = await walk.press(ADMIN, m, "⭐ 列为候选", "起一个简短标题")
        m = await walk.say(ADMIN, title, f"候选项目「{title}」")
        _, m = await walk.press(ADMIN, m, "✅ 确认", f"已列为候选项目「{title}」")

    # 王书记: /ballot new → 10 → 1 → "7 天后 18:00" → 现在 → 确认
    m = await walk.say(ADMIN, "/ballot new", "每位代表最多选几项")
    _, m = await walk.press(ADMIN, m, "10", "至少选几项")
    _, m = await walk.press(ADMIN, m, "1", "投票何时截止")
    _, m = await walk.press(ADMIN, m, "7 天后 18:00", "何时开放投票")
    _, m = await walk.press(ADMIN, m, "现在", "请确认点选设置")
    assert "候选项目：14" in _text(m) and "每位代表选 1–10 项" in _text(m)
    _, m = await walk.press(ADMIN, m, "✅ 确认", "点选已开放")
    assert "3 位居民代表" in _text(m)

    # 陈代表, 吴代表, 郑代表 in turn; they differ on the tenth pick, so there is a tie for the last seat
    receipts = [await _vote(walk, rep, list(range(1, 10)) + [tenth]) for rep, tenth in zip(REPS, (14, 10, 13),
                                                                                           strict=True)]
    assert len(set(receipts)) == 3
    await walk.say(ZHAO, "/ballot", "3/3 位代表已投票", chat=RESIDENTS_GROUP)

    # /clock +8d: the scheduler closes the ballot (closing was 7 days ahead at 18:00); the tie goes to 王书记
    since = await walk.client.cursor()
    await walk.say(GRID, "/clock +8d", "沙盒时间")
    tie = await walk.wait(ADMIN, since, "平票")
    assert "争剩下的 1 个名额" in _text(tie) and "🔁 发起复选" in _labels(tie)
    _, tie = await walk.press(ADMIN, tie, "⬜ 楼道台阶扶手改造 (1)", "平票")
    assert "✅ 楼道台阶扶手改造 (1)" in _labels(tie)
    _, done = await walk.press(ADMIN, tie, "✔ 确定（1/1）", "已计票（3 张选票）")
    for group in (RESIDENTS_GROUP, BUILDING_3, COMMITTEE_GROUP, VOLUNTEERS_GROUP):
        result = await walk.wait(group, since, "点选结果")
        assert "3/3 位代表投了票" in _text(result) and _text(result).count("✅ 当选") == 10
        assert "楼道台阶扶手改造 — 1 票 ✅ 当选" in _text(result) and "监控补盲 — 1 票\n" in _text(result)
    # the receipt code noted at voting: 陈代表 checks that the sheet was counted (the code never shows the choices)
    m = await walk.say(REPS[0], f"/ballot receipt {receipts[0]}", "这张选票已计入")
    assert "楼道台阶扶手改造" not in _text(m) and "不显示所选项目" in _text(m)


async def _step6_board(walk: Walk, sandbox: Sandbox) -> None:
    board = await walk.say(ZHAO, "/board", "民生实事进度公示栏", chat=BUILDING_3)
    assert len(re.findall(r"^🟡 \d+\. ", _text(board), re.M)) == 10
    assert "🟡 10. 楼道台阶扶手改造 · 0%" in _text(board) and "责任人：待指定" in _text(board)

    # 王书记: /project → #1 → 👤 责任人 → member 2 (张网格); 🗂 里程碑 → ➕ 添加里程碑, due tomorrow
    year = local(sandbox.clock.now(), TZ).year
    m = await walk.say(ADMIN, "/project", f"{year} 年民生实事进度清单")
    _, m = await walk.press(ADMIN, m, "#1 楼道照明改造", "还没有里程碑")
    _, m = await walk.press(ADMIN, m, "👤 责任人", "成员编号")
    m = await walk.say(ADMIN, "2", "已设置责任人")
    assert "责任人：张网格" in _text(m)
    await walk.wait(GRID, 0, "您已被指定为")
    _, m = await walk.press(ADMIN, m, "🗂 里程碑", "的里程碑")
    _, m = await walk.press(ADMIN, m, "➕ 添加里程碑", "请发送名称")
    m = await walk.say(ADMIN, "灯具进场安装", "计划何时完成")
    tomorrow = (local(sandbox.clock.now(), TZ) + timedelta(days=1)).date().isoformat()
    m = await walk.say(ADMIN, tomorrow, "里程碑已添加")
    assert f"灯具进场安装 — 计划 {tomorrow} · 未完成" in _text(m)

    # /clock +2d: the milestone has passed, /board shows #1 🔴
    await walk.say(GRID, "/clock +2d", "沙盒时间")
    # the jump's own posts (the monthly board, made on its day within the two days) may arrive after the
    # command: wait for the answer that shows the board now
    board = await walk.say(ZHAO, "/board", "🔴 1. 楼道照明改造", chat=BUILDING_3)
    assert "🔴 1. 楼道照明改造 · 0%" in _text(board) and "滞后原因：节点逾期" in _text(board)

    # 张网格: /progress → #1 → 📈 报送进度 60 % + a note + a photo; 整改前 and 整改后 photos; the milestone;
    # 🏁 标记完成
    m = await walk.say(GRID, "/progress", "您负责的项目")
    _, m = await walk.press(GRID, m, "#1 楼道照明改造 · 0%", "🔴 滞后")
    _, m = await walk.press(GRID, m, "📈 报送进度", "进展到多少了")
    m = await walk.say(GRID, "60", "请简要说明做了什么")
    m = await walk.say(GRID, "灯具已到货，3号楼安装过半。", "请发送施工照片")
    m = await walk.photo(GRID, (120, 120, 120), "已收到第 1 张照片")
    _, m = await walk.press(GRID, m, "完成 ▶", "请确认进度报送")
    assert "进度：60%" in _text(m) and "照片：1 张" in _text(m)
    _, page = await walk.press(GRID, m, "✅ 提交", "进度报送已保存")
    assert "进度：60%" in _text(page)
    for label, colour, saved in (("📷 整改前照片", RED, "整改前 1 张，整改后 0 张"),
                                 ("📷 整改后照片", GREEN, "整改前 1 张，整改后 1 张")):
        _, m = await walk.press(GRID, page, label, "照片（每个项目最多 10 张）")
        m = await walk.photo(GRID, colour, "已收到第 1 张照片")
        _, page = await walk.press(GRID, m, "完成 ▶", saved)
    _, m = await walk.press(GRID, page, "✓ 完成里程碑", "的里程碑")
    _, m = await walk.press(GRID, m, "✓ 1. 灯具进场安装", "是哪天完成的")
    _, m = await walk.press(GRID, m, "今天", "里程碑已标记完成")
    _, page = await walk.press(GRID, m, "◀ 返回", "✅ 灯具进场安装")
    _, m = await walk.press(GRID, page, "🏁 标记完成", "标记为完成？")
    since = await walk.client.cursor()
    _, m = await walk.press(GRID, m, "🏁 确认完成", "🟢 已完成")

    # the before/after picture in 3号楼楼门群, with 👍 and ⭐ 评价
    post = await walk.wait(BUILDING_3, since, "已完工")
    assert "「楼道照明改造」" in _text(post) and _labels(post) == ["👍", "⭐ 评价"]
    assert post["photo"], "the completion post is a picture"
    file_id = (post["photo"][-1] if isinstance(post["photo"], list) else post["photo"])["file_id"]
    picture = Image.open(io.BytesIO(await walk.client.file_bytes(file_id)))
    assert _share_near(picture, RED) > 0.05 and _share_near(picture, GREEN) > 0.05  # both photos are in it

    # 赵阿姨 rates it: 👍, then ⭐ 评价 (a link to the private chat) → 5⭐ → a comment
    toast, _ = await walk.press(ZHAO, post, "👍")
    assert "已有 1 人为这个项目点赞" in toast
    m = await walk.say(ZHAO, f"/start {_start_payload(post, '⭐ 评价')}", "办得怎么样")
    _, m = await walk.press(ZHAO, m, "5⭐", "还想写几句意见吗")
    m = await walk.say(ZHAO, "灯亮了，晚上下楼放心多了。", "您的评价：⭐⭐⭐⭐⭐")
    assert "👍 1 · ⭐ 平均 5.0 分（1 人评价）" in _text(m)
    board = await walk.say(ZHAO, "/board", "民生实事进度公示栏", chat=BUILDING_3)
    assert "🟢 1. 楼道照明改造 · 100%" in _text(board) and "👍 1 · ⭐ 5.0（1人评价）" in _text(board)


async def test_readme_steps_5_and_6_in_the_sandbox(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/sb.db",  # type: ignore[call-arg]
                        secret_key="x" * 32)
    sandbox = Sandbox(settings, port=0)
    # start on a fixed morning (2 March next year, 10:00): the walk spans ten days and must stay in one year
    start = datetime(datetime.now(UTC).year + 1, 3, 2, 10, 0, tzinfo=ZoneInfo(TZ))
    sandbox.clock.advance(seconds=(start - datetime.now(UTC)).total_seconds())
    await sandbox.start()
    client = StandInClient(sandbox.url)
    try:
        await client.set_limits(enabled=False)
        walk = Walk(client)
        await _step5_needs_and_vote(walk)
        await _step6_board(walk, sandbox)
    finally:
        await client.close()
        await sandbox.stop()
