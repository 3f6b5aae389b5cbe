"""Check-ins on the deadline ladder (flows/ladder.py): a prompt climbs asked → reminded → backup → grid worker
(an incident), and an open incident is alerted again every `incident_repeat` minutes, from level 1 to the
admins too. Every step is a compare-and-set on the row; only the transaction that took it queues anything."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlmodel import col, select

from flows import audit, ladder, outbox
from flows.checkins.notices import CheckPrompt, ChecksMissed, GroupAlert, IncidentAlert
from flows.checkins.people import (
    admins,
    away_set,
    building_label,
    effective_assignee,
    recipients,
    volunteer_groups,
    workers,
)
from flows.checkins.settings import (
    MAX_LISTED,
    IncidentStatus,
    Reason,
    Stage,
    Status,
    minutes,
    settings_of,
)
from flows.ladder import Audience, Ladder, Rung
from storage.db import UnitOfWork
from storage.models import CheckinPrompt, Community, Incident, KeyPerson

#: A pending prompt's ladder: the stage climbs, `next_action_at` says when it is due (index ix_checkinprompt_due).
PROMPTS = ladder.Track(CheckinPrompt, kind="checkin", state="status", open=(Status.PENDING,), rung="stage",
                       next_at="next_action_at")
#: An open incident's ladder: the level climbs every `incident_repeat` minutes until someone closes it.
INCIDENTS = ladder.Track(Incident, kind="incident", state="status", open=(IncidentStatus.OPEN,), rung="level",
                         next_at="next_escalation_at")


def incident_ladder(cfg: dict[str, Any]) -> Ladder:
    """Level 0 is alerted when the incident opens (`escalate`); each level after it, `incident_repeat` minutes
    later, tells the grid worker(s) again and every admin."""
    return Ladder((Rung(minutes(cfg, "incident_repeat"), (Audience.GRID_WORKER, Audience.ADMINS)),), repeat=True)


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


async def cas(uow: UnitOfWork, prompt_id: int, expect: dict[str, Any], **values: Any) -> bool:
    """Compare-and-set one prompt: True when this transaction took it."""
    return bool(await ladder.take(uow, PROMPTS, [prompt_id], expect=expect, **values))


async def take(uow: UnitOfWork, ids: list[int], expect: dict[str, Any] | None = None, **values: Any) -> set[int]:
    """Compare-and-set many prompts at once (default: still scheduled): the ids this transaction took."""
    return await ladder.take(uow, PROMPTS, ids, expect=expect or {"status": Status.SCHEDULED}, **values)


async def queue_prompt(uow: UnitOfWork, c: Community, pr: CheckinPrompt, p: KeyPerson, member_id: int | None,
                       now: datetime, *, stage: int, handed: bool = False, key: str | None = None) -> None:
    """Ask the member for the check (the prompt, a reminder, or the check handed to them): the one place a
    prompt is queued. `key` ends its dedupe key (default: the stage)."""
    r = (await recipients(uow, {member_id} if member_id else set(), c)).get(member_id or 0)
    if r is None:
        return
    notice = CheckPrompt(prompt_id=pr.id or 0, slot=pr.slot, stage=int(stage), handed=handed, alias=p.alias,
                         room=p.room, building=await building_label(uow, p.building_id))
    outbox.notify(uow, tg_chat_id=r.tg_id, recipient_user_id=r.user_id, community_id=c.id, lang=r.lang, now=now,
                  dedupe_key=f"ck:{pr.id}:{key if key is not None else int(stage)}", notice=notice)


async def send_due(uow: UnitOfWork, now: datetime, comms: dict[int, Community], res: TickResult) -> None:
    rows = (await uow.session.exec(
        select(CheckinPrompt, KeyPerson).join(KeyPerson, col(KeyPerson.id) == col(CheckinPrompt.person_id))
        .where(CheckinPrompt.status == Status.SCHEDULED, col(CheckinPrompt.due_at) <= now)
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
        grace = minutes(cfg, "grace")
        away = await away_set(uow, cid, sorted({pr.local_date for pr, _ in items}))
        missed: list[tuple[CheckinPrompt, KeyPerson]] = []
        cancel: list[int] = []
        send: list[tuple[CheckinPrompt, KeyPerson, int]] = []
        orphans: list[tuple[CheckinPrompt, KeyPerson]] = []
        for pr, p in items:
            assignee = effective_assignee(p, pr.local_date, away)
            if not p.active:
                cancel.append(pr.id or 0)
            elif assignee is None:  # their volunteer lost the role since it was planned: the grid worker checks
                orphans.append((pr, p))
            elif now - pr.due_at > grace:
                missed.append((pr, p))
            else:
                send.append((pr, p, assignee))
        await recipients(uow, {a for _, _, a in send}, c)  # one query for the whole batch
        res.cancelled += len(await take(uow, cancel, status=Status.CANCELLED))
        took = await take(uow, [pr.id or 0 for pr, _ in orphans], status=Status.PENDING, stage=Stage.BACKUP,
                          sent_at=now, next_action_at=None, assignee_member_id=None)
        for pr, p in orphans:
            if pr.id in took and await escalate(uow, c, pr, p, now, expect_stage=Stage.BACKUP,
                                                kind=Reason.NO_VOLUNTEER):
                res.escalated += 1
        took = await take(uow, [pr.id or 0 for pr, _ in missed], status=Status.MISSED, next_action_at=None)
        missed = [(pr, p) for pr, p in missed if pr.id in took]
        took = await take(uow, [pr.id or 0 for pr, _, _ in send], status=Status.PENDING, stage=Stage.ASKED,
                          sent_at=now, next_action_at=now + minutes(cfg, "remind_after"))
        send = [x for x in send if x[0].id in took]
        if send:
            table = CheckinPrompt.__table__  # type: ignore[attr-defined]
            stmt = update(table).where(table.c.id == bindparam("pid")).values(assignee_member_id=bindparam("aid"))
            conn = await uow.session.connection()
            await conn.execute(stmt, [{"pid": pr.id, "aid": a} for pr, _, a in send])
        for pr, p, assignee in send:
            await queue_prompt(uow, c, pr, p, assignee, now, stage=Stage.ASKED)
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
        label = await building_label(uow, p.building_id)
        for wid in await workers(uow, c.id or 0, p.building_id):
            by_worker[wid].append({"date": pr.local_date, "slot": pr.slot, **_place(p, label)})
            first_id.setdefault(wid, pr.id or 0)
    if not by_worker:  # nobody to tell: the admins must know
        for mid in await admins(uow, c.id or 0):
            by_worker[mid] = [{"date": pr.local_date, "slot": pr.slot, **_place(p, "")} for pr, p in missed]
            first_id[mid] = missed[0][0].id or 0
    people = await recipients(uow, set(by_worker), c)
    for mid, items in by_worker.items():
        r = people.get(mid)
        if r is None:
            continue
        outbox.notify(uow, tg_chat_id=r.tg_id, recipient_user_id=r.user_id, community_id=c.id, lang=r.lang, now=now,
                      dedupe_key=f"ckm:{mid}:{first_id[mid]}:{len(items)}",
                      notice=ChecksMissed(items=items[:MAX_LISTED], more=max(0, len(items) - MAX_LISTED)))


def _place(p: KeyPerson, building: str) -> dict[str, Any]:
    return {"alias": p.alias, "room": p.room, "building": building}


async def climb(uow: UnitOfWork, now: datetime, comms: dict[int, Community], res: TickResult) -> None:
    """Every pending prompt due (index-backed: status, next_action_at) climbs one stage."""
    rows = (await uow.session.exec(
        select(CheckinPrompt, KeyPerson).join(KeyPerson, col(KeyPerson.id) == col(CheckinPrompt.person_id))
        .where(*PROMPTS.due_where(now), col(CheckinPrompt.stage) < Stage.ALERTED)
        .order_by(*PROMPTS.due_order())
        .execution_options(populate_existing=True))).all()
    reminders: dict[int, list[tuple[CheckinPrompt, KeyPerson]]] = defaultdict(list)
    for pr, p in rows:
        c = comms[pr.community_id]
        cfg = settings_of(c)
        late = pr.next_action_at is not None and now - pr.next_action_at > minutes(cfg, "grace")
        if (not late and pr.stage == Stage.ASKED
                and pr.assignee_member_id in (p.primary_volunteer_id, p.backup_volunteer_id)):
            reminders[c.id or 0].append((pr, p))  # the common case, done in bulk below
        elif late:  # the ladder's time passed while we were down: straight to the grid worker
            if await escalate(uow, c, pr, p, now, expect_stage=pr.stage):
                res.escalated += 1
        elif pr.stage == Stage.ASKED:
            if await _remind(uow, c, cfg, pr, p, now):
                res.reminded += 1
        elif pr.stage == Stage.REMINDED:
            backup = p.backup_volunteer_id
            if backup is not None and backup != pr.assignee_member_id:
                if await hand_to_backup(uow, c, cfg, pr, p, now, expect_stage=Stage.REMINDED, key="2"):
                    res.handed += 1
            elif await escalate(uow, c, pr, p, now, expect_stage=Stage.REMINDED):
                res.escalated += 1
        elif await escalate(uow, c, pr, p, now, expect_stage=Stage.BACKUP):
            res.escalated += 1
    for cid, items in reminders.items():
        c = comms[cid]
        cfg = settings_of(c)
        took = await take(uow, [pr.id or 0 for pr, _ in items], {"status": Status.PENDING, "stage": Stage.ASKED},
                          stage=Stage.REMINDED, next_action_at=now + minutes(cfg, "backup_after"))
        await recipients(uow, {pr.assignee_member_id for pr, _ in items if pr.assignee_member_id}, c)
        for pr, p in items:
            if pr.id in took:
                await queue_prompt(uow, c, pr, p, pr.assignee_member_id, now, stage=Stage.REMINDED)
                res.reminded += 1


async def _remind(uow: UnitOfWork, c: Community, cfg: dict[str, Any], pr: CheckinPrompt, p: KeyPerson,
                  now: datetime) -> bool:
    assignee = pr.assignee_member_id
    if assignee not in (p.primary_volunteer_id, p.backup_volunteer_id):  # re-paired since: the current one
        away = await away_set(uow, c.id or 0, [pr.local_date])
        assignee = effective_assignee(p, pr.local_date, away)
    if not await ladder.climb(uow, PROMPTS, pr.id or 0, rung=Stage.ASKED, to=Stage.REMINDED,
                              next_at=now + minutes(cfg, "backup_after"), assignee_member_id=assignee):
        return False
    await queue_prompt(uow, c, pr, p, assignee, now, stage=Stage.REMINDED)
    return True


async def hand_to_backup(uow: UnitOfWork, c: Community, cfg: dict[str, Any], pr: CheckinPrompt, p: KeyPerson,
                         now: datetime, *, expect_stage: int, key: str, expect_assignee: int | None = None) -> bool:
    backup = p.backup_volunteer_id
    expect = {} if expect_assignee is None else {"assignee_member_id": expect_assignee}
    if backup is None or not await ladder.climb(uow, PROMPTS, pr.id or 0, rung=expect_stage, to=Stage.BACKUP,
                                                next_at=now + minutes(cfg, "escalate_after"), expect=expect,
                                                assignee_member_id=backup):
        return False
    await queue_prompt(uow, c, pr, p, backup, now, stage=Stage.BACKUP, handed=True, key=key)
    return True


async def escalate(uow: UnitOfWork, c: Community, pr: CheckinPrompt, p: KeyPerson, now: datetime, *,
                   expect_stage: int, expect_assignee: int | None = None, kind: Reason = Reason.NO_ANSWER) -> bool:
    """Top rung: grid worker(s) alerted (alias, room, building), the volunteers' group (alias only),
    and an incident opened (reason no_answer, or no_volunteer when nobody is paired any more)."""
    expect = {} if expect_assignee is None else {"assignee_member_id": expect_assignee}
    if not await ladder.climb(uow, PROMPTS, pr.id or 0, rung=expect_stage, to=Stage.ALERTED, next_at=None,
                              expect=expect):
        return False
    cfg = settings_of(c)
    inc = Incident(community_id=c.id, person_id=p.id, prompt_id=pr.id, reason=kind.value,
                   status=IncidentStatus.OPEN.value, level=0, opened_at=now,
                   next_escalation_at=incident_ladder(cfg).first_due(now, c.timezone))
    uow.session.add(inc)
    await uow.session.flush()
    audit.record(uow, action="checkin.escalate", now=now, community_id=c.id, subject_type="incident",
                 subject_id=inc.id, prompt_id=pr.id, person_id=p.id)
    members = await workers(uow, c.id or 0, p.building_id) or await admins(uow, c.id or 0)
    await alert(uow, c, inc, p, pr.slot, now, members=members, level=0, kind=kind)
    for chat in await volunteer_groups(uow, c.id or 0):
        await ladder.alert(uow, INCIDENTS, item_id=inc.id or 0, rung=0, community_id=c.id or 0, now=now,
                           tg_chat_id=chat.tg_chat_id, lang=c.locale, notice=GroupAlert(alias=p.alias, slot=pr.slot),
                           dedupe_key=f"ci:{inc.id}:0:g{chat.id}")
    return True


async def alert(uow: UnitOfWork, c: Community, inc: Incident, p: KeyPerson, slot: str, now: datetime, *,
                members: list[int], level: int, kind: Reason) -> int:
    """Alert these members about the incident at this level, each once (the alert rows of flows/ladder.py)."""
    people = await recipients(uow, set(members), c)
    label = await building_label(uow, p.building_id)
    n = 0
    for mid in dict.fromkeys(members):
        r = people.get(mid)
        if r is None:
            continue
        notice = IncidentAlert(incident_id=inc.id or 0, reason=kind.value, level=level, slot=slot, alias=p.alias,
                               room=p.room, building=label)
        if await ladder.alert(uow, INCIDENTS, item_id=inc.id or 0, rung=level, community_id=c.id or 0, now=now,
                              tg_chat_id=r.tg_id, recipient_user_id=r.user_id, member_id=mid, lang=r.lang,
                              notice=notice, dedupe_key=f"ci:{inc.id}:{level}:{mid}"):
            n += 1
    return n


async def reescalate(uow: UnitOfWork, now: datetime, comms: dict[int, Community], res: TickResult) -> None:
    """Every open incident due climbs a level (flows.ladder.run over the incidents' track)."""

    async def step(inc: Incident, reached: int, rung: Rung) -> None:
        await _tell_level(uow, comms[inc.community_id], inc, reached + 1, now, kind=Reason.REPEAT)
        res.reescalated += 1

    await ladder.run(uow, INCIDENTS, now=now, on_rung=step, plan=lambda inc: (
        incident_ladder(settings_of(comms[inc.community_id])), comms[inc.community_id].timezone))


async def raise_level(uow: UnitOfWork, c: Community, inc: Incident, p: KeyPerson, now: datetime, *,
                      kind: Reason) -> bool:
    """One more level for an open incident now (not_ok on an incident already open, 需要帮助)."""
    plan = incident_ladder(settings_of(c))
    if not await ladder.climb(uow, INCIDENTS, inc.id or 0, rung=inc.level,
                              next_at=plan.next_due(now, inc.level, c.timezone)):
        return False
    await _tell_level(uow, c, inc, inc.level + 1, now, kind=kind, person=p)
    return True


async def _tell_level(uow: UnitOfWork, c: Community, inc: Incident, level: int, now: datetime, *, kind: Reason,
                      person: KeyPerson | None = None) -> None:
    """The grid worker(s) again and, from level 1, every admin."""
    p = person or await uow.session.get(KeyPerson, inc.person_id)
    assert p is not None
    slot = ""
    if inc.prompt_id is not None:
        pr = await uow.session.get(CheckinPrompt, inc.prompt_id)
        slot = pr.slot if pr else ""
    members = await ladder.members(uow, incident_ladder(settings_of(c)).rungs[0].tell, community_id=c.id or 0,
                                   building_id=p.building_id)
    await alert(uow, c, inc, p, slot, now, members=members, level=level, kind=kind)
    audit.record(uow, action="incident.escalate", now=now, community_id=c.id, subject_type="incident",
                 subject_id=inc.id, level=level, kind=kind.value)
