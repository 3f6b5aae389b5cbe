"""The care ledger end to end, over real HTTP: a grid worker registers a key person through the
whole dialog, pairs volunteers, and the volunteer sees alias and room — never the name."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlmodel import select

from bot.core import callbacks
from storage.models import AuditEntry, ConversationState, KeyPerson, OutboxMessage
from tests.bot.conftest import Harness, buttons

ADMIN, GRID, VOL, VOL2, RESIDENT = 201, 202, 203, 204, 205
GROUP = -1002000000033
SECRET = b"test-secret-key-0123456789abcdef"


async def _invite(linli: Harness, role: str) -> str:
    text = (await linli.say(ADMIN, f"/invite {role}"))[-1]["text"]
    return text.split("start=i_")[1].split()[0]


async def _setup(linli: Harness) -> None:
    code = await linli.create_community()
    await linli.register(ADMIN, "王书记", invite=code)
    await linli.register(GRID, "张网格", invite=await _invite(linli, "grid_worker"))
    await linli.register(VOL, "刘志愿", invite=await _invite(linli, "volunteer"))
    await linli.register(VOL2, "孙大爷", invite=await _invite(linli, "volunteer"))
    await linli.register(RESIDENT, "赵阿姨")
    out = await linli.say(ADMIN, "/grid add 一网格 1-6")
    assert "一网格" in out[-1]["text"] and "1、2、3" in out[-1]["text"]
    out = await linli.say(ADMIN, f"/grid worker 一网格 {await linli.member_no(GRID)}")
    assert "张网格" in out[-1]["text"]
    listing = (await linli.say(ADMIN, "/grid"))[-1]["text"]
    assert "一网格" in listing and "张网格" in listing


async def _add_person(linli: Harness) -> int:
    """The grid worker goes through the whole dialog with buttons; returns the person's id."""
    out = await linli.say(GRID, "/person add")
    assert "几号楼" in out[-1]["text"] and "3号楼" in buttons(out[-1])
    _, out = await linli.press(GRID, out[-1], "3号楼")
    assert "房号" in out[-1]["text"]
    out = await linli.say(GRID, "2-401")
    assert "称呼" in out[-1]["text"] and "用「3-2-401」" in buttons(out[-1])
    out = await linli.say(GRID, "3-2-401 李奶奶")
    assert "真实姓名" in out[-1]["text"]
    out = await linli.say(GRID, "李秀兰")
    assert "⬜ 独居" in buttons(out[-1])
    _, out = await linli.press(GRID, out[-1], "⬜ 独居")
    _, out = await linli.press(GRID, out[-1], "⬜ 高龄")
    assert {"✅ 独居", "✅ 高龄", "⬜ 空巢"} <= set(buttons(out[-1]))
    _, out = await linli.press(GRID, out[-1], "完成")
    assert "风险" in out[-1]["text"]
    _, out = await linli.press(GRID, out[-1], "🔴")
    _, out = await linli.press(GRID, out[-1], "⬜ 助医")
    _, out = await linli.press(GRID, out[-1], "完成")
    assert "紧急联系人" in out[-1]["text"]
    out = await linli.say(GRID, "女儿 13812345678")
    assert "备注" in out[-1]["text"]
    _, out = await linli.press(GRID, out[-1], "跳过")
    summary = out[-1]["text"]
    for part in ("3-2-401 李奶奶", "李秀兰", "独居、高龄", "🔴", "助医", "13812345678", "3号楼 2-401"):
        assert part in summary, part
    async with linli.db.uow() as uow:
        mine = select(KeyPerson).where(KeyPerson.alias == "3-2-401 李奶奶")
        assert (await uow.session.exec(mine)).all() == []  # nothing before ✅
        state = (await uow.session.exec(select(ConversationState))).one()
        assert "李秀兰" not in str(state.data) and "13812345678" not in str(state.data)
    _, out = await linli.press(GRID, out[-1], "✅ 保存")
    assert "已登记" in out[-1]["text"] and "🤝 结对志愿者" in buttons(out[-1])
    async with linli.db.uow() as uow:
        person = (await uow.session.exec(mine)).one()
    assert person.midday_check and person.groups == ["solitary", "very_old"] and person.services == ["medical"]
    return person.id or 0


