"""The care ledger (重点人员关爱台账): /person, /pair, /mine, /grid.

Everything here is private-chat only; names, contacts and notes are sealed before they are
stored (also while a dialog is under way) and shown only to the grid worker of the building
and admins. Volunteers see alias, building and room."""

from __future__ import annotations

from typing import Any

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tr
from bot.core.types import Keyboard
from bot.handlers.common import MAX_ARGS, grid, int_arg, pager
from bot.render import h
from flows import care, membership
from flows.care import Draft
from flows.clock import local
from flows.errors import FlowError, Invalid, NotFound
from flows.roles import Perm

router = Router()
FLOW = "person"

GROUP_NAMES = {"solitary": N_("solitary elderly"), "empty_nest": N_("empty-nest elderly"),
               "disabled": N_("person with disability"), "low_income": N_("low-income household"),
               "very_old": N_("very old (80+)")}
SERVICE_NAMES = {"medical": N_("medical help"), "cleaning": N_("cleaning help"), "mobility": N_("mobility help"),
                 "emergency": N_("emergency help")}
RISK_NAMES = {"red": N_("red (high risk)"), "yellow": N_("yellow (some risk)"), "green": N_("green (stable)")}
RISK_EMOJI = {"red": "🔴", "yellow": "🟡", "green": "🟢"}
FIELD_NAMES = {"building": N_("building"), "room": N_("room"), "alias": N_("alias"), "name": N_("real name"),
               "contact": N_("emergency contact"), "notes": N_("notes"), "groups": N_("groups"), "risk": N_("risk colour"), "services": N_("services")}
PAIR_ROLES = {"primary": N_("primary volunteer"), "backup": N_("backup volunteer")}


# ---------------------------------------------------------------- words


def _names(lang: str, codes: Any, names: dict[str, str]) -> str:
    sep = "、" if lang.startswith("zh") else ", "
    return sep.join(tr(lang, names[c]) for c in codes if c in names) or tr(lang, "—")


def _risk(lang: str, risk: str) -> str:
    return f"{RISK_EMOJI.get(risk, '')} {tr(lang, RISK_NAMES.get(risk, risk))}"


def _place(ctx: Ctx, building: str, room: str) -> str:
    where = ctx.t("Building {label}", label=h(building)) if building else ctx.t("—")
    return f"{where} {h(room)}"


def explain_care(ctx: Ctx, err: FlowError) -> str | None:
    """Our words for the ledger's errors; None for the ones every feature shares."""
    if isinstance(err, Invalid):
        # only the ledger's own fields: other features raise Invalid too, and word it themselves
        limit = err.details.get("limit")
        if err.reason == "too_long" and err.field in FIELD_NAMES:
            return ctx.t("Too long: the {field} can have at most {limit} characters. Please send a shorter one.",
                         field=ctx.t(FIELD_NAMES[err.field]), limit=limit)
        if err.reason == "empty" and err.field in FIELD_NAMES:
            return ctx.t("The {field} cannot be empty. Please send it again.", field=ctx.t(FIELD_NAMES[err.field]))
        if err.reason == "same" and err.field == "backup":
            return ctx.t("The backup volunteer must be another person than the primary volunteer.")
        if err.reason == "not_volunteer":
            return ctx.t("Member no. {id} is not a volunteer. Give them the role first: /grant {id} volunteer",
                         id=err.details.get("member_id"))
        if err.reason == "not_grid_worker":
            return ctx.t("Member no. {id} is not a grid worker. Give them the role first: /grant {id} grid_worker",
                         id=err.details.get("member_id"))
        if err.field == "reason" and err.reason == "unknown":
            return ctx.t("This button is not valid.")
        if err.field == "buildings":
            return ctx.t("Which buildings? For example: /grid add 一网格 1-6")
        return None
    if isinstance(err, NotFound):
        if err.what == "person":
            return ctx.t("There is no key person no. {key} in your ledger. /person list shows the numbers.",
                         key=h(err.key))
        if err.what == "closed_person":
            return ctx.t("No. {key} is not among the persons taken off your ledger. /person closed lists them.",
                         key=h(err.key))
        if err.what == "grid":
            return ctx.t("There is no grid called {key}. /grid shows the grids.", key=h(err.key))
        if err.what == "building":
            return ctx.t("There is no building {key} in your community.", key=h(err.key))
    return None



