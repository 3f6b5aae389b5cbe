"""A whole year over real HTTP (aiogram runtime, both databases): the admin opens the needs collection;
30 needs come in through four channels (residents in private and in the group, a grid worker's door
visit, the admin's multi-committee meeting; 8 of the private ones through the flow, for speed); neighbours "+1"; the admin merges duplicates (supporters
carry over), rejects with reasons and promotes 20 candidates — every author told; the ballot is
created through the dialog and opened; 15 representatives vote through their private sheets (toggles,
pages, submit), some change their mind and resubmit; the scheduler closes it; a tie at the cut-off is
decided by the admin's buttons; the result with counts reaches both groups; ten projects are on /board."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import col, select

from flows import membership, needs
from scheduler.runner import ballot_tick
from storage.models import Ballot, BallotCandidate, Need, NeedSupport, Project, User
from tests.bot.conftest import Harness, buttons

ADMIN, GRID = 701, 702
REPS = list(range(711, 726))  # 15 residents' representatives
RES = list(range(731, 737))  # 6 residents
GROUP, GROUP2 = -1002000000077, -1002000000078
SEATS = 10
PAGE = 8  # candidates on one page of a sheet
NAMES = {ADMIN: "王书记", GRID: "张网格"} | {r: f"代表{i + 1}号" for i, r in enumerate(REPS)} \
    | {r: f"居民{i + 1}号" for i, r in enumerate(RES)}


@dataclass(frozen=True)
class Plan:
    """One need: who brings it in, how, and what the review makes of it."""

    who: int
    channel: str  # "private", "group", "door" (grid worker), "meeting" (admin), "flow" (see _enter)
    category: str
    text: str
    title: str = ""  # promoted to this candidate
    into: str = ""  # merged into the need with this text
    reason: str = ""  # rejected with this reason
    author: int = 0  # the resident a /need_for is entered for


# The 20 needs that become candidates; the order is the vote ranking arranged below.
TARGETS = [
    Plan(REPS[6], "private", "设施维护", "3号楼楼道灯坏了，晚上看不见", title="楼道照明改造"),
    Plan(RES[4], "group", "为老服务", "希望社区办老年餐桌", title="老年餐桌"),
    Plan(REPS[6], "private", "设施维护", "老楼想加装电梯", title="加装电梯调研"),
    Plan(REPS[7], "private", "停车交通", "电动车没地方充电", title="非机动车充电桩"),
    Plan(REPS[7], "private", "绿化美化", "草坪秃了要补种", title="小区绿化补种"),
    Plan(REPS[8], "private", "文体惠民", "健身器材老旧", title="健身器材更新"),
    Plan(REPS[8], "private", "一小关爱", "孩子没地方玩", title="儿童游乐区"),
    Plan(REPS[9], "private", "便民服务", "快递柜不够用", title="快递柜增设"),
    Plan(REPS[9], "private", "停车交通", "停车乱，需要划线", title="停车位划线"),
    Plan(REPS[10], "flow", "环境整治", "垃圾分类点太少", title="垃圾分类亭"),
    Plan(REPS[10], "flow", "安全防范", "消防通道被堵", title="消防通道清理"),
    Plan(RES[5], "group", "为老服务", "想要社区食堂", title="社区食堂"),
    Plan(GRID, "door", "安全防范", "有的角落没有监控", title="监控补盲", author=RES[0]),
    Plan(ADMIN, "meeting", "设施维护", "下雨积水严重", title="雨污管网疏通", author=RES[1]),
    Plan(REPS[11], "flow", "文体惠民", "缺少活动室", title="文化活动室"),
    Plan(REPS[11], "flow", "便民服务", "老人理发不方便", title="便民理发"),
    Plan(REPS[12], "flow", "设施维护", "路面坑洼", title="路面修补"),
    Plan(REPS[12], "flow", "便民服务", "没地方晒被子", title="晾晒架安装"),
    Plan(REPS[13], "flow", "环境整治", "狗的粪便到处都是", title="宠物粪便治理"),
    Plan(REPS[13], "flow", "文体惠民", "楼门口太单调", title="楼门文化墙"),
]
# Entered first, so they are the oldest in the review list: duplicates and needs not taken up.
EARLY = [
    Plan(RES[0], "group", "为老服务", "社区能不能有个老年饭桌", into="希望社区办老年餐桌"),
    Plan(RES[1], "group", "设施维护", "楼道灯不亮", into="3号楼楼道灯坏了，晚上看不见"),
    Plan(RES[2], "group", "停车交通", "电瓶车充电难", into="电动车没地方充电"),
    Plan(REPS[0], "private", "便民服务", "快递总是放不下", into="快递柜不够用"),
    Plan(REPS[1], "private", "停车交通", "车位太乱了", into="停车乱，需要划线"),
    Plan(REPS[2], "private", "环境整治", "垃圾桶不够", into="垃圾分类点太少"),
    Plan(REPS[3], "private", "设施维护", "电梯的事情", into="老楼想加装电梯"),
    Plan(REPS[4], "private", "环境整治", "希望小区门口建地铁站", reason="不属于社区民生实事范围，已转区交通部门"),
    Plan(REPS[5], "private", "便民服务", "希望免费发手机", reason="不符合民生实事资金用途"),
    Plan(GRID, "door", "安全防范", "希望每栋楼配保安", reason="已纳入物业合同整改", author=RES[3]),
]
# Votes per candidate (same order as TARGETS): the 10th and 11th tie for the last seat.
VOTES = [9, 8, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0]
CHANGERS = REPS[:3]  # first vote for a candidate nobody wants in the end, then change their mind


def _picks() -> dict[int, list[int]]:
    """Each representative's final choices (indexes into TARGETS): every candidate gets VOTES[i] votes,
    always from the representatives with the fewest choices so far (so nobody needs more than SEATS)."""
    picks: dict[int, list[int]] = {rep: [] for rep in REPS}
    for i, votes in enumerate(VOTES):
        for rep in sorted(REPS, key=lambda r: (len(picks[r]), r))[:votes]:
            picks[rep].append(i)
    assert all(1 <= len(p) <= SEATS for p in picks.values())
    return picks


# ---------------------------------------------------------------- local transcript helpers


async def _tap(linli: Harness, user_id: int, message: dict[str, Any], label: str) -> tuple[str | None, list[dict]]:
    """A press that does not wait for the whole bot to be quiet, as Harness.press does: the stand-in's tap
    returns once the bot answered the callback query, and the bot answers after its edits and replies."""
    before = await linli.tg.cursor()
    result = await linli.tg.tap(user_id, message["chat_id"], message["message_id"], text=label, wait=20)
    assert result.get("answer") is not None, (label, result)
    return result["answer"].get("text"), await linli.tg.bot_messages(message["chat_id"], before)


async def _ask(linli: Harness, user_id: int, text: str) -> list[dict[str, Any]]:
    """Write in the private chat and return as soon as the bot answered there (not when all is quiet)."""
    before = await linli.tg.cursor()
    await linli.tg.send(user_id, text)
    for _ in range(1000):
        if out := await linli.tg.bot_messages(user_id, before):
            return out
        await asyncio.sleep(0.01)
    raise AssertionError(f"no answer to {text!r}")


async def _private_need(linli: Harness, p: Plan, submitting: asyncio.Lock) -> None:
    out = await linli.say(p.who, "/need")
    _, out = await _tap(linli, p.who, out[-1], p.category)
    out = await linli.say(p.who, p.text)
    _, out = await _tap(linli, p.who, out[-1], "跳过 ▶")
    async with submitting:
        _, out = await _tap(linli, p.who, out[-1], "✅ 提交")
    assert "需求 #" in out[-1]["text"], out[-1]["text"]


async def _group_need(linli: Harness, p: Plan, submitting: asyncio.Lock) -> None:
    out = await linli.say(p.who, f"/need {p.text}", chat_id=GROUP)
    ask = next(m for m in out if NAMES[p.who] in m["text"] and p.category in buttons(m))  # others ask too
    async with submitting:
        _, out = await _tap(linli, p.who, ask, p.category)
    done = next(m for m in out if m["message_id"] == ask["message_id"])
    assert "需求 #" in done["text"], done["text"]


async def _need_for(linli: Harness, p: Plan, submitting: asyncio.Lock) -> None:
    out = await linli.say(p.who, f"/need_for {await linli.member_no(p.author)}")
    if p.channel == "meeting":
        _, out = await _tap(linli, p.who, out[-1], "多委联席会")
    else:
        assert "入户走访" in out[-1]["text"]
    _, out = await _tap(linli, p.who, out[-1], p.category)
    out = await linli.say(p.who, p.text)
    _, out = await _tap(linli, p.who, out[-1], "跳过 ▶")
    assert "代 " in out[-1]["text"] and " 登记" in out[-1]["text"]
    async with submitting:
        _, out = await _tap(linli, p.who, out[-1], "✅ 提交")
    assert "需求 #" in out[-1]["text"]


CATEGORY_CODES = {"环境整治": "env", "设施维护": "facility", "为老服务": "elderly", "文体惠民": "culture",
                  "安全防范": "safety", "停车交通": "traffic", "绿化美化": "green", "便民服务": "convenience",
                  "一小关爱": "child"}


async def _actor(uow: Any, tg_id: int) -> membership.Actor:
    return await membership.load_actor(uow, (await uow.session.exec(select(User).where(User.tg_id == tg_id))).one())


async def _submit_by_flow(linli: Harness, p: Plan) -> None:
    async with linli.db.uow(write=True) as uow:
        await needs.submit(uow, actor=await _actor(uow, p.who), category=CATEGORY_CODES[p.category], text=p.text,
                           now=linli.clock.now())
        await uow.commit()


async def _enter(linli: Harness, plans: list[Plan]) -> None:
    """Everyone at once; each person's own needs one after the other."""
    for p in plans:  # the same private dialog as in _private_need, entered through the flow (for speed);
        if p.channel == "flow":  # first, so the numbers are not raced for by the bot's own writes
            await _submit_by_flow(linli, p)
    by_person: dict[int, list[Plan]] = {}
    for p in [p for p in plans if p.channel != "flow"]:
        by_person.setdefault(p.who, []).append(p)

    # The dialogs run side by side, the final taps that store a need one at a time: on PostgreSQL two
    # needs stored at the same moment can race for the same number (flows/needs.py submit takes max + 1).
    submitting = asyncio.Lock()

    async def person(mine: list[Plan]) -> None:
        for p in mine:
            if p.channel == "private":
                await _private_need(linli, p, submitting)
            elif p.channel == "group":
                await _group_need(linli, p, submitting)
            else:
                await _need_for(linli, p, submitting)

    await asyncio.gather(*(person(mine) for mine in by_person.values()))


