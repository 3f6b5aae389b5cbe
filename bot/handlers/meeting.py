"""The weekly multi-committee meeting (多委联合办公会, F-8), for committee members and admins.

/meeting (committee group or private) opens the community's meeting — or shows the one open — with its agenda
built from data: attendance by button (✋), a decision per item by the chair (who opened it, or an admin):
organisation → deadline; `/meeting note K text` adds a note to item K; 🏁 (or `/meeting close`) closes it and
posts the minutes to the committee group. `/meeting minutes [N]` lists the past meetings or shows one's minutes;
`/meeting time 周三 15:00` (admins) sets the weekly time, in the community's zone; `/meeting done N` marks an
assignment of a meeting done (its owner). The reminder, the assignments' deadlines and the minutes are notices
rendered here (NOTICES)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.dispatch import ANYWHERE, Ctx, Router
from bot.core.i18n import N_, tn, tr
from bot.core.types import Button, Keyboard, OutMessage
from bot.handlers.common import grid, int_arg
from bot.handlers.requests import kind_name, org_name
from bot.render import NoticeRenderer, h
from flows import meeting, meeting_agenda, requests
from flows.errors import AlreadyDone, FlowError, Forbidden, Invalid, NotFound
from flows.meeting import MeetingItemOverdue, MeetingMinutes, MeetingTask
from flows.meeting_agenda import MeetingReminder
from flows.roles import Perm

router = Router()
P = "mt"

TIME_WORDS, MINUTES_WORDS = ("time", "时间"), ("minutes", "纪要")
CLOSE_WORDS, NOTE_WORDS, DONE_WORDS = ("close", "结束"), ("note", "备注"), ("done", "完成")
DAY_NAMES = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"),
             N_("Sunday"))


# ---------------------------------------------------------------- wording of items


def item_line(lang: str, p: dict[str, Any]) -> str:
    """An agenda item (its source, label, a request's kind and organisation, the incidents' ids)."""
    source, label = p.get("source", ""), h(p.get("label", ""))
    request = label + (f" ({kind_name(lang, p['kind'])})" if p.get("kind") else "")
    if source == "overdue_request":
        text = tr(lang, "⏰ {request} is overdue", request=request)
        return text + (tr(lang, ", with the {org}", org=org_name(lang, p["org"])) if p.get("org") else "")
    if source == "new_request":
        return tr(lang, "🆕 {request} is waiting for assessment", request=request)
    if source == "project":
        return tr(lang, "🔴 Project {project} is behind or has no progress report", project=label)
    if source == "incidents":
        n = int(p.get("label") or 0)
        text = tn(lang, "🆘 {n} open care incident", "🆘 {n} open care incidents", n)
        return text + (" (" + ", ".join(f"#{i}" for i in p["ids"]) + ")" if p.get("ids") else "")
    return tr(lang, "🛠 Rectification task of the property company: {task}", task=label)


def decision_line(lang: str, p: dict[str, Any]) -> str:
    """What was decided on an item (state, organisation, owner, deadline, note), or nothing yet."""
    state = p.get("state")
    if state in ("assigned", "request", "done"):
        text = tr(lang, "→ {org}, deadline {deadline}", org=org_name(lang, p.get("org")), deadline=p.get("deadline"))
        if p.get("owner"):
            text += tr(lang, " (owner: {name})", name=h(p["owner"]))
        if state == "done":
            text += " ✅"
    elif state == "noted":
        text = tr(lang, "→ no decision")
    else:
        text = ""
    if p.get("note"):
        text += ("\n    " if text else "") + "📝 " + h(p["note"])
    return text


def _items(lang: str, items: list[dict[str, Any]]) -> list[str]:
    if not items:
        return [tr(lang, "Nothing on the agenda: no request overdue or waiting, no project behind, no open incident.")]
    lines = []
    for k, p in enumerate(items, start=1):
        decided = decision_line(lang, p)
        lines.append(f"{k}. {item_line(lang, p)}" + (f"\n    {decided}" if decided else ""))
    return lines


def _when(lang: str, iso: str) -> str:
    """A local time of a notice (ISO, with the community's offset) as "Wednesday 2027-03-03 15:00"; a value that
    is no ISO time is shown as it is."""
    try:
        at = datetime.fromisoformat(iso)
    except ValueError:
        return h(iso)
    return f"{tr(lang, DAY_NAMES[at.weekday()])} {at:%Y-%m-%d %H:%M}"


# ---------------------------------------------------------------- errors


def explain_meeting(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, Forbidden):
        texts = {
            "meeting": ctx.t("Only committee members and admins take part in the multi-committee meeting."),
            "meeting:admin": ctx.t("Only admins set the meeting's weekly time."),
            "meeting:chair": ctx.t("Only the chair (who opened the meeting) or an admin records decisions and closes "
                                   "the meeting."),
            "meeting:community": ctx.t("That meeting belongs to another community."),
            "meeting:chat": ctx.t("The meeting is held in the committee group or in a private chat with me."),
            "meeting:owner": ctx.t("Only the assignment's owner or an admin marks it done."),
        }
        return texts.get(err.permission)
    if isinstance(err, AlreadyDone):
        if err.what == "meeting_closed":
            return ctx.t("This meeting is closed. /meeting opens a new one; /meeting minutes shows the minutes.")
        if err.what == "meeting_item":
            return ctx.t("That item has been decided already (or the assignment is done).")
        if err.what == "request_state":
            return ctx.t("This request has moved on already: someone else acted on it first.")
    if isinstance(err, NotFound):
        if err.what == "meeting_open":
            return ctx.t("No meeting is open. /meeting opens one.")
        if err.what == "meeting":
            return ctx.t("There is no closed meeting no. {key}. /meeting minutes lists them.", key=h(str(err.key)))
        if err.what == "meeting_item":
            return ctx.t("There is no item {key}. Send the number shown in the list.", key=h(str(err.key)))
    if isinstance(err, Invalid):
        if err.field == "meeting_time":
            return ctx.t("Please send the weekday and the time, e.g. /meeting time 周三 15:00")
        if err.field == "note" and err.reason == "too_long":
            return ctx.t("Too long: the note can have at most {limit} characters.", limit=err.details.get("limit"))
        if err.field == "note":
            return ctx.t("Please add the note's text, e.g. /meeting note 2 请物业本周内清理")
        if err.field == "organisation" and err.reason == "request_elsewhere":
            return ctx.t("This request is with the {org}: choose that organisation, or reassign the request itself.",
                         org=org_name(ctx.lang, str(err.details.get("org") or "")))
        if err.field == "organisation":
            return ctx.t("That organisation does not take requests in this community.")
        if err.field == "deadline":
            return ctx.t("A deadline is 1 to {limit} days away.", limit=err.details.get("limit"))
    return None


# ---------------------------------------------------------------- the meeting's message


def _view_text(ctx: Ctx, v: meeting.View) -> str:
    m = v.meeting
    lines = [ctx.t("🗓 <b>Multi-committee meeting no. {number}</b> · chair: {chair}", number=m.number,
                   chair=h(v.chair))]
    if v.present:
        lines.append(tn(ctx.lang, "Present ({n}): {names}", "Present ({n}): {names}", len(v.present),
                        names=h("、".join(v.present))))
    else:
        lines.append(ctx.t("Nobody has marked attendance yet: press ✋."))
    lines += ["", ctx.t("<b>Agenda</b>")]
    lines += _items(ctx.lang, meeting.minutes_notice(v, "").items)
    if m.state == "open":
        lines += ["", ctx.t("The chair records a decision per item with the numbered buttons; /meeting note K text "
                            "adds a note to item K; 🏁 closes the meeting and posts the minutes.")]
    return "\n".join(lines)


def _view_buttons(ctx: Ctx, v: meeting.View) -> Keyboard | None:
    m = v.meeting
    if m.state != "open":
        return None
    mid = m.id or 0
    rows: Keyboard = [[ctx.button(ctx.t("✋ I am here"), P, "a", mid), ctx.button(ctx.t("🔄 Refresh"), P, "v", mid)]]
    pending = [ctx.button(str(i.position), P, "d", mid, i.id or 0) for i in v.items if i.state == "pending"]
    rows += grid(pending, 6)
    rows.append([ctx.button(ctx.t("🏁 Close the meeting"), P, "c", mid)])
    return rows


async def _show(ctx: Ctx, meeting_id: int, *, edit: bool) -> None:
    v = await meeting.view(ctx.uow, await meeting.get(ctx.uow, actor=ctx.actor, meeting_id=meeting_id, open_only=False))
    text, buttons = _view_text(ctx, v), _view_buttons(ctx, v)
    if edit and ctx.is_press:
        ctx.edit(text, buttons)
    else:
        ctx.reply(text, buttons)


# ---------------------------------------------------------------- /meeting


@router.command("meeting", where=ANYWHERE, description=N_("The weekly multi-committee meeting"),
                perm=Perm.REQUESTS_ASSESS)
async def meeting_cmd(ctx: Ctx) -> None:
    word, _, rest = ctx.message.args.strip().partition(" ")
    word, rest = word.casefold(), rest.strip()
    if word in TIME_WORDS:
        await _time(ctx, rest)
    elif word in MINUTES_WORDS:
        await _minutes(ctx, rest)
    elif word in CLOSE_WORDS:
        current = await meeting.current(ctx.uow, actor=ctx.actor)
        if current is None:
            raise NotFound("meeting_open")
        await _close(ctx, current.id or 0)
    elif word in NOTE_WORDS:
        number, _, text = rest.partition(" ")
        position = int_arg(number)
        if position is None:
            raise Invalid("note", "empty")
        item = await meeting.note(ctx.uow, actor=ctx.actor, position=position, text=text, now=ctx.now)
        ctx.reply(ctx.t("📝 Noted for item {k}.", k=item.position))
    elif word in DONE_WORDS:
        item_id = int_arg(rest)
        if item_id is None:
            raise NotFound("meeting_item", rest)
        item = await meeting.done(ctx.uow, actor=ctx.actor, item_id=item_id, now=ctx.now)
        ctx.reply(ctx.t("✅ Assignment {id} is done: {item}", id=item.id, item=item_line(ctx.lang, {
            "source": item.source, "label": item.label})))
    elif word:
        meeting.member_of(ctx.actor)
        ctx.reply(_usage(ctx))
    else:
        chat = ctx.event.chat
        assert chat is not None
        m, opened = await meeting.open_meeting(ctx.uow, actor=ctx.actor, tg_chat_id=ctx.chat_id, in_group=chat.is_group,
                                               now=ctx.now)
        if not opened:
            ctx.reply(ctx.t("A meeting is open already: here it is."))
        await _show(ctx, m.id or 0, edit=False)


def _usage(ctx: Ctx) -> str:
    return ctx.t("<b>Multi-committee meeting</b>\n/meeting — open the meeting (or show the open one)\n/meeting note K "
                 "text — a note on item K\n/meeting close — close it and post the minutes\n/meeting minutes [N] — "
                 "past meetings, or the minutes of no. N\n/meeting time 周三 15:00 — the weekly time (admins)\n"
                 "/meeting done N — an assignment of a meeting is done")


async def _time(ctx: Ctx, text: str) -> None:
    community = ctx.actor.home()
    if not text:
        meeting.member_of(ctx.actor)
        schedule = meeting_agenda.schedule_of(community)
        if schedule is None:
            ctx.reply(ctx.t("No weekly time is set yet. Admins set it with /meeting time 周三 15:00"))
            return
        at = meeting_agenda.next_meeting(schedule, community.timezone, ctx.now)
    else:
        _, at = await meeting_agenda.set_time(ctx.uow, actor=ctx.actor, text=text, now=ctx.now)
    local = at.astimezone(meeting_agenda.ladder.zone(community.timezone))
    ctx.reply(ctx.t("🗓 The meeting is every {day} at {time} ({zone}); the next one is on {date}. Committee members "
                    "and admins are reminded {hours} hours before, with the agenda.",
                    day=ctx.t(DAY_NAMES[local.weekday()]), time=f"{local:%H:%M}", zone=h(community.timezone),
                    date=f"{local:%Y-%m-%d}", hours=int(meeting_agenda.LEAD.total_seconds() // 3600)))


async def _minutes(ctx: Ctx, text: str) -> None:
    number = int_arg(text) if text else None
    if text and number is None:
        raise NotFound("meeting", text)
    if number is not None:
        notice = await meeting.minutes(ctx.uow, actor=ctx.actor, number=number)
        ctx.reply(minutes_text(ctx.lang, notice.params()))
        return
    rows = await meeting.past(ctx.uow, actor=ctx.actor)
    if not rows:
        ctx.reply(ctx.t("No meeting has been closed yet."))
        return
    tz = ctx.actor.home().timezone
    lines = [ctx.t("<b>Past meetings</b> (the latest first)")]
    lines += [f"{m.number}. {(m.closed_at or m.opened_at).astimezone(meeting_agenda.ladder.zone(tz)):%Y-%m-%d}"
              for m in rows]
    buttons: list[Button] = [ctx.button(str(m.number), P, "m", m.number) for m in rows]
    ctx.reply("\n".join(lines), grid(buttons, 5))


async def _close(ctx: Ctx, meeting_id: int) -> None:
    v = await meeting.close(ctx.uow, actor=ctx.actor, meeting_id=meeting_id, now=ctx.now)
    if ctx.is_press:
        ctx.edit(_view_text(ctx, v))
    ctx.reply(ctx.t("🏁 Meeting no. {number} is closed; the minutes go to the committee group.",
                    number=v.meeting.number))


# ---------------------------------------------------------------- buttons


@router.callback(P, stateless=True)
async def pressed(ctx: Ctx) -> None:
    action, mid = str(ctx.args[0]), int(ctx.args[1])
    if action == "a":
        added = await meeting.attend(ctx.uow, actor=ctx.actor, meeting_id=mid, now=ctx.now)
        ctx.toast(ctx.t("✋ Attendance recorded.") if added else ctx.t("You are marked present already."))
        await _show(ctx, mid, edit=True)
    elif action == "v":
        await _show(ctx, mid, edit=True)
    elif action == "c":
        await _close(ctx, mid)
    elif action == "m":
        notice = await meeting.minutes(ctx.uow, actor=ctx.actor, number=mid)
        ctx.reply(minutes_text(ctx.lang, notice.params()))
    elif action == "d":
        m, item = await meeting.item_of(ctx.uow, actor=ctx.actor, meeting_id=mid, item_id=int(ctx.args[2]))
        orgs = requests.organisations(ctx.actor.home())
        buttons = [ctx.button(org_name(ctx.lang, o), P, "o", mid, item.id or 0, o) for o in orgs]
        ctx.edit(ctx.t("Item {k}: {item}\nWho takes it on?", k=item.position,
                       item=item_line(ctx.lang, {"source": item.source, "label": item.label, "org": item.organisation})),
                 [*grid(buttons, 2), [ctx.button(ctx.t("« Back"), P, "v", mid)]])
    elif action == "o":
        m, item = await meeting.item_of(ctx.uow, actor=ctx.actor, meeting_id=mid, item_id=int(ctx.args[2]))
        org = str(ctx.args[3])
        buttons = [ctx.button(tn(ctx.lang, "{n} day", "{n} days", d), P, "w", mid, item.id or 0, org, d)
                   for d in meeting.DEADLINE_DAYS]
        ctx.edit(ctx.t("Item {k} → {org}. By when?", k=item.position, org=org_name(ctx.lang, org)),
                 [buttons, [ctx.button(ctx.t("« Back"), P, "v", mid)]])
    elif action == "w":
        item = await meeting.decide(ctx.uow, actor=ctx.actor, meeting_id=mid, item_id=int(ctx.args[2]),
                                    org=str(ctx.args[3]), days=int(ctx.args[4]), now=ctx.now)
        ctx.toast(ctx.t("Decision recorded for item {k}.", k=item.position))
        await _show(ctx, mid, edit=True)


# ---------------------------------------------------------------- notices


def minutes_text(lang: str, p: dict[str, Any]) -> str:
    present = p.get("present") or []
    lines = [tr(lang, "📝 <b>Minutes of multi-committee meeting no. {number}</b> · {community}", number=p.get("meeting"),
                community=h(p.get("community", ""))),
             tr(lang, "{opened} – {closed} · chair: {chair}", opened=_when(lang, p["opened"]),
                closed=_when(lang, p["closed"]), chair=h(p.get("chair", ""))),
             tn(lang, "Present ({n}): {names}", "Present ({n}): {names}", len(present), names=h("、".join(present)))
             if present else tr(lang, "Nobody marked attendance."), ""]
    return "\n".join(lines + _items(lang, p.get("items") or []))


def _n_reminder(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    lines = [tr(lang, "🗓 Reminder: the multi-committee meeting of {community} is on {when}.",
                community=h(p.get("community", "")), when=_when(lang, p["at"])), "", tr(lang, "<b>Agenda</b>")]
    lines += _items(lang, p.get("items") or [])
    lines += ["", tr(lang, "The chair opens it with /meeting in the committee group.")]
    return OutMessage(text="\n".join(lines))


def _n_task(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = tr(lang, "📌 Meeting no. {meeting} gave you (for the {org}): {item}\nDeadline: {deadline}. When it is "
                    "done, send /meeting done {id}", meeting=p.get("meeting"), org=org_name(lang, p.get("org")),
              item=item_line(lang, p), deadline=p.get("deadline"), id=p.get("item_id"))
    if p.get("note"):
        text += "\n📝 " + h(p["note"])
    return OutMessage(text=text)


OVERDUE_WHO = {"owner": N_("Please finish it, then send /meeting done {id}."),
               "admins": N_("Escalated to the community admins."), "district": N_("Escalated to the district.")}


def _n_overdue(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = tr(lang, "⏰ Past its deadline {deadline} ({community}, meeting no. {meeting}, the {org}): {item}",
              deadline=p.get("deadline"), community=h(p.get("community", "")), meeting=p.get("meeting"),
              org=org_name(lang, p.get("org")), item=item_line(lang, p))
    who = p.get("audience", "")
    if who in OVERDUE_WHO:
        text += "\n" + tr(lang, OVERDUE_WHO[who], id=p.get("item_id"))
    return OutMessage(text=text)


def _n_minutes(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=minutes_text(lang, p))


NOTICES = {MeetingReminder.kind: _n_reminder, MeetingTask.kind: _n_task, MeetingItemOverdue.kind: _n_overdue,
           MeetingMinutes.kind: _n_minutes}

EXPLAIN = explain_meeting
