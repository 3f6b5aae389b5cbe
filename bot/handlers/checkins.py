"""Daily check-ins (早看窗帘晚看灯): prompts, answers, incidents, /checkins, /away."""

from __future__ import annotations

from typing import Any

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tr
from bot.core.types import Keyboard, OutMessage
from bot.handlers.common import MAX_ARGS, int_arg
from bot.render import NoticeRenderer, h
from flows import checkins
from flows.checkins import AnswerView, CheckinRefused
from flows.clock import local
from flows.errors import Invalid
from flows.roles import Perm

router = Router()

SLOT_NAMES = {"morning": N_("morning"), "midday": N_("midday"), "evening": N_("evening")}
ANSWER_NAMES = {
    "ok": N_("✅ all well"),
    "not_ok": N_("⚠️ something is wrong"),
    "knocked": N_("🚪 knocked, all well"),
    "cannot": N_("❌ cannot check today"),
    "incident": N_("checked by the incident"),
}
OUTCOME_NAMES = {
    "safe": N_("safe"),
    "slept_late": N_("slept late"),
    "hospital": N_("taken to hospital"),
    "other": N_("other"),
    "false_alarm": N_("false alarm"),
}
OPEN = N_("still open")
REFUSALS = {
    "not_found": N_("This check no longer exists."),
    "not_yours": N_("This check is not yours (any more). Nothing was changed."),
    "no_role": N_("Your volunteer role has ended, so this button no longer works. Nothing was changed."),
    "handed_over": N_("This check was handed over to the backup volunteer. Nothing was changed."),
    "old_day": N_("This check is closed (an earlier one). Nothing was changed."),
    "answered": N_("This check was answered already. Nothing was changed."),
    "closed": N_("This incident is closed already. Nothing was changed."),
}


def _where(lang: str, p: dict[str, Any]) -> str:
    """alias · building · room (never a name)."""
    parts = [h(p.get("alias", ""))]
    if p.get("building"):
        parts.append(tr(lang, "building {b}", b=h(p["building"])))
    if p.get("room"):
        parts.append(tr(lang, "room {r}", r=h(p["room"])))
    return " · ".join(parts)


def _slot(lang: str, slot: str) -> str:
    return tr(lang, SLOT_NAMES.get(slot, slot)) if slot else ""


def _prompt_buttons(btn: Any, lang: str, prompt_id: int, slot: str) -> Keyboard:
    if slot == "evening":
        ok, bad = tr(lang, "✅ Lights on"), tr(lang, "⚠️ Lights not on")
    else:
        ok, bad = tr(lang, "✅ Curtains open"), tr(lang, "⚠️ Curtains not open")
    return [[btn(ok, "ck", prompt_id, "ok"), btn(bad, "ck", prompt_id, "not_ok")],
            [btn(tr(lang, "🚪 Knocked, all well"), "ck", prompt_id, "knocked")],
            [btn(tr(lang, "❌ Cannot check today"), "ck", prompt_id, "cannot")]]


def _incident_buttons(btn: Any, lang: str, incident_id: int) -> Keyboard:
    return [[btn(tr(lang, "🏃 I'm going"), "ci", incident_id, "take"),
             btn(tr(lang, "✅ Safe"), "ci", incident_id, "safe")],
            [btn(tr(lang, "🆘 Needs help"), "ci", incident_id, "help")]]


def _outcome_buttons(btn: Any, lang: str, incident_id: int) -> Keyboard:
    return [[btn(tr(lang, "Safe"), "co", incident_id, "safe"), btn(tr(lang, "Slept late"), "co", incident_id,
                                                                  "slept_late")],
            [btn(tr(lang, "Taken to hospital"), "co", incident_id, "hospital"),
             btn(tr(lang, "Other…"), "co", incident_id, "other")],
            [btn(tr(lang, "False alarm"), "co", incident_id, "false_alarm")]]


# ---------------------------------------------------------------- notices (queued by flows/checkins.py)