def _details(ctx: Ctx, *, building: str, room: str, alias: str, name: str, groups: Any, risk: str, services: Any,
             contact: str, notes: str) -> list[str]:
    return [
        ctx.t("Alias: {alias}", alias=h(alias)),
        ctx.t("Where: {place}", place=_place(ctx, building, room)),
        ctx.t("Name: {name}", name=h(name)),
        ctx.t("Groups: {groups}", groups=_names(ctx.lang, groups, GROUP_NAMES)),
        ctx.t("Risk: {risk}", risk=_risk(ctx.lang, risk)),
        ctx.t("Services: {services}", services=_names(ctx.lang, services, SERVICE_NAMES)),
        ctx.t("Emergency contact: {contact}", contact=h(contact) or ctx.t("—")),
        ctx.t("Notes: {notes}", notes=h(notes) or ctx.t("—")),
    ]


# ---------------------------------------------------------------- /person


@router.command("person", where=PRIVATE, description=N_("Key persons of the care ledger (关爱台账)"),
                perm=Perm.PERSONS)
async def person(ctx: Ctx) -> None:
    ctx.actor.require(Perm.PERSONS)
    words = ctx.message.args[:MAX_ARGS].split()
    verb = words[0].lower() if words else ""
    number = int_arg(words[1]) if len(words) > 1 else None
    if verb == "add" and len(words) == 1:
        await _add_start(ctx)
    elif verb == "list" and (len(words) == 1 or number is not None):
        await _list_page(ctx, number or 1)
    elif verb == "show" and number is not None and len(words) == 2:
        await _show_person(ctx, number)
    elif verb == "edit" and number is not None and len(words) == 2:
        await _edit_start(ctx, number)
    elif verb == "close" and number is not None and len(words) == 2:
        await _close_start(ctx, number)
    elif verb == "closed" and (len(words) == 1 or number is not None):
        await _closed_page(ctx, number or 1)
    elif verb == "reopen" and number is not None and len(words) == 2:
        await _reopen(ctx, number)
    else:
        ctx.reply(ctx.t("Usage: /person add · /person list [PAGE] · /person show NO · /person edit NO · "
                        "/person close NO · /person closed [PAGE] · /person reopen NO"),
                  [[ctx.button(ctx.t("➕ New key person"), "pa", "new"), ctx.button(ctx.t("📋 List"), "pl", 1)]])


# ---- add: a dialog, nothing is written before ✅ Save


async def _add_start(ctx: Ctx) -> None:
    buildings = await care.manageable_buildings(ctx.uow, actor=ctx.actor)
    if not buildings:
        ctx.show(ctx.t("No building is in your grid yet. An admin sets up grids with /grid."))
        return
    await ctx.set_state(FLOW, "building", Draft().to_dict())
    buttons = grid([ctx.button(ctx.t("Building {label}", label=b.label), "pa", "b", b.id or 0)
                    for b in buildings[:40]], 4)
    buttons.append([ctx.button(ctx.t("✖ Cancel"), "pa", "x")])
    ctx.show(ctx.t("<b>New key person</b>\nWhich building does the person live in?\n"
                     "(Send /cancel at any time to stop; nothing is saved before the last step.)"), buttons)


async def _label(ctx: Ctx, draft: Draft) -> str:
    return (await care.check_building(ctx.uow, actor=ctx.actor, building_id=draft.building_id)).label


