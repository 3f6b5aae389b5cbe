"""Closed-loop requests (闭环诉求, F-7): taking a request in, numbering it, reading and disclosing it.

A resident reports (`submit`) a request (诉求), a dispute (矛盾纠纷) or a safety hazard (安全隐患) with a
category, text or a voice message, up to five photos, a building (their own by default), an optional
location pin, and whether they stay anonymous towards the public disclosure. It gets the next number of its
community and year (R-2027-0012): `RequestNumber` is taken with one UPDATE … RETURNING, which a concurrent
report waits for (PostgreSQL's row lock, SQLite's write lock), and the schema refuses a number twice.
The committee group is shown the new request (`RequestFiled`) for the joint assessment, which
flows/request_work.py does, with the rest of the loop (handling, the reporter's confirmation, the clocks).

`public_list` is the disclosure: numbers, kind, category, building, state and age — never who reported
or what they wrote."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import col, select

from flows import audit, ladder, outbox
from flows.actors import load_actor
from flows.clock import local
from flows.errors import Invalid, NotFound, NotRegistered
from flows.membership import Actor
from flows.notices import Notice
from flows.paging import Page, clamp
from flows.roles import Org, Perm, Purpose, Role
from storage.db import UnitOfWork, insert_ignoring
from storage.models import Building, Chat, Community, Member, RoleGrant, User
from storage.models_requests import Request, RequestEvent, RequestNumber, RequestReporter

KINDS = ("request", "dispute", "hazard")  # 诉求 · 矛盾纠纷 · 安全隐患
#: Stable codes of the categories (names are translated in bot/).
CATEGORIES = ("env", "repair", "property", "parking", "noise", "neighbour", "fire", "electric", "falling", "other")
STATES = ("new", "assigned", "accepted", "resolved", "reopened", "confirmed", "closed_default", "rejected", "merged")
OPEN = ("new", "assigned", "accepted", "resolved", "reopened")
CLOSED = ("confirmed", "closed_default", "rejected", "merged")
MAX_PHOTOS = 5
VOICE_SECONDS = 300
LIMITS = {"text": 500, "reason": 200, "note": 500}
RECENTLY_CLOSED = timedelta(days=30)  # closed requests stay in the public list this long
#: How long each stage may take, per kind (F-7.3): assessing a new request, resolving an assigned one.
CLOCKS: dict[str, dict[str, timedelta]] = {
    "hazard": {"assess": timedelta(hours=2), "resolve": timedelta(hours=24)},
    "dispute": {"assess": timedelta(days=1), "resolve": timedelta(days=7)},
    "request": {"assess": timedelta(days=1), "resolve": timedelta(days=7)},
}
CONFIRM_WITHIN = timedelta(days=3)  # no answer from the reporter by then: closed as 默认满意
#: The ladder's audiences of requests' own (flows/request_clocks.py resolves them).
COMMITTEE, HANDLERS, ORG_HEAD = "committee", "handlers", "org_head"


def code(year: int, number: int) -> str:
    """The number people see: R-2027-0012."""
    return f"R-{year}-{number:04d}"


def parse_code(text: str) -> tuple[int | None, int] | None:
    """"R-2027-0012", "2027-12", "0012" or "#12" → (year or None, number); None when it is no number."""
    value = text.strip().upper().lstrip("#")
    if value.startswith("R-"):
        value = value[2:]
    parts = value.split("-")
    # decimal digits only (full-width ones too: int() reads them), never other "digits" such as ²
    if not all(p.isdecimal() and len(p) <= 6 for p in parts) or len(parts) > 2 or not parts[-1]:
        return None
    if len(parts) == 2:
        return int(parts[0]), int(parts[1])
    return None, int(parts[0])


def clean(field_name: str, text: str | None) -> str:
    """A free-text input, trimmed, without control characters (line breaks kept)."""
    value = "".join(c for c in (text or "") if c == "\n" or unicodedata.category(c) not in ("Cc", "Cf", "Cs"))
    value = value.strip()
    if not value:
        raise Invalid(field_name, "empty")
    limit = LIMITS[field_name]
    if len(value) > limit:
        raise Invalid(field_name, "too_long", limit=limit)
    return value


def clock_of(community: Community | None, kind: str, stage: str) -> timedelta:
    """A stage's time limit for a kind: the community's own (settings "request_clocks", in hours) or CLOCKS."""
    own = (community.settings or {}).get("request_clocks") if community is not None else None
    hours = own.get(kind, {}).get(stage) if isinstance(own, dict) and isinstance(own.get(kind), dict) else None
    if isinstance(hours, int | float) and 0 < hours <= 24 * 90:
        return timedelta(hours=hours)
    return CLOCKS[kind][stage]


#: The open states whose clock runs, and the stage each is in (resolved waits for the reporter instead).
STAGES = {"new": "assess", "assigned": "resolve", "accepted": "resolve", "reopened": "resolve"}


def stage_ladder(community: Community | None, kind: str, stage: str) -> ladder.Ladder:
    """The deadline ladder of a stage (F-7.3): at the stage's time limit a reminder (assessing: the committee
    group; resolving: the organisation's handlers), then the organisation's head (its committee member), the
    community admins and the district, half a limit apart and a whole one before the district."""
    limit = clock_of(community, kind, stage)
    if stage == "assess":
        return ladder.Ladder((ladder.Rung(limit, (COMMITTEE,)), ladder.Rung(limit / 2, (ladder.Audience.ADMINS,)),
                              ladder.Rung(limit, (ladder.Audience.DISTRICT,))))
    return ladder.Ladder((ladder.Rung(limit, (HANDLERS,)), ladder.Rung(limit / 2, (ORG_HEAD,)),
                          ladder.Rung(limit / 2, (ladder.Audience.ADMINS,)), ladder.Rung(limit, (ladder.Audience.DISTRICT,))))


def clock_start(community: Community, kind: str, state: str, now: datetime) -> dict[str, Any]:
    """The ladder columns of a request entering `state` at `now`: rung 0, the first rung's time (none when the
    state has no clock)."""
    stage = STAGES.get(state)
    if stage is None:
        return {"rung": 0, "due_at": None}
    return {"rung": 0, "due_at": stage_ladder(community, kind, stage).first_due(now, community.timezone)}


def organisations(community: Community | None) -> tuple[str, ...]:
    """The organisations requests can be assigned to: the community's own list (settings "request_orgs",
    Org codes in its order) or all five."""
    own = (community.settings or {}).get("request_orgs") if community is not None else None
    valid = [o for o in own if o in {x.value for x in Org}] if isinstance(own, list) else []
    return tuple(dict.fromkeys(valid)) or tuple(o.value for o in Org)


def suggested_org(community: Community | None, category: str) -> str | None:
    """The organisation a routing rule pre-selects for a category (settings "request_routes"), if any."""
    org = routing(community).get(category)
    return org if org in organisations(community) else None


async def _setup(uow: UnitOfWork, actor: Actor) -> Community:
    me = actor.require(Perm.REQUESTS_SETUP)
    community = await uow.session.get(Community, me.community_id)
    if community is None:
        raise NotFound("community", me.community_id)
    return community


async def _settings(uow: UnitOfWork, actor: Actor, key: str, value: Any, now: datetime) -> Community:
    me = actor.require(Perm.REQUESTS_SETUP)
    community = await _setup(uow, actor)
    community.settings = {**(community.settings or {}), key: value}  # a new dict: SQLAlchemy sees the change
    uow.session.add(community)
    audit.record(uow, action=f"requests.{key}", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="community", subject_id=me.community_id, value=value)
    return community


async def set_organisations(uow: UnitOfWork, *, actor: Actor, orgs: list[str], now: datetime) -> tuple[str, ...]:
    """The organisations this community assigns requests to, in the order the card shows them (at least one)."""
    chosen = list(dict.fromkeys(orgs))
    if not chosen or any(o not in {x.value for x in Org} for o in chosen):
        raise Invalid("organisation", "unknown")
    return organisations(await _settings(uow, actor, "request_orgs", chosen, now))


async def set_route(uow: UnitOfWork, *, actor: Actor, category: str, org: str | None, now: datetime
                    ) -> dict[str, str]:
    """A routing rule: requests of `category` come with `org` pre-selected (None removes the rule)."""
    community = await _setup(uow, actor)
    if category not in CATEGORIES:
        raise Invalid("category", "unknown")
    if org is not None and org not in organisations(community):
        raise Invalid("organisation", "unknown")
    routes = routing(community)
    routes.pop(category, None)
    if org is not None:
        routes[category] = org
    await _settings(uow, actor, "request_routes", routes, now)
    return routes


def routing(community: Community | None) -> dict[str, str]:
    """The community's routing rules, category → organisation (only well-formed ones)."""
    routes = (community.settings or {}).get("request_routes") if community is not None else None
    if not isinstance(routes, dict):
        return {}
    return {c: o for c, o in routes.items() if c in CATEGORIES and isinstance(o, str)}


