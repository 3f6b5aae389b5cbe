"""/settings (admins, private): the community's settings — the daily check-ins' times and ladder, the quiet hours
of group posts, the requests' time limits, how often key persons are visited, the property evaluation's survey
and deadlines, the micro spaces' overdue reminders — seen with their defaults and changed one at a time.

`/settings` → a section → each setting with its value ("default" or "this community's") → ✏ → type the new
value (checked: a time like 07:30, or a number within range) or ↺ back to the default, ✖ cancel. Every change
is audited with its old and new value (flows/community_settings.py decides what is valid)."""

from __future__ import annotations

from typing import Any

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tn
from bot.handlers.common import grid, int_arg
from bot.render import h
from flows import community_settings as cs
from flows.errors import FlowError, Invalid, NotFound
from flows.roles import Perm

router = Router()
FLOW = "settings"

SECTION_NAMES = {"checkin": N_("Daily check-ins"), "quiet": N_("Quiet hours of group posts"),
                 "requests": N_("Time limits of requests"), "visits": N_("Visits to key persons"),
                 "property": N_("Property evaluation"), "spaces": N_("Micro spaces and jobs")}
LABELS = {
    "checkin.morning": N_("Morning check"),
    "checkin.midday": N_("Midday check (red risk, when chosen)"),
    "checkin.evening": N_("Evening check"),
    "checkin.remind_after": N_("Reminder after the prompt"),
    "checkin.backup_after": N_("Backup volunteer after the reminder"),
    "checkin.escalate_after": N_("Grid worker after the backup"),
    "checkin.incident_repeat": N_("An open incident re-alerted every"),
    "checkin.grace": N_("A check due longer ago is reported as missed"),
    "quiet_from": N_("Quiet from"),
    "quiet_until": N_("Quiet until"),
    "clock.hazard.assess": N_("Safety hazard: assess within"),
    "clock.hazard.resolve": N_("Safety hazard: resolve within"),
    "clock.dispute.assess": N_("Dispute: assess within"),
    "clock.dispute.resolve": N_("Dispute: resolve within"),
    "clock.request.assess": N_("Request: assess within"),
    "clock.request.resolve": N_("Request: resolve within"),
    "visits.red": N_("🔴 high risk: a visit every"),
    "visits.yellow": N_("🟡 medium risk: a visit every"),
    "visits.green": N_("🟢 low risk: a visit every"),
    "property_survey_day": N_("Residents' survey sent from day of the month"),
    "property_survey_sample": N_("Survey sample per project (0: every household)"),
    "property_fix_days": N_("Days to fix a deduction"),
    "overdue_reminders": N_("Polite reminders of an overdue tool before the keeper is told"),
}
APPLIES = {
    "now": N_("It applies at once."),
    "next_plan": N_("It applies from the next day not yet planned (a day's checks are planned the evening before)."),
    "next_post": N_("It applies to group posts not yet queued."),
    "next_stage": N_("It applies to requests entering that stage from now on."),
    "next_visit": N_("It applies from each person's next recorded visit."),
    "next_month": N_("It applies from the next monthly evaluation."),
}


def explain_settings(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, Invalid) and err.field == "setting":
        if err.reason == "bad_time":
            return ctx.t("That is not a time. Please send it like 07:30.")
        if err.reason == "bad_number":
            return ctx.t("That is not a number. Please send a number, e.g. 30.")
        if err.reason == "range":
            return ctx.t("Please send a number more than {low} and at most {high}.", low=err.details.get("low"),
                         high=err.details.get("high"))
        if err.reason == "whole":
            return ctx.t("Please send a whole number, e.g. 3.")
        if err.reason == "whole_days":
            return ctx.t("Please send a whole number of days, e.g. 14.")
        if err.reason == "order":
            return ctx.t("The check times must stay in order: morning before midday before evening. Please send "
                         "another time.")
        if err.reason == "empty_quiet":
            return ctx.t("Quiet hours cannot start and end at the same time. Please send another time.")
    if isinstance(err, NotFound) and err.what == "setting":
        return ctx.t("There is no such setting. Send /settings to see them.")
    return None


EXPLAIN = explain_settings


def _value(ctx: Ctx, v: cs.Value) -> str:
    s = v.setting
    if s.kind == "hhmm":
        return str(v.value)
    if s.kind == "minutes":
        return ctx.t("{n} min", n=v.value)
    if s.kind == "days":
        return tn(ctx.lang, "{n} day", "{n} days", int(v.value))
    if s.kind == "count":
        return str(v.value)
    return ctx.t("{n} h", n=v.value)


def _line(ctx: Ctx, v: cs.Value) -> str:
    mark = ctx.t("this community's") if v.own else ctx.t("default")
    return ctx.t("• {label}: <b>{value}</b> <i>({mark})</i>", label=h(ctx.t(LABELS[v.setting.key])),
                 value=h(_value(ctx, v)), mark=mark)


