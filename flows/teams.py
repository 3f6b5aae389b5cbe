"""Enthusiast teams (楼门热心人, F-9.1): one team per building with a leader, and Party-member households paired
with key persons as a second circle beside the volunteers.

Admins put together every building's team, grid workers their own grid's (Perm.TEAMS); a team's members see their
team (Perm.TEAM, which the enthusiast role gives: adding someone grants it when they do not hold it, and the last
removal takes it back). A Party-member household (`party`) may be paired with key persons of the ledger (by whoever
may pair them, Perm.PAIR, for buildings they manage): it sees the person's alias and room only — never the name,
contact or notes — and every read of its list is audited (person.read, via team).

Removing a member — or the member moving to another building (`leave_other_buildings`, from registration) — stops
what it fed in the same transaction: their pairings end (each told), they stop leading,
the team notices still queued for them are dropped, the enthusiast role the team gave goes and their menu is
refreshed. Every change is compare-and-set on the rows (`removed_at IS NULL`, `ended_at IS NULL`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import col, select

from flows import audit, membership, menus, outbox
from flows.care.ledger import _label, _person, is_admin
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound
from flows.membership import Actor
from flows.notices import Notice
from flows.places import is_grid_worker_of
from flows.roles import Perm, Role
from storage.db import UnitOfWork
from storage.models import Building, Community, KeyPerson, Member, OutboxMessage, RoleGrant, User
from storage.models_micro import Team, TeamMember, TeamPairing


@dataclass(frozen=True)
class TeamJoined(Notice, kind="team_joined"):
    building: str
    community: str
    party: bool


@dataclass(frozen=True)
class TeamLeft(Notice, kind="team_left"):
    building: str
    community: str


@dataclass(frozen=True)
class TeamLeader(Notice, kind="team_leader"):
    building: str
    community: str


@dataclass(frozen=True)
class TeamPaired(Notice, kind="team_paired"):
    alias: str
    room: str
    building: str


@dataclass(frozen=True)
class TeamUnpaired(Notice, kind="team_unpaired"):
    alias: str
    room: str
    building: str


#: The notices a removal drops when still queued for the member.
FED = (TeamJoined.kind, TeamLeader.kind, TeamPaired.kind)


@dataclass(frozen=True)
class Mate:
    member_id: int
    name: str
    party: bool
    leader: bool
    pairs: int


@dataclass(frozen=True)
class TeamView:
    building_id: int
    building: str
    members: tuple[Mate, ...]
    leader: str | None


@dataclass(frozen=True)
class PairLine:
    alias: str
    room: str
    building: str


async def _manage(uow: UnitOfWork, *, actor: Actor, building_id: int) -> Building:
    me = actor.require(Perm.TEAMS)
    b = await uow.session.get(Building, building_id)
    if b is None or b.community_id != me.community_id:
        raise NotFound("building", building_id)
    if not is_admin(actor) and not await is_grid_worker_of(uow, member=me, building_id=b.id):
        raise Forbidden("teams:building")
    return b


async def buildings(uow: UnitOfWork, *, actor: Actor) -> list[Building]:
    """The buildings whose team the actor may put together."""
    me = actor.require(Perm.TEAMS)
    rows = (await uow.session.exec(select(Building).where(Building.community_id == me.community_id)
                                   .order_by(col(Building.sort_key), col(Building.id)))).all()
    if is_admin(actor):
        return list(rows)
    return [b for b in rows if await is_grid_worker_of(uow, member=me, building_id=b.id)]


async def _team(uow: UnitOfWork, b: Building, now: datetime | None) -> Team | None:
    """The building's team; created (at `now`) when missing and `now` is given."""
    team = (await uow.session.exec(select(Team).where(Team.community_id == b.community_id,
                                                      Team.building_id == b.id))).first()
    if team is None and now is not None:
        team = Team(community_id=b.community_id, building_id=b.id or 0, created_at=now)
        uow.session.add(team)
        await uow.session.flush()
    return team