def _n_prompt(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    slot = p.get("slot", "morning")
    if slot == "evening":
        ask = tr(lang, "🌙 Evening check: are the lights on at {where}?", where=_where(lang, p))
    elif slot == "midday":
        ask = tr(lang, "☀️ Midday check: is all well at {where}?", where=_where(lang, p))
    else:
        ask = tr(lang, "🌅 Morning check: are the curtains open at {where}?", where=_where(lang, p))
    lines = [ask]
    if p.get("handed"):
        lines.insert(0, tr(lang, "You are the backup volunteer: this check was handed over to you."))
    elif p.get("stage") == 1:
        lines.insert(0, tr(lang, "⏰ Reminder: nobody has answered this check yet."))
    lines.append(tr(lang, "Tap one button (早看窗帘晚看灯)."))
    return OutMessage(text="\n".join(lines), buttons=_prompt_buttons(r.button, lang, int(p["prompt_id"]), slot))


def _n_missed(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    lines = [tr(lang, "⚠️ These checks fell due while the system was down and were not sent. "
                      "Please make sure these persons are well:")]
    for it in p.get("items", []):
        lines.append(f"• {h(it.get('date', ''))} {_slot(lang, it.get('slot', ''))} — {_where(lang, it)}")
    if p.get("more"):
        lines.append(tr(lang, "… and {n} more. /checkins shows today's checks.", n=p["more"]))
    return OutMessage(text="\n".join(lines))


def _n_alert(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    where = _where(lang, p)
    kind = p.get("kind")
    if kind == "not_ok":
        text = tr(lang, "🚨 A volunteer reports something may be wrong ({slot} check) at {where}.",
                  slot=_slot(lang, p.get("slot", "")), where=where)
    elif kind == "help":
        text = tr(lang, "🆘 Help is needed at {where}: an incident was marked as needing help.", where=where)
    elif kind == "no_volunteer":
        text = tr(lang, "🚨 No volunteer is paired with {where} any more, so nobody was asked for the {slot} check. "
                        "Please check yourself, and pair a new volunteer with /pair.",
                  where=where, slot=_slot(lang, p.get("slot", "")))
    elif kind == "repeat":
        text = tr(lang, "🚨 Still unresolved (escalation {level}): {where}. Please make sure someone checks.",
                  level=p.get("level", 1), where=where)
    else:
        text = tr(lang, "🚨 Nobody answered the {slot} check (volunteer and backup volunteer) for {where}. "
                        "Please make sure someone checks.", slot=_slot(lang, p.get("slot", "")), where=where)
    return OutMessage(text=text, buttons=_incident_buttons(r.button, lang, int(p["incident_id"])))


def _n_group_alert(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "🚨 Nobody could check {alias} this {slot}. A volunteer nearby, please knock "
                                    "and tell the grid worker.", alias=h(p.get("alias", "")),
                              slot=_slot(lang, p.get("slot", ""))))


def _n_taken(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "🏃 {name} is going to check on {alias}.", name=h(p.get("name", "")),
                              alias=h(p.get("alias", ""))))


def _n_closed(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "✅ Incident closed for {alias} by {name}: {outcome}.",
                              alias=h(p.get("alias", "")), name=h(p.get("name", "")),
                              outcome=tr(lang, OUTCOME_NAMES.get(p.get("outcome", ""), p.get("outcome", "")))))


def _n_closed_group(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "✅ {alias}: resolved. Thank you.", alias=h(p.get("alias", ""))))


def _n_welcome(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "👋 Welcome back! Your time away ({first} – {last}) has ended; your daily "
                                    "checks come to you again.", first=p.get("first_day", ""),
                              last=p.get("last_day", "")))


def _n_thanks(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "🙏 Thank you! From {first} to {last} you answered {answered} checks, "
                                    "{on_time} of them on time. 早看窗帘晚看灯 — you keep our neighbours safe.",
                              first=p.get("first_day", ""), last=p.get("last_day", ""),
                              answered=p.get("answered", 0), on_time=p.get("on_time", 0)))


NOTICES = {
    checkins.CheckPrompt.kind: _n_prompt,
    checkins.ChecksMissed.kind: _n_missed,
    checkins.IncidentAlert.kind: _n_alert,
    checkins.GroupAlert.kind: _n_group_alert,
    checkins.IncidentTaken.kind: _n_taken,
    checkins.IncidentClosed.kind: _n_closed,
    checkins.IncidentClosedGroup.kind: _n_closed_group,
    checkins.WelcomeBack.kind: _n_welcome,
    checkins.WeeklyThanks.kind: _n_thanks,
}


# ---------------------------------------------------------------- answers


def _refuse(ctx: Ctx, err: CheckinRefused) -> None:
    ctx.toast(ctx.t(REFUSALS.get(err.reason, REFUSALS["not_found"])), alert=True)


