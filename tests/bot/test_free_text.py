"""Issue #12 item 2: a resident's free message in private is never a dead end.

While the needs list is collecting, the bot offers (with buttons) to turn the message — typed or a voice
message — into a need; otherwise it names the grid worker to write to. Groups stay quiet; someone
unregistered is told how to register. Both runtimes, over real HTTP."""

from __future__ import annotations

from sqlmodel import select

from storage.models import ConversationState, Need
from tests.bot.conftest import Harness, buttons

ADMIN, GRID, RESIDENT, STRANGER = 301, 302, 303, 304
GROUP = -1002000000077
QUESTION = "楼道灯又坏了找谁修？"


async def _invite(linli: Harness, role: str) -> str:
    text = (await linli.say(ADMIN, f"/invite {role}"))[-1]["text"]
    return text.split("start=i_")[1].split()[0]


async def _community(linli: Harness, *, grid_worker: bool = True) -> None:
    await linli.register(ADMIN, "王书记", invite=await linli.create_community())
    await linli.register(RESIDENT, "赵阿姨")
    if grid_worker:
        await linli.register(GRID, "张网格", invite=await _invite(linli, "grid_worker"))
        await linli.say(ADMIN, "/grid add 一网格 1-6")
        await linli.say(ADMIN, f"/grid worker 一网格 {await linli.member_no(GRID)}")


async def test_item2_free_text_becomes_a_need_with_its_text(linli: Harness) -> None:
    await _community(linli)
    await linli.say(ADMIN, "/needs open")
    offer = (await linli.say(RESIDENT, QUESTION))[-1]
    assert "没看懂" not in offer["text"]
    assert QUESTION in offer["text"] and "需求" in offer["text"]
    assert "张网格" in offer["text"]  # who to contact is named too
    assert any("提交为需求" in b for b in buttons(offer)) and any("不用" in b for b in buttons(offer))
    _, out = await linli.press(RESIDENT, offer, "📝 提交为需求")
    categories = out[-1]
    assert categories["message_id"] == offer["message_id"] and QUESTION in categories["text"]
    assert "设施" in " ".join(buttons(categories))
    _, out = await linli.press(RESIDENT, categories, "设施")
    check = out[-1]
    assert "请确认" in check["text"] and QUESTION in check["text"] and "设施" in check["text"]
    _, out = await linli.press(RESIDENT, check, "✅ 提交")
    assert "#1" in out[-1]["text"]
    async with linli.db.uow() as uow:
        need = (await uow.session.exec(select(Need))).one()
        assert (need.text, need.category, need.channel) == (QUESTION, "facility", "chat")
        assert (await uow.session.exec(select(ConversationState))).all() == []
    # the need is the resident's own, as if typed through /need
    assert QUESTION in (await linli.say(RESIDENT, "/myneeds"))[-1]["text"]


async def test_item2_a_voice_message_becomes_a_voice_need(linli: Harness) -> None:
    await _community(linli)
    await linli.say(ADMIN, "/needs open")
    before = await linli.tg.cursor()
    await linli.tg.send_voice(RESIDENT, b"OggS" + b"\0" * 60, duration=12)
    await linli.settle()
    offer = (await linli.tg.bot_messages(RESIDENT, before))[-1]
    assert "语音" in offer["text"] and "0:12" in offer["text"]
    _, out = await linli.press(RESIDENT, offer, "📝 提交为需求")
    _, out = await linli.press(RESIDENT, out[-1], "环境")
    _, out = await linli.press(RESIDENT, out[-1], "✅ 提交")
    assert "#1" in out[-1]["text"]
    async with linli.db.uow() as uow:
        need = (await uow.session.exec(select(Need))).one()
    assert need.voice_file_id and need.voice_seconds == 12 and need.text == "" and need.category == "env"