async def _view(uow: UnitOfWork, b: Building, team: Team | None) -> TeamView:
    mates: list[Mate] = []
    if team is not None:
        rows = (await uow.session.exec(
            select(TeamMember, Member).join(Member, col(Member.id) == col(TeamMember.member_id))
            .where(TeamMember.team_id == team.id, col(TeamMember.removed_at).is_(None))
            .order_by(col(TeamMember.id)))).all()
        for tm, m in rows:
            pairs = len((await uow.session.exec(select(TeamPairing.id).where(
                TeamPairing.member_id == m.id, col(TeamPairing.ended_at).is_(None)))).all())
            mates.append(Mate(member_id=m.id or 0, name=m.display_name, party=tm.party,
                              leader=team.leader_member_id == m.id, pairs=pairs))
    leader = next((x.name for x in mates if x.leader), None)
    return TeamView(building_id=b.id or 0, building=b.label, members=tuple(mates), leader=leader)


async def view(uow: UnitOfWork, *, actor: Actor, building_id: int) -> TeamView:
    """A building's team, for whoever manages it or is in it."""
    me = actor.require(Perm.TEAM)
    b = await uow.session.get(Building, building_id)
    if b is None or b.community_id != me.community_id:
        raise NotFound("building", building_id)
    team = await _team(uow, b, None)
    manages = actor.can(Perm.TEAMS) and (is_admin(actor) or await is_grid_worker_of(uow, member=me, building_id=b.id))
    if not manages and (team is None or await _membership(uow, team, me.id or 0) is None):
        raise Forbidden("teams:building")
    return await _view(uow, b, team)


async def my_teams(uow: UnitOfWork, *, actor: Actor) -> list[int]:
    """The buildings (ids) of the teams the actor is in."""
    me = actor.registered()
    return list((await uow.session.exec(select(Team.building_id).join(TeamMember, col(TeamMember.team_id) == col(
        Team.id)).where(TeamMember.member_id == me.id, col(TeamMember.removed_at).is_(None))
        .order_by(col(Team.building_id)))).all())


async def _membership(uow: UnitOfWork, team: Team, member_id: int) -> TeamMember | None:
    return (await uow.session.exec(select(TeamMember).where(TeamMember.team_id == team.id,
                                                            TeamMember.member_id == member_id))).first()


async def _person_of(uow: UnitOfWork, community_id: int, member_id: int) -> tuple[Member, User]:
    row = await membership.person(uow, member_id=member_id)
    if row is None or row[0].community_id != community_id:
        raise NotFound("member", member_id)
    return row


def _tell(uow: UnitOfWork, community: Community, user: User, notice: Notice, now: datetime) -> None:
    outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or community.locale, now=now,
                  community_id=community.id, recipient_user_id=user.id, notice=notice)


async def add_member(uow: UnitOfWork, *, actor: Actor, building_id: int, member_id: int, party: bool,
                     now: datetime) -> TeamView:
    """Put a member in the building's team (as a Party-member household when `party`); they are told."""
    b = await _manage(uow, actor=actor, building_id=building_id)
    community = actor.home()
    member, user = await _person_of(uow, b.community_id, member_id)
    team = await _team(uow, b, now)
    assert team is not None
    tm = await _membership(uow, team, member_id)
    if tm is not None and tm.removed_at is None:
        raise AlreadyDone("team_member")
    granted = await membership.assign_role(uow, member=member, role=Role.ENTHUSIAST, org=None, now=now)
    if tm is None:
        tm = TeamMember(community_id=b.community_id, team_id=team.id or 0, member_id=member_id, party=party,
                        granted_role=granted, added_at=now)
    else:
        took = await uow.session.execute(
            update(TeamMember).where(col(TeamMember.id) == tm.id, col(TeamMember.removed_at).is_not(None))
            .values(removed_at=None, party=party, granted_role=granted, added_at=now)
            .execution_options(synchronize_session=False))
        if not took.rowcount:  # type: ignore[attr-defined]
            raise AlreadyDone("team_member")
        await uow.session.refresh(tm)
    uow.session.add(tm)
    await uow.session.flush()
    audit.record(uow, action="team.add", now=now, community_id=b.community_id, actor_user_id=actor.user.id,
                 subject_type="member", subject_id=member_id, building=b.id, party=party)
    _tell(uow, community, user, TeamJoined(building=b.label, community=community.name, party=party), now)
    if granted:
        await menus.refresh(uow, user=user, now=now)
    return await _view(uow, b, team)


