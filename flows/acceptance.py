"""Acceptance of finished projects (验收单, F-4): the before/after post, 👍 and ⭐ ratings.

When an owner marks a project complete, `completed` queues the comparison post (前后对比图) to every
building group of the community: the sender composes one picture from the latest "before" and the
latest "after" photo and posts it with 👍 and ⭐ buttons. A ProjectPost row per chat remembers which
message that was, so 👍 reactions on it count as likes too. Likes and ratings are once per person
(the schema holds that); a rating (1–5, an optional comment) can be changed. Only finished projects
(completed_at set) take likes and ratings."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from flows import membership, needs_loop, outbox
from flows.clock import local
from flows.errors import AlreadyDone, Invalid, NotFound
from flows.membership import Actor
from flows.notices import Notice
from flows.project_notices import Comparison
from flows.roles import Role
from storage.db import UnitOfWork
from storage.models import (
    Chat,
    Community,
    OutboxMessage,
    Project,
    ProjectLike,
    ProjectPhoto,
    ProjectPost,
    ProjectRating,
)

COMPARISON = "comparison"  # ProjectPost.kind of the before/after post
NOTICE = "project_comparison"  # the outbox notice (ProjectComparison, worded in bot/handlers/acceptance.py)
COMMENT_NOTICE = "project_comment"  # a resident's comment, passed on to the project's owner or the admins
PICTURE = "comparison"  # the outbox picture composed by the sender (bot/pictures/compare.py)
THUMBS_UP = "👍"
STARS = range(1, 6)
MAX_COMMENT = 300
PRESENT = ("member", "administrator")


@dataclass(frozen=True)
class Summary:
    """A finished project's acceptance: likes, number of ratings and their average (None without any)."""

    likes: int = 0
    ratings: int = 0
    average: float | None = None


# ---------------------------------------------------------------- notices (worded in bot/handlers/acceptance.py)


@dataclass(frozen=True)
class ProjectComparison(Comparison, Notice, kind="project_comparison"):
    """The before/after post to a building group (its fields: flows.project_notices.Comparison)."""


@dataclass(frozen=True)
class ProjectComment(Notice, kind="project_comment"):
    """A resident's rating with a comment (or a voice comment), passed on to the owner or the admins."""

    number: int
    title: str
    stars: int
    comment: str | None
    voice: str | None


# ---------------------------------------------------------------- the comparison post


async def _latest_photo(uow: UnitOfWork, project_id: int, kind: str) -> ProjectPhoto | None:
    return (await uow.session.exec(
        select(ProjectPhoto).where(ProjectPhoto.project_id == project_id, ProjectPhoto.kind == kind)
        .order_by(col(ProjectPhoto.created_at).desc(), col(ProjectPhoto.id).desc()).limit(1))).first()


async def building_groups(uow: UnitOfWork, community_id: int) -> list[Chat]:
    return list((await uow.session.exec(select(Chat).where(
        Chat.community_id == community_id, Chat.purpose == "building",
        col(Chat.bot_status).in_(PRESENT)).order_by(col(Chat.id)))).all())


async def _comparison(uow: UnitOfWork, project: Project, community: Community, now: datetime
                      ) -> tuple[dict[str, Any], ProjectPhoto | None, ProjectPhoto | None]:
    """The comparison's fields (ProjectComparison's) and the latest before and after photos."""
    before = await _latest_photo(uow, project.id or 0, "before")
    after = await _latest_photo(uow, project.id or 0, "after")

    def day(at: datetime | None) -> str | None:
        return local(at, community.timezone).date().isoformat() if at is not None else None

    params: dict[str, Any] = {
        "project_id": project.id, "number": project.number, "year": project.year, "title": project.title,
        "community": community.name, "completed_on": day(project.completed_at or now),
        "before": before.file_id if before else None, "before_on": day(before.created_at) if before else None,
        "after": after.file_id if after else None, "after_on": day(after.created_at) if after else None,
    }
    return params, before, after


