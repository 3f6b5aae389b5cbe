"""Issue #10, items 9, 10 and 13 (engineer "groups"): a linked group acts for its own community; the sandbox
control API; the audit shows member numbers and the name at the time."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from flows import membership, needs
from storage.models import Ballot, Community, Need, Poll, User
from tests.bot.conftest import Harness, buttons, linli, runtime, standin, tg  # noqa: F401  (fixtures)

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

    # /needs, its buttons and its pager: B's needs list
    out = await linli.say(TWO_HATS, "/needs", chat_id=GROUP_B)
    listing = out[-1]
    assert "共 6 条" in listing["text"], listing["text"]
    _, out = await linli.press(TWO_HATS, listing, "设施维护 (6)")
    page = out[-1]["text"]
    assert "乙需求" in page and "甲社区的需求" not in page and "▶" in buttons(out[-1])
    _, out = await linli.press(TWO_HATS, out[-1], "▶")
    assert "乙需求" in out[-1]["text"] and "甲社区的需求" not in out[-1]["text"] and "2/2" in buttons(out[-1])

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
    toast, _ = await linli.press(STRANGER, listing, "◀")  # the pager of the page TWO_HATS left at 2/2
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
