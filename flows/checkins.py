"""Daily check-ins (早看窗帘晚看灯): planning, the escalation ladder, answers, incidents, absences.

Everything is found from the database: `tick(uow, now)` is the one entry point of the scheduler
and may run any number of times, from any number of processes. Every state change is a
compare-and-set on the row (``UPDATE … WHERE status = … AND stage = …``) and only the process
whose update took the row queues the message, whose dedupe key is unique as well: nothing is
sent twice. Flows queue notices (keys and parameters), never display text, and never a key
person's name or contact: alias, room and building only.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import bindparam, func, update
from sqlmodel import col, select

from flows import audit, outbox
from flows.errors import FlowError, Invalid
from flows.membership import Actor
from flows.places import admins_of, district_membership, grid_workers_of
from flows.roles import Perm, Purpose, permissions
from storage.db import UnitOfWork, insert_ignoring
from storage.models import (
    Absence,
    AuditEntry,
    Building,
    Chat,
    CheckinPrompt,
    Community,
    Incident,
    KeyPerson,
    Member,
    RoleGrant,
    User,
)

DEFAULTS: dict[str, Any] = {
    "morning": "09:00",
    "evening": "19:30",
    "midday": "12:30",
    "remind_after": 15,  # minutes after the prompt: second reminder
    "backup_after": 30,  # minutes after the reminder: the backup volunteer gets the check
    "escalate_after": 30,  # minutes after the backup was asked: grid worker and volunteers' group
    "incident_repeat": 30,  # minutes between re-escalations of an open incident
    "grace": 30,  # minutes: what fell due longer ago than this is reported as missed, not sent
}
SLOTS = ("morning", "midday", "evening")
ANSWERS = ("ok", "not_ok", "knocked", "cannot")
OUTCOMES = ("safe", "slept_late", "hospital", "other", "false_alarm")
MAX_AWAY_DAYS = 60
DEFAULT_ZONE = "Asia/Shanghai"
MAX_LISTED = 30  # lines of a missed-checks report
PLAN_TOMORROW_FROM = time(23, 0)  # local time from which the next day is planned too


class CheckinRefused(FlowError):
    """A press that changes nothing: `reason` says why (not_found, not_yours, no_role, handed_over,
    old_day, answered, closed)."""

    code = "checkin_refused"

    def __init__(self, reason: str) -> None:
        super().__init__(reason, reason=reason)
        self.reason = reason


# ---------------------------------------------------------------- settings and time


def settings_of(community: Community) -> dict[str, Any]:
    """The community's check-in settings over the defaults; a value that does not parse falls back
    to its default (a typo in the settings must never stop the ladder)."""
    cfg = dict(DEFAULTS)
    given = (community.settings or {}).get("checkin") or {}
    if not isinstance(given, dict):
        return cfg
    for key, default in DEFAULTS.items():
        value = given.get(key)
        if value is None:
            continue
        if isinstance(default, str):
            if isinstance(value, str) and _hhmm(value) is not None:
                cfg[key] = value
        elif isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 24 * 60:
            cfg[key] = value
    return cfg


def _minutes(cfg: dict[str, Any], key: str) -> timedelta:
    return timedelta(minutes=float(cfg[key]))


def _hhmm(text: str | None) -> time | None:
    if not text:
        return None
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        return None
    return time(int(m.group(1)), int(m.group(2)))


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def local_today(now: datetime, tz: str) -> date:
    return now.astimezone(_zone(tz)).date()


def due_at(local_date: date, at: time, tz: str) -> datetime:
    return datetime.combine(local_date, at, tzinfo=_zone(tz)).astimezone(ZoneInfo("UTC"))


def slot_times(person: KeyPerson, cfg: dict[str, Any]) -> dict[str, time]:
    out: dict[str, time] = {}
    out["morning"] = _hhmm(person.morning_time) or _hhmm(cfg["morning"]) or time(9, 0)
    out["evening"] = _hhmm(person.evening_time) or _hhmm(cfg["evening"]) or time(19, 30)
    if person.midday_check and person.risk == "red":
        out["midday"] = _hhmm(cfg["midday"]) or time(12, 30)
    return out


# ---------------------------------------------------------------- people


@dataclass(frozen=True)
class Recipient:
    member_id: int
    tg_id: int
    user_id: int
    lang: str
    name: str


def _cache(uow: UnitOfWork, name: str) -> dict[Any, Any]:
    """A lookup cache that lives as long as the unit of work (one transaction, one tick)."""
    caches: dict[str, dict[Any, Any]] | None = getattr(uow, "_checkin_caches", None)
    if caches is None:
        caches = {}
        uow._checkin_caches = caches  # type: ignore[attr-defined]
    return caches.setdefault(name, {})


async def _recipients(uow: UnitOfWork, member_ids: set[int], community: Community) -> dict[int, Recipient]:
    cache = _cache(uow, "recipients")
    ids = {m for m in member_ids if m is not None}
    missing = [m for m in ids if m not in cache]
    for i in range(0, len(missing), 500):
        rows = await uow.session.exec(
            select(Member, User).join(User, col(User.id) == col(Member.user_id))
            .where(col(Member.id).in_(missing[i:i + 500])))
        for m, u in rows.all():
            cache[m.id] = Recipient(m.id, u.tg_id, u.id, u.language or community.locale, m.display_name or u.first_name)
    return {m: cache[m] for m in ids if m in cache}


async def _workers(uow: UnitOfWork, community_id: int, building_id: int | None) -> list[int]:
    cache = _cache(uow, "workers")
    key = (community_id, building_id)
    if key not in cache:
        cache[key] = [w.id for w in await grid_workers_of(uow, community_id=community_id, building_id=building_id)]
    return list(cache[key])


async def _admins(uow: UnitOfWork, community_id: int) -> list[int]:
    return await admins_of(uow, community_id=community_id)


async def _volunteer_groups(uow: UnitOfWork, community_id: int) -> list[Chat]:
    rows = await uow.session.exec(
        select(Chat).where(Chat.community_id == community_id, Chat.purpose == Purpose.VOLUNTEERS.value,
                           col(Chat.bot_status).in_(("member", "administrator"))))
    return list(rows.all())


async def _building_label(uow: UnitOfWork, building_id: int | None) -> str:
    if building_id is None:
        return ""
    cache = _cache(uow, "labels")
    if building_id not in cache:
        b = await uow.session.get(Building, building_id)
        cache[building_id] = b.label if b else ""
    return str(cache[building_id])


async def _away_set(uow: UnitOfWork, community_id: int, days: list[str]) -> set[tuple[int, str]]:
    """(member_id, local_date) pairs of volunteers away on those days."""
    if not days:
        return set()
    rows = (await uow.session.exec(
        select(Absence).where(Absence.community_id == community_id, Absence.first_day <= max(days),
                              Absence.last_day >= min(days)))).all()
    return {(a.member_id, d) for a in rows for d in days if a.first_day <= d <= a.last_day}


def effective_assignee(person: KeyPerson, day: str, away: set[tuple[int, str]]) -> int | None:
    """The primary volunteer, or the backup when the primary is away that day."""
    primary, backup = person.primary_volunteer_id, person.backup_volunteer_id
    if primary is not None and (primary, day) in away and backup is not None:
        return backup
    return primary if primary is not None else backup


def _person_params(person: KeyPerson, building: str) -> dict[str, Any]:
    return {"alias": person.alias, "room": person.room, "building": building}


# ---------------------------------------------------------------- planning


async def _communities(uow: UnitOfWork) -> dict[int, Community]:
    return {c.id: c for c in (await uow.session.exec(select(Community))).all()}


def _insert_ignore(uow: UnitOfWork, rows: list[dict[str, Any]]) -> Any:
    return insert_ignoring(uow, CheckinPrompt, ["person_id", "local_date", "slot"]).values(rows)


async def plan(uow: UnitOfWork, *, community: Community, local_date: date, now: datetime) -> int:
    """Create the prompts of one local day for every active person with a volunteer; returns how
    many were new. Idempotent, and a concurrent planner's rows are tolerated (insert-if-absent)."""
    cfg = settings_of(community)
    day = local_date.isoformat()
    persons = (await uow.session.exec(
        select(KeyPerson).where(KeyPerson.community_id == community.id, col(KeyPerson.active).is_(True),
                                col(KeyPerson.primary_volunteer_id).is_not(None)))).all()
    if not persons:
        return 0
    have = set((await uow.session.exec(
        select(CheckinPrompt.person_id, CheckinPrompt.slot).where(
            CheckinPrompt.community_id == community.id, CheckinPrompt.local_date == day))).all())
    away = await _away_set(uow, community.id, [day])
    rows: list[dict[str, Any]] = []
    for p in persons:
        for slot, at in slot_times(p, cfg).items():
            due = due_at(local_date, at, community.timezone)
            if (p.id, slot) in have or (p.created_at is not None and due < p.created_at):
                continue  # planned already, or the person was not in the ledger yet at that time
            rows.append({"community_id": community.id, "person_id": p.id, "local_date": day, "slot": slot,
                         "due_at": due, "status": "scheduled", "stage": 0,
                         "assignee_member_id": effective_assignee(p, day, away), "created_at": now})
    for i in range(0, len(rows), 500):
        await uow.session.execute(_insert_ignore(uow, rows[i:i + 500]))
    return len(rows)