# ---------------------------------------------------------------- notices


@dataclass(frozen=True)
class RequestFiled(Notice, kind="request_filed"):
    """To the committee group (or, without one, the admins): a new request to assess, with its buttons."""

    request_id: int
    code: str
    request_kind: str  # (`kind` is the notice's own)
    category: str
    building: str | None
    text: str
    voice: bool
    photos: int
    located: bool
    orgs: list[str]
    suggested: str | None = None


# ---------------------------------------------------------------- who acts for which community


async def actor_for(uow: UnitOfWork, *, actor: Actor, community_id: int | None) -> Actor:
    """The actor acting for `community_id` (a group's community, carried into the private chat by `/report 文字`):
    the same actor when it is theirs already, else their membership there — or NotRegistered."""
    if community_id is None or (actor.community is not None and actor.community.id == community_id):
        actor.registered()
        return actor
    community = await uow.session.get(Community, community_id)
    if community is None:
        raise NotFound("community", community_id)
    bound = await load_actor(uow, actor.user, community=community)
    if bound.member is None:
        raise NotRegistered()
    return bound


async def handler_org(uow: UnitOfWork, member_id: int | None) -> str | None:
    """The organisation a member handles requests for (their active "handler" role), if any."""
    if member_id is None:
        return None
    return (await uow.session.exec(select(RoleGrant.organisation).where(
        RoleGrant.member_id == member_id, RoleGrant.role == Role.HANDLER.value,
        col(RoleGrant.revoked_at).is_(None)))).first()