async def test_item2_cancel_and_expired_offers_are_answered_clearly(linli: Harness) -> None:
    await _community(linli)
    await linli.say(ADMIN, "/needs open")
    first = (await linli.say(RESIDENT, QUESTION))[-1]
    _, out = await linli.press(RESIDENT, first, "✖ 不用了")
    assert "没有转交" in out[-1]["text"]
    # a newer message replaces the offer: the older one's buttons have expired
    older = (await linli.say(RESIDENT, "电梯也坏了"))[-1]
    newer = (await linli.say(RESIDENT, QUESTION))[-1]
    toast, _ = await linli.press(RESIDENT, older, "📝 提交为需求")
    assert toast and "已过期" in toast and "再发" in toast
    _, out = await linli.press(RESIDENT, newer, "📝 提交为需求")
    linli.clock.advance(hours=3)  # the dialog's state is gone: the buttons say so
    toast, _ = await linli.press(RESIDENT, out[-1], "设施")
    assert toast and "已过期" in toast
    last = (await linli.say(RESIDENT, QUESTION))[-1]
    _, out = await linli.press(RESIDENT, last, "📝 提交为需求")
    _, out = await linli.press(RESIDENT, out[-1], "✖ 取消")
    assert "没有转交" in out[-1]["text"]
    async with linli.db.uow() as uow:
        assert (await uow.session.exec(select(Need))).all() == []


async def test_item2_outside_collection_the_grid_worker_is_named(linli: Harness) -> None:
    await _community(linli)
    out = (await linli.say(RESIDENT, QUESTION))[-1]
    assert "没看懂" not in out["text"] and "张网格" in out["text"]
    assert buttons(out) == ["📮 作为诉求提交", "✖ 不用了"]  # no needs collection: a request only
    assert f"tg://user?id={GRID}" in str(out.get("entities"))  # their Telegram, through the bot's message


async def test_item2_free_text_becomes_a_request_with_its_text(linli: Harness) -> None:
    """Once requests exist (#13), the message can become a request: the report dialog starts with its text."""
    await _community(linli)
    offer = (await linli.say(RESIDENT, QUESTION))[-1]
    assert "诉求" in offer["text"] and "需求清单" not in offer["text"]  # no collection open: no need offered
    _, out = await linli.press(RESIDENT, offer, "📮 作为诉求提交")
    assert any("诉求" in m["text"] and QUESTION in m["text"] for m in out)  # the offer says what became of it
    kinds = next(m for m in out if "请问是哪一类" in m["text"])  # the dialog's first step, a new message
    assert kinds["message_id"] != offer["message_id"] and buttons(kinds)[:3] == ["📮 诉求", "🤝 矛盾纠纷", "⚠️ 安全隐患"]
    _, out = await linli.press(RESIDENT, kinds, "📮 诉求")
    _, out = await linli.press(RESIDENT, out[-1], buttons(out[-1])[0])  # a category
    assert "照片" in out[-1]["text"] and "跳过 ▶" in buttons(out[-1])  # the text is the message: not asked again
    async with linli.db.uow() as uow:
        state = (await uow.session.exec(select(ConversationState))).one()
        assert state.flow != "free" and QUESTION in str(state.data)


async def test_item2_without_a_grid_worker_the_office_is_named(linli: Harness) -> None:
    await _community(linli, grid_worker=False)
    out = (await linli.say(RESIDENT, QUESTION))[-1]
    assert "网格员" in out["text"] and "社区" in out["text"] and "没看懂" not in out["text"]


async def test_item2_groups_stay_quiet_and_strangers_are_told_to_register(linli: Harness) -> None:
    await _community(linli)
    await linli.say(ADMIN, "/needs open")
    await linli.group(GROUP, "3号楼楼门群", [ADMIN, RESIDENT], admin=ADMIN)
    assert await linli.say(RESIDENT, QUESTION, chat_id=GROUP) == []
    await linli.user(STRANGER, "路人")
    out = (await linli.say(STRANGER, QUESTION))[-1]
    assert "/start" in out["text"] and buttons(out) == []
