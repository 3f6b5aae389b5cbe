"""The care ledger: checking input, who may see and change what, the views, the ledger itself, leaving it.

Audit entries and queued notices carry person ids and aliases, never names."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import col, select

from flows import audit, membership, outbox
from flows.care.notices import CareClosed, CarePaired
from flows.checkins.settings import Status
from flows.errors import Forbidden, Invalid, NotFound
from flows.membership import Actor
from flows.paging import Page, clamp
from flows.places import is_grid_worker_of
from flows.roles import Perm, Role
from storage.crypto import Sealer
from storage.db import UnitOfWork
from storage.models import Building, CheckinPrompt, Community, KeyPerson, Member, User

GROUPS = ("solitary", "empty_nest", "disabled", "low_income", "very_old")
SERVICES = ("medical", "cleaning", "mobility", "emergency")
RISKS = ("red", "yellow", "green")
LIMITS = {"room": 20, "alias": 40, "name": 40, "contact": 60, "notes": 500, "grid": 60}
TEXT_FIELDS = ("room", "alias", "name", "contact", "notes")
SEALED = {"name": "name_enc", "contact": "contact_enc", "notes": "notes_enc"}
OPTIONAL = ("contact", "notes")
CLOSE_REASONS = ("moved", "care_home", "deceased", "other")  # why a person leaves the ledger

GROUP_ALIASES = {"独居": "solitary", "空巢": "empty_nest", "残疾": "disabled", "低保": "low_income",
                 "高龄": "very_old"}
SERVICE_ALIASES = {"助医": "medical", "助洁": "cleaning", "助行": "mobility", "助急": "emergency"}
RISK_ALIASES = {"红": "red", "黄": "yellow", "绿": "green", "🔴": "red", "🟡": "yellow", "🟢": "green",
                "红色": "red", "黄色": "yellow", "绿色": "green"}
_ADMINS = frozenset({Role.ADMIN.value, Role.DISTRICT_ADMIN.value})
_SPLIT = re.compile(r"[,，、;；/\s]+")


# ---------------------------------------------------------------- checking input


def clean(field_name: str, text: str | None) -> str:
    """One free-text field, trimmed (single-line fields also lose inner line breaks), checked."""
    value = "".join(c for c in (text or "") if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf"))
    value = value.strip()
    if field_name != "notes":
        value = " ".join(value.split())
    if not value and field_name not in OPTIONAL:
        raise Invalid(field_name, "empty")
    limit = LIMITS[field_name]
    if len(value) > limit:
        raise Invalid(field_name, "too_long", limit=limit)
    return value


def _codes(kind: str, values: Iterable[str], allowed: Sequence[str], aliases: dict[str, str]) -> list[str]:
    out: list[str] = []
    for raw in values:
        v = raw.strip()
        if not v:
            continue
        code = v.lower().replace("-", "_") if v.isascii() else aliases.get(v)
        if code not in allowed:
            raise Invalid(kind, "unknown", value=v[:20])
        if code not in out:
            out.append(code)
    return [c for c in allowed if c in out]  # a stable order


def parse_groups(value: str | Iterable[str]) -> list[str]:
    items = _SPLIT.split(value) if isinstance(value, str) else value
    return _codes("groups", items, GROUPS, GROUP_ALIASES)


def parse_services(value: str | Iterable[str]) -> list[str]:
    items = _SPLIT.split(value) if isinstance(value, str) else value
    return _codes("services", items, SERVICES, SERVICE_ALIASES)


def parse_risk(value: str) -> str:
    v = (value or "").strip()
    code = v.lower() if v.isascii() else RISK_ALIASES.get(v)
    if not v:
        raise Invalid("risk", "empty")
    if code not in RISKS:
        raise Invalid("risk", "unknown", value=v[:20])
    return code


def suggest_alias(building_label: str, room: str) -> str:
    return clean("alias", f"{building_label}-{room}"[: LIMITS["alias"]])


# ---------------------------------------------------------------- who may see and change what


def is_admin(actor: Actor) -> bool:
    return bool(actor.roles & _ADMINS)


async def _building(uow: UnitOfWork, community_id: int, building_id: int | None) -> Building:
    b = await uow.session.get(Building, building_id) if building_id else None
    if b is None or b.community_id != community_id:
        raise NotFound("building", building_id)
    return b


async def check_building(uow: UnitOfWork, *, actor: Actor, building_id: int | None) -> Building:
    """The building, if the actor may register and read key persons there."""
    me = actor.require(Perm.PERSONS)
    building = await _building(uow, me.community_id, building_id)
    if not is_admin(actor) and not await is_grid_worker_of(uow, member=me, building_id=building.id):
        raise Forbidden("persons:building")
    return building


async def manageable_buildings(uow: UnitOfWork, *, actor: Actor) -> list[Building]:
    me = actor.require(Perm.PERSONS)
    rows = (await uow.session.exec(
        select(Building).where(Building.community_id == me.community_id)
        .order_by(col(Building.sort_key), col(Building.id)))).all()
    if is_admin(actor):
        return list(rows)
    return [b for b in rows if await is_grid_worker_of(uow, member=me, building_id=b.id)]


async def _person(uow: UnitOfWork, *, actor: Actor, person_id: int, perm: Perm = Perm.PERSONS,
                  closed: bool = False) -> KeyPerson:
    """The person (on the ledger, or taken off it with `closed`), if the actor may manage them;
    another community's person is simply not found."""
    me = actor.require(perm)
    person = await uow.session.get(KeyPerson, person_id)
    if person is None or person.community_id != me.community_id or person.active is closed:
        raise NotFound("closed_person" if closed else "person", person_id)
    if not is_admin(actor) and not await is_grid_worker_of(uow, member=me, building_id=person.building_id):
        raise Forbidden("persons:building")
    return person


