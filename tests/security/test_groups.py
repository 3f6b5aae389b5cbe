"""Issue #10, items 9, 10 and 13 (engineer "groups"): a linked group acts for its own community; the sandbox
control API; the audit shows member numbers and the name at the time."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import aiohttp
from sqlmodel import col, select

from bot.core import callbacks
from bot.standin.client import StandInClient
from bot.standin.server import StandIn
from flows import audit, membership, needs
from flows.clock import FixedClock
from storage.db import Database
from storage.models import Ballot, Community, Need, Poll, User
from tests.bot import conftest as bot_fixtures
from tests.bot.conftest import TOKEN, Harness, buttons

# the transcript harness of tests/bot (both runtimes, the stand-in over real HTTP)
linli, runtime, standin, tg = bot_fixtures.linli, bot_fixtures.runtime, bot_fixtures.standin, bot_fixtures.tg

# ---------------------------------------------------------------- item 9: the group's community, always

ADMIN_B, TWO_HATS, STRANGER = 901, 902, 903  # TWO_HATS: admin in A, resident in B, working in A
GROUP_B = -1002000000909


async def _actor(uow, tg_id: int, community_id: int | None = None) -> membership.Actor:  # type: ignore[no-untyped-def]
    user = (await uow.session.exec(select(User).where(User.tg_id == tg_id))).one()
    community = await uow.session.get(Community, community_id) if community_id else None
    return await membership.load_actor(uow, user, community=community)


async def _two_communities(linli: Harness) -> tuple[int, int]:
    """A and B; ADMIN_B runs B and links GROUP_B to it; TWO_HATS is the admin of A (their active community) and
    a resident of B; STRANGER is the admin of a third community, in B's group too but no member of B."""
    code_a = await linli.create_community("甲社区")
    code_b = await linli.create_community("乙社区")
    code_c = await linli.create_community("丙社区")
    async with linli.db.uow() as uow:
        ids = {c.name: c.id or 0 for c in (await uow.session.exec(select(Community))).all()}
    a, b = ids["甲社区"], ids["乙社区"]
    await linli.register(ADMIN_B, "乙书记", invite=code_b)
    await linli.register(STRANGER, "丙主任", invite=code_c)
    await linli.register(TWO_HATS, "双社区", invite=code_a)
    async with linli.db.uow(write=True) as uow:
        user = (await uow.session.exec(select(User).where(User.tg_id == TWO_HATS))).one()
        await membership.register(uow, user=user, community_id=b, building_id=None, now=linli.clock.now())
        user.active_community_id = a  # back at work in A
        uow.session.add(user)
        await uow.commit()
    await linli.group(GROUP_B, "乙社区群", [ADMIN_B, TWO_HATS, STRANGER], admin=ADMIN_B)
    out = await linli.say(ADMIN_B, "/link community", chat_id=GROUP_B)
    assert "乙社区" in out[-1]["text"]
    return a, b