def _answered_text(ctx: Ctx, v: AnswerView) -> str:
    where = _where(ctx.lang, {"alias": v.alias, "room": v.room, "building": v.building})
    at = f"{local(v.at, v.tz):%H:%M}"
    head = ctx.t("{slot} check · {where}", slot=_slot(ctx.lang, v.slot), where=where)
    if v.outcome == "handed":
        return head + "\n" + ctx.t("❌ You could not check ({at}): handed over to the backup volunteer.", at=at)
    if v.outcome == "escalated":
        return head + "\n" + ctx.t("❌ You could not check ({at}): the grid worker has been told.", at=at)
    said = ctx.t(ANSWER_NAMES.get(v.answer, v.answer))
    text = head + "\n" + ctx.t("Answered at {at}: {answer}", at=at, answer=said)
    if v.outcome == "incident":
        text += "\n" + ctx.t("The grid worker has been alerted. Thank you!")
    return text


@router.callback("ck")
async def answer_press(ctx: Ctx) -> None:
    prompt_id = int_arg(ctx.args[0]) if ctx.args else None
    if prompt_id is None or len(ctx.args) < 2:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    try:
        v = await checkins.answer(ctx.uow, user=ctx.actor.user, prompt_id=prompt_id, answer=ctx.args[1], now=ctx.now)
    except CheckinRefused as err:
        _refuse(ctx, err)
        return
    ctx.edit(_answered_text(ctx, v))
    ctx.toast(ctx.t("Thank you!"))


@router.callback("ci")
async def incident_press(ctx: Ctx) -> None:
    incident_id = int_arg(ctx.args[0]) if ctx.args else None
    action = ctx.args[1] if len(ctx.args) > 1 else ""
    if incident_id is None or action not in ("take", "safe", "help"):
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    try:
        if action == "take":
            v = await checkins.take_incident(ctx.uow, user=ctx.actor.user, incident_id=incident_id, now=ctx.now)
            ctx.edit(ctx.t("🏃 You are going to {where}. When you know, close the incident:",
                           where=_where(ctx.lang, v.__dict__)),
                     _outcome_buttons(ctx.button, ctx.lang, incident_id))
        elif action == "safe":
            v = await checkins.close_incident(ctx.uow, user=ctx.actor.user, incident_id=incident_id,
                                              outcome="safe", now=ctx.now)
            ctx.edit(ctx.t("✅ Closed: {where} is safe. Thank you!", where=_where(ctx.lang, v.__dict__)))
        else:
            v = await checkins.help_incident(ctx.uow, user=ctx.actor.user, incident_id=incident_id, now=ctx.now)
            ctx.edit(ctx.t("🆘 The admins have been alerted about {where}. Close the incident when it is resolved:",
                           where=_where(ctx.lang, v.__dict__)), _outcome_buttons(ctx.button, ctx.lang, incident_id))
    except CheckinRefused as err:
        _refuse(ctx, err)


@router.callback("co")
async def outcome_press(ctx: Ctx) -> None:
    incident_id = int_arg(ctx.args[0]) if ctx.args else None
    outcome = ctx.args[1] if len(ctx.args) > 1 else ""
    if incident_id is None or outcome not in checkins.OUTCOMES:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    try:
        v = await checkins.close_incident(ctx.uow, user=ctx.actor.user, incident_id=incident_id, outcome=outcome,
                                          now=ctx.now)
    except CheckinRefused as err:
        _refuse(ctx, err)
        return
    text = ctx.t("✅ Incident closed for {where}: {outcome}. Thank you!", where=_where(ctx.lang, v.__dict__),
                 outcome=ctx.t(OUTCOME_NAMES[outcome]))
    if outcome == "other":
        await ctx.set_state("ck_note", "note", {"incident_id": incident_id})
        text += "\n" + ctx.t("You may send a short note about what happened (or /cancel).")
    ctx.edit(text)


MAX_NOTE = 500


@router.flow("ck_note")
async def note_step(ctx: Ctx) -> None:
    assert ctx.state is not None
    text = (ctx.message.text or "").strip()
    if not text:
        ctx.reply(ctx.t("Please send the note as text."))
        return
    if len(text) > MAX_NOTE:
        ctx.reply(ctx.t("The note can have at most {limit} characters.", limit=MAX_NOTE))
        return
    try:
        await checkins.set_incident_note(ctx.uow, user=ctx.actor.user, incident_id=int(ctx.state.data["incident_id"]),
                                         note_enc=ctx.core.sealer.seal(text), now=ctx.now)
    except CheckinRefused:
        pass
    await ctx.clear_state()
    ctx.reply(ctx.t("✅ Note saved."))


# ---------------------------------------------------------------- /away


@router.command("away", where=PRIVATE, description=N_("Away: hand your daily checks to the backups"),
                perm=Perm.CHECK)