# ---------------------------------------------------------------- the tick


@dataclass
class TickResult:
    planned: int = 0
    sent: int = 0
    missed: int = 0
    reminded: int = 0
    handed: int = 0
    escalated: int = 0
    reescalated: int = 0
    cancelled: int = 0
    welcomed: int = 0

    @property
    def messages(self) -> int:
        return self.sent + self.reminded + self.handed + self.escalated + self.reescalated + self.missed


async def tick(uow: UnitOfWork, *, now: datetime) -> TickResult:
    """Do everything that fell due at `now`; safe to run twice, or in two processes at once."""
    res = TickResult()
    communities = await _communities(uow)
    for c in communities.values():
        today = local_today(now, c.timezone)
        res.planned += await plan(uow, community=c, local_date=today, now=now)
        if now.astimezone(_zone(c.timezone)).time() >= PLAN_TOMORROW_FROM:
            res.planned += await plan(uow, community=c, local_date=today + timedelta(days=1), now=now)
    await uow.session.flush()
    await _send_due(uow, now, communities, res)
    await _climb(uow, now, communities, res)
    await _reescalate(uow, now, communities, res)
    await _welcome_back(uow, now, communities, res)
    return res


async def _cas(uow: UnitOfWork, prompt_id: int, expect: dict[str, Any], **values: Any) -> bool:
    """Compare-and-set one prompt: True when this transaction took it."""
    conds = [CheckinPrompt.id == prompt_id] + [getattr(CheckinPrompt, k) == v for k, v in expect.items()]
    result = await uow.session.execute(
        update(CheckinPrompt).where(*conds).values(**values).execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _take(uow: UnitOfWork, ids: list[int], expect: dict[str, Any] | None = None, **values: Any) -> set[int]:
    """Compare-and-set many prompts at once (default: still scheduled): the ids this transaction took."""
    took: set[int] = set()
    conds = [getattr(CheckinPrompt, k) == v for k, v in (expect or {"status": "scheduled"}).items()]
    for i in range(0, len(ids), 500):
        result = await uow.session.execute(
            update(CheckinPrompt).where(col(CheckinPrompt.id).in_(ids[i:i + 500]), *conds)
            .values(**values).returning(col(CheckinPrompt.id)).execution_options(synchronize_session=False))
        took.update(result.scalars().all())
    return took


async def _send_due(uow: UnitOfWork, now: datetime, comms: dict[int, Community], res: TickResult) -> None:
    rows = (await uow.session.exec(
        select(CheckinPrompt, KeyPerson).join(KeyPerson, col(KeyPerson.id) == col(CheckinPrompt.person_id))
        .where(CheckinPrompt.status == "scheduled", col(CheckinPrompt.due_at) <= now)
        .order_by(col(CheckinPrompt.due_at), col(CheckinPrompt.id))
        .execution_options(populate_existing=True))).all()
    if not rows:
        return
    by_comm: dict[int, list[tuple[CheckinPrompt, KeyPerson]]] = defaultdict(list)
    for pr, p in rows:
        by_comm[pr.community_id].append((pr, p))
    for cid, items in by_comm.items():
        c = comms[cid]
        cfg = settings_of(c)
        grace = _minutes(cfg, "grace")
        away = await _away_set(uow, cid, sorted({pr.local_date for pr, _ in items}))
        assignees = {effective_assignee(p, pr.local_date, away) for pr, p in items}
        people = await _recipients(uow, {a for a in assignees if a is not None}, c)
        missed: list[tuple[CheckinPrompt, KeyPerson]] = []
        cancel: list[int] = []
        send: list[tuple[CheckinPrompt, KeyPerson, int]] = []
        orphans: list[tuple[CheckinPrompt, KeyPerson]] = []
        for pr, p in items:
            assignee = effective_assignee(p, pr.local_date, away)
            if not p.active:
                cancel.append(pr.id)
            elif assignee is None:  # their volunteer lost the role since it was planned: the grid worker checks
                orphans.append((pr, p))
            elif now - pr.due_at > grace:
                missed.append((pr, p))
            else:
                send.append((pr, p, assignee))
        res.cancelled += len(await _take(uow, cancel, status="cancelled"))
        took = await _take(uow, [pr.id for pr, _ in orphans], status="pending", stage=2, sent_at=now,
                           next_action_at=None, assignee_member_id=None)
        for pr, p in orphans:
            if pr.id in took and await _escalate(uow, c, pr, p, now, expect_stage=2, kind="no_volunteer"):
                res.escalated += 1
        took = await _take(uow, [pr.id for pr, _ in missed], status="missed", next_action_at=None)
        missed = [(pr, p) for pr, p in missed if pr.id in took]
        took = await _take(uow, [pr.id for pr, _, _ in send], status="pending", stage=0, sent_at=now,
                           next_action_at=now + _minutes(cfg, "remind_after"))
        send = [x for x in send if x[0].id in took]
        if send:
            table = CheckinPrompt.__table__  # type: ignore[attr-defined]
            stmt = update(table).where(table.c.id == bindparam("pid")).values(assignee_member_id=bindparam("aid"))
            conn = await uow.session.connection()
            await conn.execute(stmt, [{"pid": pr.id, "aid": a} for pr, _, a in send])
        for pr, p, assignee in send:
            r = people.get(assignee)
            if r is not None:
                outbox.notify(uow, tg_chat_id=r.tg_id, recipient_user_id=r.user_id, community_id=cid,
                              notice="ck_prompt", lang=r.lang, now=now, dedupe_key=f"ck:{pr.id}:0",
                              prompt_id=pr.id, slot=pr.slot, stage=0, handed=False,
                              **_person_params(p, await _building_label(uow, p.building_id)))
            res.sent += 1
        if missed:
            res.missed += len(missed)
            await _report_missed(uow, c, missed, now)


async def _report_missed(uow: UnitOfWork, c: Community, missed: list[tuple[CheckinPrompt, KeyPerson]],
                         now: datetime) -> None:
    """One report per grid worker: checks that fell due while the system was down."""
    by_worker: dict[int, list[dict[str, Any]]] = defaultdict(list)
    first_id: dict[int, int] = {}
    for pr, p in missed:
        label = await _building_label(uow, p.building_id)
        for wid in await _workers(uow, c.id, p.building_id):
            by_worker[wid].append({"date": pr.local_date, "slot": pr.slot, **_person_params(p, label)})
            first_id.setdefault(wid, pr.id)
    if not by_worker:  # nobody to tell: the admins must know
        for mid in await _admins(uow, c.id):
            by_worker[mid] = [{"date": pr.local_date, "slot": pr.slot, **_person_params(p, "")} for pr, p in missed]
            first_id[mid] = missed[0][0].id
    people = await _recipients(uow, set(by_worker), c)
    for mid, items in by_worker.items():
        r = people.get(mid)
        if r is None:
            continue
        outbox.notify(uow, tg_chat_id=r.tg_id, recipient_user_id=r.user_id, community_id=c.id, notice="ck_missed",
                      lang=r.lang, now=now, dedupe_key=f"ckm:{mid}:{first_id[mid]}:{len(items)}",
                      items=items[:MAX_LISTED], more=max(0, len(items) - MAX_LISTED))


async def _climb(uow: UnitOfWork, now: datetime, comms: dict[int, Community], res: TickResult) -> None:
    rows = (await uow.session.exec(
        select(CheckinPrompt, KeyPerson).join(KeyPerson, col(KeyPerson.id) == col(CheckinPrompt.person_id))
        .where(CheckinPrompt.status == "pending", col(CheckinPrompt.stage) < 3,
               col(CheckinPrompt.next_action_at) <= now)
        .order_by(col(CheckinPrompt.next_action_at), col(CheckinPrompt.id))
        .execution_options(populate_existing=True))).all()
    reminders: dict[int, list[tuple[CheckinPrompt, KeyPerson]]] = defaultdict(list)
    for pr, p in rows:
        c = comms[pr.community_id]
        cfg = settings_of(c)
        late = pr.next_action_at is not None and now - pr.next_action_at > _minutes(cfg, "grace")
        if (not late and pr.stage == 0
                and pr.assignee_member_id in (p.primary_volunteer_id, p.backup_volunteer_id)):
            reminders[c.id].append((pr, p))  # the common case, done in bulk below
        elif late:  # the ladder's time passed while we were down: straight to the grid worker
            if await _escalate(uow, c, pr, p, now, expect_stage=pr.stage):
                res.escalated += 1
        elif pr.stage == 0:
            if await _remind(uow, c, cfg, pr, p, now):
                res.reminded += 1
        elif pr.stage == 1:
            backup = p.backup_volunteer_id
            if backup is not None and backup != pr.assignee_member_id:
                if await _hand_to_backup(uow, c, cfg, pr, p, now, expect_stage=1, key="2"):
                    res.handed += 1
            elif await _escalate(uow, c, pr, p, now, expect_stage=1):
                res.escalated += 1
        elif await _escalate(uow, c, pr, p, now, expect_stage=2):
            res.escalated += 1
    for cid, items in reminders.items():
        c = comms[cid]
        cfg = settings_of(c)
        took = await _take(uow, [pr.id for pr, _ in items], {"status": "pending", "stage": 0}, stage=1,
                           next_action_at=now + _minutes(cfg, "backup_after"))
        people = await _recipients(uow, {pr.assignee_member_id for pr, _ in items if pr.assignee_member_id}, c)
        for pr, p in items:
            if pr.id not in took:
                continue
            r = people.get(pr.assignee_member_id or 0)
            if r is not None:
                outbox.notify(uow, tg_chat_id=r.tg_id, recipient_user_id=r.user_id, community_id=c.id,
                              notice="ck_prompt", lang=r.lang, now=now, dedupe_key=f"ck:{pr.id}:1", prompt_id=pr.id,
                              slot=pr.slot, stage=1, handed=False,
                              **_person_params(p, await _building_label(uow, p.building_id)))
            res.reminded += 1


async def _remind(uow: UnitOfWork, c: Community, cfg: dict[str, Any], pr: CheckinPrompt, p: KeyPerson,
                  now: datetime) -> bool:
    assignee = pr.assignee_member_id
    if assignee not in (p.primary_volunteer_id, p.backup_volunteer_id):  # re-paired since: the current one
        away = await _away_set(uow, c.id, [pr.local_date])
        assignee = effective_assignee(p, pr.local_date, away)
    if not await _cas(uow, pr.id, {"status": "pending", "stage": 0}, stage=1, assignee_member_id=assignee,
                      next_action_at=now + _minutes(cfg, "backup_after")):
        return False
    r = (await _recipients(uow, {assignee} if assignee else set(), c)).get(assignee or 0)
    if r is not None:
        outbox.notify(uow, tg_chat_id=r.tg_id, recipient_user_id=r.user_id, community_id=c.id,
                      notice="ck_prompt", lang=r.lang, now=now, dedupe_key=f"ck:{pr.id}:1", prompt_id=pr.id,
                      slot=pr.slot, stage=1, handed=False,
                      **_person_params(p, await _building_label(uow, p.building_id)))
    return True


async def _hand_to_backup(uow: UnitOfWork, c: Community, cfg: dict[str, Any], pr: CheckinPrompt, p: KeyPerson,
                          now: datetime, *, expect_stage: int, key: str,
                          expect_assignee: int | None = None) -> bool:
    backup = p.backup_volunteer_id
    expect: dict[str, Any] = {"status": "pending", "stage": expect_stage}
    if expect_assignee is not None:
        expect["assignee_member_id"] = expect_assignee
    if backup is None or not await _cas(uow, pr.id, expect, stage=2, assignee_member_id=backup,
                                         next_action_at=now + _minutes(cfg, "escalate_after")):
        return False
    r = (await _recipients(uow, {backup}, c)).get(backup)
    if r is not None:
        outbox.notify(uow, tg_chat_id=r.tg_id, recipient_user_id=r.user_id, community_id=c.id,
                      notice="ck_prompt", lang=r.lang, now=now, dedupe_key=f"ck:{pr.id}:{key}", prompt_id=pr.id,
                      slot=pr.slot, stage=2, handed=True,
                      **_person_params(p, await _building_label(uow, p.building_id)))
    return True


async def _escalate(uow: UnitOfWork, c: Community, pr: CheckinPrompt, p: KeyPerson, now: datetime, *,
                    expect_stage: int, expect_assignee: int | None = None, kind: str = "no_answer") -> bool:
    """Top rung: grid worker(s) alerted (alias, room, building), the volunteers' group (alias only),
    and an incident opened (reason no_answer, or no_volunteer when nobody is paired any more)."""
    expect: dict[str, Any] = {"status": "pending", "stage": expect_stage}
    if expect_assignee is not None:
        expect["assignee_member_id"] = expect_assignee
    if not await _cas(uow, pr.id, expect, stage=3, next_action_at=None):
        return False
    cfg = settings_of(c)
    inc = Incident(community_id=c.id, person_id=p.id, prompt_id=pr.id, reason=kind, status="open", level=0,
                   opened_at=now, next_escalation_at=now + _minutes(cfg, "incident_repeat"))
    uow.session.add(inc)
    await uow.session.flush()
    audit.record(uow, action="checkin.escalate", now=now, community_id=c.id, subject_type="incident",
                 subject_id=inc.id, prompt_id=pr.id, person_id=p.id)
    workers = await _workers(uow, c.id, p.building_id)
    if not workers:
        workers = await _admins(uow, c.id)
    await _alert(uow, c, inc, p, pr.slot, now, members=workers, level=0, kind=kind)
    for chat in await _volunteer_groups(uow, c.id):
        outbox.notify(uow, tg_chat_id=chat.tg_chat_id, community_id=c.id, notice="ck_group_alert",
                      lang=c.locale, now=now, dedupe_key=f"ci:{inc.id}:0:g{chat.id}", alias=p.alias, slot=pr.slot)
    return True


async def _alert(uow: UnitOfWork, c: Community, inc: Incident, p: KeyPerson, slot: str, now: datetime, *,
                 members: list[int], level: int, kind: str) -> int:
    people = await _recipients(uow, set(members), c)
    label = await _building_label(uow, p.building_id)
    n = 0
    for mid in dict.fromkeys(members):
        r = people.get(mid)
        if r is None:
            continue
        outbox.notify(uow, tg_chat_id=r.tg_id, recipient_user_id=r.user_id, community_id=c.id, notice="ci_alert",
                      lang=r.lang, now=now, dedupe_key=f"ci:{inc.id}:{level}:{mid}", incident_id=inc.id,
                      kind=kind, level=level, slot=slot, **_person_params(p, label))
        n += 1
    return n


async def _reescalate(uow: UnitOfWork, now: datetime, comms: dict[int, Community], res: TickResult) -> None:
    rows = (await uow.session.exec(
        select(Incident, KeyPerson).join(KeyPerson, col(KeyPerson.id) == col(Incident.person_id))
        .where(Incident.status == "open", col(Incident.next_escalation_at) <= now)
        .order_by(col(Incident.next_escalation_at), col(Incident.id))
        .execution_options(populate_existing=True))).all()
    for inc, p in rows:
        if await _raise_level(uow, comms[inc.community_id], inc, p, now, kind="repeat"):
            res.reescalated += 1


async def _raise_level(uow: UnitOfWork, c: Community, inc: Incident, p: KeyPerson, now: datetime, *,
                       kind: str) -> bool:
    """One more rung for an open incident: the grid worker(s) again and, from level 1, every admin."""
    cfg = settings_of(c)
    level = inc.level + 1
    result = await uow.session.execute(
        update(Incident).where(col(Incident.id) == inc.id, Incident.status == "open", Incident.level == inc.level)
        .values(level=level, next_escalation_at=now + _minutes(cfg, "incident_repeat"))
        .execution_options(synchronize_session=False))
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    slot = ""
    if inc.prompt_id is not None:
        pr = await uow.session.get(CheckinPrompt, inc.prompt_id)
        slot = pr.slot if pr else ""
    members = await _workers(uow, c.id, p.building_id)
    members += await _admins(uow, c.id)
    await _alert(uow, c, inc, p, slot, now, members=members, level=level, kind=kind)
    audit.record(uow, action="incident.escalate", now=now, community_id=c.id, subject_type="incident",
                 subject_id=inc.id, level=level, kind=kind)
    return True


async def _welcome_back(uow: UnitOfWork, now: datetime, comms: dict[int, Community], res: TickResult) -> None:
    rows = (await uow.session.exec(select(Absence).where(col(Absence.ended_notice_sent).is_(False)))).all()
    for a in rows:
        c = comms[a.community_id]
        local_now = now.astimezone(_zone(c.timezone))
        morning = _hhmm(settings_of(c)["morning"]) or time(9, 0)
        if a.last_day >= local_now.date().isoformat() or local_now.time() < morning:
            continue
        result = await uow.session.execute(
            update(Absence).where(col(Absence.id) == a.id, col(Absence.ended_notice_sent).is_(False))
            .values(ended_notice_sent=True).execution_options(synchronize_session=False))
        if not result.rowcount:  # type: ignore[attr-defined]
            continue
        r = (await _recipients(uow, {a.member_id}, c)).get(a.member_id)
        if r is not None:
            outbox.notify(uow, tg_chat_id=r.tg_id, recipient_user_id=r.user_id, community_id=c.id,
                          notice="ck_welcome_back", lang=r.lang, now=now, dedupe_key=f"away:{a.id}",
                          first_day=a.first_day, last_day=a.last_day)
        res.welcomed += 1


# ---------------------------------------------------------------- answers


@dataclass(frozen=True)
class AnswerView:
    prompt_id: int
    alias: str
    room: str
    building: str
    slot: str
    answer: str
    at: datetime
    tz: str
    outcome: str  # done | incident | handed | escalated


#: How long after its time a still-open check may be answered.
STALE_AFTER = timedelta(hours=12)


async def _member_in(uow: UnitOfWork, user: User, community_id: int) -> Member | None:
    return (await uow.session.exec(
        select(Member).where(Member.user_id == user.id, Member.community_id == community_id))).first()


async def answer(uow: UnitOfWork, *, user: User, prompt_id: int, answer: str, now: datetime) -> AnswerView:
    """A volunteer's press on a prompt. Authorised here: only the current assignee, only while the
    check is open."""
    if answer not in ANSWERS:
        raise CheckinRefused("not_found")
    pr = await uow.session.get(CheckinPrompt, prompt_id)
    if pr is None:
        raise CheckinRefused("not_found")
    member = await _member_in(uow, user, pr.community_id)
    p = await uow.session.get(KeyPerson, pr.person_id)
    c = await uow.session.get(Community, pr.community_id)
    assert p is not None and c is not None
    if member is None:
        raise CheckinRefused("not_yours")
    if Perm.CHECK not in await _perms_now(uow, member):
        raise CheckinRefused("no_role")  # the role was taken away since the prompt was sent
    if member.id not in (p.primary_volunteer_id, p.backup_volunteer_id, pr.assignee_member_id):
        raise CheckinRefused("not_yours")
    if pr.status == "answered":
        raise CheckinRefused("answered")
    if pr.status != "pending" or now - pr.due_at > STALE_AFTER:
        raise CheckinRefused("old_day")  # a late evening check may be answered after midnight, not days later
    if pr.assignee_member_id != member.id:
        raise CheckinRefused("handed_over")
    if member.id not in (p.primary_volunteer_id, p.backup_volunteer_id):
        raise CheckinRefused("not_yours")  # no longer paired with this person
    cfg = settings_of(c)
    label = await _building_label(uow, p.building_id)
    stage = pr.stage

    def view(outcome: str) -> AnswerView:  # only on success: a refused press leaves no trace
        audit.record(uow, action="checkin.answer", now=now, community_id=c.id, actor_user_id=user.id,
                     subject_type="checkin", subject_id=pr.id, answer=answer, stage=stage, outcome=outcome)
        return AnswerView(pr.id, p.alias, p.room, label, pr.slot, answer, now, c.timezone, outcome)

    if answer == "cannot":
        passed = await _pass_on(uow, c, cfg, pr, p, member.id or 0, now)
        if passed is not None:
            return view(passed)
        raise CheckinRefused("answered")
    if not await _cas(uow, pr.id, {"status": "pending", "assignee_member_id": member.id}, status="answered",
                      answer=answer, answered_by=member.id, answered_at=now, next_action_at=None):
        raise CheckinRefused("answered")
    existing = (await uow.session.exec(select(Incident).where(Incident.prompt_id == pr.id))).first()
    if answer in ("ok", "knocked"):
        if existing is not None and existing.status == "open":
            await _close(uow, c, existing, p, member, "safe", now, by_answer=True)
        return view("done")
    # not_ok: an incident at once, to the grid worker(s) and the other volunteer
    if existing is not None:
        if existing.status == "open":
            existing.reason = "not_ok"
            uow.session.add(existing)
            await _raise_level(uow, c, existing, p, now, kind="not_ok")
        return view("incident")
    inc = Incident(community_id=c.id, person_id=p.id, prompt_id=pr.id, reason="not_ok", status="open", level=0,
                   opened_at=now, next_escalation_at=now + _minutes(cfg, "incident_repeat"))
    uow.session.add(inc)
    await uow.session.flush()
    audit.record(uow, action="incident.open", now=now, community_id=c.id, actor_user_id=user.id,
                 subject_type="incident", subject_id=inc.id, reason="not_ok")
    members = await _workers(uow, c.id, p.building_id)
    if not members:
        members = await _admins(uow, c.id)
    members += [m for m in (p.backup_volunteer_id, p.primary_volunteer_id) if m is not None and m != member.id][:1]
    await _alert(uow, c, inc, p, pr.slot, now, members=members, level=0, kind="not_ok")
    return view("incident")


async def _perms_now(uow: UnitOfWork, member: Member) -> frozenset[Perm]:
    """What the member may do now (their grants are read again: a press may come after a revoke)."""
    return permissions((await uow.session.exec(select(RoleGrant.role).where(
        RoleGrant.member_id == member.id, col(RoleGrant.revoked_at).is_(None)))).all())


async def _pass_on(uow: UnitOfWork, c: Community, cfg: dict[str, Any], pr: CheckinPrompt, p: KeyPerson,
                   member_id: int, now: datetime) -> str | None:
    """The assignee cannot do an open check: the backup volunteer gets it, or the ladder's top (the grid
    worker). "handed" or "escalated", or None when the check was no longer theirs to pass on."""
    if pr.stage < 2 and p.backup_volunteer_id not in (None, member_id):
        if await _hand_to_backup(uow, c, cfg, pr, p, now, expect_stage=pr.stage, key="h", expect_assignee=member_id):
            return "handed"
    elif pr.stage < 3 and await _escalate(uow, c, pr, p, now, expect_stage=pr.stage, expect_assignee=member_id):
        return "escalated"
    elif pr.stage == 3:
        return "escalated"  # the grid worker already has it
    return None


async def release_volunteer(uow: UnitOfWork, *, community: Community, member_id: int, now: datetime) -> int:
    """A volunteer lost the role: their open checks pass on at once as if they had pressed ❌ (backup, else
    the grid worker), so their old buttons cover nothing. Call it before they are unpaired; returns how many
    checks were passed on. Their scheduled checks follow the new pairing when due (`_send_due`)."""
    cfg = settings_of(community)
    rows = (await uow.session.exec(
        select(CheckinPrompt, KeyPerson).join(KeyPerson, col(KeyPerson.id) == col(CheckinPrompt.person_id))
        .where(CheckinPrompt.community_id == community.id, CheckinPrompt.assignee_member_id == member_id,
               CheckinPrompt.status == "pending", col(CheckinPrompt.stage) < 3)
        .order_by(col(CheckinPrompt.id)))).all()
    n = 0
    for pr, p in rows:
        if await _pass_on(uow, community, cfg, pr, p, member_id, now) is not None:
            n += 1
    await uow.session.execute(
        update(CheckinPrompt).where(col(CheckinPrompt.community_id) == community.id,
                                    col(CheckinPrompt.assignee_member_id) == member_id,
                                    CheckinPrompt.status == "scheduled")
        .values(assignee_member_id=None).execution_options(synchronize_session=False))
    return n


async def prompt_view(uow: UnitOfWork, *, prompt_id: int) -> AnswerView | None:
    pr = await uow.session.get(CheckinPrompt, prompt_id)
    if pr is None:
        return None
    p = await uow.session.get(KeyPerson, pr.person_id)
    c = await uow.session.get(Community, pr.community_id)
    assert p is not None and c is not None
    return AnswerView(pr.id, p.alias, p.room, await _building_label(uow, p.building_id), pr.slot, pr.answer or "",
                      pr.answered_at or pr.due_at, c.timezone, pr.status)


# ---------------------------------------------------------------- incidents


@dataclass(frozen=True)
class IncidentView:
    incident_id: int
    alias: str
    room: str
    building: str
    status: str
    outcome: str | None
    taken_by: str


async def _incident_actor(uow: UnitOfWork, user: User, incident_id: int) -> tuple[Incident, KeyPerson, Community,
                                                                                  Member]:
    inc = await uow.session.get(Incident, incident_id)
    if inc is None:
        raise CheckinRefused("not_found")
    p = await uow.session.get(KeyPerson, inc.person_id)
    c = await uow.session.get(Community, inc.community_id)
    assert p is not None and c is not None
    member = await _member_in(uow, user, inc.community_id)
    perms = await _perms_now(uow, member) if member is not None else frozenset()
    if Perm.CHECKINS not in perms:  # a district admin alerted for a community without admins may act on it
        district = await district_membership(uow, user_id=user.id)
        if district is not None and any(uid == user.id for _, uid, _ in await _alerted(uow, inc.id or 0)):
            member, perms = district, await _perms_now(uow, district)
    if member is None:
        raise CheckinRefused("not_yours")
    if Perm.CHECKINS not in perms:  # roles are read now: a press after a revoke changes nothing
        if Perm.CHECK not in perms:
            raise CheckinRefused("no_role")
        if member.id not in (p.primary_volunteer_id, p.backup_volunteer_id):
            raise CheckinRefused("not_yours")
    if inc.status != "open":
        raise CheckinRefused("closed")
    return inc, p, c, member


def _iview(inc: Incident, p: KeyPerson, label: str, taker: str = "") -> IncidentView:
    return IncidentView(inc.id or 0, p.alias, p.room, label, inc.status, inc.outcome, taker)


async def take_incident(uow: UnitOfWork, *, user: User, incident_id: int, now: datetime) -> IncidentView:
    """我去看看: the presser is going; the others alerted are told."""
    inc, p, c, member = await _incident_actor(uow, user, incident_id)
    inc.taken_by = member.id
    uow.session.add(inc)
    audit.record(uow, action="incident.take", now=now, community_id=c.id, actor_user_id=user.id,
                 subject_type="incident", subject_id=inc.id)
    for chat_id, user_id, lang in await _alerted(uow, inc.id or 0):
        if user_id is not None and user_id != user.id:
            outbox.notify(uow, tg_chat_id=chat_id, recipient_user_id=user_id, community_id=c.id, notice="ci_taken",
                          lang=lang, now=now, dedupe_key=f"cit:{inc.id}:{member.id}:{chat_id}", alias=p.alias,
                          name=member.display_name)
    return _iview(inc, p, await _building_label(uow, p.building_id), member.display_name)


async def help_incident(uow: UnitOfWork, *, user: User, incident_id: int, now: datetime) -> IncidentView:
    """需要帮助: escalate to the admins now."""
    inc, p, c, member = await _incident_actor(uow, user, incident_id)
    await _raise_level(uow, c, inc, p, now, kind="help")
    audit.record(uow, action="incident.help", now=now, community_id=c.id, actor_user_id=user.id,
                 subject_type="incident", subject_id=inc.id)
    return _iview(inc, p, await _building_label(uow, p.building_id))


async def close_incident(uow: UnitOfWork, *, user: User, incident_id: int, outcome: str, now: datetime,
                         note_enc: str = "") -> IncidentView:
    if outcome not in OUTCOMES:
        raise CheckinRefused("not_found")
    inc, p, c, member = await _incident_actor(uow, user, incident_id)
    if not await _close(uow, c, inc, p, member, outcome, now, note_enc=note_enc):
        raise CheckinRefused("closed")
    inc.status, inc.outcome = "closed", outcome
    return _iview(inc, p, await _building_label(uow, p.building_id))


async def set_incident_note(uow: UnitOfWork, *, user: User, incident_id: int, note_enc: str, now: datetime) -> None:
    """The optional note after closing as "other" (already sealed by the caller)."""
    inc = await uow.session.get(Incident, incident_id)
    if inc is None or inc.closed_by is None:
        raise CheckinRefused("not_found")
    member = await _member_in(uow, user, inc.community_id)
    if member is None or member.id != inc.closed_by:
        member = await district_membership(uow, user_id=user.id)  # closed by a district admin (the last rung)
    if member is None or member.id != inc.closed_by:
        raise CheckinRefused("not_yours")
    inc.note_enc = note_enc
    uow.session.add(inc)
    audit.record(uow, action="incident.note", now=now, community_id=inc.community_id, actor_user_id=user.id,
                 subject_type="incident", subject_id=inc.id)


async def _alerted(uow: UnitOfWork, incident_id: int) -> list[tuple[int, int | None, str]]:
    from storage.models import OutboxMessage

    rows = (await uow.session.exec(
        select(OutboxMessage.tg_chat_id, OutboxMessage.recipient_user_id, OutboxMessage.payload)
        .where(col(OutboxMessage.dedupe_key).like(f"ci:{incident_id}:%")).order_by(col(OutboxMessage.id)))).all()
    seen: dict[int, tuple[int, int | None, str]] = {}
    for chat_id, user_id, payload in rows:
        seen.setdefault(chat_id, (chat_id, user_id, (payload or {}).get("lang") or "zh_CN"))
    return list(seen.values())


async def _close(uow: UnitOfWork, c: Community, inc: Incident, p: KeyPerson, member: Member, outcome: str,
                 now: datetime, *, note_enc: str = "", by_answer: bool = False) -> bool:
    result = await uow.session.execute(
        update(Incident).where(col(Incident.id) == inc.id, Incident.status == "open")
        .values(status="closed", outcome=outcome, closed_at=now, closed_by=member.id, next_escalation_at=None,
                note_enc=note_enc).execution_options(synchronize_session=False))
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    if inc.prompt_id is not None and not by_answer:
        await _cas(uow, inc.prompt_id, {"status": "pending"}, status="answered", answer="incident",
                   answered_by=member.id, answered_at=now, next_action_at=None)
    audit.record(uow, action="incident.close", now=now, community_id=c.id, actor_user_id=member.user_id,
                 subject_type="incident", subject_id=inc.id, outcome=outcome)
    for chat_id, user_id, lang in await _alerted(uow, inc.id or 0):
        if user_id is None:  # a group: alias only, no outcome, no names
            outbox.notify(uow, tg_chat_id=chat_id, community_id=c.id, notice="ci_closed_group", lang=lang, now=now,
                          dedupe_key=f"cic:{inc.id}:{chat_id}", alias=p.alias)
        else:
            outbox.notify(uow, tg_chat_id=chat_id, recipient_user_id=user_id, community_id=c.id,
                          notice="ci_closed", lang=lang, now=now, dedupe_key=f"cic:{inc.id}:{chat_id}",
                          alias=p.alias, outcome=outcome, name=member.display_name)
    return True


# ---------------------------------------------------------------- absences (/away)


def parse_day(text: str, today: date) -> date:
    text = text.strip()
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    try:
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = re.fullmatch(r"(\d{1,2})-(\d{1,2})", text)
        if m:
            d = date(today.year, int(m.group(1)), int(m.group(2)))
            return d if d >= today else date(today.year + 1, d.month, d.day)
    except ValueError as exc:
        raise Invalid("date", "format", value=text[:12]) from exc
    raise Invalid("date", "format", value=text[:12])


async def add_absence(uow: UnitOfWork, *, actor: Actor, first: str, last: str, now: datetime) -> Absence:
    """`/away FROM TO`: every check of those local days goes to the backups."""
    member = actor.require(Perm.CHECK)
    assert actor.community is not None
    c = actor.community
    today = local_today(now, c.timezone)
    d1 = parse_day(first, today)
    d2 = parse_day(last, d1 if len(last.strip()) <= 5 else today)
    if d1 < today:
        raise Invalid("date", "past")
    if d2 < d1:
        raise Invalid("date", "order")
    if (d2 - d1).days + 1 > MAX_AWAY_DAYS:
        raise Invalid("date", "too_long", limit=MAX_AWAY_DAYS)
    a = Absence(community_id=c.id, member_id=member.id, first_day=d1.isoformat(), last_day=d2.isoformat(),
                created_at=now)
    uow.session.add(a)
    await uow.session.flush()
    audit.record(uow, action="checkin.away", now=now, community_id=c.id, actor_user_id=actor.user.id,
                 subject_type="absence", subject_id=a.id, first_day=a.first_day, last_day=a.last_day)
    cfg = settings_of(c)
    rows = (await uow.session.exec(
        select(CheckinPrompt, KeyPerson).join(KeyPerson, col(KeyPerson.id) == col(CheckinPrompt.person_id))
        .where(CheckinPrompt.community_id == c.id, CheckinPrompt.assignee_member_id == member.id,
               col(CheckinPrompt.status).in_(("scheduled", "pending")),
               CheckinPrompt.local_date >= a.first_day, CheckinPrompt.local_date <= a.last_day))).all()
    for pr, p in rows:
        backup = p.backup_volunteer_id
        if backup is None or backup == member.id:
            continue
        if pr.status == "scheduled":
            await _cas(uow, pr.id, {"status": "scheduled"}, assignee_member_id=backup)
        elif pr.stage < 2:
            await _hand_to_backup(uow, c, cfg, pr, p, now, expect_stage=pr.stage, key="h", expect_assignee=member.id)
    return a


async def list_absences(uow: UnitOfWork, *, actor: Actor, now: datetime) -> list[Absence]:
    member = actor.require(Perm.CHECK)
    assert actor.community is not None
    today = local_today(now, actor.community.timezone).isoformat()
    return list((await uow.session.exec(
        select(Absence).where(Absence.member_id == member.id, Absence.last_day >= today)
        .order_by(col(Absence.first_day)))).all())


async def cancel_absence(uow: UnitOfWork, *, actor: Actor, absence_id: int, now: datetime) -> Absence:
    member = actor.require(Perm.CHECK)
    assert actor.community is not None
    a = await uow.session.get(Absence, absence_id)
    if a is None or a.member_id != member.id:
        raise CheckinRefused("not_found")
    today = local_today(now, actor.community.timezone)
    audit.record(uow, action="checkin.away_cancel", now=now, community_id=a.community_id,
                 actor_user_id=actor.user.id, subject_type="absence", subject_id=a.id)
    if a.first_day >= today.isoformat():
        await uow.session.delete(a)
    else:  # already begun: it ends yesterday (today's checks stay with the backups)
        a.last_day = (today - timedelta(days=1)).isoformat()
        uow.session.add(a)
    return a


# ---------------------------------------------------------------- overview


@dataclass
class BuildingDay:
    building: str
    done: int = 0
    scheduled: int = 0
    pending: int = 0
    escalated: int = 0
    missed: int = 0
    incidents: int = 0


async def today_overview(uow: UnitOfWork, *, actor: Actor, now: datetime) -> list[BuildingDay]:
    member = actor.require(Perm.CHECKINS)
    assert actor.community is not None
    day = local_today(now, actor.community.timezone).isoformat()
    rows = (await uow.session.exec(
        select(CheckinPrompt.status, CheckinPrompt.stage, KeyPerson.building_id)
        .join(KeyPerson, col(KeyPerson.id) == col(CheckinPrompt.person_id))
        .where(CheckinPrompt.community_id == member.community_id, CheckinPrompt.local_date == day))).all()
    labels = {b.id: b.label for b in (await uow.session.exec(
        select(Building).where(Building.community_id == member.community_id))).all()}
    out: dict[int | None, BuildingDay] = {}
    for status, stage, bid in rows:
        line = out.setdefault(bid, BuildingDay(labels.get(bid, "")))
        if status == "answered":
            line.done += 1
        elif status == "scheduled":
            line.scheduled += 1
        elif status == "pending":
            if stage >= 1:
                line.escalated += 1
            else:
                line.pending += 1
        elif status == "missed":
            line.missed += 1
    incs = (await uow.session.exec(
        select(KeyPerson.building_id, func.count()).select_from(Incident)
        .join(KeyPerson, col(KeyPerson.id) == col(Incident.person_id))
        .where(Incident.community_id == member.community_id, Incident.status == "open")
        .group_by(col(KeyPerson.building_id)))).all()
    for bid, n in incs:
        out.setdefault(bid, BuildingDay(labels.get(bid, ""))).incidents = n
    return sorted(out.values(), key=lambda b: (len(b.building), b.building))


@dataclass
class VolunteerWeek:
    member_id: int
    name: str
    answered: int = 0
    on_time: int = 0
    handed: int = 0


@dataclass
class WeekStats:
    first_day: str
    last_day: str
    checks: int = 0
    answered: int = 0
    on_time: int = 0
    missed: int = 0
    median_minutes: float | None = None
    incidents: dict[str, int] = field(default_factory=dict)
    volunteers: list[VolunteerWeek] = field(default_factory=list)


async def week_stats(uow: UnitOfWork, *, community: Community, first: date, last: date) -> WeekStats:
    stats = WeekStats(first.isoformat(), last.isoformat())
    rows = (await uow.session.exec(
        select(CheckinPrompt).where(CheckinPrompt.community_id == community.id,
                                    CheckinPrompt.local_date >= stats.first_day,
                                    CheckinPrompt.local_date <= stats.last_day,
                                    col(CheckinPrompt.status) != "cancelled"))).all()
    minutes: list[float] = []
    vols: dict[int, VolunteerWeek] = {}
    for pr in rows:
        if pr.status == "scheduled":
            continue
        stats.checks += 1
        if pr.status == "missed":
            stats.missed += 1
        if pr.status == "answered" and pr.answer in ANSWERS and pr.answered_by is not None:
            stats.answered += 1
            v = vols.setdefault(pr.answered_by, VolunteerWeek(pr.answered_by, ""))
            v.answered += 1
            if pr.stage == 0:
                stats.on_time += 1
                v.on_time += 1
            if pr.sent_at and pr.answered_at:
                minutes.append((pr.answered_at - pr.sent_at).total_seconds() / 60)
    if minutes:
        stats.median_minutes = round(statistics.median(minutes), 1)
    start = due_at(first, time(0, 0), community.timezone)
    end = due_at(last + timedelta(days=1), time(0, 0), community.timezone)
    incs = (await uow.session.exec(
        select(Incident.status, Incident.outcome).where(Incident.community_id == community.id,
                                                        col(Incident.opened_at) >= start,
                                                        col(Incident.opened_at) < end))).all()
    for status, outcome in incs:
        key = outcome if status == "closed" and outcome else "open"
        stats.incidents[key] = stats.incidents.get(key, 0) + 1
    people = await _recipients(uow, set(vols), community)
    for mid, v in vols.items():
        v.name = people[mid].name if mid in people else ""
    stats.volunteers = sorted(vols.values(), key=lambda v: (-v.answered, v.member_id))
    return stats


async def week_overview(uow: UnitOfWork, *, actor: Actor, now: datetime) -> WeekStats:
    actor.require(Perm.CHECKINS)
    assert actor.community is not None
    today = local_today(now, actor.community.timezone)
    return await week_stats(uow, community=actor.community, first=today - timedelta(days=6), last=today)


async def weekly_thanks(uow: UnitOfWork, *, now: datetime) -> int:
    """On Monday morning (local), thank every volunteer who answered checks last week, with their
    own figures. Once per community and week (an audit entry marks it; dedupe keys per person)."""
    sent = 0
    for c in (await _communities(uow)).values():
        local_now = now.astimezone(_zone(c.timezone))
        morning = _hhmm(settings_of(c)["morning"]) or time(9, 0)
        if local_now.weekday() != 0 or local_now.time() < morning:
            continue
        monday = local_now.date()
        marker = (await uow.session.exec(select(AuditEntry.id).where(
            AuditEntry.community_id == c.id, AuditEntry.action == "checkin.weekly_thanks",
            AuditEntry.subject_id == int(monday.strftime("%Y%m%d"))))).first()
        if marker is not None:
            continue
        audit.record(uow, action="checkin.weekly_thanks", now=now, community_id=c.id, subject_type="week",
                     subject_id=int(monday.strftime("%Y%m%d")))
        stats = await week_stats(uow, community=c, first=monday - timedelta(days=7), last=monday - timedelta(days=1))
        people = await _recipients(uow, {v.member_id for v in stats.volunteers}, c)
        for v in stats.volunteers:
            r = people.get(v.member_id)
            if r is None:
                continue
            outbox.notify(uow, tg_chat_id=r.tg_id, recipient_user_id=r.user_id, community_id=c.id,
                          notice="ck_thanks", lang=r.lang, now=now, dedupe_key=f"cky:{c.id}:{monday}:{v.member_id}",
                          answered=v.answered, on_time=v.on_time, first_day=stats.first_day,
                          last_day=stats.last_day)
            sent += 1
    return sent