async def test_grid_worker_registers_pairs_and_the_volunteer_sees_alias_only(linli: Harness) -> None:
    await _setup(linli)
    pid = await _add_person(linli)
    saved = await linli.last(GRID)
    _, out = await linli.press(GRID, saved, "🤝 结对志愿者")
    assert "结对志愿者" in out[-1]["text"] and any("刘志愿" in b for b in buttons(out[-1]))
    _, out = await linli.press(GRID, out[-1], "刘志愿")
    assert "备用志愿者" in out[-1]["text"] and not any("刘志愿" in b for b in buttons(out[-1]))
    _, out = await linli.press(GRID, out[-1], "孙大爷")
    assert "已结对" in out[-1]["text"]
    told = await linli.last(VOL)
    assert "3-2-401 李奶奶" in told["text"] and "结对志愿者" in told["text"] and "李秀兰" not in told["text"]
    assert "备用志愿者" in (await linli.last(VOL2))["text"]
    mine = (await linli.say(VOL, "/mine"))[-1]["text"]
    assert "3-2-401 李奶奶" in mine and "3号楼 2-401" in mine and "🔴" in mine
    assert "李秀兰" not in mine and "138" not in mine
    backup = (await linli.say(VOL2, "/mine"))[-1]["text"]
    assert "作为备用志愿者" in backup and "3-2-401 李奶奶" in backup
    # a paired volunteer may not open the ledger
    refused = (await linli.say(VOL, f"/person show {pid}"))[-1]["text"]
    assert "权限" in refused and "李秀兰" not in refused
    # the grid worker may, and the read is audited; the list shows the pairing
    shown = (await linli.say(GRID, f"/person show {pid}"))[-1]["text"]
    assert "李秀兰" in shown and "13812345678" in shown and "刘志愿" in shown
    listing = (await linli.say(GRID, "/person list"))[-1]["text"]
    assert "3-2-401 李奶奶" in listing and "🤝" in listing and "李秀兰" not in listing
    async with linli.db.uow() as uow:
        entries = (await uow.session.exec(select(AuditEntry).where(AuditEntry.subject_type == "person"))).all()
        queued = (await uow.session.exec(select(OutboxMessage))).all()
    actions = [e.action for e in entries]
    assert {"person.create", "pair.set", "person.read"} <= set(actions)
    assert any(e.action == "person.read" and e.subject_id == pid for e in entries)
    assert all("李秀兰" not in str(e.details) for e in entries)
    assert all("李秀兰" not in str(m.payload) and "138123" not in str(m.payload) for m in queued)
    audit_text = (await linli.say(ADMIN, "/audit"))[-1]["text"]
    assert "person.read" in audit_text
    # edit the risk colour with buttons, and the name by text
    out = await linli.say(GRID, f"/person edit {pid}")
    _, out = await linli.press(GRID, out[-1], "风险等级")
    _, out = await linli.press(GRID, out[-1], "🟢")
    assert "已保存" in out[-1]["text"]
    out = await linli.say(GRID, f"/person edit {pid}")
    _, out = await linli.press(GRID, out[-1], "真实姓名")
    out = await linli.say(GRID, "李桂兰")
    assert "已保存" in out[-1]["text"]
    async with linli.db.uow() as uow:
        person = await uow.session.get(KeyPerson, pid)
    assert person.risk == "green" and not person.midday_check
    assert linli.app.core.sealer.open(person.name_enc) == "李桂兰"


async def test_moving_a_person_to_another_building_with_buttons(linli: Harness) -> None:
    await _setup(linli)
    pid = await _add_person(linli)
    out = await linli.say(GRID, f"/person edit {pid}")
    _, out = await linli.press(GRID, out[-1], "楼栋")
    assert "现在住几号楼" in out[-1]["text"] and {"1号楼", "6号楼", "✖️ 不变"} <= set(buttons(out[-1]))
    _, out = await linli.press(GRID, out[-1], "5号楼")
    assert "已保存" in out[-1]["text"] and "楼栋" in out[-1]["text"]
    shown = (await linli.say(GRID, f"/person show {pid}"))[-1]["text"]
    assert "5号楼 2-401" in shown
    async with linli.db.uow() as uow:
        moved = list((await uow.session.exec(select(AuditEntry).where(
            AuditEntry.action == "person.update", AuditEntry.subject_id == pid))).all())
    assert [e.details.get("field") for e in moved] == ["building"]