# ---------------------------------------------------------------- views


@dataclass(frozen=True)
class Volunteer:
    member_id: int
    name: str


@dataclass(frozen=True)
class PersonView:
    """Everything about a person, opened: only for the grid worker of the building and admins."""

    id: int
    alias: str
    building: str
    room: str
    name: str
    contact: str
    notes: str
    groups: tuple[str, ...]
    risk: str
    services: tuple[str, ...]
    midday_check: bool
    primary: Volunteer | None
    backup: Volunteer | None


@dataclass(frozen=True)
class PersonLine:
    """A line of a list: no sealed data."""

    id: int
    alias: str
    building: str
    room: str
    risk: str
    paired: bool
    has_backup: bool
    as_primary: bool = True
    closed_reason: str | None = None  # for persons taken off the ledger
    closed_at: datetime | None = None


async def _volunteer(uow: UnitOfWork, member_id: int | None) -> Volunteer | None:
    if member_id is None:
        return None
    row = (await uow.session.exec(
        select(Member, User).join(User, col(User.id) == col(Member.user_id)).where(Member.id == member_id))).first()
    if row is None:
        return None
    return Volunteer(member_id=member_id, name=row[0].display_name or row[1].first_name)


async def _label(uow: UnitOfWork, building_id: int | None) -> str:
    b = await uow.session.get(Building, building_id) if building_id else None
    return b.label if b else ""


async def _view(uow: UnitOfWork, person: KeyPerson, sealer: Sealer) -> PersonView:
    return PersonView(
        id=person.id or 0, alias=person.alias, building=await _label(uow, person.building_id), room=person.room,
        name=sealer.open(person.name_enc), contact=sealer.open(person.contact_enc),
        notes=sealer.open(person.notes_enc), groups=tuple(person.groups), risk=person.risk,
        services=tuple(person.services), midday_check=person.midday_check,
        primary=await _volunteer(uow, person.primary_volunteer_id),
        backup=await _volunteer(uow, person.backup_volunteer_id))


# ---------------------------------------------------------------- the ledger


@dataclass
class Draft:
    """A person being registered: clear-text fields except the sealed ones (safe to keep in state)."""

    building_id: int | None = None
    room: str = ""
    alias: str = ""
    name_enc: str = ""
    contact_enc: str = ""
    notes_enc: str = ""
    groups: list[str] = field(default_factory=list)
    risk: str = ""
    services: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Draft:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def _checked(draft: Draft, sealer: Sealer) -> Draft:
    """Every rule of a new person, on the whole draft (the dialog checked each step already)."""
    clean("room", draft.room)
    clean("alias", draft.alias)
    if not sealer.open(draft.name_enc).strip():
        raise Invalid("name", "empty")
    for name in ("name", "contact", "notes"):
        clean(name, sealer.open(getattr(draft, SEALED[name])))
    parse_groups(draft.groups)
    parse_services(draft.services)
    parse_risk(draft.risk)
    return draft