async def test_item9_group_acts_for_its_own_community_not_the_pressers(linli: Harness) -> None:
    a, b = await _two_communities(linli)
    assert "征集已开始" in (await linli.say(TWO_HATS, "/needs open"))[-1]["text"]  # in private: A
    assert "征集已开始" in (await linli.say(ADMIN_B, "/needs open"))[-1]["text"]
    now = linli.clock.now()
    async with linli.db.uow(write=True) as uow:
        in_a = await _actor(uow, TWO_HATS)
        assert in_a.community is not None and in_a.community.id == a and in_a.can(membership.Perm.POLL)
        await needs.submit(uow, actor=in_a, category="facility", text="甲社区的需求", now=now)
        for i in range(6):  # two pages in B
            who = await _actor(uow, ADMIN_B) if i % 2 else await _actor(uow, TWO_HATS, b)
            await needs.submit(uow, actor=who, category="facility", text=f"乙需求{i}", now=now)
        uow.session.add(Ballot(community_id=a, year=now.year, status="open", opens_at=now, opened_at=now,
                               closes_at=now + timedelta(days=7), created_by_member_id=in_a.registered().id or 0,
                               created_at=now))
        await uow.commit()

    # /help: the roles held in B (a resident), not A's admin commands
    text = (await linli.say(TWO_HATS, "/help", chat_id=GROUP_B))[-1]["text"]
    assert "/link" not in text and "/poll" not in text and "乙社区" in text and "甲社区" not in text

    # /needs, its buttons and its pager: B's needs list — followed into private (their active community is A),
    # every page and "+1" there stays B's
    out = await linli.say(TWO_HATS, "/needs", chat_id=GROUP_B)
    listing = out[-1]
    assert "共 6 条" in listing["text"], listing["text"]
    out = await linli.follow(TWO_HATS, listing, "设施维护 (6)")
    page = out[-1]["text"]
    assert "乙需求" in page and "甲社区的需求" not in page and "▶" in buttons(out[-1])
    _, out = await linli.press(TWO_HATS, out[-1], "▶")
    assert "乙需求" in out[-1]["text"] and "甲社区的需求" not in out[-1]["text"] and "2/2" in buttons(out[-1])
    _, out = await linli.press(TWO_HATS, out[-1], "◀ 类别")
    assert "共 6 条" in out[-1]["text"], out[-1]["text"]  # B's categories, not A's (1 need)

    # /need in the group: recorded in B
    ask = (await linli.say(TWO_HATS, "/need 乙群里说的新需求", chat_id=GROUP_B))[-1]
    _, out = await linli.press(TWO_HATS, ask, "设施维护")
    assert "需求 #7" in out[-1]["text"], out[-1]["text"]
    async with linli.db.uow() as uow:
        row = (await uow.session.exec(select(Need).where(Need.text == "乙群里说的新需求"))).one()
        assert row.community_id == b

    # /ballot: B has none open (A has one)
    out = await linli.say(TWO_HATS, "/ballot", chat_id=GROUP_B)
    assert "目前没有进行中的居民代表点选" in out[-1]["text"], out[-1]["text"]

    # an admin's actions in B's group: refused, A's admin role counts for nothing here
    for command in ("/poll 周六几点打扫？ | 九点 | 三点", "/unlink", "/link committee"):
        out = await linli.say(TWO_HATS, command, chat_id=GROUP_B)
        assert "权限" in out[-1]["text"], (command, out[-1]["text"])
    async with linli.db.uow() as uow:
        assert (await uow.session.exec(select(Poll))).first() is None
        _, community, _ = await membership.chat_info(uow, tg_chat_id=GROUP_B)
        assert community is not None and community.id == b

    # someone who is no member of B at all: told so, never served from their own community
    for command in ("/needs", "/need 丙的需求", "/ballot"):
        out = await linli.say(STRANGER, command, chat_id=GROUP_B)
        assert "您不是该社区的成员" in out[-1]["text"] and "乙社区" in out[-1]["text"], (command, out[-1]["text"])
        assert not buttons(out[-1])
    # a list posted before its buttons were links, pressed by the stranger in B's group
    old_button = callbacks.pack(linli.app.core.secret, ["nb", "c", "facility", 2], now=linli.clock.now(),
                                ttl=timedelta(days=1))
    toast = await linli.tap_data(STRANGER, listing, old_button)
    assert toast and "您不是该社区的成员" in toast
    text = (await linli.say(STRANGER, "/help", chat_id=GROUP_B))[-1]["text"]
    assert "您不是该社区的成员" in text and "/link" not in text and "丙社区" not in text
    async with linli.db.uow() as uow:
        assert (await uow.session.exec(select(Need).where(col(Need.text).contains("丙")))).first() is None