async def _ask(ctx: Ctx, step: str, draft: Draft, *, new_message: bool = False) -> None:
    """Move the dialog to `step` and ask its question."""
    await ctx.set_state(FLOW, step, draft.to_dict())
    cancel = ctx.button(ctx.t("✖ Cancel"), "pa", "x")
    buttons: Keyboard = []
    if step == "room":
        label = await _label(ctx, draft)
        text = ctx.t("Building {label}. Which room? For example 2-401 (at most 20 characters).",
                     label=h(label))
    elif step == "alias":
        label = await _label(ctx, draft)
        suggestion = care.suggest_alias(label, draft.room)
        text = ctx.t("Which alias should the volunteers see? For example “{suggestion} 李奶奶” "
                     "(at most 40 characters, no full name: it is shown to volunteers and in alerts).",
                     suggestion=h(suggestion))
        buttons.append([ctx.button(ctx.t("Use “{suggestion}”", suggestion=suggestion[:20]), "pa", "as")])
    elif step == "name":
        text = ctx.t("The person's real name (at most 40 characters). It is stored encrypted; only the grid "
                     "worker and admins can see it.")
    elif step == "groups":
        text = ctx.t("Which groups does the person belong to? Tap to mark, then “Done”.")
        buttons += grid([ctx.button(("✅ " if c in draft.groups else "⬜ ") + ctx.t(GROUP_NAMES[c]), "pa", "g", c)
                         for c in care.GROUPS], 2)
        buttons.append([ctx.button(ctx.t("Done ▶"), "pa", "gd")])
    elif step == "risk":
        text = ctx.t("Risk colour? Red persons also get a midday check.")
        buttons += [[ctx.button(_risk(ctx.lang, r), "pa", "r", r)] for r in care.RISKS]
    elif step == "services":
        text = ctx.t("Which services does the person need? Tap to mark, then “Done”.")
        buttons += grid([ctx.button(("✅ " if c in draft.services else "⬜ ") + ctx.t(SERVICE_NAMES[c]), "pa", "s", c)
                         for c in care.SERVICES], 2)
        buttons.append([ctx.button(ctx.t("Done ▶"), "pa", "sd")])
    elif step == "contact":
        text = ctx.t("Emergency contact: name and phone number (at most 60 characters), or tap “Skip”.")
        buttons.append([ctx.button(ctx.t("Skip"), "pa", "k")])
    elif step == "notes":
        text = ctx.t("Notes for the grid worker (at most 500 characters), or tap “Skip”.")
        buttons.append([ctx.button(ctx.t("Skip"), "pa", "k")])
    else:  # confirm
        s = ctx.core.sealer
        label = await _label(ctx, draft)
        lines = [ctx.t("<b>Please check and save</b>")] + _details(
            ctx, building=label, room=draft.room, alias=draft.alias, name=s.open(draft.name_enc),
            groups=draft.groups, risk=draft.risk, services=draft.services, contact=s.open(draft.contact_enc),
            notes=s.open(draft.notes_enc))
        text = "\n".join(lines)
        buttons.append([ctx.button(ctx.t("✅ Save"), "pa", "ok"), cancel])
        if new_message or not ctx.is_press:
            ctx.reply(text, buttons)
        else:
            ctx.edit(text, buttons)
        return
    buttons.append([cancel])
    if new_message or not ctx.is_press:
        ctx.reply(text, buttons)
    else:
        ctx.edit(text, buttons)


def _expired(ctx: Ctx) -> None:
    ctx.toast(ctx.t("This dialog has ended. Send /person add to start again."), alert=True)


@router.callback("pa")
async def add_press(ctx: Ctx) -> None:
    action = ctx.args[0] if ctx.args else ""
    if action == "new":
        ctx.actor.require(Perm.PERSONS)
        await _add_start(ctx)
        return
    state = ctx.state
    if state is None or state.flow != FLOW or state.step == "edit":
        _expired(ctx)
        return
    draft = Draft.from_dict(state.data)
    step = state.step
    if action == "x":
        await ctx.clear_state()
        ctx.edit(ctx.t("Cancelled, nothing was saved."))
    elif action == "b" and step == "building" and len(ctx.args) == 2:
        building = await care.check_building(ctx.uow, actor=ctx.actor, building_id=int_arg(ctx.args[1]))
        draft.building_id = building.id
        await _ask(ctx, "room", draft)
    elif action == "as" and step == "alias":
        label = (await care.check_building(ctx.uow, actor=ctx.actor, building_id=draft.building_id)).label
        draft.alias = care.suggest_alias(label, draft.room)
        await _ask(ctx, "name", draft, new_message=True)
    elif action == "g" and step == "groups" and len(ctx.args) == 2 and ctx.args[1] in care.GROUPS:
        code = ctx.args[1]
        draft.groups = [c for c in care.GROUPS if (c in draft.groups) != (c == code)]
        await _ask(ctx, "groups", draft)
    elif action == "gd" and step == "groups":
        await _ask(ctx, "risk", draft)
    elif action == "r" and step == "risk" and len(ctx.args) == 2 and ctx.args[1] in care.RISKS:
        draft.risk = ctx.args[1]
        await _ask(ctx, "services", draft)
    elif action == "s" and step == "services" and len(ctx.args) == 2 and ctx.args[1] in care.SERVICES:
        code = ctx.args[1]
        draft.services = [c for c in care.SERVICES if (c in draft.services) != (c == code)]
        await _ask(ctx, "services", draft)
    elif action == "sd" and step == "services":
        await _ask(ctx, "contact", draft)
    elif action == "k" and step == "contact":
        draft.contact_enc = ""
        await _ask(ctx, "notes", draft, new_message=True)
    elif action == "k" and step == "notes":
        draft.notes_enc = ""
        await _ask(ctx, "confirm", draft, new_message=True)
    elif action == "ok" and step == "confirm":
        saved = await care.add_person(ctx.uow, actor=ctx.actor, sealer=ctx.core.sealer, draft=draft, now=ctx.now)
        await ctx.clear_state()
        ctx.edit(ctx.t("✅ Saved as key person no. {id}: {alias}. Now pair a primary and a backup volunteer.",
                       id=saved.id, alias=h(saved.alias)),
                 [[ctx.button(ctx.t("🤝 Pair volunteers"), "pp", saved.id or 0)]])
    else:
        _expired(ctx)