async def add_person(uow: UnitOfWork, *, actor: Actor, sealer: Sealer, draft: Draft, now: datetime) -> KeyPerson:
    me = actor.require(Perm.PERSONS)
    building = await check_building(uow, actor=actor, building_id=draft.building_id)
    _checked(draft, sealer)
    person = _new_person(me.community_id, building, draft, created_by=me.id, now=now)
    uow.session.add(person)
    await uow.session.flush()
    audit.record(uow, action="person.create", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="person", subject_id=person.id, building=building.label, risk=person.risk)
    return person


def _new_person(community_id: int, building: Building, d: Draft, *, created_by: int | None,
                now: datetime) -> KeyPerson:
    risk = parse_risk(d.risk)
    return KeyPerson(
        community_id=community_id, building_id=building.id, room=clean("room", d.room), alias=clean("alias", d.alias),
        name_enc=d.name_enc, contact_enc=d.contact_enc, notes_enc=d.notes_enc, groups=parse_groups(d.groups),
        risk=risk, services=parse_services(d.services), midday_check=risk == "red", created_by=created_by,
        created_at=now, updated_at=now)


EDITABLE = ("building", "room", "alias", "name", "contact", "notes", "groups", "risk", "services")


async def update_person(uow: UnitOfWork, *, actor: Actor, sealer: Sealer, person_id: int, field_name: str,
                        value: str | list[str], now: datetime) -> KeyPerson:
    """Change one field; `value` is clear text (sealed here) or a list of codes."""
    person = await _person(uow, actor=actor, person_id=person_id)
    if field_name not in EDITABLE:
        raise Invalid("field", "unknown")
    if field_name == "groups":
        person.groups = parse_groups(value)
    elif field_name == "services":
        person.services = parse_services(value)
    elif field_name == "risk":
        person.risk = parse_risk(str(value))
        person.midday_check = person.risk == "red"
    elif field_name == "building":  # moved within the community: into a building the actor looks after
        building_id = int(value) if isinstance(value, str) and value.isdigit() else None
        person.building_id = (await check_building(uow, actor=actor, building_id=building_id)).id
    elif field_name in SEALED:
        text = clean(field_name, str(value))
        setattr(person, SEALED[field_name], sealer.seal(text))
    else:
        setattr(person, field_name, clean(field_name, str(value)))
    person.updated_at = now
    uow.session.add(person)
    audit.record(uow, action="person.update", now=now, community_id=person.community_id,
                 actor_user_id=actor.user.id, subject_type="person", subject_id=person.id, field=field_name)
    return person


async def show_person(uow: UnitOfWork, *, actor: Actor, sealer: Sealer, person_id: int, now: datetime) -> PersonView:
    person = await _person(uow, actor=actor, person_id=person_id)
    audit.record(uow, action="person.read", now=now, community_id=person.community_id, actor_user_id=actor.user.id,
                 subject_type="person", subject_id=person.id)
    return await _view(uow, person, sealer)


async def _visible_building_ids(uow: UnitOfWork, actor: Actor) -> list[int | None] | None:
    """None: every building (admins); else the buildings whose grid worker the actor is."""
    if is_admin(actor):
        return None
    ids: list[int | None] = [b.id for b in await manageable_buildings(uow, actor=actor)]
    me = actor.require(Perm.PERSONS)
    if await is_grid_worker_of(uow, member=me, building_id=None):
        ids.append(None)
    return ids


def _lines(rows: Iterable[tuple[KeyPerson, Building | None]], me: int | None = None) -> list[PersonLine]:
    return [PersonLine(id=p.id or 0, alias=p.alias, building=b.label if b else "", room=p.room, risk=p.risk,
                       paired=p.primary_volunteer_id is not None, has_backup=p.backup_volunteer_id is not None,
                       as_primary=me is None or p.primary_volunteer_id == me, closed_reason=p.closed_reason,
                       closed_at=p.closed_at) for p, b in rows]