async def handlers_of(uow: UnitOfWork, *, community_id: int, org: str) -> list[tuple[Member, User]]:
    """The members handling requests for an organisation now, by member number."""
    return await _holders(uow, community_id=community_id, role=Role.HANDLER, org=org)


async def org_heads(uow: UnitOfWork, *, community_id: int, org: str) -> list[tuple[Member, User]]:
    """The organisation's committee members (多委成员): its head for the ladder."""
    return await _holders(uow, community_id=community_id, role=Role.COMMITTEE, org=org)


async def _holders(uow: UnitOfWork, *, community_id: int, role: Role, org: str) -> list[tuple[Member, User]]:
    return list((await uow.session.exec(
        select(Member, User).join(User, col(User.id) == col(Member.user_id))
        .join(RoleGrant, col(RoleGrant.member_id) == col(Member.id))
        .where(Member.community_id == community_id, RoleGrant.role == role.value,
               RoleGrant.organisation == org, col(RoleGrant.revoked_at).is_(None))
        .order_by(col(Member.id)))).all())


# ---------------------------------------------------------------- reporting


async def _next_number(uow: UnitOfWork, community_id: int, year: int) -> int:
    """The next number of the community's year, race-free: the counter row is made once (a second maker's
    insert does nothing), then one UPDATE … RETURNING takes a number; a concurrent report waits for it."""
    await uow.session.execute(insert_ignoring(uow, RequestNumber, ["community_id", "year"]).values(
        community_id=community_id, year=year, last=0))
    taken = (await uow.session.execute(
        update(RequestNumber).where(col(RequestNumber.community_id) == community_id, col(RequestNumber.year) == year)
        .values(last=col(RequestNumber.last) + 1).returning(col(RequestNumber.last))
        .execution_options(synchronize_session=False))).scalar_one()
    return int(taken)