@router.flow(FLOW)
async def person_text(ctx: Ctx) -> None:
    """Typed text during the add or edit dialog."""
    state = ctx.state
    assert state is not None
    text = ctx.message.text
    if state.step == "edit":
        await _edit_text(ctx, state.data, text)
        return
    draft = Draft.from_dict(state.data)
    sealer = ctx.core.sealer
    if state.step == "building":
        community_id = ctx.actor.community.id if ctx.actor.community else 0
        match = await membership.building_by_label(ctx.uow, community_id=community_id or 0, label=text[:40])
        if match is not None:
            draft.building_id = (await care.check_building(ctx.uow, actor=ctx.actor, building_id=match.id)).id
            await _ask(ctx, "room", draft)
            return
    elif state.step in ("room", "alias"):
        setattr(draft, state.step, care.clean(state.step, text))
        await _ask(ctx, "alias" if state.step == "room" else "name", draft)
        return
    elif state.step in ("name", "contact", "notes"):
        setattr(draft, care.SEALED[state.step], sealer.seal(care.clean(state.step, text)))
        await _ask(ctx, {"name": "groups", "contact": "notes", "notes": "confirm"}[state.step], draft)
        return
    ctx.reply(ctx.t("Please tap one of the buttons above, or send /cancel to stop."))


# ---- show, list


async def _show_person(ctx: Ctx, person_id: int) -> None:
    v = await care.show_person(ctx.uow, actor=ctx.actor, sealer=ctx.core.sealer, person_id=person_id, now=ctx.now)
    lines = [ctx.t("<b>Key person no. {id}</b>", id=v.id)] + _details(
        ctx, building=v.building, room=v.room, alias=v.alias, name=v.name, groups=v.groups, risk=v.risk,
        services=v.services, contact=v.contact, notes=v.notes)
    lines.append(ctx.t("Primary volunteer: {name}", name=_vol(ctx, v.primary)))
    lines.append(ctx.t("Backup volunteer: {name}", name=_vol(ctx, v.backup)))
    if v.midday_check:
        lines.append(ctx.t("Extra midday check: yes"))
    ctx.show("\n".join(lines), [[ctx.button(ctx.t("✏️ Edit"), "pe", v.id), ctx.button(ctx.t("🤝 Pair"), "pp", v.id)],
                               [ctx.button(ctx.t("📤 Off the ledger"), "pc", v.id)]])


def _vol(ctx: Ctx, v: care.Volunteer | None) -> str:
    return ctx.t("{name} (no. {id})", name=h(v.name), id=v.member_id) if v else ctx.t("— not paired")


@router.callback("ps")
async def show_press(ctx: Ctx) -> None:
    await _show_person(ctx, (int_arg(ctx.args[0]) if ctx.args else None) or 0)


async def _list_page(ctx: Ctx, page_no: int) -> None:
    page = await care.list_persons(ctx.uow, actor=ctx.actor, page=page_no, now=ctx.now)
    if page.total == 0:
        ctx.show(ctx.t("No key persons in your ledger yet. Add one with /person add."))
        return
    lines = [ctx.t("<b>Key persons</b> ({total})", total=page.total)]
    for p in page.items:
        pairing = "🤝" if p.paired and p.has_backup else ctx.t("⚠️ not paired") if not p.paired else ctx.t("⚠️ no backup")
        lines.append(f"{p.id}. {RISK_EMOJI.get(p.risk, '')} {h(p.alias)} · {_place(ctx, p.building, p.room)} · {pairing}")
    buttons = grid([ctx.button(f"{p.id}", "ps", p.id) for p in page.items], 5)
    if page.pages > 1:
        buttons.append(pager(ctx, page.page, page.pages, "pl"))
    ctx.show("\n".join(lines), buttons)


@router.callback("pl")
async def list_press(ctx: Ctx) -> None:
    await _list_page(ctx, int_arg(ctx.args[0]) or 1 if ctx.args else 1)