async def set_leader(uow: UnitOfWork, *, actor: Actor, building_id: int, member_id: int, now: datetime) -> TeamView:
    b = await _manage(uow, actor=actor, building_id=building_id)
    team = await _team(uow, b, None)
    tm = await _membership(uow, team, member_id) if team is not None else None
    if team is None or tm is None or tm.removed_at is not None:
        raise Invalid("member", "not_in_team", member_id=member_id)
    if team.leader_member_id == member_id:
        raise AlreadyDone("team_leader")
    took = await uow.session.execute(
        update(Team).where(col(Team.id) == team.id, col(Team.leader_member_id) == team.leader_member_id
                           if team.leader_member_id is not None else col(Team.leader_member_id).is_(None))
        .values(leader_member_id=member_id).execution_options(synchronize_session=False))
    if not took.rowcount:  # type: ignore[attr-defined]
        raise AlreadyDone("team_leader")
    await uow.session.refresh(team)
    audit.record(uow, action="team.leader", now=now, community_id=b.community_id, actor_user_id=actor.user.id,
                 subject_type="member", subject_id=member_id, building=b.id)
    community = actor.home()
    _, user = await _person_of(uow, b.community_id, member_id)
    _tell(uow, community, user, TeamLeader(building=b.label, community=community.name), now)
    return await _view(uow, b, team)


async def _end_pairings(uow: UnitOfWork, *, community: Community, member_id: int, user: User | None,
                        now: datetime) -> list[int]:
    pairs = (await uow.session.exec(select(TeamPairing).where(
        TeamPairing.member_id == member_id, col(TeamPairing.ended_at).is_(None)))).all()
    ended: list[int] = []
    for p in pairs:
        took = await uow.session.execute(
            update(TeamPairing).where(col(TeamPairing.id) == p.id, col(TeamPairing.ended_at).is_(None))
            .values(ended_at=now).execution_options(synchronize_session=False))
        if not took.rowcount:  # type: ignore[attr-defined]
            continue
        ended.append(p.person_id)
        person = await uow.session.get(KeyPerson, p.person_id)
        if person is not None and user is not None:
            _tell(uow, community, user, TeamUnpaired(alias=person.alias, room=person.room,
                                                     building=await _label(uow, person.building_id)), now)
    return ended


async def _leave(uow: UnitOfWork, *, community: Community, team: Team, tm: TeamMember, user: User,
                 actor_user_id: int | None, now: datetime) -> None:
    """Take one membership away and everything it fed (see the module)."""
    took = await uow.session.execute(
        update(TeamMember).where(col(TeamMember.id) == tm.id, col(TeamMember.removed_at).is_(None))
        .values(removed_at=now).execution_options(synchronize_session=False))
    if not took.rowcount:  # type: ignore[attr-defined]
        raise AlreadyDone("team_member")
    await uow.session.execute(update(Team).where(col(Team.id) == team.id, col(Team.leader_member_id) == tm.member_id)
                              .values(leader_member_id=None).execution_options(synchronize_session=False))
    still = (await uow.session.exec(select(TeamMember.id).where(
        TeamMember.member_id == tm.member_id, col(TeamMember.removed_at).is_(None)))).first()
    persons = [] if still is not None else await _end_pairings(uow, community=community, member_id=tm.member_id,
                                                               user=user, now=now)
    await uow.session.execute(delete(OutboxMessage).where(
        col(OutboxMessage.recipient_user_id) == user.id, col(OutboxMessage.status) == "pending",
        col(OutboxMessage.community_id) == community.id).where(
        OutboxMessage.payload["notice"].as_string().in_(FED)).execution_options(synchronize_session=False))
    role_gone = False
    if still is None and tm.granted_role:
        result = await uow.session.execute(
            update(RoleGrant).where(col(RoleGrant.member_id) == tm.member_id, col(RoleGrant.role) == Role.ENTHUSIAST.value,
                                    col(RoleGrant.revoked_at).is_(None))
            .values(revoked_at=now).execution_options(synchronize_session=False))
        role_gone = bool(result.rowcount)  # type: ignore[attr-defined]
    audit.record(uow, action="team.remove", now=now, community_id=community.id, actor_user_id=actor_user_id,
                 subject_type="member", subject_id=tm.member_id, team=team.id, persons=persons, role=role_gone)
    b = await uow.session.get(Building, team.building_id)
    _tell(uow, community, user, TeamLeft(building=b.label if b else "", community=community.name), now)
    await menus.refresh(uow, user=user, now=now)