async def test_item9_actor_in_a_group_is_bound_to_the_groups_community(linli: Harness) -> None:
    """The flows' view: load_actor with a group's community gives the roles held there, or an outsider."""
    a, b = await _two_communities(linli)
    async with linli.db.uow() as uow:
        home = await _actor(uow, TWO_HATS)
        there = await _actor(uow, TWO_HATS, b)
        outsider = await _actor(uow, STRANGER, b)
        group = await membership.group_community(uow, tg_chat_id=GROUP_B)
    assert home.community is not None and home.community.id == a and "admin" in home.roles
    assert there.community is not None and there.community.id == b and there.roles == frozenset({"resident"})
    assert there.member is not None and there.member.community_id == b and not there.outsider
    assert outsider.outsider and outsider.member is None and outsider.roles == frozenset()
    assert group is not None and group.id == b


# ---------------------------------------------------------------- item 10: the sandbox's control API

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6300010000050001"
    "0d0a2db40000000049454e44ae426082")


async def _http(url: str, method: str = "GET", **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.request(method, url, **kwargs) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def test_item10_control_api_takes_json_only(standin: StandIn) -> None:
    users = f"{standin.url}/_control/users"
    for kwargs in ({"data": "first_name=Mallory"},  # a plain HTML form
                   {"data": b'{"first_name": "Mallory"}', "headers": {"Content-Type": "text/plain"}},
                   {"data": b'{"first_name": "Mallory"}'},  # no type at all
                   {"data": _form({"first_name": "Mallory"})}):  # multipart, but not an upload endpoint
        status, _, body = await _http(users, "POST", **kwargs)
        assert status == 415 and b"application/json" in body, (kwargs, status, body)
    assert not [u for u in standin.world.users.values() if u.first_name == "Mallory"]
    status, _, body = await _http(users, "POST", json={"first_name": "Alice", "id": 7001})
    assert status == 200 and json.loads(body)["id"] == 7001
    # the page's file picker: multipart on the upload endpoints, from the page's own origin
    port = standin.url.rsplit(":", 1)[1]
    form = _form({"user_id": "7001"}, file=PNG_1PX)
    status, _, body = await _http(f"{standin.url}/_control/photos", "POST", data=form,
                                  headers={"Origin": f"http://127.0.0.1:{port}"})
    assert status == 200 and json.loads(body)["photo"], body
    status, _, _ = await _http(f"{standin.url}/_control/photos", "POST", data="user_id=7001")
    assert status == 415


async def test_item10_control_api_answers_loopback_names_only(standin: StandIn) -> None:
    port = int(standin.url.rsplit(":", 1)[1])
    base = standin.url
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1:{port + 1}", "10.0.0.8:" + str(port),
                 "127.0.0.1", ""):
        for path in ("/_control/transcript", "/_control/users", "/"):
            status, _, _ = await _http(base + path, headers={"Host": host})
            assert status == 403, (host, path, status)
        status, _, _ = await _http(base + "/_control/users", "POST", json={"first_name": "Mallory"},
                                   headers={"Host": host})
        assert status == 403, host
    for origin in ("http://evil.example", f"http://evil.example:{port}", "null", f"https://127.0.0.1:{port}",
                   f"http://127.0.0.1:{port + 1}"):
        status, _, _ = await _http(base + "/_control/users", "POST", json={"first_name": "Mallory"},
                                   headers={"Origin": origin})
        assert status == 403, origin
        status, _, _ = await _http(base + "/_control/transcript", headers={"Origin": origin})
        assert status == 403, origin
    assert not [u for u in standin.world.users.values() if u.first_name == "Mallory"]
    for name in ("127.0.0.1", "localhost", "LocalHost", "[::1]"):
        status, _, _ = await _http(base + "/_control/transcript", headers={"Host": f"{name}:{port}",
                                                                          "Origin": f"http://{name}:{port}"})
        assert status == 200, name
    status, _, _ = await _http(base + "/")  # the page, as a browser on this machine opens it
    assert status == 200
    # the Bot API stays the bot's (its token guards it)
    status, _, _ = await _http(f"{base}/bot{TOKEN}/getMe")
    assert status == 200