async def send_picture(uow: UnitOfWork, *, actor: Actor, project_id: int, now: datetime) -> None:
    """Queue a finished project's before/after picture to the actor in private (/myneeds' 🖼 button); the
    sender composes it. Invalid("project", "no_photos") when there is no photo to show."""
    project = await finished_project(uow, actor=actor, project_id=project_id)
    params, before, after = await _comparison(uow, project, actor.home(), now)
    if before is None and after is None:
        raise Invalid("project", "no_photos")
    row = outbox.notify(uow, tg_chat_id=actor.user.tg_id, notice=ProjectComparison(**params),
                        lang=actor.user.language or actor.home().locale, now=now, community_id=project.community_id,
                        recipient_user_id=actor.user.id)
    row.payload = {**row.payload, "op": "compose", "picture": PICTURE}


async def completed(uow: UnitOfWork, *, project: Project, now: datetime) -> int:
    """Queue the comparison post to every building group of the project's community; returns how many were
    queued. Once per group — except that a post which went out without an "after" photo (the project was
    marked complete first) is posted again, with the picture, when the first "after" photo comes. Once there is
    an "after" photo, the author and supporters of the project's need are told in private (flows.needs_loop)."""
    community = await uow.session.get(Community, project.community_id)
    if community is None or project.id is None:
        raise NotFound("project", project.id)
    params, before, after = await _comparison(uow, project, community, now)
    posted = {post.tg_chat_id: (post, row) for post, row in (await uow.session.exec(
        select(ProjectPost, OutboxMessage).join(OutboxMessage, col(OutboxMessage.id) == col(ProjectPost.outbox_id),
                                                isouter=True)
        .where(ProjectPost.project_id == project.id, ProjectPost.kind == COMPARISON))).all()}
    queued = 0
    for chat in await building_groups(uow, project.community_id):
        post, earlier = posted.get(chat.tg_chat_id, (None, None))
        if post is not None and (after is None or (earlier is not None and _had_after(earlier))):
            continue  # posted already (and nothing better to show)
        row = outbox.notify(uow, tg_chat_id=chat.tg_chat_id, notice=ProjectComparison(**params),
                            lang=community.locale, now=now, community_id=community.id,
                            dedupe_key=f"{NOTICE}:{project.id}:{chat.tg_chat_id}:{after.id if after else 0}")
        if before is not None or after is not None:
            # the sender downloads the photos and composes the picture (bot/outbox.py, op "compose")
            row.payload = {**row.payload, "op": "compose", "picture": PICTURE}
        await uow.session.flush()
        if post is None:
            uow.session.add(ProjectPost(community_id=community.id or 0, tg_chat_id=chat.tg_chat_id,
                                        kind=COMPARISON, project_id=project.id, outbox_id=row.id, updated_at=now))
        else:  # the new post with the picture takes the old one's place (its 👍 reactions count from now on)
            post.outbox_id, post.message_id, post.updated_at = row.id, None, now
        queued += 1
    await uow.session.flush()
    if after is not None and project.completed_at is not None:  # done: the people who asked for it are told
        await needs_loop.tell_done(uow, community=community, project=project, picture=params, now=now)
    return queued


def _had_after(row: OutboxMessage) -> bool:
    """Whether a comparison post went out with an "after" photo: its dedupe key ends with the photo's id (0 for
    none), which outlives the payload (the outbox keeps only the key after its retention period)."""
    return (row.dedupe_key or "").rsplit(":", 1)[-1] not in ("", "0")


