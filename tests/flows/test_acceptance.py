"""Acceptance (验收单) against a real database: the comparison post to every building group, likes once
per person (button and reaction), ratings 1–5 changeable, the summary, and only finished projects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from flows import acceptance, membership
from flows.clock import FixedClock
from flows.errors import AlreadyDone, Invalid, NotFound, NotRegistered
from flows.membership import Actor
from flows.roles import Role
from storage.db import Database
from storage.models import (
    Chat,
    OutboxMessage,
    Project,
    ProjectLike,
    ProjectPhoto,
    ProjectPost,
    ProjectRating,
)
from tests.flows.people import actor_of, enrol

PEOPLE = {"admin": Role.ADMIN, "r1": None, "r2": None, "r3": None}
B1, B2, KICKED, COMMUNITY_GROUP, OTHER = -1001, -1002, -1003, -1004, -1005


@dataclass
class World:
    community_id: int
    actors: dict[str, Actor]
    members: dict[str, int]
    project_id: int
    other_project_id: int  # of another community
    stranger: Actor


@pytest.fixture
async def world(db: Database, clock: FixedClock) -> World:
    now = clock.now()
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", now=now, buildings=["1", "2"])
        other, _ = await membership.create_community(uow, name="别的社区", now=now, buildings=["1"])
        members = await enrol(uow, community_id=community.id or 0, people=PEOPLE, first_tg_id=500, now=now)
        await membership.touch_user(uow, tg_id=599, first_name="stranger", last_name=None, username=None,
                                    tg_language="zh-hans", now=now)
        for chat_id, purpose, status, cid in ((B1, "building", "administrator", community.id),
                                              (B2, "building", "member", community.id),
                                              (KICKED, "building", "kicked", community.id),
                                              (COMMUNITY_GROUP, "community", "administrator", community.id),
                                              (OTHER, "building", "administrator", other.id)):
            uow.session.add(Chat(tg_chat_id=chat_id, type="supergroup", title=str(chat_id), community_id=cid,
                                 purpose=purpose, bot_status=status, created_at=now))
        project = Project(community_id=community.id, year=2027, number=1, title="3号楼加装扶手", category="facility",
                          created_at=now)
        foreign = Project(community_id=other.id, year=2027, number=1, title="别处的项目", category="facility",
                          created_at=now, completed_at=now)
        uow.session.add(project)
        uow.session.add(foreign)
        await uow.session.flush()
        for i, (kind, days) in enumerate((("before", 0), ("before", 1), ("progress", 2), ("after", 3), ("after", 4))):
            uow.session.add(ProjectPhoto(project_id=project.id, kind=kind, file_id=f"file-{kind}-{days}",
                                         file_unique_id=f"u{i}", member_id=members["admin"],
                                         created_at=now + timedelta(days=days)))
        await uow.commit()
    actors = {key: await actor_of(db, 500 + i) for i, key in enumerate(PEOPLE)}
    return World(community.id, actors, members, project.id or 0, foreign.id or 0, await actor_of(db, 599))


async def _complete(db: Database, clock: FixedClock, world: World, days: int = 5) -> int:
    async with db.uow() as uow:
        project = await uow.session.get(Project, world.project_id)
        assert project is not None
        project.completed_at = clock.now() + timedelta(days=days)
        queued = await acceptance.completed(uow, project=project, now=clock.now() + timedelta(days=days))
        await uow.commit()
    return queued


async def test_completed_queues_the_comparison_to_every_building_group_once(db: Database, clock: FixedClock,
                                                                             world: World) -> None:
    assert await _complete(db, clock, world) == 2
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        posts = (await uow.session.exec(select(ProjectPost))).all()
    assert sorted(r.tg_chat_id for r in rows) == [B2, B1]
    p = rows[0].payload
    assert p["op"] == "compose" and p["picture"] == "comparison" and p["notice"] == acceptance.NOTICE
    params = p["params"]
    # the latest "before" and the latest "after", with their local dates
    assert params["before"] == "file-before-1" and params["after"] == "file-after-4"
    assert params["before_on"] == "2027-03-02" and params["after_on"] == "2027-03-05"
    assert params["completed_on"] == "2027-03-06" and params["title"] == "3号楼加装扶手"
    assert {(x.tg_chat_id, x.kind, x.project_id) for x in posts} == {(B1, "comparison", world.project_id),
                                                                     (B2, "comparison", world.project_id)}
    assert {x.outbox_id for x in posts} == {r.id for r in rows}
    # completing again posts nothing new
    assert await _complete(db, clock, world) == 0
    # one photo only: still composed (the picture shows the one there is); none: a text post
    only_after = await _project_with(db, clock, world, 2, ("after", "progress"))
    assert all(r.payload["op"] == "compose" and r.payload["params"]["before"] is None
               and r.payload["params"]["after"] == "f-2-after" for r in only_after)
    plain = await _project_with(db, clock, world, 3, ("progress",))
    assert len(plain) == 2 and all("op" not in r.payload for r in plain)
    # marked complete before the "after" photo: the first "after" photo posts the picture, once
    async with db.uow() as uow:
        project = (await uow.session.exec(select(Project).where(Project.number == 3))).one()
        uow.session.add(ProjectPhoto(project_id=project.id or 0, kind="after", file_id="f-3-late",
                                     file_unique_id="u-3-late", member_id=world.members["admin"],
                                     created_at=clock.now()))
        await uow.session.flush()
        assert await acceptance.completed(uow, project=project, now=clock.now()) == 2
        assert await acceptance.completed(uow, project=project, now=clock.now()) == 0
        await uow.commit()
        posts = (await uow.session.exec(select(ProjectPost).where(ProjectPost.project_id == project.id))).all()
        rows = [await uow.session.get(OutboxMessage, x.outbox_id) for x in posts]
    assert len(posts) == 2 and all(r is not None and r.payload["op"] == "compose"
                                   and r.payload["params"]["after"] == "f-3-late" for r in rows)


async def _project_with(db: Database, clock: FixedClock, world: World, number: int, kinds: tuple[str, ...]
                        ) -> list[OutboxMessage]:
    """Another finished project with only these photos, completed: its queued posts."""
    async with db.uow() as uow:
        project = Project(community_id=world.community_id, year=2027, number=number, title="路面修补",
                          category="traffic", created_at=clock.now(), completed_at=clock.now())
        uow.session.add(project)
        await uow.session.flush()
        for kind in kinds:
            uow.session.add(ProjectPhoto(project_id=project.id or 0, kind=kind, file_id=f"f-{number}-{kind}",
                                         file_unique_id=f"u-{number}-{kind}", member_id=world.members["admin"],
                                         created_at=clock.now()))
        assert await acceptance.completed(uow, project=project, now=clock.now()) == 2
        await uow.commit()
        return list((await uow.session.exec(select(OutboxMessage).where(
            OutboxMessage.dedupe_key.like(f"%:{project.id}:%")))).all())  # type: ignore[union-attr]


async def _post_message(db: Database, chat: int, message_id: int) -> None:
    """What the outbox sender does once the post is out: Telegram's message id on the row."""
    async with db.uow() as uow:
        post = (await uow.session.exec(select(ProjectPost).where(ProjectPost.tg_chat_id == chat))).one()
        row = await uow.session.get(OutboxMessage, post.outbox_id)
        assert row is not None
        row.status, row.tg_message_id = "sent", message_id
        await uow.commit()


