"""Visits and services for key persons (#17, F-5.3, F-5.4): /visits, /visits week, /services; their notices.

Flows decide; this words. Never a name or contact: alias, room and building for those who look after the person,
the building, the kind and the time for everyone else."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tr
from bot.core.types import Keyboard, OutMessage
from bot.handlers.common import MAX_ARGS, int_arg, pager
from bot.render import NoticeRenderer, h
from flows import ladder
from flows.care.ledger import RISK_ALIASES, SERVICE_ALIASES, SERVICES
from flows.clock import local
from flows.errors import Forbidden, Invalid, NotFound
from flows.roles import Perm
from flows.visits import notices as vn
from flows.visits import plans, services, stats
from flows.visits.plans import VisitRefused
from flows.visits.services import ServiceRefused

router = Router()

SERVICE_NAMES = {"medical": N_("助医 escort to a doctor"), "cleaning": N_("助洁 cleaning"),
                 "mobility": N_("助行 mobility help"), "emergency": N_("助急 urgent help")}
SHORT = {"medical": "助医", "cleaning": "助洁", "mobility": "助行", "emergency": "助急"}
STATE_NAMES = {"open": N_("waiting for someone"), "claimed": N_("claimed"), "done": N_("done, to confirm"),
               "confirmed": N_("confirmed"), "cancelled": N_("cancelled")}
OUTCOME_NAMES = {"home": N_("🏠 At home"), "away": N_("🚪 Not at home"), "hospital": N_("🏥 In hospital")}
RISK_DOTS = {"red": "🔴", "yellow": "🟡", "green": "🟢"}
WEEKDAYS = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"),
            N_("Sunday"))
REFUSALS = {
    "recorded": N_("This visit was recorded already. Nothing was changed."),
    "taken": N_("Someone else has already claimed this service. Thank you all the same!"),
    "not_claimer": N_("Only the one who claimed this service can mark it done."),
    "not_yours": N_("Only the requester or the person's volunteer can do this."),
    "not_done": N_("This service is not marked done yet."),
    "state": N_("This service has moved on already. Nothing was changed."),
}


def _service(lang: str, kind: str) -> str:
    return tr(lang, SERVICE_NAMES.get(kind, kind))


def _where(lang: str, p: dict[str, Any]) -> str:
    parts = [h(p.get("alias", ""))]
    if p.get("building"):
        parts.append(tr(lang, "building {b}", b=h(p["building"])))
    if p.get("room"):
        parts.append(tr(lang, "room {r}", r=h(p["room"])))
    return " · ".join(x for x in parts if x)


# ---------------------------------------------------------------- notices


def _n_visit_due(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    where = _where(lang, p)
    rung = int(p.get("rung", 0))
    if rung == 0:
        text = tr(lang, "🏠 A visit is due (五常五送): {where}, by {date}.", where=where, date=p.get("due_date", ""))
    elif rung == 1:
        text = tr(lang, "⏰ Reminder: the visit to {where} (due {date}) is not recorded yet.", where=where,
                  date=p.get("due_date", ""))
    else:
        text = tr(lang, "⚠️ Overdue visit: {where} was due {date} and nobody has recorded a visit. Please make sure "
                        "someone visits.", where=where, date=p.get("due_date", ""))
    return OutMessage(text=text, buttons=[[r.button(tr(lang, "📝 Record the visit"), "vr", int(p["person_id"]))]])


def _when(lang: str, p: dict[str, Any]) -> str:
    day = int(p.get("weekday", -1))
    name = tr(lang, WEEKDAYS[day]) if 0 <= day < 7 else ""
    return f"{name} {p.get('when', '')}".strip()


def _n_asked(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    head = "🆘 " if p.get("urgent") else ""
    text = head + tr(lang, "Building {b}: an elderly neighbour needs {service}, {when}. Can you help?",
                     b=h(p.get("building", "")), service=_service(lang, p.get("service", "")), when=_when(lang, p))
    return OutMessage(text=text, buttons=[[r.button(tr(lang, "🙋 I'll do it"), "sc", int(p["request_id"]))]])


def _n_group(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    head = "🆘 " if p.get("urgent") else ""
    text = head + tr(lang, "Building {b}: an elderly neighbour needs {service}, {when}", b=h(p.get("building", "")),
                     service=SHORT.get(p.get("service", ""), ""), when=_when(lang, p))
    return OutMessage(text=text, buttons=[[r.button(tr(lang, "🙋 I'll do it"), "sc", int(p["request_id"]))]])


def _n_alert(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = tr(lang, "🚨 Nobody has claimed S-{n} yet: {service} in building {b}, {when}. Please find someone.",
              n=p.get("number", 0), service=_service(lang, p.get("service", "")), b=h(p.get("building", "")),
              when=p.get("when", ""))
    if p.get("urgent"):
        text = "🆘 " + text
    return OutMessage(text=text, buttons=[[r.button(tr(lang, "🙋 I'll do it"), "sc", int(p["request_id"]))]])


def _n_claimed(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "🙋 {name} claimed S-{n} ({service}).", name=h(p.get("name", "")),
                              n=p.get("number", 0), service=_service(lang, p.get("service", ""))))


def _n_done(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "✅ {name} marked S-{n} ({service}) done. Please confirm.",
                              name=h(p.get("name", "")), n=p.get("number", 0),
                              service=_service(lang, p.get("service", ""))),
                      buttons=[[r.button(tr(lang, "👍 Confirm"), "sf", int(p["request_id"]))]])


def _n_not_done(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = tr(lang, "⏰ S-{n}: claimed, but still not done — {service} in building {b}, {when}. Please "
              "check with the one who claimed it.", n=p.get("number", 0), service=_service(lang, p.get("service", "")),
              b=h(p.get("building", "")), when=p.get("when", ""))
    return OutMessage(text=("🆘 " + text) if p.get("urgent") else text)


NOTICES = {
    vn.VisitDue.kind: _n_visit_due,
    vn.ServiceAsked.kind: _n_asked,
    vn.ServiceGroupPost.kind: _n_group,
    vn.ServiceAlert.kind: _n_alert,
    vn.ServiceClaimed.kind: _n_claimed,
    vn.ServiceDone.kind: _n_done,
    vn.ServiceNotDone.kind: _n_not_done,
}


def EXPLAIN(ctx: Ctx, err: Exception) -> str | None:  # noqa: N802 - the dispatcher's hook
    if isinstance(err, VisitRefused | ServiceRefused):
        return ctx.t(REFUSALS.get(err.reason, REFUSALS["state"]))
    if isinstance(err, NotFound) and err.what in ("person", "service"):
        return ctx.t("Not found (or not yours to see).")
    if isinstance(err, Forbidden) and str(err.args[0]).startswith(("visits", "services")):
        return ctx.t("Only the person's volunteers, their grid worker and admins can do this.")
    return None


# ---------------------------------------------------------------- /visits


@router.command("visits", where=PRIVATE, description=N_("Visits due this week (五常五送); /visits week"),
                perm=Perm.CHECK)
async def visits_cmd(ctx: Ctx) -> None:
    words = ctx.message.args[:MAX_ARGS].split()
    if words and words[0].lower() in ("week", "周", "本周"):
        await _week(ctx)
        return
    await _due(ctx, 1)


async def _due(ctx: Ctx, page: int) -> None:
    p = await plans.due_this_week(ctx.uow, actor=ctx.actor, now=ctx.now, page=page)
    if not p.total:
        ctx.show(ctx.t("No visits due this week. 👍"))
        return
    tz = ctx.actor.home().timezone
    lines = [ctx.t("<b>Visits due this week</b> ({n}), overdue first:", n=p.total)]
    buttons: Keyboard = []
    grid = None
    no_grid = ctx.t("No grid")  # (inside an f-string it was never extracted for translation)
    for x in p.items:
        if x.grid != grid:
            grid = x.grid
            lines.append(f"<b>{h(grid) or no_grid}</b>")
        mark = "❗" if x.overdue else "•"
        lines.append(f"{mark} {RISK_DOTS.get(x.risk, '')} {_where(ctx.lang, x.__dict__)} — "
                     f"{local(x.due_at, tz):%m-%d}")
        buttons.append([ctx.button(ctx.t("📝 {alias}", alias=x.alias), "vr", x.person_id)])
    nav = pager(ctx, p.page, p.pages, "vp")
    if nav:
        buttons.append(nav)
    ctx.show("\n".join(lines), buttons)


@router.callback("vp")
async def due_page(ctx: Ctx) -> None:
    page = int_arg(ctx.args[0]) if ctx.args else None
    await _due(ctx, page or 1)


async def _week(ctx: Ctx) -> None:
    if not ctx.actor.can(Perm.CHECKINS):
        ctx.reply(ctx.t("Only grid workers and admins see the week's figures."))
        return
    s = await stats.week(ctx.uow, actor=ctx.actor, now=ctx.now)
    out = [ctx.t("<b>Visits and services {first} – {last}</b>", first=s.first_day, last=s.last_day)]
    if s.grids:
        out.append(ctx.t("Visits per grid (done / on time):"))
        no_grid = ctx.t("No grid")
        out.extend(f"• {h(g.grid) or no_grid}: {g.visits} / {g.on_time}" for g in s.grids)
    else:
        out.append(ctx.t("No visits recorded yet this week."))
    out.append(ctx.t("Services asked: {list}", list=", ".join(f"{SHORT[k]} {n}" for k, n in s.services.items())))
    out.append(ctx.t("Done: {n}", n=s.done))
    if s.claim_minutes is not None:
        out.append(ctx.t("Median time to claim: {m} min", m=s.claim_minutes))
    if s.complete_minutes is not None:
        out.append(ctx.t("Median time to complete: {m} min", m=s.complete_minutes))
    ctx.reply("\n".join(out))


# ---------------------------------------------------------------- recording a visit: outcome → colour → note


@router.callback("vr")
async def record_start(ctx: Ctx) -> None:
    person_id = int_arg(ctx.args[0]) if ctx.args else None
    if person_id is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    person, _ = await plans.person_for(ctx.uow, actor=ctx.actor, person_id=person_id)
    version = await plans.version_of(ctx.uow, person_id=person_id)
    ctx.reply(ctx.t("Visit to {alias}: how was it?", alias=h(person.alias)),
              [[ctx.button(ctx.t(OUTCOME_NAMES[o]), "vo", person_id, version, o)] for o in plans.OUTCOMES])


@router.callback("vo")
async def record_outcome(ctx: Ctx) -> None:
    if len(ctx.args) < 3 or int_arg(ctx.args[0]) is None or int_arg(ctx.args[1]) is None \
            or ctx.args[2] not in plans.OUTCOMES:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    pid, ver, outcome = int(ctx.args[0]), int(ctx.args[1]), ctx.args[2]
    person, _ = await plans.person_for(ctx.uow, actor=ctx.actor, person_id=pid)
    row = [ctx.button(ctx.t("Keep {dot}", dot=RISK_DOTS.get(person.risk, "")), "vc", pid, ver, outcome, "keep")]
    row += [ctx.button(dot, "vc", pid, ver, outcome, risk) for risk, dot in RISK_DOTS.items() if risk != person.risk]
    ctx.edit(ctx.t("{outcome}. Risk colour now {dot}: keep it or change it?", outcome=ctx.t(OUTCOME_NAMES[outcome]),
                   dot=RISK_DOTS.get(person.risk, "")), [row])


@router.callback("vc")
async def record_colour(ctx: Ctx) -> None:
    if len(ctx.args) < 4 or int_arg(ctx.args[0]) is None or int_arg(ctx.args[1]) is None \
            or ctx.args[2] not in plans.OUTCOMES or ctx.args[3] not in ("keep", *RISK_DOTS):
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    pid, ver, outcome, risk = int(ctx.args[0]), int(ctx.args[1]), ctx.args[2], ctx.args[3]
    await plans.person_for(ctx.uow, actor=ctx.actor, person_id=pid)
    data = {"person_id": pid, "version": ver, "outcome": outcome, "risk": "" if risk == "keep" else risk}
    if risk == "keep":
        await ctx.set_state("visit", "note", data)
        ctx.edit(ctx.t("Send a short note about the visit (text or voice), or:"),
                 [[ctx.button(ctx.t("No note"), "vn")]])
    else:
        await ctx.set_state("visit", "reason", data)
        ctx.edit(ctx.t("Why does the colour change to {dot}? Please send the reason (text).", dot=RISK_DOTS[risk]))


@router.flow("visit")
async def record_step(ctx: Ctx) -> None:
    assert ctx.state is not None
    data = dict(ctx.state.data)
    text = (ctx.message.text or "").strip()
    if ctx.state.step == "reason":
        if not text:
            ctx.reply(ctx.t("Please send the reason as text (or /cancel)."))
            return
        if len(text) > 500:
            ctx.reply(ctx.t("The note can have at most {limit} characters.", limit=500))
            return
        data["reason"] = text
        await ctx.set_state("visit", "note", data)
        ctx.reply(ctx.t("Send a short note about the visit (text or voice), or:"), [[ctx.button(ctx.t("No note"), "vn")]])
        return
    voice = ctx.message.voice_file_id or ""
    if not text and not voice:
        ctx.reply(ctx.t("Please send the note as text or voice (or /cancel)."))
        return
    await _save(ctx, data, note=text, voice=voice)


@router.callback("vn")
async def record_no_note(ctx: Ctx) -> None:
    if ctx.state is None or ctx.state.flow != "visit" or ctx.state.step != "note":
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    await _save(ctx, dict(ctx.state.data), note="", voice="")


async def _save(ctx: Ctx, data: dict[str, Any], *, note: str, voice: str) -> None:
    try:
        done = await plans.record(ctx.uow, actor=ctx.actor, sealer=ctx.core.sealer, person_id=int(data["person_id"]),
                                  version=int(data["version"]), outcome=str(data["outcome"]), now=ctx.now, note=note,
                                  voice_file_id=voice, risk=data.get("risk") or None,
                                  reason=str(data.get("reason", "")))
    except Invalid as err:
        if err.field == "notes" and err.reason == "too_long":
            ctx.reply(ctx.t("The note can have at most {limit} characters.", limit=500))
            return
        raise
    await ctx.clear_state()
    lines = [ctx.t("✅ Visit to {alias} recorded: {outcome}.", alias=h(done.alias),
                   outcome=ctx.t(OUTCOME_NAMES[done.outcome]))]
    if done.risk_after != done.risk_before:
        lines.append(ctx.t("Risk colour {before} → {after}.", before=RISK_DOTS[done.risk_before],
                           after=RISK_DOTS[done.risk_after]))
    lines.append(ctx.t("Next visit due {date}.", date=f"{local(done.next_due, done.tz):%Y-%m-%d}"))
    ctx.reply("\n".join(lines))


# ---------------------------------------------------------------- /services


def _parse_when(text: str, now: datetime, tz: str) -> datetime | None:
    m = re.fullmatch(r"(?:(\d{4})-)?(\d{1,2})-(\d{1,2})\s+(\d{1,2}):(\d{2})", text.strip())
    if not m:
        return None
    z = ladder.zone(tz)
    year = int(m.group(1) or now.astimezone(z).year)
    try:
        return datetime(year, int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)),
                        tzinfo=z).astimezone(ladder.zone("UTC"))
    except ValueError:
        return None


@router.command("services", where=PRIVATE, perm=Perm.SERVICES,
                description=N_("Services for key persons: 助医/助洁/助行/助急 — ask, offer, claim"))
async def services_cmd(ctx: Ctx) -> None:
    words = ctx.message.args[:MAX_ARGS].split()
    if words and words[0].lower() in ("offer", "提供"):
        kinds = [SERVICE_ALIASES.get(w, w.lower()) for w in words[1:]]
        try:
            chosen = await services.set_offers(ctx.uow, actor=ctx.actor, kinds=kinds, now=ctx.now)
        except Invalid:
            ctx.reply(ctx.t("Services are 助医, 助洁, 助行 and 助急, e.g. /services offer 助医 助行."))
            return
        ctx.reply(ctx.t("✅ You offer: {list}.", list=", ".join(SHORT[k] for k in chosen) or ctx.t("nothing")))
        return
    if words and words[0].lower() in ("ask", "申请"):
        await _ask(ctx, words[1:])
        return
    if words and words[0].lower() in ("family", "家属"):
        from bot.handlers.visits_family import family_links  # the family's own module imports this one
        await family_links(ctx, words[1:])
        return
    await _list(ctx)


async def _ask(ctx: Ctx, words: list[str]) -> None:
    usage = ctx.t("Usage: /services ask PERSON SERVICE MM-DD HH:MM, e.g. /services ask 12 助行 03-04 09:00 "
                  "(助急: no time needed — it goes out at once).")
    person_id = int_arg(words[0]) if words else None
    kind = SERVICE_ALIASES.get(words[1], words[1].lower()) if len(words) > 1 else ""
    if person_id is None or kind not in SERVICES:
        ctx.reply(usage)
        return
    when = ctx.now if kind == services.URGENT and len(words) < 4 else \
        _parse_when(" ".join(words[2:4]), ctx.now, ctx.actor.home().timezone)
    if when is None:
        ctx.reply(usage)
        return
    try:
        req = await services.ask(ctx.uow, actor=ctx.actor, person_id=person_id, kind=kind, wanted_at=when, now=ctx.now)
    except Invalid as err:
        texts = {"past": ctx.t("That time has passed."),
                 "too_far": ctx.t("At most {limit} days ahead.", limit=services.MAX_AHEAD.days)}
        ctx.reply(texts.get(err.reason, usage))
        return
    text = ctx.t("✅ S-{n}: {service} asked. Those who offer it have been told.", n=req.number,
                 service=_service(ctx.lang, kind))
    if kind == services.URGENT:
        text += "\n" + ctx.t("🆘 The grid worker has been alerted at once.")
    ctx.reply(text)


async def _list(ctx: Ctx) -> None:
    rows = await services.mine(ctx.uow, actor=ctx.actor)
    kinds = await services.offers(ctx.uow, actor=ctx.actor)
    lines = [ctx.t("You offer: {list}. Change with /services offer 助医 助行 …",
                   list=", ".join(SHORT[k] for k in kinds) or ctx.t("nothing"))]
    buttons: Keyboard = []
    if not rows:
        lines.append(ctx.t("No open services for you. Ask one: /services ask PERSON SERVICE MM-DD HH:MM"))
    for v in rows:
        where = _where(ctx.lang, v.__dict__) if v.alias else ctx.t("building {b}", b=h(v.building))
        state = ctx.t(STATE_NAMES[v.state]) if v.state in STATE_NAMES else v.state
        lines.append(f"• S-{v.number} {SHORT[v.kind]} {where} — {local(v.wanted_at, v.tz):%m-%d %H:%M} ({state})")
        if v.state == services.OPEN and not v.alias:
            buttons.append([ctx.button(ctx.t("🙋 Claim S-{n}", n=v.number), "sc", v.id)])
        elif v.state == services.CLAIMED and v.alias:
            buttons.append([ctx.button(ctx.t("✅ S-{n} done", n=v.number), "sd", v.id)])
    ctx.show("\n".join(lines), buttons)


@router.callback("sc")
async def claim_press(ctx: Ctx) -> None:
    rid = int_arg(ctx.args[0]) if ctx.args else None
    if rid is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    try:
        v = await services.claim(ctx.uow, actor=ctx.actor, request_id=rid, now=ctx.now)
    except (ServiceRefused, Forbidden, NotFound) as err:
        text = ctx.t(REFUSALS[err.reason]) if isinstance(err, ServiceRefused) else \
            ctx.t("You cannot claim this service (declare it first: /services offer).")
        ctx.toast(text, alert=True)
        return
    ctx.toast(ctx.t("Thank you! The details are in your private chat."))
    ctx.reply(ctx.t("🙋 You claimed S-{n}: {service} for {where}, {when}. When it is done, press:", n=v.number,
                    service=_service(ctx.lang, v.kind), where=_where(ctx.lang, v.__dict__),
                    when=f"{local(v.wanted_at, v.tz):%m-%d %H:%M}"),
              [[ctx.button(ctx.t("✅ S-{n} done", n=v.number), "sd", v.id)]], chat_id=ctx.actor.user.tg_id)


@router.callback("sd")
async def done_press(ctx: Ctx) -> None:
    rid = int_arg(ctx.args[0]) if ctx.args else None
    if rid is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    await ctx.set_state("service_done", "note", {"request_id": rid})
    ctx.reply(ctx.t("Please send a short note on how it went (text), or /cancel."))


@router.flow("service_done")
async def done_note(ctx: Ctx) -> None:
    assert ctx.state is not None
    text = (ctx.message.text or "").strip()
    if not text:
        ctx.reply(ctx.t("Please send the note as text (or /cancel)."))
        return
    if len(text) > 500:
        ctx.reply(ctx.t("The note can have at most {limit} characters.", limit=500))
        return
    v = await services.done(ctx.uow, actor=ctx.actor, sealer=ctx.core.sealer,
                            request_id=int(ctx.state.data["request_id"]), note=text, now=ctx.now)
    await ctx.clear_state()
    ctx.reply(ctx.t("✅ S-{n} marked done. Thank you!", n=v.number))


@router.callback("sf")
async def confirm_press(ctx: Ctx) -> None:
    rid = int_arg(ctx.args[0]) if ctx.args else None
    if rid is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    try:
        v = await services.confirm(ctx.uow, actor=ctx.actor, request_id=rid, now=ctx.now)
    except ServiceRefused as err:
        ctx.toast(ctx.t(REFUSALS[err.reason]), alert=True)
        return
    ctx.edit(ctx.t("👍 S-{n} confirmed. Thank you!", n=v.number))


__all__ = ["NOTICES", "RISK_ALIASES", "router"]  # RISK_ALIASES: what people type for a colour
