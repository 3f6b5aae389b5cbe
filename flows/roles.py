"""Roles, organisations and what each role may do. The one place permissions are decided."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from flows.notices import Notice


class Role(StrEnum):
    RESIDENT = "resident"
    REPRESENTATIVE = "representative"
    VOLUNTEER = "volunteer"
    ENTHUSIAST = "enthusiast"
    GRID_WORKER = "grid_worker"
    COMMITTEE = "committee"
    HANDLER = "handler"  # 承办人: works the requests assigned to their organisation (F-7)
    PROPERTY_STAFF = "property_staff"  # 物业项目人员: a property company's member, tied to a project (F-10)
    ADMIN = "admin"
    DISTRICT_ADMIN = "district_admin"


class Org(StrEnum):
    """The organisations a committee member belongs to (多委)."""

    RESIDENTS_COMMITTEE = "rc"  # 居委会
    OWNERS_COMMITTEE = "oc"  # 业委会
    PROPERTY = "property"  # 物业
    UNIT = "unit"  # 驻区单位
    POLICE = "police"  # 社区民警


class Perm(StrEnum):
    INVITE = "invite"
    GRANT = "grant"
    MEMBERS = "members"
    LINK_CHAT = "link_chat"
    AUDIT = "audit"
    PERSONS = "persons"  # register and edit key persons of the care ledger (of one's own grid)
    PAIR = "pair"  # pair volunteers with key persons
    CHECKINS = "checkins"  # see check-in coverage, statistics and incidents
    GRIDS = "grids"  # set up grids and their grid workers
    CHECK = "check"  # answer daily check-in prompts (volunteers)
    NEEDS_ENTER = "needs_enter"  # enter a need on a resident's behalf (door visits)
    NEEDS_REVIEW = "needs_review"  # open/close the needs collection; merge, reject, promote needs
    BALLOT = "ballot"  # create, open and close the representatives' ballot; withdraw candidates; settle ties
    VOTE = "vote"  # vote on the representatives' ballot (居民代表)
    POLL = "poll"  # put quick polls to groups
    PROJECTS = "projects"  # manage the year's projects: owners, deadlines, milestones, budget, colour override
    REQUESTS_ASSESS = "requests_assess"  # joint assessment of requests: assign to an organisation, merge, reject
    REQUESTS_HANDLE = "requests_handle"  # accept, report progress on and resolve requests of one's organisation
    REQUESTS_SETUP = "requests_setup"  # the community's organisations for requests and its routing rules (admins)
    PROPERTY_SETUP = "property_setup"  # property projects, the buildings they serve, the companies' members (F-10)
    PROPERTY_SCORE = "property_score"  # score a property project's monthly indicators (Party organisation, committee)
    PROPERTY_REPLY = "property_reply"  # see one's own project's scores and reply to deductions (the company)
    ANNOUNCE = "announce"  # announce to the community's groups (grid workers: their own grid's building groups)
    SETTINGS = "settings"  # see and change the community's settings: check-in times, quiet hours, clocks (admins)
    TEAM = "team"  # see one's building enthusiast team (楼门热心人) and one's pairings as a Party-member household
    TEAMS = "teams"  # put together the building teams: members, leader, Party households' pairings (grid workers: own grid)
    WISHES = "wishes"  # post a micro-wish for a resident (网格员代为发布), see the monthly counts
    MICRO = "micro"  # post micro projects / deeds / posts (微项目/微实事/微岗位) for the community to claim
    SPACES = "spaces"  # register and edit micro spaces, name their keepers (a keeper manages their own space)
    FAMILY = "family"  # a key person's family member (by invite): see their relative, ask for services for them
    SERVICES = "services"  # services for key persons: offer, claim, ask (volunteers, staff, resident units' members)
    JOBS = "jobs"  # post job openings and trainings, mark attendance, enter income records (the office)


class Purpose(StrEnum):
    """What a linked group is for."""

    COMMUNITY = "community"
    BUILDING = "building"
    COMMITTEE = "committee"
    VOLUNTEERS = "volunteers"


_STAFF = {Perm.MEMBERS, Perm.INVITE, Perm.PERSONS, Perm.PAIR, Perm.CHECKINS, Perm.CHECK, Perm.NEEDS_ENTER,
          Perm.ANNOUNCE, Perm.TEAM, Perm.TEAMS, Perm.WISHES, Perm.SPACES, Perm.JOBS,
          Perm.SERVICES}
_ADMIN = set(Perm) - {Perm.VOTE, Perm.PROPERTY_REPLY, Perm.FAMILY}  # admins vote only when they are representatives too

PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.RESIDENT: frozenset(),
    Role.REPRESENTATIVE: frozenset({Perm.VOTE}),
    Role.VOLUNTEER: frozenset({Perm.CHECK, Perm.SERVICES}),
    Role.ENTHUSIAST: frozenset({Perm.TEAM}),
    Role.COMMITTEE: frozenset({Perm.REQUESTS_ASSESS, Perm.MICRO, Perm.PROPERTY_SCORE}),
    Role.PROPERTY_STAFF: frozenset({Perm.PROPERTY_REPLY}),
    Role.HANDLER: frozenset({Perm.REQUESTS_HANDLE}),
    Role.GRID_WORKER: frozenset(_STAFF),
    Role.ADMIN: frozenset(_ADMIN),
    Role.DISTRICT_ADMIN: frozenset(_ADMIN),
}

#: Which roles a holder of a role may hand out by invite link.
INVITABLE_BY: dict[Role, frozenset[Role]] = {
    Role.GRID_WORKER: frozenset({Role.RESIDENT, Role.VOLUNTEER, Role.ENTHUSIAST}),
    Role.ADMIN: frozenset(set(Role) - {Role.DISTRICT_ADMIN}),
    Role.DISTRICT_ADMIN: frozenset(Role),
}

#: Roles that need an organisation.
NEEDS_ORG = frozenset({Role.COMMITTEE, Role.HANDLER})


#: What people type for a role or an organisation, in either language.
ROLE_ALIASES: dict[str, Role] = {
    "居民": Role.RESIDENT, "居民代表": Role.REPRESENTATIVE, "代表": Role.REPRESENTATIVE, "rep": Role.REPRESENTATIVE,
    "志愿者": Role.VOLUNTEER, "党员": Role.VOLUNTEER, "楼门热心人": Role.ENTHUSIAST, "热心人": Role.ENTHUSIAST,
    "网格员": Role.GRID_WORKER, "grid": Role.GRID_WORKER, "委员": Role.COMMITTEE, "多委成员": Role.COMMITTEE,
    "承办人": Role.HANDLER, "处置人": Role.HANDLER, "物业人员": Role.PROPERTY_STAFF, "物业项目人员": Role.PROPERTY_STAFF,
    "管理员": Role.ADMIN, "社区党组织": Role.ADMIN, "区级管理员": Role.DISTRICT_ADMIN,
}
ORG_ALIASES: dict[str, Org] = {
    "居委会": Org.RESIDENTS_COMMITTEE, "业委会": Org.OWNERS_COMMITTEE, "物业": Org.PROPERTY,
    "驻区单位": Org.UNIT, "社区民警": Org.POLICE, "民警": Org.POLICE,
}


def parse_role(text: str) -> Role | None:
    value = text.strip().lower().replace("-", "_")
    try:
        return Role(value)
    except ValueError:
        return ROLE_ALIASES.get(value)


def parse_org(text: str) -> Org | None:
    value = text.strip().lower()
    try:
        return Org(value)
    except ValueError:
        return ORG_ALIASES.get(value)


PURPOSE_ALIASES: dict[str, Purpose] = {
    "社区": Purpose.COMMUNITY, "社区群": Purpose.COMMUNITY, "楼门": Purpose.BUILDING, "楼门群": Purpose.BUILDING,
    "楼": Purpose.BUILDING, "多委": Purpose.COMMITTEE, "多委联合办公群": Purpose.COMMITTEE,
    "志愿者": Purpose.VOLUNTEERS, "志愿者群": Purpose.VOLUNTEERS,
}


def parse_purpose(text: str) -> Purpose | None:
    value = text.strip().lower()
    try:
        return Purpose(value)
    except ValueError:
        return PURPOSE_ALIASES.get(value)


#: Not a role but what a grant's organisation adds: the actor's roles hold `org_token(Org.UNIT)` when one of their
#: grants is for a resident unit (驻区单位), whose members offer services to key persons.
#: FAMILY_TOKEN is there for a member linked to a key person as family (storage/models_family.py).
FAMILY_TOKEN = "family:person"
ORG_PERMISSIONS: dict[str, frozenset[Perm]] = {f"org:{Org.UNIT.value}": frozenset({Perm.SERVICES}),
                                               FAMILY_TOKEN: frozenset({Perm.FAMILY})}


def org_token(organisation: str | None) -> str | None:
    """The pseudo-role an organisation adds to the actor's roles (None: nothing)."""
    token = f"org:{organisation}"
    return token if token in ORG_PERMISSIONS else None


def permissions(roles: Iterable[str]) -> frozenset[Perm]:
    out: set[Perm] = set()
    for r in roles:
        if r in ORG_PERMISSIONS:
            out |= ORG_PERMISSIONS[r]
            continue
        try:
            out |= PERMISSIONS[Role(r)]
        except ValueError:
            continue
    return frozenset(out)


def may_invite(roles: Iterable[str], target: Role) -> bool:
    for r in roles:
        try:
            if target in INVITABLE_BY.get(Role(r), frozenset()):
                return True
        except ValueError:
            continue
    return False


# ---------------------------------------------------------------- notices (rendered in bot/render.py)

@dataclass(frozen=True)
class RoleGranted(Notice, kind="role_granted"):
    role: str
    community: str
    organisation: str | None = None


@dataclass(frozen=True)
class RoleRevoked(Notice, kind="role_revoked"):
    role: str
    community: str


@dataclass(frozen=True)
class InviteUsed(Notice, kind="invite_used"):
    name: str
    role: str
    member_id: int
