"""Issue #12 item 5 in Telegram transcripts over real HTTP, on both runtimes: a person's own command menu follows
their roles (granted → the commands are in their menu, read back from the stand-in; revoked → gone) and their
language, and /help shows what they may do, grouped by feature."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from sqlmodel import select

from flows import membership, menus
from flows.roles import Role
from storage.models import User
from tests.bot.conftest import TOKEN, Harness

ADMIN, ZHAO = 301, 302
STAFF = {"person", "pair", "checkins", "need_for", "mine", "away", "invite", "invites", "members"}
HEADINGS = ["登记与角色", "关爱台账", "每日巡查", "民生需求", "投票", "项目"]


def _names(menu: list[dict[str, Any]]) -> list[str]:
    return [c["command"] for c in menu]


async def _own_menu(linli: Harness, tg_id: int) -> list[dict[str, Any]]:
    """getMyCommands for the person's private chat (BotCommandScopeChat), through the Bot API."""
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{linli.standin.url}/bot{TOKEN}/getMyCommands",
                              data={"scope": json.dumps({"type": "chat", "chat_id": tg_id})})
    body = r.json()
    assert body["ok"], body
    return list(body["result"])


def _help_commands(text: str) -> list[str]:
    return re.findall(r"^/(\w+) — ", text, flags=re.M)


async def test_item5_grant_puts_the_commands_in_the_menu_and_revoke_takes_them_away(linli: Harness) -> None:
    await linli.register(ADMIN, "王书记", invite=await linli.create_community())
    await linli.register(ZHAO, "赵阿姨")
    await linli.settle()
    resident = _names(await linli.tg.menu(ZHAO))  # the general private menu: a resident's
    assert "need" in resident and "myneeds" in resident and not STAFF & set(resident)
    assert STAFF | {"grant", "revoke", "project", "audit"} <= set(_names(await linli.tg.menu(ADMIN)))
    no = await linli.member_no(ZHAO)

    await linli.say(ADMIN, f"/grant {no} grid_worker")
    await linli.settle()
    mine = await linli.tg.menu(ZHAO)
    assert STAFF <= set(_names(mine))
    assert await _own_menu(linli, ZHAO) == mine  # her own menu, kept by the stand-in for her chat
    described = {c["command"]: c["description"] for c in mine}
    assert "关爱台账" in described["person"] and re.search(r"[\u4e00-\u9fff]", described["pair"])
    help_text = (await linli.say(ZHAO, "/help"))[-1]["text"]
    assert _help_commands(help_text) == _names(mine)  # /help and the menu: the same commands, the same order

    await linli.say(ADMIN, f"/revoke {no} grid_worker")
    await linli.settle()
    after = _names(await linli.tg.menu(ZHAO))
    assert not STAFF & set(after) and set(after) == set(resident)  # access taken away: the menu stops offering it
    assert "/person" not in (await linli.say(ZHAO, "/help"))[-1]["text"]

    await linli.say(ZHAO, "/lang en")
    await linli.settle()
    english = {c["command"]: c["description"] for c in await linli.tg.menu(ZHAO)}
    assert english["need"] == "Tell the community what is needed (需求清单)"


async def test_item5_group_admins_find_poll_in_their_menu(linli: Harness) -> None:
    await linli.register(ADMIN, "王书记", invite=await linli.create_community())
    await linli.register(ZHAO, "赵阿姨")
    group = await linli.group(-1002000000301, "北辰示范社区居民群", [ADMIN, ZHAO], admin=ADMIN)
    assert {"poll", "link"} <= set(_names(await linli.tg.menu(ADMIN, group)))
    assert not {"poll", "link"} & set(_names(await linli.tg.menu(ZHAO, group)))


async def test_item5_every_role_sees_in_help_and_menu_only_what_it_may_do(linli: Harness) -> None:
    await linli.register(ADMIN, "王书记", invite=await linli.create_community())
    await linli.register(ZHAO, "赵阿姨")
    no = await linli.member_no(ZHAO)
    seen: dict[str, set[str]] = {}
    for role in ("volunteer", "representative", "grid_worker", "admin"):
        await linli.say(ADMIN, f"/grant {no} {role}")
        await linli.settle()
        menu = _names(await linli.tg.menu(ZHAO))
        help_text = (await linli.say(ZHAO, "/help"))[-1]["text"]
        assert _help_commands(help_text) == menu, role
        seen[role] = set(menu)
        await linli.say(ADMIN, f"/revoke {no} {role}")
    assert {"mine", "away"} <= seen["volunteer"] and not {"person", "vote"} & seen["volunteer"]
    assert "vote" in seen["representative"] and "mine" not in seen["representative"]
    assert {"person", "pair", "need_for"} <= seen["grid_worker"] and "grant" not in seen["grid_worker"]
    assert {"grant", "revoke", "project", "audit", "grid"} <= seen["admin"] and "vote" not in seen["admin"]


async def test_item5_a_district_admins_help_is_grouped_by_feature(linli: Harness) -> None:
    await linli.register(ADMIN, "周主任", invite=await linli.create_community())
    async with linli.db.uow() as uow:  # a district admin is given by the system (`linli`), not by a command
        user = (await uow.session.exec(select(User).where(User.tg_id == ADMIN))).one()
        actor = await membership.load_actor(uow, user)
        assert actor.member is not None
        await membership.assign_role(uow, member=actor.member, role=Role.DISTRICT_ADMIN, org=None,
                                     now=linli.clock.now())
        await menus.refresh(uow, user=user, now=linli.clock.now())
        await uow.commit()
    await linli.settle()
    text = (await linli.say(ADMIN, "/help"))[-1]["text"]
    headings = re.findall(r"^<b>(.+)</b>$", text, flags=re.M)[1:] if "<b>" in text else []
    if not headings:  # the stand-in's transcript shows the text without its HTML
        lines = text.splitlines()
        headings = [line for line in lines if line in HEADINGS]
    assert headings == HEADINGS
    commands = _help_commands(text)
    assert len(commands) == len(set(commands)) >= 25
    # each command sits under its feature's heading
    sections = {h: _help_commands(part) for h, part in zip(HEADINGS, re.split(
        "^(?:" + "|".join(HEADINGS) + ")$", text, flags=re.M)[1:], strict=True)}
    assert {"grant", "revoke", "invite", "audit"} <= set(sections["登记与角色"])
    assert {"person", "pair", "grid"} <= set(sections["关爱台账"]) and "checkins" in sections["每日巡查"]
    assert {"need", "needs", "need_for"} <= set(sections["民生需求"]) and "ballot" in sections["投票"]
    assert {"project", "board", "openday"} <= set(sections["项目"])
    assert _names(await linli.tg.menu(ADMIN)) == commands


def test_item5_every_command_has_its_section_in_help() -> None:
    """A feature module added later is placed under a heading, never in the catch-all "More"."""
    from bot import menus as bot_menus
    from bot.handlers import build_router

    homeless = sorted(name for name, spec in build_router().commands.items()
                      if bot_menus._section(spec) == len(bot_menus.SECTIONS))
    assert homeless == []