async def test_like_once_per_person_by_button_or_reaction(db: Database, clock: FixedClock, world: World) -> None:
    now = clock.now()
    async with db.uow() as uow:  # not finished yet
        with pytest.raises(Invalid) as err:
            await acceptance.like(uow, actor=world.actors["r1"], project_id=world.project_id, now=now)
        assert err.value.reason == "not_finished"
    await _complete(db, clock, world)
    await _post_message(db, B1, 77)
    async with db.uow() as uow:
        assert await acceptance.like(uow, actor=world.actors["r1"], project_id=world.project_id, now=now) == 1
        await uow.commit()
    async with db.uow() as uow:
        with pytest.raises(AlreadyDone):
            await acceptance.like(uow, actor=world.actors["r1"], project_id=world.project_id, now=now)
        with pytest.raises(NotRegistered):
            await acceptance.like(uow, actor=world.stranger, project_id=world.project_id, now=now)
        with pytest.raises(NotFound):
            await acceptance.like(uow, actor=world.actors["r1"], project_id=world.other_project_id, now=now)
    async with db.uow() as uow:
        # a 👍 reaction on the post counts; other emoji and other messages do not
        assert await acceptance.reaction(uow, actor=world.actors["r2"], tg_chat_id=B1, message_id=77,
                                         emoji=("🎉",), now=now) is None
        assert await acceptance.reaction(uow, actor=world.actors["r2"], tg_chat_id=B1, message_id=78,
                                         emoji=("👍",), now=now) is None
        assert await acceptance.reaction(uow, actor=world.actors["r2"], tg_chat_id=B1, message_id=77,
                                         emoji=("👍", "🎉"), now=now) == "liked"
        assert await acceptance.reaction(uow, actor=world.actors["r2"], tg_chat_id=B1, message_id=77,
                                         emoji=("👍",), now=now) is None
        # r1 liked by button already: a reaction adds nothing, and taking it back keeps the button's like
        assert await acceptance.reaction(uow, actor=world.actors["r1"], tg_chat_id=B1, message_id=77,
                                         emoji=("👍",), now=now) is None
        assert await acceptance.reaction(uow, actor=world.actors["r1"], tg_chat_id=B1, message_id=77,
                                         emoji=(), now=now) is None
        assert await acceptance.reaction(uow, actor=world.stranger, tg_chat_id=B1, message_id=77,
                                         emoji=("👍",), now=now) is None
        await uow.commit()
    async with db.uow() as uow:
        assert await acceptance.likes(uow, world.project_id) == 2
        post = (await uow.session.exec(select(ProjectPost).where(ProjectPost.tg_chat_id == B1))).one()
        assert post.message_id == 77  # remembered from the outbox row
        with pytest.raises(AlreadyDone):  # the reaction's like counts for the button too
            await acceptance.like(uow, actor=world.actors["r2"], project_id=world.project_id, now=now)
        # r2 takes the reaction back: the like goes
        assert await acceptance.reaction(uow, actor=world.actors["r2"], tg_chat_id=B1, message_id=77,
                                         emoji=(), now=now) == "unliked"
        await uow.commit()
    async with db.uow() as uow:
        assert await acceptance.likes(uow, world.project_id) == 1
        # once per person lives in the schema
        uow.session.add(ProjectLike(project_id=world.project_id, member_id=world.members["r1"], created_at=now))
        with pytest.raises(IntegrityError):
            await uow.session.flush()