async def _sections(ctx: Ctx) -> None:
    ctx.actor.require(Perm.SETTINGS)
    buttons = grid([ctx.button(ctx.t(SECTION_NAMES[s]), "sg", "s", s) for s in cs.SECTIONS], 1)
    community = ctx.actor.home()
    ctx.show(ctx.t("<b>Settings of {community}</b>\nChoose what to see or change:", community=h(community.name)),
             buttons)


async def _section(ctx: Ctx, section: str, *, note: str = "") -> None:
    ctx.actor.require(Perm.SETTINGS)
    community = ctx.actor.home()
    shown = cs.values(community, section)
    lines = [f"<b>{h(ctx.t(SECTION_NAMES[section]))}</b>", *(_line(ctx, v) for v in shown)]
    buttons = grid([ctx.button("✏ " + ctx.t(LABELS[v.setting.key]), "sg", "e", cs.SETTINGS.index(v.setting))
                    for v in shown], 1)
    buttons.append([ctx.button(ctx.t("◀ Settings"), "sg", "h")])
    ctx.show((note + "\n\n" if note else "") + "\n".join(lines), buttons)


def _ask(ctx: Ctx, v: cs.Value) -> None:
    s = v.setting
    if s.kind == "hhmm":
        how = ctx.t("Send the new time, e.g. 07:30.")
    elif s.kind == "minutes":
        how = ctx.t("Send the new number of minutes (more than {low}, at most {high}).", low=int(s.low),
                    high=int(s.high))
    elif s.kind == "days":
        how = ctx.t("Send the new number of days (1 to {high}).", high=int(s.high))
    elif s.kind == "count":
        how = ctx.t("Send a whole number from {low} to {high}.", low=int(s.low) + 1, high=int(s.high))
    else:
        how = ctx.t("Send the new number of hours (more than {low}, at most {high}).", low=int(s.low),
                    high=int(s.high))
    default = cs.Value(s, s.default, False)
    text = "\n".join([ctx.t("<b>{label}</b>: now {value}.", label=h(ctx.t(LABELS[s.key])), value=h(_value(ctx, v))),
                      how, ctx.t(APPLIES[s.applies])])
    index = cs.SETTINGS.index(s)
    ctx.show(text, [[ctx.button(ctx.t("↺ Default ({value})", value=_value(ctx, default)), "sg", "r", index)],
                    [ctx.button(ctx.t("✖ Cancel"), "sg", "x", s.section)]])


def _setting(ctx: Ctx) -> cs.Setting | None:
    index = int_arg(ctx.args[1]) if len(ctx.args) > 1 else None
    return cs.SETTINGS[index] if index is not None and 0 <= index < len(cs.SETTINGS) else None


def _done_note(ctx: Ctx, v: cs.Value) -> str:
    return ctx.t("✅ {label}: {value}. {applies}", label=h(ctx.t(LABELS[v.setting.key])), value=h(_value(ctx, v)),
                 applies=ctx.t(APPLIES[v.setting.applies]))


@router.command("settings", where=PRIVATE, description=N_("The community's settings: check-in times, quiet hours, "
                                                            "time limits"), perm=Perm.SETTINGS)
async def settings_command(ctx: Ctx) -> None:
    await _sections(ctx)


@router.callback("sg")
async def settings_press(ctx: Ctx) -> None:
    ctx.actor.require(Perm.SETTINGS)
    action = ctx.args[0] if ctx.args else ""
    if action == "s" and len(ctx.args) == 2 and ctx.args[1] in cs.SECTIONS:
        await _section(ctx, ctx.args[1])
    elif action == "e" and (setting := _setting(ctx)) is not None:
        await ctx.set_state(FLOW, "value", {"key": setting.key})
        _ask(ctx, next(v for v in cs.values(ctx.actor.home(), setting.section) if v.setting is setting))
    elif action == "r" and (setting := _setting(ctx)) is not None:
        await ctx.clear_state()
        done = await cs.set_value(ctx.uow, actor=ctx.actor, key=setting.key, text=None, now=ctx.now)
        await _section(ctx, setting.section, note=_done_note(ctx, done))
    elif action == "x" and len(ctx.args) == 2 and ctx.args[1] in cs.SECTIONS:
        await ctx.clear_state()
        await _section(ctx, ctx.args[1])
    elif action == "h":
        await _sections(ctx)
    else:
        ctx.toast(ctx.t("This button is not valid."), alert=True)


@router.flow(FLOW)
async def settings_value(ctx: Ctx) -> None:
    state = ctx.state
    data: dict[str, Any] = state.data if state is not None else {}
    key = str(data.get("key", ""))
    text = (ctx.message.text or "").strip()
    if not text or len(text) > 20:
        raise Invalid("setting", "bad_time" if key in cs.BY_KEY and cs.BY_KEY[key].kind == "hhmm" else "bad_number")
    done = await cs.set_value(ctx.uow, actor=ctx.actor, key=key, text=text, now=ctx.now)
    await ctx.clear_state()
    await _section(ctx, done.setting.section, note=_done_note(ctx, done))
