"""/property (#15, F-10): the monthly property evaluation in a private chat.

Admins and committee members see this month's property projects with their progress and score one: one item per
screen (the indicator's wording, its weight and rule; buttons for full/partial/none or the count of places; a
note or a photo as evidence; ◀ back, skip ▶; progress "12/39"), resumable (what is scored stays), then the
overview and ✅ submit (once: compare-and-set in flows/property/evaluation.py). Admins also add projects, link the
buildings they serve and make members of the company `property_staff` of a project."""

from __future__ import annotations

from typing import Any

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tn
from bot.core.types import Button
from bot.handlers import property_notices
from bot.handlers.common import grid, int_arg
from bot.render import h
from flows.errors import AlreadyDone, Expired, FlowError, Forbidden, Invalid, NotFound
from flows.membership import parse_building_range
from flows.property import evaluation as ev
from flows.property import projects as pp
from flows.property.indicators import Indicators, Item
from flows.roles import Perm

router = Router()
P = "pm"
FLOW = "property"
GRADE_LABELS = {"full": N_("✅ Done ({points})"), "partial": N_("◐ Partly ({points})"), "none": N_("✖ Not done (0)")}
UNITS = {"place": N_("place"), "time": N_("time"), "missing item": N_("missing item")}
COUNTS = (0, 1, 2, 3, 4, 5)


def explain_property(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, Forbidden):
        return ctx.t("The property evaluation is for the community's admins and committee members; the company's "
                     "members use /property_reply.")
    if isinstance(err, AlreadyDone) and err.what == "evaluation":
        return ctx.t("This month's evaluation was already submitted; it cannot be changed any more.")
    if isinstance(err, AlreadyDone) and err.what == "property_staff":
        return ctx.t("This member is already one of that company's members.")
    if isinstance(err, Expired) and err.what == "property":
        return ctx.t("This step has expired. Please send /property again.")
    if isinstance(err, NotFound) and err.what == "property_project":
        return ctx.t("There is no property project no. {key}. /property lists them.", key=h(str(err.key)))
    if isinstance(err, NotFound) and err.what == "building":
        return ctx.t("Building {key} is not in your community.", key=h(str(err.key)))
    if isinstance(err, Invalid):
        if err.field == "building" and err.reason == "served":
            return ctx.t("Building {building} is already served by property project no. {project}.",
                         building=h(str(err.details.get("building"))), project=err.details.get("project"))
        if err.field in ("company", "estate", "alias", "households", "line"):
            return _add_usage(ctx)
        if err.field == "items":
            count = int(err.details.get("count") or 0)  # type: ignore[call-overload]
            return tn(ctx.lang, "{n} item is not scored yet ({first}). Please score every item first.",
                      "{n} items are not scored yet (the first: {first}). Please score every item first.", count,
                      first=err.details.get("first"))
        if err.field == "count":
            return ctx.t("Please send a whole number of places from 0 to {limit}.", limit=err.details.get("limit"))
        if err.field == "note":
            return ctx.t("Too long: at most {limit} characters.", limit=err.details.get("limit"))
    return None


EXPLAIN = explain_property
NOTICES = property_notices.NOTICES  # the monthly ranking's group posts


def _add_usage(ctx: Ctx) -> str:
    return ctx.t("Send the project in one line: company; estate; households; other names the 12345 hotline uses "
                 "(optional, separated by commas). For example:\n海河物业; 锦绣苑; 500; 锦绣苑小区, 锦秀园")


# ---------------------------------------------------------------- the menu


@router.command("property", where=PRIVATE, description=N_("Property evaluation: score the property projects"),
                perm=Perm.PROPERTY_SCORE)
async def property_cmd(ctx: Ctx) -> None:
    ctx.actor.require(Perm.PROPERTY_SCORE)
    await ctx.clear_state()
    await _menu(ctx)


async def _menu(ctx: Ctx, *, edit: bool = False) -> None:
    community = ctx.actor.home()
    month = ev.month_of(ctx.now, community.timezone)
    ind = ev.indicators_for(community)
    projects = await pp.list_projects(ctx.uow, community_id=community.id or 0)
    done = await ev.progress(ctx.uow, community_id=community.id or 0, month=month)
    lines = [ctx.t("🏢 <b>Property evaluation</b> · {month}", month=month)]
    buttons: list[list[Button]] = []
    for p in projects:
        state, scored = done.get(p.id or 0, ("open", 0))
        status = ctx.t("submitted") if state != "open" else f"{scored}/{len(ind.items)}"
        lines.append(ctx.t("{number}. {estate} ({company}), {households} households — {status}", number=p.number,
                           estate=h(p.estate), company=h(p.company), households=p.households, status=status))
        if state == "open":
            buttons.append([ctx.button(ctx.t("📝 Score no. {number}", number=p.number), P, "s", p.number)])
    if not projects:
        lines.append(ctx.t("No property project yet."))
    if ctx.actor.can(Perm.PROPERTY_SETUP):
        buttons.append([ctx.button(ctx.t("➕ Add project"), P, "a")])
        if projects:
            buttons.append([ctx.button(ctx.t("🏢 Link buildings"), P, "lb"),
                            ctx.button(ctx.t("👤 Company member"), P, "gs")])
    (ctx.show if edit else ctx.reply)("\n".join(lines), buttons or None)