async def test_ratings_once_per_person_changeable_and_summary(db: Database, clock: FixedClock, world: World) -> None:
    now = clock.now()
    await _complete(db, clock, world)
    async with db.uow() as uow:
        for bad in (0, 6, -1):
            with pytest.raises(Invalid) as err:
                await acceptance.rate(uow, actor=world.actors["r1"], project_id=world.project_id, stars=bad, now=now)
            assert err.value.field == "stars"
        with pytest.raises(Invalid) as err:
            await acceptance.rate(uow, actor=world.actors["r1"], project_id=world.project_id, stars=4, now=now,
                                  comment="好" * 301)
        assert err.value.details["limit"] == 300
        with pytest.raises(NotFound):
            await acceptance.comment(uow, actor=world.actors["r1"], project_id=world.project_id, text="x", now=now)
        await acceptance.rate(uow, actor=world.actors["r1"], project_id=world.project_id, stars=4, now=now,
                              comment="  扶手很结实  ")
        await acceptance.rate(uow, actor=world.actors["r2"], project_id=world.project_id, stars=2, now=now)
        await acceptance.like(uow, actor=world.actors["r3"], project_id=world.project_id, now=now)
        await uow.commit()
    async with db.uow() as uow:
        mine = await acceptance.my_rating(uow, actor=world.actors["r1"], project_id=world.project_id)
        assert mine is not None and mine.stars == 4 and mine.comment == "扶手很结实"
        # changing the stars keeps the comment when asked to; a new comment replaces it
        await acceptance.rate(uow, actor=world.actors["r1"], project_id=world.project_id, stars=5, now=now,
                              keep_comment=True)
        await acceptance.comment(uow, actor=world.actors["r2"], project_id=world.project_id, text="还行", now=now)
        with pytest.raises(Invalid):
            await acceptance.comment(uow, actor=world.actors["r2"], project_id=world.project_id, text="  ", now=now)
        await uow.commit()
    async with db.uow() as uow:
        rows = (await uow.session.exec(select(ProjectRating).order_by(ProjectRating.id))).all()
        assert [(r.stars, r.comment) for r in rows] == [(5, "扶手很结实"), (2, "还行")]
        summary = await acceptance.summary(uow, [world.project_id, world.other_project_id])
    assert summary[world.project_id] == acceptance.Summary(likes=1, ratings=2, average=3.5)
    assert summary[world.other_project_id] == acceptance.Summary()
    async with db.uow() as uow:
        uow.session.add(ProjectRating(project_id=world.project_id, member_id=world.members["r1"], stars=3,
                                      updated_at=now))
        with pytest.raises(IntegrityError):
            await uow.session.flush()