async def building_of(uow: UnitOfWork, *, community_id: int, building_id: int | None) -> Building | None:
    if building_id is None:
        return None
    building = await uow.session.get(Building, building_id)
    if building is None or building.community_id != community_id:
        raise NotFound("building", building_id)
    return building


async def submit(uow: UnitOfWork, *, actor: Actor, kind: str, category: str, text: str, now: datetime,
                 voice_file_id: str | None = None, voice_seconds: int | None = None,
                 photos: list[str] | tuple[str, ...] = (), building_id: int | None = None,
                 location: tuple[float, float] | None = None, anonymous: bool = False) -> Request:
    """Record a request of the actor's community with the next number of its year, and show it to the
    committee for the joint assessment. Text or a voice message (1–VOICE_SECONDS) is needed."""
    me = actor.registered()
    community = actor.home()
    if kind not in KINDS:
        raise Invalid("kind", "unknown")
    if category not in CATEGORIES:
        raise Invalid("category", "unknown")
    body = clean("text", text) if (text or "").strip() or not voice_file_id else ""
    if voice_file_id and not 0 < (voice_seconds or 0) <= VOICE_SECONDS:
        raise Invalid("voice", "too_long" if (voice_seconds or 0) > VOICE_SECONDS else "empty", limit=VOICE_SECONDS)
    if len(photos) > MAX_PHOTOS:
        raise Invalid("photos", "too_many", limit=MAX_PHOTOS)
    building = await building_of(uow, community_id=me.community_id, building_id=building_id)
    if location is not None and not (-90 <= location[0] <= 90 and -180 <= location[1] <= 180):
        raise Invalid("location", "out_of_range")
    year = local(now, community.timezone).year
    number = await _next_number(uow, me.community_id, year)
    row = Request(community_id=me.community_id, year=year, number=number, kind=kind, category=category, text=body,
                  voice_file_id=voice_file_id[:255] if voice_file_id else None,
                  voice_seconds=voice_seconds if voice_file_id else None, photos=[p[:255] for p in photos],
                  building_id=building.id if building else None,
                  latitude=location[0] if location else None, longitude=location[1] if location else None,
                  anonymous=anonymous, reporter_member_id=me.id or 0, state="new",
                  **clock_start(community, kind, "new", now), created_at=now, updated_at=now)
    uow.session.add(row)
    await uow.session.flush()
    uow.session.add(RequestReporter(request_id=row.id or 0, member_id=me.id or 0, joined_at=now))
    uow.session.add(RequestEvent(community_id=me.community_id, request_id=row.id or 0, at=now, actor_member_id=me.id,
                                 action="report", to_state="new"))
    audit.record(uow, action="request.report", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="request", subject_id=row.id, number=number, year=year, kind=kind, category=category)
    notice = RequestFiled(request_id=row.id or 0, code=code(year, number), request_kind=kind, category=category,
                          building=building.label if building else None, text=body, voice=bool(voice_file_id),
                          photos=len(row.photos), located=location is not None, orgs=list(organisations(community)),
                          suggested=suggested_org(community, category))
    await tell_committee(uow, community=community, notice=notice, now=now, key=f"request_filed:{row.id}")
    return row