# ---------------------------------------------------------------- one item per screen


def _rule(ctx: Ctx, item: Item) -> str:
    if item.rule.kind == "per":
        unit = ctx.t(UNITS[item.rule.unit]) if item.rule.unit in UNITS else h(item.rule.unit)
        return ctx.t("−{per:g} per {unit}, at most {weight:g}", per=item.rule.per, unit=unit, weight=item.weight)
    return ctx.t("done {weight:g} / partly {half:g} / not done 0", weight=item.weight, half=item.weight / 2)


async def _item(ctx: Ctx, ind: Indicators, evaluation_id: int, code: str) -> None:
    sheet = await ev.sheet(ctx.uow, actor=ctx.actor, evaluation_id=evaluation_id)
    item = ind.item(code)
    if item is None:
        raise NotFound("item", code)
    codes = [i.code for i in ind.items]
    at = codes.index(code)
    category = next(c for c in ind.categories if c.key == item.category)
    lines = [ctx.t("📝 <b>{estate}</b> · {month} · {done}/{total}", estate=h(sheet.project.estate),
                   month=sheet.evaluation.month, done=len(sheet.scores), total=len(codes)),
             f"<b>{h(category.name(ctx.lang))}</b>", f"{code} {h(item.name(ctx.lang))}",
             ctx.t("Weight {weight:g} · {rule}", weight=item.weight, rule=_rule(ctx, item))]
    row = sheet.scores.get(code)
    if row is not None:
        lines.append(ctx.t("Scored: {points:g}", points=row.points)
                     + (f" · {h(row.note)}" if row.note else "") + (" · 📷" if row.photo else ""))
    pending = _pending(ctx, evaluation_id, code)
    if pending:
        lines.append(ctx.t("📎 Evidence waiting for the score: {note}", note=h(pending["note"]))
                     + (" · 📷" if pending["photo"] else ""))
    e = evaluation_id
    if item.rule.kind == "per":
        buttons = grid([ctx.button(str(n), P, "c", e, code, n) for n in COUNTS]
                       + [ctx.button(ctx.t("more…"), P, "cm", e, code)], 4)
    else:
        buttons = [[ctx.button(ctx.t(GRADE_LABELS[g], points=f"{item.rule.points(item.weight, grade=g):g}"),
                               P, "g", e, code, g)] for g in ("full", "partial", "none")]
    nav = [ctx.button(ctx.t("📎 Note or photo"), P, "e", e, code)]
    buttons.append(nav)
    step: list[Button] = []
    if at > 0:
        step.append(ctx.button(ctx.t("◀ Back"), P, "i", e, codes[at - 1]))
    if at + 1 < len(codes):
        step.append(ctx.button(ctx.t("Skip ▶"), P, "i", e, codes[at + 1]))
    step.append(ctx.button(ctx.t("📋 Overview"), P, "v", e))
    buttons.append(step)
    ctx.show("\n".join(lines), buttons)


async def _next(ctx: Ctx, ind: Indicators, evaluation_id: int, after: str | None) -> None:
    sheet = await ev.sheet(ctx.uow, actor=ctx.actor, evaluation_id=evaluation_id)
    code = sheet.next_code(ind, after)
    if code is None:
        await _overview(ctx, ind, evaluation_id)
    else:
        await _item(ctx, ind, evaluation_id, code)