async def test_comments_reach_the_owner_or_else_the_admins(db: Database, clock: FixedClock, world: World) -> None:
    """A comment is read, not just stored: it goes to the project's owner (or the admins when there
    is none), with the stars and the words or the voice, never with the resident's name."""
    now = clock.now()
    await _complete(db, clock, world)
    async with db.uow() as uow:
        before = len((await uow.session.exec(select(OutboxMessage))).all())
        await acceptance.rate(uow, actor=world.actors["r1"], project_id=world.project_id, stars=4, now=now)
        with pytest.raises(Invalid) as err:
            await acceptance.comment(uow, actor=world.actors["r1"], project_id=world.project_id, text="", now=now,
                                     voice_file_id="")
        assert err.value.field == "voice"
        await acceptance.comment(uow, actor=world.actors["r1"], project_id=world.project_id, text="扶手很好", now=now)
        await uow.commit()
    async with db.uow() as uow:
        project = await uow.session.get(Project, world.project_id)
        project.owner_member_id = world.members["r3"]
        uow.session.add(project)
        row = await acceptance.comment(uow, actor=world.actors["r1"], project_id=world.project_id, text="", now=now,
                                       voice_file_id="AwACAgQ-voice")
        await uow.commit()
    assert (row.comment, row.comment_voice_file_id) == (None, "AwACAgQ-voice")
    async with db.uow() as uow:
        told = (await uow.session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all()[before:]
    to_admin, to_owner = told
    assert to_admin.recipient_user_id == world.actors["admin"].user.id
    assert to_owner.recipient_user_id == world.actors["r3"].user.id
    assert [t.payload["notice"] for t in told] == [acceptance.COMMENT_NOTICE] * 2
    assert (to_admin.payload["params"]["comment"], to_admin.payload["params"]["voice"]) == ("扶手很好", None)
    assert (to_owner.payload["params"]["comment"], to_owner.payload["params"]["voice"]) == (None, "AwACAgQ-voice")
    assert all(t.payload["params"]["stars"] == 4 and "r1" not in str(t.payload) for t in told)