# ---- off the ledger, and back


CLOSE_REASONS = {"moved": N_("moved away"), "care_home": N_("moved into a care home"), "deceased": N_("passed away"),
                 "other": N_("other reason")}


async def _close_start(ctx: Ctx, person_id: int) -> None:
    line = await care.person_line(ctx.uow, actor=ctx.actor, person_id=person_id, perm=Perm.PERSONS)
    ctx.show(ctx.t("Take {alias} ({place}) off the care ledger? The daily check-ins stop and the paired volunteers "
                   "are told to stop checking; the record is kept and can be put back. Why?",
                   alias=h(line.alias), place=_place(ctx, line.building, line.room)),
             [[ctx.button(ctx.t(CLOSE_REASONS[r]), "pc", person_id, r)] for r in care.CLOSE_REASONS]
             + [[ctx.button(ctx.t("✖️ Keep on the ledger"), "ps", person_id)]])


@router.callback("pc")
async def close_press(ctx: Ctx) -> None:
    person_id = int_arg(ctx.args[0]) if ctx.args else None
    if person_id is None or len(ctx.args) > 2:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    if len(ctx.args) == 1:
        await _close_start(ctx, person_id)
        return
    person = await care.close_person(ctx.uow, actor=ctx.actor, person_id=person_id, reason=ctx.args[1], now=ctx.now)
    ctx.show(ctx.t("📤 {alias} (no. {id}) is off the ledger: {reason}. No more check-ins; the volunteers were told. "
                   "/person closed lists everyone taken off.", alias=h(person.alias), id=person.id,
                   reason=ctx.t(CLOSE_REASONS[ctx.args[1]])),
             [[ctx.button(ctx.t("↩️ Undo: back on the ledger"), "pr", person.id or 0)]])


async def _reopen(ctx: Ctx, person_id: int) -> None:
    person = await care.reopen_person(ctx.uow, actor=ctx.actor, person_id=person_id, now=ctx.now)
    ctx.show(ctx.t("↩️ {alias} (no. {id}) is back on the ledger; the check-ins start again with the next one, and the "
                   "volunteers were told.", alias=h(person.alias), id=person.id),
             [[ctx.button(ctx.t("Show"), "ps", person.id or 0)]])


@router.callback("pr")
async def reopen_press(ctx: Ctx) -> None:
    person_id = int_arg(ctx.args[0]) if len(ctx.args) == 1 else None
    if person_id is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    await _reopen(ctx, person_id)


async def _closed_page(ctx: Ctx, page_no: int) -> None:
    page = await care.list_persons(ctx.uow, actor=ctx.actor, page=page_no, now=ctx.now, closed=True)
    if page.total == 0:
        ctx.show(ctx.t("Nobody has been taken off the ledger."))
        return
    lines = [ctx.t("<b>Taken off the ledger</b> ({total})", total=page.total)]
    for p in page.items:
        when = local(p.closed_at, ctx.actor.home().timezone).strftime("%Y-%m-%d") if p.closed_at else ""
        lines.append(f"{p.id}. {h(p.alias)} · {_place(ctx, p.building, p.room)} · "
                     f"{ctx.t(CLOSE_REASONS.get(p.closed_reason or '', CLOSE_REASONS['other']))} {when}")
    buttons = grid([ctx.button(ctx.t("↩️ {id}", id=p.id), "pr", p.id) for p in page.items], 4)
    if page.pages > 1:
        buttons.append(pager(ctx, page.page, page.pages, "pk"))
    ctx.show("\n".join(lines), buttons)


@router.callback("pk")
async def closed_page_press(ctx: Ctx) -> None:
    await _closed_page(ctx, int_arg(ctx.args[0]) or 1 if ctx.args else 1)


# ---- edit


async def _edit_start(ctx: Ctx, person_id: int) -> None:
    v = await care.show_person(ctx.uow, actor=ctx.actor, sealer=ctx.core.sealer, person_id=person_id, now=ctx.now)
    buttons = grid([ctx.button(ctx.t(FIELD_NAMES[f]), "pe", v.id, f) for f in care.EDITABLE], 2)
    ctx.show(ctx.t("What should change for no. {id} ({alias})?", id=v.id, alias=h(v.alias)), buttons)