async def _overview(ctx: Ctx, ind: Indicators, evaluation_id: int) -> None:
    sheet = await ev.sheet(ctx.uow, actor=ctx.actor, evaluation_id=evaluation_id)
    points = sum(r.points for r in sheet.scores.values())
    lines = [ctx.t("📋 <b>{estate}</b> · {month} · {done}/{total} scored, {points:g} points so far",
                   estate=h(sheet.project.estate), month=sheet.evaluation.month, done=len(sheet.scores),
                   total=len(ind.items), points=points)]
    for item, row in ev.deductions(ind, sheet):
        lines.append(f"• {item.code} {h(item.name(ctx.lang))}: {row.points:g}/{item.weight:g}"
                     + (f" · {h(row.note)}" if row.note else "") + (" · 📷" if row.photo else ""))
    missing = [i.code for i in ind.items if i.code not in sheet.scores]
    buttons: list[list[Button]] = []
    if missing:
        lines.append(ctx.t("Not scored yet: {codes}", codes=", ".join(missing[:12]) + (" …" if len(missing) > 12
                                                                                      else "")))
        buttons.append([ctx.button(ctx.t("▶ Continue"), P, "i", evaluation_id, missing[0])])
    else:
        buttons.append([ctx.button(ctx.t("✅ Submit"), P, "ok", evaluation_id)])
    buttons.append([ctx.button(ctx.t("✖ Close"), P, "x")])
    ctx.show("\n".join(lines), buttons)


# ---------------------------------------------------------------- typed answers


@router.flow(FLOW)
async def dialog(ctx: Ctx) -> None:
    if ctx.state is None:
        raise Expired("property")
    data: dict[str, Any] = dict(ctx.state.data)
    step, msg = ctx.state.step, ctx.message
    ind = ev.indicators_for(ctx.actor.home())
    if step == "evidence":
        photo = msg.photo_file_id[:255] if msg.photo_file_id else None
        note = msg.text or ""
        if not note and photo is None:
            ctx.reply(ctx.t("Please send a note or a photo (with a caption if you like)."))
            return
        kept = await ev.add_evidence(ctx.uow, actor=ctx.actor, ind=ind, evaluation_id=int(data["e"]),
                                     code=data["code"], note=note, photo=photo, now=ctx.now)
        if kept is None:  # not scored yet: the evidence waits for the score (a button below)
            await ctx.set_state(FLOW, "pending", {**data, "note": note, "photo": photo})
            ctx.reply(ctx.t("📎 Evidence kept: it is saved with the score you give now."))
        else:
            await ctx.clear_state()
            ctx.reply(ctx.t("📎 Evidence kept."))
        await _item(ctx, ind, int(data["e"]), data["code"])
    elif step == "count":
        count = int_arg(msg.text)
        if count is None:
            raise Invalid("count", "out_of_range", limit=ev.MAX_COUNT)
        await ev.score_item(ctx.uow, actor=ctx.actor, ind=ind, evaluation_id=int(data["e"]), code=data["code"],
                            count=count, now=ctx.now, **_pending(ctx, int(data["e"]), data["code"]))
        await ctx.clear_state()
        await _next(ctx, ind, int(data["e"]), data["code"])
    elif step == "add":
        parts = [p.strip() for p in msg.text.replace("；", ";").split(";")]
        households = int_arg(parts[2]) if len(parts) >= 3 else None
        if len(parts) < 3 or len(parts) > 4 or households is None:
            raise Invalid("line", "format")
        aliases = parts[3].replace("，", ",").split(",") if len(parts) == 4 else []
        project = await pp.add_project(ctx.uow, actor=ctx.actor, company=parts[0], estate=parts[1],
                                       households=households, aliases=aliases, now=ctx.now)
        await ctx.clear_state()
        ctx.reply(ctx.t("✅ Property project no. {number}: {estate} ({company}), {households} households. Now link "
                        "the buildings it serves.", number=project.number, estate=h(project.estate),
                        company=h(project.company), households=project.households),
                  [[ctx.button(ctx.t("🏢 Link buildings"), P, "lp", project.number)]])
    elif step == "link":
        labels = parse_building_range(msg.text.replace("，", ",").replace(" ", ","))
        linked = await pp.link_buildings(ctx.uow, actor=ctx.actor, number=int(data["n"]), labels=labels, now=ctx.now)
        await ctx.clear_state()
        ctx.reply(ctx.t("✅ Project no. {number} now serves buildings: {labels}.", number=data["n"],
                        labels=", ".join(labels)) if linked or labels else ctx.t("Nothing changed."))
    elif step == "grant":
        member_id = int_arg(msg.text)
        if member_id is None:
            ctx.reply(ctx.t("Please send the member's number (see /members)."))
            return
        project = await pp.grant_staff(ctx.uow, actor=ctx.actor, number=int(data["n"]), member_id=member_id,
                                       now=ctx.now)
        await ctx.clear_state()
        ctx.reply(ctx.t("✅ Member no. {member} is now a member of {company} for project no. {number}; they are "
                        "told, and see the scores with /property_reply.", member=member_id,
                        company=h(project.company), number=project.number))
    else:
        ctx.reply(ctx.t("Please tap one of the buttons above, or send /cancel to stop."))