async def list_persons(uow: UnitOfWork, *, actor: Actor, page: int = 1, size: int = 10,
                       now: datetime, closed: bool = False) -> Page[PersonLine]:
    """The persons on the ledger the actor may manage, by building and room; with `closed`, those
    taken off it, the latest first."""
    me = actor.require(Perm.PERSONS)
    where: list[Any] = [KeyPerson.community_id == me.community_id, col(KeyPerson.active).is_(not closed)]
    visible = await _visible_building_ids(uow, actor)
    if visible is not None:
        known = [i for i in visible if i is not None]
        cond = col(KeyPerson.building_id).in_(known)
        where.append(or_(cond, col(KeyPerson.building_id).is_(None)) if None in visible else cond)
    total = (await uow.session.exec(select(func.count()).select_from(KeyPerson).where(*where))).one()
    page, pages, offset = clamp(page, total, size)
    rows = (await uow.session.exec(
        select(KeyPerson, Building).join(Building, col(Building.id) == col(KeyPerson.building_id), isouter=True)
        .where(*where)
        .order_by(*((col(KeyPerson.closed_at).desc(), col(KeyPerson.id).desc()) if closed else
                    (col(Building.sort_key), col(KeyPerson.room), col(KeyPerson.id))))
        .offset(offset).limit(size))).all()
    lines = _lines(rows)
    audit.record(uow, action="person.read", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 via="list", person_ids=[x.id for x in lines])
    return Page(items=lines, page=page, pages=pages, total=total)


# ---------------------------------------------------------------- leaving the ledger


async def close_person(uow: UnitOfWork, *, actor: Actor, person_id: int, reason: str, now: datetime) -> KeyPerson:
    """Take a person off the ledger (moved away, into a care home, passed away, other): the check-ins
    not yet answered are cancelled, no new ones are made, and the paired volunteers are told to stop
    (alias and room only, not the reason). The record stays, sealed, and `reopen_person` undoes it.
    Invalid("reason", "unknown") for another reason."""
    if reason not in CLOSE_REASONS:
        raise Invalid("reason", "unknown")
    person = await _person(uow, actor=actor, person_id=person_id)
    person.active = False
    person.closed_at, person.closed_reason, person.closed_by = now, reason, actor.member.id if actor.member else None
    person.updated_at = now
    uow.session.add(person)
    await uow.session.exec(update(CheckinPrompt).where(  # type: ignore[call-overload]
        col(CheckinPrompt.person_id) == person.id,
        col(CheckinPrompt.status).in_((Status.SCHEDULED.value, Status.PENDING.value)))
        .values(status=Status.CANCELLED.value, next_action_at=None))
    audit.record(uow, action="person.close", now=now, community_id=person.community_id, actor_user_id=actor.user.id,
                 subject_type="person", subject_id=person.id, reason=reason)
    await tell_volunteers(uow, person, CareClosed, now)
    return person


async def reopen_person(uow: UnitOfWork, *, actor: Actor, person_id: int, now: datetime) -> KeyPerson:
    """Put a person taken off the ledger back on it (a mistake, or they came back): check-ins start
    again from the next slot, and the paired volunteers are told."""
    person = await _person(uow, actor=actor, person_id=person_id, closed=True)
    person.active = True
    person.closed_at = person.closed_reason = person.closed_by = None
    person.updated_at = now
    uow.session.add(person)
    audit.record(uow, action="person.reopen", now=now, community_id=person.community_id,
                 actor_user_id=actor.user.id, subject_type="person", subject_id=person.id)
    await tell_volunteers(uow, person, CarePaired, now)
    return person


async def tell_volunteers(uow: UnitOfWork, person: KeyPerson, notice: type[CarePaired | CareClosed],
                          now: datetime) -> None:
    """Tell the person's paired volunteers (alias, room, building and their part: primary or backup)."""
    community = await uow.session.get(Community, person.community_id)
    assert community is not None
    label = await _label(uow, person.building_id)
    for role, member_id in (("primary", person.primary_volunteer_id), ("backup", person.backup_volunteer_id)):
        row = await membership.person(uow, member_id=member_id) if member_id else None
        if row is not None:
            user = row[1]
            outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or community.locale, now=now,
                          community_id=community.id, recipient_user_id=user.id,
                          notice=notice(alias=person.alias, room=person.room, building=label, role=role,
                                        person_id=person.id or 0))


async def volunteer(uow: UnitOfWork, member_id: int | None) -> Volunteer | None:
    """A member's number and name (for the words around a pairing)."""
    return await _volunteer(uow, member_id)


async def person_line(uow: UnitOfWork, *, actor: Actor, person_id: int, perm: Perm = Perm.PAIR) -> PersonLine:
    """Alias, place and pairing of a person the actor may manage (no sealed data, so no read entry)."""
    person = await _person(uow, actor=actor, person_id=person_id, perm=perm)
    building = await uow.session.get(Building, person.building_id) if person.building_id else None
    return _lines([(person, building)])[0]