async def remove_member(uow: UnitOfWork, *, actor: Actor, building_id: int, member_id: int, now: datetime) -> TeamView:
    b = await _manage(uow, actor=actor, building_id=building_id)
    team = await _team(uow, b, None)
    tm = await _membership(uow, team, member_id) if team is not None else None
    if team is None or tm is None or tm.removed_at is not None:
        raise Invalid("member", "not_in_team", member_id=member_id)
    _, user = await _person_of(uow, b.community_id, member_id)
    await _leave(uow, community=actor.home(), team=team, tm=tm, user=user, actor_user_id=actor.user.id, now=now)
    await uow.session.refresh(team)
    return await _view(uow, b, team)


async def leave_all(uow: UnitOfWork, *, community: Community, member: Member, actor_user_id: int | None,
                    now: datetime) -> int:
    """The member leaves every team (their enthusiast role was revoked); returns how many."""
    rows = (await uow.session.exec(select(TeamMember, Team).join(Team, col(Team.id) == col(TeamMember.team_id))
                                   .where(TeamMember.member_id == member.id, col(TeamMember.removed_at).is_(None)))).all()
    row = await membership.person(uow, member_id=member.id or 0)
    if row is None:
        return 0
    for tm, team in rows:
        tm.granted_role = False  # the role is gone already
        await _leave(uow, community=community, team=team, tm=tm, user=row[1], actor_user_id=actor_user_id, now=now)
    return len(rows)


async def leave_other_buildings(uow: UnitOfWork, *, community: Community, member: Member, user: User,
                                now: datetime) -> int:
    """The member moved to another building (registering again with it): they leave the teams of the buildings
    they left, and what those fed stops as on a removal (pairings, leading, queued notices, the enthusiast role the
    team gave, their menu). Returns how many."""
    rows = (await uow.session.exec(
        select(TeamMember, Team).join(Team, col(Team.id) == col(TeamMember.team_id))
        .where(TeamMember.member_id == member.id, col(TeamMember.removed_at).is_(None),
               col(Team.building_id) != member.building_id))).all()
    for tm, team in rows:
        await _leave(uow, community=community, team=team, tm=tm, user=user, actor_user_id=user.id, now=now)
    return len(rows)


async def pair(uow: UnitOfWork, *, actor: Actor, person_id: int, member_id: int, now: datetime) -> PairLine:
    """Pair a Party-member household of a team with a key person (alias and room only); they are told."""
    person = await _person(uow, actor=actor, person_id=person_id, perm=Perm.PAIR)
    me = actor.registered()
    party = (await uow.session.exec(select(TeamMember.id).where(
        TeamMember.member_id == member_id, TeamMember.community_id == me.community_id, col(TeamMember.party).is_(True),
        col(TeamMember.removed_at).is_(None)))).first()
    if party is None:
        raise Invalid("member", "not_party", member_id=member_id)
    held = (await uow.session.exec(select(TeamPairing.id).where(
        TeamPairing.member_id == member_id, TeamPairing.person_id == person_id,
        col(TeamPairing.ended_at).is_(None)))).first()
    if held is not None:
        raise AlreadyDone("team_pair")
    uow.session.add(TeamPairing(community_id=me.community_id, member_id=member_id, person_id=person_id, paired_at=now))
    audit.record(uow, action="team.pair", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                 subject_type="person", subject_id=person_id, member=member_id)
    line = PairLine(alias=person.alias, room=person.room, building=await _label(uow, person.building_id))
    _, user = await _person_of(uow, me.community_id, member_id)
    _tell(uow, actor.home(), user, TeamPaired(alias=line.alias, room=line.room, building=line.building), now)
    await uow.session.flush()
    return line


async def my_pairs(uow: UnitOfWork, *, actor: Actor, now: datetime) -> list[PairLine]:
    """A Party-member household's key persons: alias, room, building — nothing more of the ledger; audited."""
    me = actor.require(Perm.TEAM)
    rows = (await uow.session.exec(
        select(KeyPerson).join(TeamPairing, col(TeamPairing.person_id) == col(KeyPerson.id))
        .where(TeamPairing.member_id == me.id, col(TeamPairing.ended_at).is_(None), col(KeyPerson.active).is_(True))
        .order_by(col(KeyPerson.id)))).all()
    if rows:
        audit.record(uow, action="person.read", now=now, community_id=me.community_id, actor_user_id=actor.user.id,
                     via="team", person_ids=[p.id for p in rows])
    return [PairLine(alias=p.alias, room=p.room, building=await _label(uow, p.building_id)) for p in rows]