async def post_of_message(uow: UnitOfWork, *, tg_chat_id: int, message_id: int) -> ProjectPost | None:
    """The comparison post behind a group message (known from the post itself or its sent outbox row)."""
    direct = (await uow.session.exec(select(ProjectPost).where(
        ProjectPost.tg_chat_id == tg_chat_id, ProjectPost.kind == COMPARISON,
        ProjectPost.message_id == message_id))).first()
    if direct is not None:
        return direct
    row = (await uow.session.exec(
        select(ProjectPost).join(OutboxMessage, col(OutboxMessage.id) == col(ProjectPost.outbox_id))
        .where(ProjectPost.tg_chat_id == tg_chat_id, ProjectPost.kind == COMPARISON,
               OutboxMessage.tg_message_id == message_id))).first()
    if row is not None:
        row.message_id = message_id  # remembered, so the next look-up is direct
    return row


# ---------------------------------------------------------------- likes and ratings



async def finished_project(uow: UnitOfWork, *, actor: Actor, project_id: int) -> Project:
    """A project of the actor's community that is finished (the only ones liked and rated)."""
    me = actor.registered()
    project = await uow.session.get(Project, project_id)
    if project is None or project.community_id != me.community_id:
        raise NotFound("project", project_id)
    if project.completed_at is None:
        raise Invalid("project", "not_finished")
    return project


async def likes(uow: UnitOfWork, project_id: int) -> int:
    return int((await uow.session.exec(select(func.count()).select_from(ProjectLike)
                                       .where(ProjectLike.project_id == project_id))).one())


async def like(uow: UnitOfWork, *, actor: Actor, project_id: int, now: datetime, source: str = "button") -> int:
    """👍 once per person; returns the new count. A second like raises AlreadyDone("like")."""
    project = await finished_project(uow, actor=actor, project_id=project_id)
    me = actor.registered()
    seen = (await uow.session.exec(select(ProjectLike.id).where(
        ProjectLike.project_id == project.id, ProjectLike.member_id == me.id))).first()
    if seen is not None:
        raise AlreadyDone("like")
    uow.session.add(ProjectLike(project_id=project.id or 0, member_id=me.id or 0, source=source, created_at=now))
    await uow.session.flush()
    return await likes(uow, project.id or 0)


async def reaction(uow: UnitOfWork, *, actor: Actor, tg_chat_id: int, message_id: int, emoji: tuple[str, ...],
                   now: datetime) -> str | None:
    """A Telegram reaction on a group message. On a comparison post, 👍 likes the project (once per
    person) and taking the 👍 back removes a like that came from a reaction. Returns what happened:
    "liked", "unliked", or None (not a comparison post, not a member of its community, nothing to do) —
    reactions get no answer, so nothing here raises for them."""
    post = await post_of_message(uow, tg_chat_id=tg_chat_id, message_id=message_id)
    me = actor.member
    if post is None or me is None or me.community_id != post.community_id:
        return None
    project = await uow.session.get(Project, post.project_id)
    if project is None or project.completed_at is None:
        return None
    mine = (await uow.session.exec(select(ProjectLike).where(
        ProjectLike.project_id == project.id, ProjectLike.member_id == me.id))).first()
    if THUMBS_UP in emoji:
        if mine is not None:
            return None
        uow.session.add(ProjectLike(project_id=project.id or 0, member_id=me.id or 0, source="reaction",
                                    created_at=now))
        await uow.session.flush()
        return "liked"
    if mine is not None and mine.source == "reaction":
        await uow.session.delete(mine)
        await uow.session.flush()
        return "unliked"
    return None


def clean_comment(text: str | None) -> str | None:
    """An optional comment: trimmed, on one line, at most 300 characters; empty → None."""
    value = "".join(c for c in (text or "") if unicodedata.category(c) not in ("Cc", "Cf", "Cs"))
    value = " ".join(value.split())
    if not value:
        return None
    if len(value) > MAX_COMMENT:
        raise Invalid("comment", "too_long", limit=MAX_COMMENT)
    return value


def check_stars(stars: int) -> int:
    if stars not in STARS:
        raise Invalid("stars", "range", low=STARS[0], high=STARS[-1])
    return stars