@router.callback("pe")
async def edit_press(ctx: Ctx) -> None:
    person_id = int_arg(ctx.args[0]) if ctx.args else None
    if person_id is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    if len(ctx.args) == 1:
        await _edit_start(ctx, person_id)
        return
    field_name = ctx.args[1]
    v = await care.show_person(ctx.uow, actor=ctx.actor, sealer=ctx.core.sealer, person_id=person_id, now=ctx.now)
    if field_name in care.TEXT_FIELDS:
        await ctx.set_state(FLOW, "edit", {"id": person_id, "field": field_name})
        ctx.edit(ctx.t("Send the new {field} for no. {id} (at most {limit} characters), or /cancel.",
                       field=ctx.t(FIELD_NAMES[field_name]), id=person_id, limit=care.LIMITS[field_name]))
    elif field_name == "building":
        places = await care.manageable_buildings(ctx.uow, actor=ctx.actor)
        ctx.edit(ctx.t("Which building does no. {id} ({alias}) live in now? The room stays {room}; change it next "
                       "if it changed too.", id=person_id, alias=h(v.alias), room=h(v.room) or ctx.t("—")),
                 grid([ctx.button(ctx.t("Building {label}", label=b.label), "pv", person_id, "building", b.id or 0)
                       for b in places], 4) + [[ctx.button(ctx.t("✖️ Keep it"), "ps", person_id)]])
    elif field_name == "risk":
        ctx.edit(ctx.t("Risk colour?"), [[ctx.button(_risk(ctx.lang, r), "pv", person_id, "risk", r)]
                                         for r in care.RISKS])
    elif field_name in ("groups", "services"):
        chosen = list(v.groups if field_name == "groups" else v.services)
        await ctx.set_state(FLOW, "choice", {"id": person_id, "field": field_name, "sel": chosen})
        _choice(ctx, person_id, field_name, chosen)
    else:
        ctx.toast(ctx.t("This button is not valid."), alert=True)


def _choice(ctx: Ctx, person_id: int, field_name: str, chosen: list[str]) -> None:
    codes, names = (care.GROUPS, GROUP_NAMES) if field_name == "groups" else (care.SERVICES, SERVICE_NAMES)
    buttons = grid([ctx.button(("✅ " if c in chosen else "⬜ ") + ctx.t(names[c]), "pv", person_id, field_name, c)
                    for c in codes], 2)
    buttons.append([ctx.button(ctx.t("✅ Save"), "pv", person_id, field_name, "ok")])
    ctx.edit(ctx.t("Tap to mark, then “Save”."), buttons)


@router.callback("pv")
async def value_press(ctx: Ctx) -> None:
    if len(ctx.args) != 3 or int_arg(ctx.args[0]) is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    person_id, field_name, value = int_arg(ctx.args[0]) or 0, ctx.args[1], ctx.args[2]
    if field_name in ("risk", "building"):
        await _save(ctx, person_id, field_name, value)
        return
    state = ctx.state
    if state is None or state.flow != FLOW or state.step != "choice" or state.data.get("id") != person_id \
            or state.data.get("field") != field_name:
        _expired(ctx)
        return
    chosen = list(state.data.get("sel") or [])
    if value == "ok":
        await ctx.clear_state()
        await _save(ctx, person_id, field_name, chosen)
        return
    chosen = [c for c in chosen if c != value] if value in chosen else chosen + [value]
    care.parse_groups(chosen) if field_name == "groups" else care.parse_services(chosen)
    await ctx.set_state(FLOW, "choice", {"id": person_id, "field": field_name, "sel": chosen})
    _choice(ctx, person_id, field_name, chosen)


async def _edit_text(ctx: Ctx, data: dict[str, Any], text: str) -> None:
    field_name = str(data.get("field"))
    if field_name not in care.TEXT_FIELDS:
        await ctx.clear_state()
        return
    await _save(ctx, int(data.get("id") or 0), field_name, text)
    await ctx.clear_state()


async def _save(ctx: Ctx, person_id: int, field_name: str, value: str | list[str]) -> None:
    person = await care.update_person(ctx.uow, actor=ctx.actor, sealer=ctx.core.sealer, person_id=person_id,
                                      field_name=field_name, value=value, now=ctx.now)
    ctx.show(ctx.t("✅ Saved: the {field} of no. {id} ({alias}) was changed.",
                     field=ctx.t(FIELD_NAMES[field_name]), id=person.id, alias=h(person.alias)),
          [[ctx.button(ctx.t("Show"), "ps", person.id or 0)]])


#: The ledger's own wording of its errors (bot/handlers/__init__.py: report_error asks it first).
EXPLAIN = explain_care
