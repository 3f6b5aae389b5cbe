"""Micro projects, deeds and posts (微项目/微实事/微岗位, F-9.4): the committee posts a small matter, someone claims
it with one press (one conditional UPDATE, as wishes are claimed), and marks it done with a note or a photo.

Posted by admins and committee members (Perm.MICRO); claimed by any registered member of the community — partner
units, Party members, residents — except its author; shown in the community's groups within the quiet-group budget
(flows/digest.py). Whoever finished one in a month is named in the next month's thank-you list if they agreed
(flows/micro.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import col, select

from flows import audit, micro
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound
from flows.membership import Actor
from flows.notices import Notice
from flows.numbering import next_number
from flows.paging import Page, clamp
from flows.roles import Perm
from flows.wishes import _tell, check_text
from storage.db import UnitOfWork
from storage.models_micro import MicroPost

KINDS = ("project", "deed", "post")
TITLE_MAX, TEXT_MAX = 60, 300


@dataclass(frozen=True)
class MicroPosted(Notice, kind="micro_posted"):
    number: int
    community: str
    sort: str  # project | deed | post
    title: str
    text: str


@dataclass(frozen=True)
class MicroDone(Notice, kind="micro_done"):
    """To the author: someone finished it."""

    number: int
    title: str
    name: str
    note: str
    photo: str | None = None


async def post(uow: UnitOfWork, *, actor: Actor, kind: str, title: str, text: str, now: datetime) -> MicroPost:
    me = actor.require(Perm.MICRO)
    if kind not in KINDS:
        raise Invalid("kind", "unknown")
    title = check_text(title, limit=TITLE_MAX, field="title")
    text = check_text(text, limit=TEXT_MAX) if text.strip() else ""
    community = actor.home()
    number = await next_number(uow, community_id=community.id or 0, number=MicroPost.number,
                               community_column=MicroPost.community_id)
    p = MicroPost(community_id=community.id or 0, number=number, kind=kind, title=title, text=text,
                  created_by=me.id or 0, created_at=now)
    uow.session.add(p)
    await uow.session.flush()
    audit.record(uow, action="micro.post", now=now, community_id=community.id, actor_user_id=actor.user.id,
                 subject_type="micropost", subject_id=p.id, kind=kind)
    await micro.show(uow, community=community, building_id=None, key=f"micro:{p.id}", now=now,
                     notice=MicroPosted(number=p.number, community=community.name, sort=kind, title=title, text=text))
    return p


async def get(uow: UnitOfWork, *, actor: Actor, number: int) -> MicroPost:
    me = actor.registered()
    p = (await uow.session.exec(select(MicroPost).where(MicroPost.community_id == me.community_id,
                                                        MicroPost.number == number))).first()
    if p is None:
        raise NotFound("micropost", number)
    return p


async def claim(uow: UnitOfWork, *, actor: Actor, number: int, now: datetime) -> MicroPost:
    me = actor.registered()
    p = await get(uow, actor=actor, number=number)
    if p.created_by == me.id:
        raise Forbidden("micro:own")
    result = await uow.session.execute(
        update(MicroPost).where(col(MicroPost.id) == p.id, col(MicroPost.state) == "open")
        .values(state="claimed", claimer_member_id=me.id, claimed_at=now).execution_options(synchronize_session=False))
    await uow.session.refresh(p)
    if not result.rowcount:  # type: ignore[attr-defined]
        raise AlreadyDone("micropost:mine" if p.claimer_member_id == me.id and p.state == "claimed" else "micropost")
    audit.record(uow, action="micro.claim", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="micropost", subject_id=p.id)
    return p


async def done(uow: UnitOfWork, *, actor: Actor, number: int, note: str, photo: str | None, now: datetime) -> MicroPost:
    me = actor.registered()
    p = await get(uow, actor=actor, number=number)
    if p.claimer_member_id != me.id:
        raise Forbidden("micro:claimer")
    note = check_text(note, limit=TEXT_MAX, field="note") if note.strip() or photo is None else ""
    result = await uow.session.execute(
        update(MicroPost).where(col(MicroPost.id) == p.id, col(MicroPost.state) == "claimed",
                                col(MicroPost.claimer_member_id) == me.id)
        .values(state="done", done_at=now, done_note=note or None, done_photo=photo)
        .execution_options(synchronize_session=False))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise AlreadyDone("micropost")
    await uow.session.refresh(p)
    community = actor.home()
    audit.record(uow, action="micro.done", now=now, community_id=community.id, actor_user_id=actor.user.id,
                 subject_type="micropost", subject_id=p.id)
    await _tell(uow, community, p.created_by, MicroDone(number=p.number, title=p.title, name=me.display_name,
                                                        note=note, photo=photo), now)
    return p


async def listing(uow: UnitOfWork, *, actor: Actor, page: int = 1, size: int = 8) -> Page[MicroPost]:
    """The open ones first, then those claimed (what one can still do something about)."""
    me = actor.registered()
    where = (MicroPost.community_id == me.community_id, col(MicroPost.state).in_(("open", "claimed")))
    total = (await uow.session.exec(select(func.count()).select_from(MicroPost).where(*where))).one()
    page, pages, offset = clamp(page, total, size)
    rows = (await uow.session.exec(select(MicroPost).where(*where).order_by(
        col(MicroPost.state).desc(), col(MicroPost.number)).offset(offset).limit(size))).all()
    return Page(items=list(rows), page=page, pages=pages, total=total)