async def test_the_name_and_contact_are_encrypted_at_rest(linli: Harness, db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        return  # the raw-file check is about the SQLite file; PostgreSQL stores the same tokens
    await _setup(linli)
    await _add_person(linli)
    path = Path(make_url(db_url).database or "")
    raw = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    assert "3-2-401 李奶奶".encode() in raw
    for secret in ("李秀兰", "13812345678"):
        assert secret.encode() not in raw, secret


async def test_bad_input_gets_clear_answers_and_writes_nothing(linli: Harness) -> None:
    await _setup(linli)
    out = await linli.say(GRID, "/person add")
    _, out = await linli.press(GRID, out[-1], "3号楼")
    out = await linli.say(GRID, "\u200b")  # looks empty: a zero-width space
    assert "不能为空" in out[-1]["text"]
    out = await linli.say(GRID, "2-401")
    out = await linli.say(GRID, "李" * 41)
    assert "40" in out[-1]["text"] and "太长" in out[-1]["text"]
    out = await linli.say(GRID, "/cancel")
    assert "取消" in out[-1]["text"]
    # in a group: refused, and nothing of the dialog
    await linli.group(GROUP, "3号楼楼门群", [ADMIN, GRID], admin=ADMIN)
    out = await linli.say(GRID, "/person add", chat_id=GROUP)
    assert "私聊" in out[-1]["text"]
    out = await linli.say(GRID, "/pair 1 2 3", chat_id=GROUP)
    assert "私聊" in out[-1]["text"]
    # a resident may not; a volunteer has no ledger either
    assert "权限" in (await linli.say(RESIDENT, "/person add"))[-1]["text"]
    assert "权限" in (await linli.say(VOL, "/person list"))[-1]["text"]
    assert "权限" in (await linli.say(GRID, "/grid add 二网格 5"))[-1]["text"]
    # a signed button for a person of another community: not found, nothing shown
    async with linli.db.uow() as uow:
        from flows import membership

        other, _ = await membership.create_community(uow, name="别的社区", now=linli.clock.now(), buildings=["1"])
        stranger = KeyPerson(community_id=other.id, room="1", alias="外社区人员", created_at=linli.clock.now(),
                             updated_at=linli.clock.now())
        uow.session.add(stranger)
        await uow.commit()
    msg = (await linli.say(GRID, "/person list"))[-1]
    for prefix in ("ps", "pe", "pp"):
        data = callbacks.pack(SECRET, [prefix, stranger.id or 0], now=linli.clock.now(), ttl=callbacks_ttl())
        toast = await linli.tap_data(GRID, msg, data)
        assert toast and "没有" in toast, toast
    assert "not found" not in str(await linli.tap_data(GRID, msg, "ps:1~zz~forged"))
    async with linli.db.uow() as uow:
        assert [p.alias for p in (await uow.session.exec(select(KeyPerson))).all()] == ["外社区人员"]
        assert not (await uow.session.exec(select(AuditEntry).where(AuditEntry.subject_id == stranger.id,
                                                                   AuditEntry.subject_type == "person"))).all()
    # pairing with the same volunteer twice, or a non-volunteer, is refused with words
    vol, res = await linli.member_no(VOL), await linli.member_no(RESIDENT)
    pid = await _add_person(linli)
    assert "同一个人" in (await linli.say(GRID, f"/pair {pid} {vol} {vol}"))[-1]["text"]
    assert "不是志愿者" in (await linli.say(GRID, f"/pair {pid} {vol} {res}"))[-1]["text"]


def callbacks_ttl():  # type: ignore[no-untyped-def]
    from datetime import timedelta

    return timedelta(hours=1)


async def test_the_sandbox_has_a_demo_ledger(tmp_path: Path) -> None:
    from bot.config import Settings
    from bot.sandbox import Sandbox
    from bot.standin.client import StandInClient

    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/sb.db",  # type: ignore[call-arg]
                        secret_key="x" * 32)
    for _ in range(2):  # seeded once: a second start adds nothing
        sandbox = Sandbox(settings, port=0)
        await sandbox.start()
        client = StandInClient(sandbox.url)
        try:
            await client.set_limits(enabled=False)
            mine = await _ask(client, 10003, "/mine")
            backup = await _ask(client, 10008, "/mine")
            listing = await _ask(client, 10002, "/person list")
            shown = await _ask(client, 10002, "/person show 1")
        finally:
            await client.close()
            await sandbox.stop()
        assert all(a in mine for a in ("3-2-401 李奶奶", "3-1-102 王大爷", "3-3-301 刘阿姨")) and "李秀兰" not in mine
        assert "作为备用志愿者" in backup
        assert "（3）" in listing and "🔴" in listing
        assert "李秀兰" in shown and "刘志愿" in shown


async def _ask(client, user_id: int, text: str) -> str:  # type: ignore[no-untyped-def]
    """Send and wait for the answer (the sandbox's bot runs on its own; notices may come between)."""
    import asyncio

    before = await client.cursor()
    await client.send(user_id, text)
    for _ in range(100):
        answers = [m["text"] for m in await client.bot_messages(user_id, before) if not m["text"].startswith("🤝")]
        if answers:
            return str(answers[-1])
        await asyncio.sleep(0.05)
    raise AssertionError(f"no answer to {text}")