async def committee_chats(uow: UnitOfWork, community_id: int) -> list[int]:
    return list((await uow.session.exec(select(Chat.tg_chat_id).where(
        Chat.community_id == community_id, Chat.purpose == Purpose.COMMITTEE.value,
        col(Chat.bot_status).in_(("member", "administrator"))).order_by(col(Chat.id)))).all())


async def tell_committee(uow: UnitOfWork, *, community: Community, notice: Notice, now: datetime, key: str) -> int:
    """Queue a notice to the community's committee groups; without one, to each admin in private."""
    chats = await committee_chats(uow, community.id or 0)
    for chat in chats:
        outbox.notify(uow, tg_chat_id=chat, lang=community.locale, now=now, community_id=community.id,
                      dedupe_key=f"{key}:{chat}", notice=notice)
    if chats:
        return len(chats)
    admins = (await uow.session.exec(
        select(User).join(Member, col(Member.user_id) == col(User.id))
        .join(RoleGrant, col(RoleGrant.member_id) == col(Member.id))
        .where(Member.community_id == community.id, RoleGrant.role == Role.ADMIN.value,
               col(RoleGrant.revoked_at).is_(None)).order_by(col(Member.id)))).all()
    for user in admins:
        outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or community.locale, now=now,
                      community_id=community.id, recipient_user_id=user.id, dedupe_key=f"{key}:{user.tg_id}",
                      notice=notice)
    return len(admins)


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class RequestLine:
    """A request as the public list shows it: nothing about who reported it or what they wrote."""

    id: int
    code: str
    kind: str
    category: str
    building: str | None
    state: str
    organisation: str | None
    age: timedelta  # since it was reported (closed ones: until they were closed)
    reopened: int


async def get(uow: UnitOfWork, *, community_id: int, request_id: int) -> Request:
    """A request of this community (one of another community is not found, whatever its id)."""
    row = await uow.session.get(Request, request_id)
    if row is None or row.community_id != community_id:
        raise NotFound("request", request_id)
    return row


async def by_code(uow: UnitOfWork, *, community: Community, text: str, now: datetime) -> Request:
    """A request of the community by the number people type (this year's when the year is left out)."""
    parsed = parse_code(text)
    if parsed is None:
        raise Invalid("request_number", "bad")
    year = parsed[0] or local(now, community.timezone).year
    row = (await uow.session.exec(select(Request).where(
        Request.community_id == community.id, Request.year == year, Request.number == parsed[1]))).first()
    if row is None:
        raise NotFound("request_number", code(year, parsed[1]))
    return row


async def public_list(uow: UnitOfWork, *, actor: Actor, now: datetime, page: int = 1, size: int = 8
                      ) -> Page[RequestLine]:
    """The community's open requests and those closed in the last 30 days, newest first: the public disclosure,
    so anyone in a linked group sees its community's (the actor's community is the group's there)."""
    community = actor.home()
    where: list[Any] = [Request.community_id == community.id,
                        or_(col(Request.state).in_(OPEN), col(Request.closed_at) >= now - RECENTLY_CLOSED)]
    total = (await uow.session.exec(select(func.count()).select_from(Request).where(*where))).one()
    page, pages, offset = clamp(page, total, size)
    rows = (await uow.session.exec(
        select(Request, Building.label).outerjoin(Building, col(Building.id) == col(Request.building_id))
        .where(*where).order_by(col(Request.created_at).desc(), col(Request.id).desc())
        .offset(offset).limit(size))).all()
    items = [RequestLine(id=r.id or 0, code=code(r.year, r.number), kind=r.kind, category=r.category, building=label,
                         state=r.state, organisation=r.organisation,
                         age=(r.closed_at or now) - r.created_at, reopened=r.reopen_count) for r, label in rows]
    return Page(items=items, page=page, pages=pages, total=total)