async def my_rating(uow: UnitOfWork, *, actor: Actor, project_id: int) -> ProjectRating | None:
    me = actor.registered()
    return (await uow.session.exec(select(ProjectRating).where(
        ProjectRating.project_id == project_id, ProjectRating.member_id == me.id))).first()


async def rate(uow: UnitOfWork, *, actor: Actor, project_id: int, stars: int, now: datetime,
               comment: str | None = None, keep_comment: bool = False) -> ProjectRating:
    """Rate a finished project 1–5 with an optional comment; rating again changes it. With
    `keep_comment` an earlier comment stays (the stars are chosen first, the comment comes after)."""
    check_stars(stars)
    text = clean_comment(comment)
    project = await finished_project(uow, actor=actor, project_id=project_id)
    me = actor.registered()
    row = await my_rating(uow, actor=actor, project_id=project.id or 0)
    if row is None:
        row = ProjectRating(project_id=project.id or 0, member_id=me.id or 0, stars=stars, comment=text,
                            updated_at=now)
        uow.session.add(row)
    else:
        row.stars = stars
        if not keep_comment:
            row.comment = text
        row.updated_at = now
    await uow.session.flush()
    return row


async def comment(uow: UnitOfWork, *, actor: Actor, project_id: int, text: str, now: datetime,
                  voice_file_id: str | None = None) -> ProjectRating:
    """Add or change the comment of one's rating (the stars come first): typed, or told by voice. It
    goes to whoever answers for the project — its owner, or the admins when it has none — with the
    stars and without the resident's name (验收单 feedback is read, not just counted)."""
    if voice_file_id is not None and (not voice_file_id or len(voice_file_id) > 255):
        raise Invalid("voice", "bad")
    value = clean_comment(text)
    if value is None and voice_file_id is None:
        raise Invalid("comment", "empty")
    project = await finished_project(uow, actor=actor, project_id=project_id)
    row = await my_rating(uow, actor=actor, project_id=project_id)
    if row is None:
        raise NotFound("rating", project_id)
    row.comment, row.comment_voice_file_id = value, voice_file_id
    row.updated_at = now
    await uow.session.flush()
    await _pass_on(uow, project, row, now)
    return row


async def _pass_on(uow: UnitOfWork, project: Project, row: ProjectRating, now: datetime) -> None:
    community = await uow.session.get(Community, project.community_id)
    assert community is not None
    owner = (await membership.person(uow, member_id=project.owner_member_id)
             if project.owner_member_id else None)
    readers = [owner] if owner else await membership.holders_of(uow, community_id=community.id or 0,
                                                                  role=Role.ADMIN)
    for _member, user in readers:
        outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or community.locale, now=now,
                      community_id=community.id, recipient_user_id=user.id,
                      notice=ProjectComment(number=project.number, title=project.title, stars=row.stars,
                                            comment=row.comment, voice=row.comment_voice_file_id))


async def summary(uow: UnitOfWork, project_ids: list[int]) -> dict[int, Summary]:
    """Likes and the average rating of each project (finished or not; the board shows finished ones)."""
    if not project_ids:
        return {}
    liked = dict((await uow.session.exec(
        select(ProjectLike.project_id, func.count()).where(col(ProjectLike.project_id).in_(project_ids))
        .group_by(col(ProjectLike.project_id)))).all())
    rated = {pid: (int(n), float(avg)) for pid, n, avg in (await uow.session.exec(
        select(ProjectRating.project_id, func.count(), func.avg(ProjectRating.stars))
        .where(col(ProjectRating.project_id).in_(project_ids)).group_by(col(ProjectRating.project_id)))).all()}
    out = {}
    for pid in project_ids:
        n, avg = rated.get(pid, (0, None))
        out[pid] = Summary(likes=int(liked.get(pid, 0)), ratings=n,
                           average=round(avg, 1) if avg is not None else None)
    return out