async def away(ctx: Ctx) -> None:
    words = ctx.message.args[:MAX_ARGS].split()
    if not words:
        await _away_list(ctx)
        return
    if len(words) != 2:
        ctx.reply(ctx.t("Usage: /away FROM TO, e.g. /away 12-01 12-07 (dates as MM-DD or YYYY-MM-DD)."))
        return
    try:
        a = await checkins.add_absence(ctx.uow, actor=ctx.actor, first=words[0], last=words[1], now=ctx.now)
    except Invalid as err:
        texts = {
            "format": ctx.t("Please write dates as MM-DD or YYYY-MM-DD, e.g. /away 12-01 12-07."),
            "past": ctx.t("The first day cannot be in the past."),
            "order": ctx.t("The last day must not be before the first day."),
            "too_long": ctx.t("At most {limit} days at a time.", limit=checkins.MAX_AWAY_DAYS),
        }
        ctx.reply(texts.get(err.reason, texts["format"]))
        return
    ctx.reply(ctx.t("✅ From {first} to {last} your daily checks go to the backup volunteers. "
                    "I will tell you when it ends. /away shows or cancels it.", first=a.first_day, last=a.last_day))


async def _away_list(ctx: Ctx) -> None:
    rows = await checkins.list_absences(ctx.uow, actor=ctx.actor, now=ctx.now)
    if not rows:
        ctx.show(ctx.t("You have no time away planned. Usage: /away FROM TO, e.g. /away 12-01 12-07."))
        return
    lines = [ctx.t("<b>Your time away</b> (checks go to the backups):")]
    buttons = []
    for a in rows:
        lines.append(f"• {a.first_day} – {a.last_day}")
        buttons.append([ctx.button(ctx.t("Cancel {first} – {last}", first=a.first_day, last=a.last_day),
                                   "aw", a.id or 0)])
    ctx.show("\n".join(lines), buttons)


@router.callback("aw")
async def away_cancel(ctx: Ctx) -> None:
    absence_id = int_arg(ctx.args[0]) if ctx.args else None
    if absence_id is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    try:
        await checkins.cancel_absence(ctx.uow, actor=ctx.actor, absence_id=absence_id, now=ctx.now)
    except CheckinRefused:
        ctx.toast(ctx.t("That time away no longer exists."), alert=True)
        return
    ctx.toast(ctx.t("Cancelled."))
    await _away_list(ctx)


# ---------------------------------------------------------------- /checkins


@router.command("checkins", where=PRIVATE, description=N_("Today's check-ins (早看窗帘晚看灯); /checkins week"),
                perm=Perm.CHECKINS)
async def checkins_cmd(ctx: Ctx) -> None:
    words = ctx.message.args[:MAX_ARGS].split()
    if words and words[0].lower() in ("week", "周", "本周"):
        await _week(ctx)
        return
    lines_ = await checkins.today_overview(ctx.uow, actor=ctx.actor, now=ctx.now)
    if not lines_:
        ctx.reply(ctx.t("No checks today yet. Key persons need a paired volunteer (/pair)."))
        return
    out = [ctx.t("<b>Today's checks</b> (早看窗帘晚看灯)"),
           ctx.t("✅ done · ⏳ waiting · 🔔 escalated · ❌ missed · 🚨 open incidents · 🕘 later today")]
    for b in lines_:
        name = ctx.t("Building {b}", b=h(b.building)) if b.building else ctx.t("No building")
        out.append(f"{name}: ✅{b.done} ⏳{b.pending} 🔔{b.escalated} ❌{b.missed} 🚨{b.incidents} 🕘{b.scheduled}")
    ctx.reply("\n".join(out))


async def _week(ctx: Ctx) -> None:
    s = await checkins.week_overview(ctx.uow, actor=ctx.actor, now=ctx.now)
    out = [ctx.t("<b>Checks {first} – {last}</b>", first=s.first_day, last=s.last_day),
           ctx.t("Checks: {checks} · answered: {answered} · on time (before any reminder): {on_time} · missed: {missed}",
                 checks=s.checks, answered=s.answered, on_time=s.on_time, missed=s.missed)]
    if s.median_minutes is not None:
        out.append(ctx.t("Median response time: {m} min", m=s.median_minutes))
    if s.incidents:
        out.append(ctx.t("Incidents: {list}", list=", ".join(
            f"{ctx.t(OUTCOME_NAMES.get(k, OPEN))} {n}" for k, n in s.incidents.items())))
    else:
        out.append(ctx.t("Incidents: none"))
    if s.volunteers:
        out.append(ctx.t("<b>Per volunteer</b> (answered / on time):"))
        out.extend(f"• {h(v.name)}: {v.answered} / {v.on_time}" for v in s.volunteers[:40])
    ctx.reply("\n".join(out))