async def test_item10_files_are_served_as_attachments_never_sniffed(standin: StandIn, tg: StandInClient) -> None:
    await tg.create_user("Alice", id=7002)
    page = b"<html><script>alert(document.domain)</script></html>"
    doc = await tg.send_document(7002, page, file_name="x.html", mime_type="text/html")
    photo = await tg.send_photo(7002, PNG_1PX)
    stored = standin.world.files[doc["document"]["file_id"]]
    for url in (f"{standin.url}/_control/files/{stored.file_id}", f"{standin.url}/file/bot{TOKEN}/{stored.file_path}"):
        status, headers, body = await _http(url)
        assert status == 200 and body == page
        assert headers["Content-Disposition"].startswith("attachment;") and 'filename="x.html"' in \
            headers["Content-Disposition"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Type"].startswith("application/octet-stream"), headers["Content-Type"]
    status, headers, _ = await _http(f"{standin.url}/_control/files/{photo['photo'][-1]['file_id']}")
    assert status == 200 and headers["Content-Type"].startswith("image/jpeg")  # the page shows it in <img>
    assert headers["Content-Disposition"].startswith("attachment;") and headers["X-Content-Type-Options"] == "nosniff"


def _form(fields: dict[str, str], file: bytes | None = None) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for key, value in fields.items():
        form.add_field(key, value)
    if file is not None:
        form.add_field("file", file, filename="photo.png", content_type="image/png")
    else:
        form.add_field("file", b"x", filename="x.txt", content_type="text/plain")
    return form


# ---------------------------------------------------------------- item 13: the audit keeps the actor as they were

ADMIN13, RES13 = 931, 932


async def test_item13_audit_shows_member_number_and_the_name_at_the_time(linli: Harness) -> None:
    code = await linli.create_community()
    await linli.register(ADMIN13, "王书记", invite=code)
    await linli.register(RES13, "赵阿姨")
    no = await linli.member_no(RES13)
    # she renames herself in Telegram; the bot learns it with her next message
    linli.standin.world.users[RES13].first_name = "Zhao"
    linli.standin.world.users[RES13].last_name = "Lan"
    await linli.say(RES13, "/lang en")  # an audited action under the new name
    async with linli.db.uow() as uow:
        user = (await uow.session.exec(select(User).where(User.tg_id == RES13))).one()
        assert user.first_name == "Zhao"
    text = (await linli.say(ADMIN13, "/audit"))[-1]["text"]
    assert f"#{no} 赵阿姨: member.register" in text, text
    assert f"#{no} Zhao Lan: user.language" in text, text
    assert "当时的名字" in text
    assert f"#{await linli.member_no(ADMIN13)} 王书记: invite.redeem" in text


async def test_item13_audit_entry_is_stamped_when_written(db: Database, clock: FixedClock) -> None:
    """The flow: the name and number are the ones of the moment of the INSERT, whatever happens later."""
    now = clock.now()
    async with db.uow(write=True) as uow:
        community, _ = await membership.create_community(uow, name="甲社区", now=now)
        user = await membership.touch_user(uow, tg_id=77, first_name="张三", last_name=None, username=None,
                                           tg_language="zh-hans", now=now)
        done = await membership.register(uow, user=user, community_id=community.id or 0, building_id=None, now=now)
        audit.record(uow, action="test.act", now=now, community_id=community.id, actor_user_id=user.id)
        audit.record(uow, action="test.system", now=now, community_id=community.id)
        await uow.commit()
    async with db.uow(write=True) as uow:
        await membership.touch_user(uow, tg_id=77, first_name="李四", last_name="改", username=None,
                                    tg_language="zh-hans", now=now)
        await uow.commit()
    async with db.uow() as uow:
        page = await audit.list_entries(uow, community_id=community.id or 0, page=1)
    acts = {e.action: e for e in page.items}
    assert (acts["test.act"].actor, acts["test.act"].member_no) == ("张三", done.member.id)
    assert (acts["member.register"].actor, acts["member.register"].member_no) == ("张三", done.member.id)
    assert (acts["test.system"].actor, acts["test.system"].member_no) == ("", None)