async def _numbers(linli: Harness) -> dict[str, int]:
    async with linli.db.uow() as uow:
        return {n.text: n.number for n in (await uow.session.exec(select(Need))).all()}


def _pager(sheet: dict[str, Any]) -> int:
    return next(int(m.group(1)) for b in buttons(sheet) if (m := re.fullmatch(r"(\d+)/(\d+)", b)))


async def _toggle(linli: Harness, rep: int, sheet: dict[str, Any], position: int, title: str,
                  on: bool = True) -> dict[str, Any]:
    """Page to the candidate (▶/◀), tap it, check the mark changed; the sheet as it is now."""
    page = (position - 1) // PAGE + 1
    while (here := _pager(sheet)) != page:
        _, out = await _tap(linli, rep, sheet, "▶" if here < page else "◀")
        sheet = out[-1]
    label = f"{position}. {title}"
    _, out = await _tap(linli, rep, sheet, ("⬜ " if on else "✅ ") + label)
    sheet = out[-1]
    assert ("✅ " if on else "⬜ ") + label in buttons(sheet), buttons(sheet)
    return sheet


async def _submit(linli: Harness, rep: int, sheet: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    toast, out = await linli.press(rep, sheet, "📨 提交")
    match = re.search(r"回执码 ([0-9A-Z]{4}-[0-9A-Z]{4})", out[-1]["text"])
    assert toast and match and match.group(1) in toast, (toast, out[-1]["text"])
    return match.group(1), out[-1]


@pytest.mark.parametrize("runtime", ["aiogram"])  # the runtimes' differences have their own transcripts
async def test_a_whole_year_from_needs_to_ten_projects(linli: Harness) -> None:
    # ---- the community: admin, grid worker, 15 representatives, 6 residents, two groups
    code = await linli.create_community()
    await linli.register(ADMIN, NAMES[ADMIN], invite=code)
    invite = (await linli.say(ADMIN, "/invite grid_worker"))[-1]["text"].split("start=i_")[1].split()[0]
    await linli.register(GRID, NAMES[GRID], invite=invite)
    # the neighbours: registration has its own transcripts (test_onboarding); here they only say /help
    # first (so the bot may write to them) and are registered through the flow, to keep this test fast
    for who in REPS + RES:
        await linli.user(who, NAMES[who])
    await asyncio.gather(*(linli.tg.send(who, "/help") for who in REPS + RES))
    await linli.settle()
    async with linli.db.uow() as uow:
        community_id = (await _actor(uow, ADMIN)).member.community_id  # type: ignore[union-attr]
        for who in REPS + RES:
            user = (await uow.session.exec(select(User).where(User.tg_id == who))).one()
            await membership.register(uow, user=user, community_id=community_id, building_id=None,
                                      now=linli.clock.now())
        await uow.commit()

    async def grant(rep: int) -> None:
        out = await linli.say(ADMIN, f"/grant {await linli.member_no(rep)} representative")
        assert any(NAMES[rep] in m["text"] and "居民代表" in m["text"] for m in out), [m["text"] for m in out]

    await asyncio.gather(*(grant(rep) for rep in REPS))
    everyone = [ADMIN, GRID, *REPS, *RES]
    for chat, title in ((GROUP, "北辰社区群"), (GROUP2, "北辰社区二群")):
        await linli.group(chat, title, everyone, admin=ADMIN)
        assert "北辰示范社区" in (await linli.say(ADMIN, "/link community", chat_id=chat))[-1]["text"]

    # ---- the collection opens; 30 needs from the four channels
    before = await linli.tg.cursor()
    assert "征集已开始" in (await linli.say(ADMIN, "/needs open"))[-1]["text"]
    for chat in (GROUP, GROUP2):
        assert "需求清单" in (await linli.tg.bot_messages(chat, before))[-1]["text"]
    await _enter(linli, EARLY)
    await _enter(linli, TARGETS)
    numbers = await _numbers(linli)
    assert len(numbers) == 30 and max(numbers[p.text] for p in EARLY) < min(numbers[p.text] for p in TARGETS)
    async with linli.db.uow() as uow:
        channels = [n.channel for n in (await uow.session.exec(select(Need))).all()]
    assert {c: channels.count(c) for c in set(channels)} == {"chat": 27, "door_visit": 2, "meeting": 1}
    assert len(await linli.tg.bot_messages(GROUP, before)) > 5  # the group channel went through the group

    # ---- "+1": a neighbour supports the duplicate, another the original; a second press is refused
    async def plus_one(who: int, text: str) -> str:
        out = await linli.say(who, "/needs")
        _, out = await linli.press(who, out[-1], "为老服务 (3)")
        toast, _ = await linli.press(who, out[-1], f"+1 我也需要 #{numbers[text]}")
        return toast or ""

    assert "1 位邻居" in await plus_one(RES[1], EARLY[0].text)
    assert "1 位邻居" in await plus_one(REPS[14], TARGETS[1].text)
    assert "已经支持过" in await plus_one(REPS[14], TARGETS[1].text)

    # ---- the review, oldest first: merges and rejections (authors told), then the 20 candidates
    async def open_need(text: str) -> dict[str, Any]:
        out = await _ask(linli, ADMIN, "/needs review")
        _, out = await _tap(linli, ADMIN, out[-1], f"#{numbers[text]}")
        return out[-1]

    for p in sorted(EARLY, key=lambda p: numbers[p.text]):
        view = await open_need(p.text)
        before = await linli.tg.cursor()
        if p.into:
            await _tap(linli, ADMIN, view, "🔗 合并")
            out = await linli.say(ADMIN, str(numbers[p.into]))
            assert f"已并入需求 #{numbers[p.into]}" in out[-1]["text"]
            told = await linli.tg.bot_messages(p.who, before)
            assert f"需求 #{numbers[p.text]}" in told[-1]["text"] and "已合并" in told[-1]["text"]
        else:
            await _tap(linli, ADMIN, view, "✖ 不采纳")
            out = await linli.say(ADMIN, p.reason)
            assert "未采纳" in out[-1]["text"]
            told = (await linli.tg.bot_messages(p.author or p.who, before))[-1]["text"]
            assert p.reason in told and f"需求 #{numbers[p.text]}" in told
    promoting = await linli.tg.cursor()
    for p in sorted(TARGETS, key=lambda p: numbers[p.text]):
        view = await open_need(p.text)
        if p is TARGETS[1]:  # 居民代表15号, and carried over from the duplicate: its author and 居民2号
            assert "👍 3 人支持" in view["text"], view["text"]
        await _tap(linli, ADMIN, view, "⭐ 列为候选")
        out = await _ask(linli, ADMIN, p.title)
        assert f"类别：{p.category}" in out[-1]["text"]
        _, out = await _tap(linli, ADMIN, out[-1], "✅ 确认")
        assert f"候选项目「{p.title}」（{p.category}）" in out[-1]["text"]
    await linli.settle()
    for p in TARGETS:  # every author is told (the notices went out while the admin went on)
        told = [m["text"] for m in await linli.tg.bot_messages(p.author or p.who, promoting)]
        assert any(p.title in t for t in told), (p.title, told)
    assert "已结束" in (await linli.say(ADMIN, "/needs close"))[-1]["text"]
    async with linli.db.uow() as uow:
        rows = {n.text: n for n in (await uow.session.exec(select(Need))).all()}
        supports = (await uow.session.exec(select(NeedSupport).where(
            NeedSupport.need_id == rows[TARGETS[1].text].id))).all()
    assert sorted(n.status for n in rows.values()) == ["candidate"] * 20 + ["merged"] * 7 + ["rejected"] * 3
    assert len(supports) == 3

    # ---- the ballot: created through the dialog and opened now, 10 of 20, at least 1
    out = await linli.say(ADMIN, "/ballot new")
    _, out = await linli.press(ADMIN, out[-1], str(SEATS))
    assert "至少" in out[-1]["text"]
    _, out = await linli.press(ADMIN, out[-1], "1")
    _, out = await linli.press(ADMIN, out[-1], "7 天后 18:00")
    _, out = await linli.press(ADMIN, out[-1], "现在")
    assert "候选项目：20" in out[-1]["text"] and f"1–{SEATS}" in out[-1]["text"]
    before = await linli.tg.cursor()
    _, out = await linli.press(ADMIN, out[-1], "✅ 确认")
    assert "已开放" in out[-1]["text"] and "15 位居民代表" in out[-1]["text"]
    for rep in REPS:
        assert "🗳 打开选票" in buttons((await linli.tg.bot_messages(rep, before))[-1])
    async with linli.db.uow() as uow:
        position = {c.title: c.position for c in (await uow.session.exec(select(BallotCandidate))).all()}
    assert sorted(position.values()) == list(range(1, 21))

    # ---- 15 representatives vote at the same time; three change their mind and resubmit
    picks = _picks()
    receipts: dict[int, str] = {}

    async def vote(rep: int) -> None:
        mine = sorted(picks[rep], key=lambda i: position[TARGETS[i].title])
        first = list(mine)
        if rep in CHANGERS:  # the last choice goes, at first, to a candidate nobody chooses in the end
            first[-1] = VOTES.index(0) + CHANGERS.index(rep)
        sheet = (await linli.say(rep, "/vote"))[-1]
        assert f"已选 0/{SEATS}" in sheet["text"]
        for i in sorted(first, key=lambda i: position[TARGETS[i].title]):
            sheet = await _toggle(linli, rep, sheet, position[TARGETS[i].title], TARGETS[i].title)
        assert f"已选 {len(first)}/{SEATS}" in sheet["text"]
        receipts[rep], sheet = await _submit(linli, rep, sheet)
        if rep in CHANGERS:
            wrong, right = TARGETS[first[-1]].title, TARGETS[mine[-1]].title
            sheet = await _toggle(linli, rep, sheet, position[wrong], wrong, on=False)
            sheet = await _toggle(linli, rep, sheet, position[right], right)
            assert "有未提交的更改" in sheet["text"]
            again, sheet = await _submit(linli, rep, sheet)
            assert again == receipts[rep] and "有未提交的更改" not in sheet["text"]

    await asyncio.gather(*(vote(rep) for rep in REPS))
    assert len(set(receipts.values())) == 15
    out = await linli.say(RES[0], "/ballot", chat_id=GROUP)
    assert "15/15 位代表已投票" in out[-1]["text"] and "代表1号" not in out[-1]["text"]

    # ---- the scheduler closes it at closing time: a tie for the last seat goes to the admin
    async with linli.db.uow() as uow:
        closes_at = (await uow.session.exec(select(Ballot.closes_at))).one()
    linli.clock.advance(seconds=(closes_at - linli.clock.now()).total_seconds() + 60)
    before = await linli.tg.cursor()
    assert sum((await ballot_tick(linli.db, linli.clock, linli.app.core.on_outbox,
                                  ballot_key=linli.app.core.ballot_key)).values()) >= 1
    await linli.settle()
    assert not await linli.tg.bot_messages(GROUP, before)  # nothing announced before the decision
    tie = next(m for m in await linli.tg.bot_messages(ADMIN, before) if "⚖" in m["text"])
    tied = [TARGETS[i].title for i, v in enumerate(VOTES) if v == VOTES[SEATS - 1]]
    assert {f"⬜ {t} ({VOTES[SEATS - 1]})" for t in tied} | {"✔ 确定（0/1）", "🔁 发起复选"} <= set(buttons(tie))
    async with linli.db.uow() as uow:
        assert (await uow.session.exec(select(Project))).first() is None

    # ---- the admin decides by buttons: the second of the tied; the result goes to both groups
    _, out = await linli.press(ADMIN, tie, f"⬜ {tied[1]} ({VOTES[SEATS - 1]})")
    assert f"✅ {tied[1]} ({VOTES[SEATS - 1]})" in buttons(out[-1])
    before = await linli.tg.cursor()
    _, out = await linli.press(ADMIN, out[-1], "✔ 确定（1/1）")
    assert any("已计票" in m["text"] for m in out)
    elected = [p.title for p in TARGETS[:SEATS - 1]] + [tied[1]]
    for chat in (GROUP, GROUP2):
        result = (await linli.tg.bot_messages(chat, before))[-1]["text"]
        assert "15/15" in result and "代表1号" not in result
        for p, votes in zip(TARGETS, VOTES, strict=True):
            line = next((x for x in result.splitlines() if f"{p.title} — " in x), "")
            assert f"{p.title} — {votes} 票" in line, (p.title, votes, result)
            assert ("✅ 当选" in line) == (p.title in elected), line

    # ---- ten projects, on the board in the group
    async with linli.db.uow() as uow:
        projects = (await uow.session.exec(select(Project).order_by(col(Project.number)))).all()
    assert [p.number for p in projects] == list(range(1, SEATS + 1))
    assert sorted(p.title for p in projects) == sorted(elected)
    board = (await linli.say(RES[2], "/board", chat_id=GROUP))[-1]
    assert len(buttons(board)) == SEATS
    for p in projects:
        assert f"{p.number}. {p.title}" in board["text"], board["text"]
