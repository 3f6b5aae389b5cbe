"""README's "Try it", steps 1 to 3, walked literally in a real sandbox over HTTP (issue #12 item 7): the newcomer
registers, 王书记 links 5号楼楼门群 and hands out roles — `/grant 11 volunteer` works on the demo, and the
newcomer's command menu then offers the volunteer's commands (item 5); `/revoke` takes them away again."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.config import Settings
from bot.sandbox import Sandbox
from bot.standin.client import StandInClient
from tests.bot.test_sandbox_walkthrough import Walk, _labels, _text

ADMIN, NEWCOMER, BUILDING_5 = 10001, 10007, -1001000000005


async def _menu_has(client: StandInClient, user: int, commands: set[str], present: bool = True) -> list[str]:
    for _ in range(100):  # the menu goes through the outbox, after the notice, at one call a second per chat
        names = [c["command"] for c in await client.menu(user)]
        if (commands <= set(names)) == present and (present or not commands & set(names)):
            return names
        await asyncio.sleep(0.05)
    raise AssertionError(f"menu of {user}: {names}")


async def test_item7_readme_steps_1_to_3_in_the_sandbox(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/sb.db",  # type: ignore[call-arg]
                        secret_key="x" * 32)
    sandbox = Sandbox(settings, port=0)
    await sandbox.start()
    client = StandInClient(sandbox.url)
    try:
        await client.set_limits(enabled=False)
        walk = Walk(client)
        # 1. 小周 registers: /start → 3号楼 → ✅ 我同意
        m = await walk.say(NEWCOMER, "/start", "您住在几号楼？")
        _, m = await walk.press(NEWCOMER, m, "3号楼", "隐私说明")
        _, m = await walk.press(NEWCOMER, m, "✅ 我同意", "🎉 欢迎来到北辰示范社区！您已经登记好了。")
        # 2. 王书记 links 5号楼楼门群（待绑定）: 楼门群…… → 5号楼
        welcome = await walk.wait(BUILDING_5, 0, "关联到社区")
        _, m = await walk.press(ADMIN, welcome, "楼门群……", "这是几号楼的群？")
        _, m = await walk.press(ADMIN, m, "5号楼", "✅ 本群现在是北辰示范社区的5号楼楼门群了。")
        assert _labels(m) == ["在“邻里”登记"]
        # 3. roles, as 王书记 in private
        m = await walk.say(ADMIN, "/invite volunteer", "https://t.me/linli_bot?start=i_")
        m = await walk.say(ADMIN, "/members", "成员名单")
        _, m = await walk.press(ADMIN, m, "▶", "11. 小周（新居民）")
        assert "居民" in _text(m).split("11. 小周（新居民）", 1)[1]
        await _menu_has(client, NEWCOMER, {"mine", "away"}, present=False)  # a resident's menu
        await walk.say(ADMIN, "/grant 11 volunteer", "✅ 小周（新居民）（编号 11）现在的身份是：居民、志愿者")
        await walk.wait(NEWCOMER, 0, "志愿者")
        await _menu_has(client, NEWCOMER, {"mine", "away"})
        help_text = _text(await walk.say(NEWCOMER, "/help", "关爱台账"))
        assert "/mine" in help_text.split("关爱台账", 1)[1] and "/away" in help_text.split("每日巡查", 1)[1]
        await walk.say(ADMIN, "/revoke 11 volunteer", "小周（新居民）")
        await _menu_has(client, NEWCOMER, {"mine", "away"}, present=False)
        m = await walk.say(ADMIN, "/audit", "操作记录")
        assert "role.grant member#11" in _text(m) and "member.register member#11" in _text(m)
    finally:
        await client.close()
        await sandbox.stop()