def _pending(ctx: Ctx, evaluation_id: int, code: str) -> dict[str, Any]:
    """Evidence sent for this item before its score (kept in the conversation), as score_item's note/photo."""
    data = ctx.state.data if ctx.state is not None and ctx.state.flow == FLOW else {}
    if data.get("e") != evaluation_id or data.get("code") != code or ("note" not in data and "photo" not in data):
        return {}
    return {"note": data.get("note") or "", "photo": data.get("photo")}


# ---------------------------------------------------------------- buttons


@router.callback(P)
async def pressed(ctx: Ctx) -> None:
    action = str(ctx.args[0]) if ctx.args else ""
    if action == "x":
        await ctx.clear_state()
        ctx.show(ctx.t("Closed. /property opens it again; what you scored is kept."))
        return
    if action in ("a", "lb", "gs", "lp", "gp"):
        await _setup(ctx, action)
        return
    ind = ev.indicators_for(ctx.actor.home())
    if action == "m":
        await _menu(ctx, edit=True)
    elif action == "s":
        sheet = await ev.open_sheet(ctx.uow, actor=ctx.actor, number=int(ctx.args[1]), now=ctx.now)
        if sheet.evaluation.state != "open":
            raise AlreadyDone("evaluation")
        await _next(ctx, ind, sheet.evaluation.id or 0, None)
    elif action == "i":
        await _item(ctx, ind, int(ctx.args[1]), str(ctx.args[2]))
    elif action in ("g", "c"):
        e, code = int(ctx.args[1]), str(ctx.args[2])
        evidence = _pending(ctx, e, code)
        if action == "g":
            await ev.score_item(ctx.uow, actor=ctx.actor, ind=ind, evaluation_id=e, code=code,
                                grade=str(ctx.args[3]), now=ctx.now, **evidence)
        else:
            await ev.score_item(ctx.uow, actor=ctx.actor, ind=ind, evaluation_id=e, code=code,
                                count=int(ctx.args[3]), now=ctx.now, **evidence)
        if evidence:
            await ctx.clear_state()
        await _next(ctx, ind, e, code)
    elif action in ("e", "cm"):
        e, code = int(ctx.args[1]), str(ctx.args[2])
        await ev.sheet(ctx.uow, actor=ctx.actor, evaluation_id=e)
        ctx.actor.require(Perm.PROPERTY_SCORE)
        kept = _pending(ctx, e, code)  # evidence waiting for this item's score rides along to the typed count
        await ctx.set_state(FLOW, "evidence" if action == "e" else "count", {"e": e, "code": code, **kept})
        ctx.reply(ctx.t("Send a note, or a photo (with a caption if you like), as evidence for item {code}.",
                        code=code) if action == "e"
                  else ctx.t("How many places for item {code}? Send a number.", code=code))
    elif action == "v":
        await _overview(ctx, ind, int(ctx.args[1]))
    elif action == "ok":
        points = await ev.submit(ctx.uow, actor=ctx.actor, ind=ind, evaluation_id=int(ctx.args[1]), now=ctx.now)
        ctx.show(ctx.t("✅ Submitted: {points:g} of {total:g} points. The company's members are told and may reply "
                       "to each deduction before the ranking is published.", points=points, total=ind.total))
    else:
        raise Expired("property")


async def _setup(ctx: Ctx, action: str) -> None:
    ctx.actor.require(Perm.PROPERTY_SETUP)
    if action == "a":
        await ctx.set_state(FLOW, "add", {})
        ctx.reply(_add_usage(ctx))
        return
    if action in ("lb", "gs"):
        projects = await pp.list_projects(ctx.uow, community_id=ctx.actor.home().id or 0)
        ctx.show(ctx.t("Which project?"), grid([ctx.button(f"{p.number}. {p.estate}", P,
                                                           "lp" if action == "lb" else "gp", p.number)
                                                for p in projects], 2))
        return
    number = int(ctx.args[1])
    project = await pp.get_project(ctx.uow, community_id=ctx.actor.home().id or 0, number=number)
    if action == "lp":
        await ctx.set_state(FLOW, "link", {"n": number})
        ctx.reply(ctx.t("Which buildings does {estate} serve? Send their numbers, e.g. 1-6, 8",
                        estate=h(project.estate)))
    else:
        await ctx.set_state(FLOW, "grant", {"n": number})
        ctx.reply(ctx.t("Send the member number (see /members) of the {company} employee for {estate}.",
                        company=h(project.company), estate=h(project.estate)))
