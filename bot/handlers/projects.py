"""The progress list (进度清单): the year's projects, their owners, deadlines, milestones and reports.

/project (admins, private): the year's projects → a project's card → owner (责任人), deadline, milestones,
budget and funding source, a colour mark with a reason. /progress (owners, private): their projects →
report (percent → note → photos → confirm), before/after photos (整改前/整改后), tick a milestone, mark
the project complete."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tn
from bot.core.types import Keyboard
from bot.handlers import project_notices
from bot.handlers.common import MAX_ARGS, grid, int_arg
from bot.handlers.project_notices import (
    COLOUR_NAMES,
    FUNDING_NAMES,
    KIND_NAMES,
    example_day,
    explain_projects,
    funding_name,
    reasons_text,
)
from bot.render import h, role_name
from flows import projects
from flows.errors import AlreadyDone, Forbidden, Invalid
from flows.project_colour import Colour
from flows.projects import ProjectView
from flows.roles import Perm

router = Router()
ADMIN_FLOW, OWNER_FLOW = "project_admin", "project_progress"

PERCENTS = (25, 50, 75, 100)


# ---------------------------------------------------------------- wording


def _day(value: date | None, ctx: Ctx) -> str:
    return value.isoformat() if value else ctx.t("not set")


# ---------------------------------------------------------------- the card


def _card_text(ctx: Ctx, v: ProjectView) -> str:
    lines = [ctx.t("<b>#{number} {title}</b> ({year})", number=v.number, title=h(v.title), year=v.year),
             ctx.t(COLOUR_NAMES[v.verdict.colour])]
    why = reasons_text(ctx.lang, v.verdict, v.override_reason)
    if why:
        lines[-1] += " — " + why
    lines.append(ctx.t("Owner (责任人): {name}", name=h(v.owner_name) if v.owner_name else ctx.t("not set")))
    lines.append(ctx.t("Deadline: {day}", day=_day(v.deadline, ctx)))
    budget = ctx.t("{amount} yuan", amount=f"{v.budget_yuan:,}") if v.budget_yuan is not None else ctx.t("not set")
    lines.append(ctx.t("Budget: {budget} · funding: {funding}", budget=budget, funding=h(funding_name(ctx.lang,
                                                                                                   v.funding))))
    last = projects.today(ctx.actor.community, v.last_report_at).isoformat() \
        if v.last_report_at and ctx.actor.community else ctx.t("none yet")
    lines.append(ctx.t("Progress: {percent}% · last report: {day}", percent=v.percent, day=last))
    lines.append(ctx.t("Photos: {before} before, {after} after", before=v.before_photos, after=v.after_photos))
    if v.milestones:
        lines.append(ctx.t("<b>Milestones</b>"))
        for m in v.milestones:
            if m.done_on:
                lines.append(ctx.t("✅ {title} — due {due}, done {done}", title=h(m.title), due=m.due_on.isoformat(),
                                   done=m.done_on.isoformat()))
            else:
                lines.append(ctx.t("⬜ {title} — due {due}", title=h(m.title), due=m.due_on.isoformat()))
    else:
        lines.append(ctx.t("No milestones yet."))
    return "\n".join(lines)


async def _view(ctx: Ctx, project_id: int) -> ProjectView:
    project = await projects.get(ctx.uow, actor=ctx.actor, project_id=project_id)
    return await projects.view(ctx.uow, project, now=ctx.now)


# ---------------------------------------------------------------- /project (admins)


@router.command("project", where=PRIVATE, description=N_("The year's projects: owners, deadlines, milestones"),
                perm=Perm.PROJECTS)
async def project_command(ctx: Ctx) -> None:
    ctx.actor.require(Perm.PROJECTS)
    await ctx.clear_state()
    await _admin_list(ctx)


async def _admin_list(ctx: Ctx) -> None:
    rows = await projects.list_projects(ctx.uow, actor=ctx.actor, now=ctx.now)
    year = projects.today(ctx.actor.community, ctx.now).year if ctx.actor.community else 0
    if not rows:
        ctx.show(ctx.t("There are no projects for {year} yet: they come from the representatives' ballot.",
                       year=year))
        return
    lines = [ctx.t("<b>Projects of {year} (进度清单)</b>", year=year)]
    buttons: Keyboard = []
    colours = await projects.verdicts(ctx.uow, rows, ctx.now)
    owners = await projects.owner_names(ctx.uow, rows)
    for p in rows:
        emoji = ctx.t(COLOUR_NAMES[colours[p.id or 0].colour]).split()[0]
        owner = owners.get(p.id or 0)
        lines.append(ctx.t("{emoji} #{number} {title} · {percent}% · {owner}", emoji=emoji, number=p.number,
                           title=h(p.title), percent=p.percent, owner=h(owner) if owner else ctx.t("no owner yet")))
        buttons.append([ctx.button(f"#{p.number} {p.title}", "jp", "v", p.id or 0)])
    ctx.show("\n".join(lines), buttons)


async def _admin_card(ctx: Ctx, project_id: int, *, note: str = "", new_message: bool = False) -> None:
    ctx.actor.require(Perm.PROJECTS)
    v = await _view(ctx, project_id)
    mark = (ctx.button(ctx.t("Remove colour mark"), "jp", "u", v.id) if v.verdict.reasons == ("override",)
            else ctx.button(ctx.t("🎨 Mark colour"), "jp", "c", v.id))
    buttons = [[ctx.button(ctx.t("👤 Owner"), "jp", "o", v.id), ctx.button(ctx.t("📅 Deadline"), "jp", "d", v.id)],
               [ctx.button(ctx.t("🗂 Milestones"), "jp", "m", v.id),
                ctx.button(ctx.t("💰 Budget / funding"), "jp", "b", v.id)],
               [mark, ctx.button(ctx.t("📈 Report / photos"), "jg", "v", v.id)],
               [ctx.button(ctx.t("◀ Projects"), "jp", "l")]]
    text = (note + "\n\n" if note else "") + _card_text(ctx, v)
    if new_message or not ctx.is_press:
        ctx.reply(text, buttons)
    else:
        ctx.edit(text, buttons)


async def _milestones_screen(ctx: Ctx, project_id: int, prefix: str, *, note: str = "") -> None:
    """The milestones with ✓ (tick) — and ✏️ (change), 🗑 (remove) and ➕ (add) for admins."""
    v = await _view(ctx, project_id)
    admin = prefix == "jp"
    buttons: Keyboard = []
    for i, m in enumerate(v.milestones, 1):
        row = []
        if m.done_on is None:
            row.append(ctx.button(ctx.t("✓ {n}. {title}", n=i, title=m.title[:20]), prefix, "t", m.id))
        if admin:
            row.append(ctx.button(ctx.t("✏️ {n}", n=i), prefix, "e", m.id))
            row.append(ctx.button(ctx.t("🗑 {n}", n=i), prefix, "r", m.id))
        if row:
            buttons.append(row)
    if admin:
        buttons.append([ctx.button(ctx.t("➕ Add milestone"), "jp", "a", v.id)])
    buttons.append([ctx.button(ctx.t("◀ Back"), prefix, "v", v.id)])
    lines = [ctx.t("<b>Milestones of #{number} {title}</b>", number=v.number, title=h(v.title))]
    for i, m in enumerate(v.milestones, 1):
        state = ctx.t("done {day}", day=m.done_on.isoformat()) if m.done_on else ctx.t("not done yet")
        lines.append(ctx.t("{n}. {title} — due {due} · {state}", n=i, title=h(m.title), due=m.due_on.isoformat(),
                           state=state))
    if not v.milestones:
        lines.append(ctx.t("No milestones yet."))
    ctx.show((note + "\n\n" if note else "") + "\n".join(lines), buttons)


async def _ask(ctx: Ctx, flow: str, step: str, data: dict[str, Any], text: str,
               buttons: Keyboard | None = None) -> None:
    await ctx.set_state(flow, step, data)
    back = "jp" if flow == ADMIN_FLOW else "jg"
    rows = list(buttons or [])
    rows.append([ctx.button(ctx.t("✖ Cancel"), back, "x", data.get("id", 0))])
    ctx.show(text + "\n" + ctx.t("(or /cancel)"), rows)


async def _owner_picker(ctx: Ctx, project_id: int) -> None:
    v = await _view(ctx, project_id)
    people = await projects.owner_candidates(ctx.uow, actor=ctx.actor)
    buttons = grid([ctx.button(f"{c.name} · {role_name(ctx.lang, c.role)}", "jp", "O", v.id, c.member_id)
                    for c in people[:20]], 2)
    await _ask(ctx, ADMIN_FLOW, "owner", {"id": v.id},
               ctx.t("Who is responsible (责任人) for #{number} {title}? Send the member number as shown by "
                     "/members, or tap a grid worker or committee member.", number=v.number, title=h(v.title)),
               buttons)


def _funding_buttons(ctx: Ctx, project_id: int) -> Keyboard:
    return grid([ctx.button(ctx.t(FUNDING_NAMES[code]), "jp", "f", project_id, code) for code in projects.FUNDING], 2)


@router.callback("jp")
async def admin_press(ctx: Ctx) -> None:
    ctx.actor.require(Perm.PROJECTS)
    action = ctx.args[0] if ctx.args else ""
    key = int_arg(ctx.args[1]) if len(ctx.args) > 1 else None
    data = dict(ctx.state.data) if ctx.state is not None and ctx.state.flow == ADMIN_FLOW else {}
    if action == "l":
        await ctx.clear_state()
        await _admin_list(ctx)
    elif key is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
    elif action in ("v", "x"):
        await ctx.clear_state()
        await _admin_card(ctx, key)
    elif action == "o":
        await _owner_picker(ctx, key)
    elif action == "O" and len(ctx.args) == 3 and int_arg(ctx.args[2]) is not None:
        row = await projects.set_owner(ctx.uow, actor=ctx.actor, project_id=key, member_id=int(ctx.args[2]),
                                       now=ctx.now)
        await ctx.clear_state()
        await _admin_card(ctx, row.id or 0, note=ctx.t("✅ Owner set; they are told in a private message."))
    elif action == "d":
        v = await _view(ctx, key)
        await _ask(ctx, ADMIN_FLOW, "deadline", {"id": v.id},
                   ctx.t("Deadline of #{number} {title}: send the date as YYYY-MM-DD, e.g. {example}.",
                         number=v.number, title=h(v.title), example=example_day(ctx)))
    elif action == "m":
        await ctx.clear_state()
        await _milestones_screen(ctx, key, "jp")
    elif action == "a":
        v = await _view(ctx, key)
        await _ask(ctx, ADMIN_FLOW, "ms_title", {"id": v.id},
                   ctx.t("New milestone of #{number}: send its title (at most {limit} characters).",
                         number=v.number, limit=projects.LIMITS["title"]))
    elif action == "e":
        milestone, project = await projects.milestone_of(ctx.uow, actor=ctx.actor, milestone_id=key)
        ctx.show(ctx.t("Change the milestone “{title}” (due {due}):", title=h(milestone.title),
                       due=milestone.due_on.isoformat()),
                 [[ctx.button(ctx.t("✏️ Title"), "jp", "et", key), ctx.button(ctx.t("📅 Due date"), "jp", "ed", key)],
                  [ctx.button(ctx.t("◀ Back"), "jp", "m", project.id or 0)]])
    elif action in ("et", "ed"):
        milestone, project = await projects.milestone_of(ctx.uow, actor=ctx.actor, milestone_id=key)
        if action == "et":
            await _ask(ctx, ADMIN_FLOW, "ms_rename", {"id": project.id, "ms": key},
                       ctx.t("Send the new title of “{title}” (at most {limit} characters).",
                             title=h(milestone.title), limit=projects.LIMITS["title"]))
        else:
            await _ask(ctx, ADMIN_FLOW, "ms_redate", {"id": project.id, "ms": key},
                       ctx.t("When is “{title}” due now? Send the date as YYYY-MM-DD, e.g. {example}.",
                             title=h(milestone.title), example=example_day(ctx)))
    elif action == "r":
        row = await projects.remove_milestone(ctx.uow, actor=ctx.actor, milestone_id=key, now=ctx.now)
        await _milestones_screen(ctx, row.id or 0, "jp", note=ctx.t("🗑 Milestone removed."))
    elif action in ("t", "T"):
        await _tick_press(ctx, "jp", ADMIN_FLOW, action, key)
    elif action == "b":
        v = await _view(ctx, key)
        await _ask(ctx, ADMIN_FLOW, "budget", {"id": v.id},
                   ctx.t("Budget of #{number} {title}: send the amount in yuan (e.g. 120000 or 12万), or choose the "
                         "funding source below.", number=v.number, title=h(v.title)), _funding_buttons(ctx, v.id))
    elif action == "f" and len(ctx.args) == 3 and ctx.args[2] in projects.FUNDING:
        await projects.set_budget(ctx.uow, actor=ctx.actor, project_id=key, now=ctx.now, funding=ctx.args[2])
        await ctx.clear_state()
        await _admin_card(ctx, key, note=ctx.t("✅ Funding source saved."))
    elif action == "c":
        v = await _view(ctx, key)
        await ctx.clear_state()
        ctx.show(ctx.t("Mark #{number} {title} with which colour? The mark replaces the computed colour until "
                       "you remove it; the reason is shown on the board.", number=v.number, title=h(v.title)),
                 [[ctx.button(ctx.t(COLOUR_NAMES[c]), "jp", "C", v.id, c.value) for c in Colour],
                  [ctx.button(ctx.t("◀ Back"), "jp", "v", v.id)]])
    elif action == "C" and len(ctx.args) == 3 and ctx.args[2] in {c.value for c in Colour}:
        v = await _view(ctx, key)
        await _ask(ctx, ADMIN_FLOW, "reason", {"id": v.id, "colour": ctx.args[2]},
                   ctx.t("Why {colour}? Send the reason (at most {limit} characters); it is shown with the project.",
                         colour=ctx.t(COLOUR_NAMES[Colour(ctx.args[2])]), limit=projects.LIMITS["reason"]))
    elif action == "u":
        await projects.clear_override(ctx.uow, actor=ctx.actor, project_id=key, now=ctx.now)
        await _admin_card(ctx, key, note=ctx.t("✅ Colour mark removed: the colour follows the rule again."))
    elif action == "k" and data.get("id") == key and ctx.state and ctx.state.step == "funding":
        await ctx.clear_state()
        await _admin_card(ctx, key)
    else:
        ctx.toast(ctx.t("This button is not valid."), alert=True)


@router.flow(ADMIN_FLOW)
async def admin_text(ctx: Ctx) -> None:
    state = ctx.state
    assert state is not None
    data = dict(state.data)
    pid = int(data.get("id", 0))
    text = ctx.message.text[:MAX_ARGS * 5]
    if not text:
        ctx.reply(ctx.t("Please send text, or /cancel to stop."))
        return
    if state.step == "owner":
        number = int_arg(text.lstrip("#"))
        if number is None:
            ctx.reply(ctx.t("Please send the member number (digits only, see /members), or tap a name."))
            return
        await projects.set_owner(ctx.uow, actor=ctx.actor, project_id=pid, member_id=number, now=ctx.now)
        await ctx.clear_state()
        await _admin_card(ctx, pid, note=ctx.t("✅ Owner set; they are told in a private message."))
    elif state.step == "deadline":
        day = projects.parse_day("deadline", text)
        await projects.set_deadline(ctx.uow, actor=ctx.actor, project_id=pid, deadline=day, now=ctx.now)
        await ctx.clear_state()
        await _admin_card(ctx, pid, note=ctx.t("✅ Deadline set: {day}.", day=day.isoformat()))
    elif state.step == "ms_title":
        data["title"] = projects.clean("title", text)
        await _ask(ctx, ADMIN_FLOW, "ms_date", data,
                   ctx.t("When is “{title}” due? Send the date as YYYY-MM-DD, e.g. {example}.",
                         title=h(data["title"]), example=example_day(ctx)))
    elif state.step == "ms_date":
        day = projects.parse_day("due_on", text)
        await projects.add_milestone(ctx.uow, actor=ctx.actor, project_id=pid, title=data["title"], due_on=day,
                                     now=ctx.now)
        await ctx.clear_state()
        await _milestones_screen(ctx, pid, "jp", note=ctx.t("✅ Milestone added."))
    elif state.step in ("ms_rename", "ms_redate"):
        change: dict[str, Any] = ({"title": text} if state.step == "ms_rename"
                                  else {"due_on": projects.parse_day("due_on", text)})
        await projects.edit_milestone(ctx.uow, actor=ctx.actor, milestone_id=int(data.get("ms", 0)), now=ctx.now,
                                      **change)
        await ctx.clear_state()
        await _milestones_screen(ctx, pid, "jp", note=ctx.t("✅ Milestone changed."))
    elif state.step == "tick":
        await _tick_typed(ctx, "jp", data, text)
    elif state.step == "budget":
        amount = projects.parse_amount(text)
        await projects.set_budget(ctx.uow, actor=ctx.actor, project_id=pid, now=ctx.now, budget_yuan=amount)
        await _ask(ctx, ADMIN_FLOW, "funding", data,
                   ctx.t("✅ Budget saved: {amount} yuan. Where does the money come from? Tap one, or type it "
                         "(at most {limit} characters).", amount=f"{amount:,}", limit=projects.LIMITS["funding"]),
                   [*_funding_buttons(ctx, pid), [ctx.button(ctx.t("Skip ▶"), "jp", "k", pid)]])
    elif state.step == "funding":
        await projects.set_budget(ctx.uow, actor=ctx.actor, project_id=pid, now=ctx.now, funding=text)
        await ctx.clear_state()
        await _admin_card(ctx, pid, note=ctx.t("✅ Funding source saved."))
    elif state.step == "reason":
        await projects.override(ctx.uow, actor=ctx.actor, project_id=pid, colour_code=str(data.get("colour")),
                                reason=text, now=ctx.now)
        await ctx.clear_state()
        await _admin_card(ctx, pid, note=ctx.t("✅ Colour marked. The reason is shown with the project."))
    else:
        ctx.reply(ctx.t("Please tap one of the buttons above, or send /cancel to stop."))


# ---------------------------------------------------------------- ticking a milestone (owners and admins)


async def _tick_press(ctx: Ctx, prefix: str, flow: str, action: str, milestone_id: int) -> None:
    milestone, project = await projects.milestone_of(ctx.uow, actor=ctx.actor, milestone_id=milestone_id)
    if not projects.may_report(ctx.actor, project):
        raise Forbidden("project_owner")
    if action == "T":
        await projects.tick_milestone(ctx.uow, actor=ctx.actor, milestone_id=milestone_id,
                                      done_on=projects.today(ctx.actor.community, ctx.now), now=ctx.now)
        await ctx.clear_state()
        await _milestones_screen(ctx, project.id or 0, prefix, note=ctx.t("✅ Milestone ticked off."))
        return
    if milestone.done_on is not None:
        raise AlreadyDone("milestone")
    await _ask(ctx, flow, "tick", {"id": project.id, "ms": milestone.id},
               ctx.t("“{title}” was done on which day? Tap “Today” or send the date as YYYY-MM-DD.",
                     title=h(milestone.title)),
               [[ctx.button(ctx.t("Today"), prefix, "T", milestone.id or 0)]])


async def _tick_typed(ctx: Ctx, prefix: str, data: dict[str, Any], text: str) -> None:
    day = projects.parse_day("done_on", text)
    await projects.tick_milestone(ctx.uow, actor=ctx.actor, milestone_id=int(data.get("ms", 0)), done_on=day,
                                  now=ctx.now)
    await ctx.clear_state()
    await _milestones_screen(ctx, int(data.get("id", 0)), prefix, note=ctx.t("✅ Milestone ticked off."))


# ---------------------------------------------------------------- /progress (owners)


@router.command("progress", where=PRIVATE, description=N_("Report progress on the projects you are responsible for"),
                member_only=True)
async def progress_command(ctx: Ctx) -> None:
    await ctx.clear_state()
    await _owner_list(ctx)


async def _owner_list(ctx: Ctx) -> None:
    rows = await projects.my_projects(ctx.uow, actor=ctx.actor, now=ctx.now)
    if not rows:
        ctx.show(ctx.t("You are not responsible (责任人) for any project. The community's admin assigns owners "
                       "with /project."))
        return
    ctx.show(ctx.t("<b>Your projects</b> — which one?"),
             [[ctx.button(f"#{p.number} {p.title} · {p.percent}%", "jg", "v", p.id or 0)] for p in rows])


async def _owner_card(ctx: Ctx, project_id: int, *, note: str = "", new_message: bool = False) -> None:
    project = await projects.get(ctx.uow, actor=ctx.actor, project_id=project_id)
    if not projects.may_report(ctx.actor, project):
        raise Forbidden("project_owner")
    v = await projects.view(ctx.uow, project, now=ctx.now)
    buttons: Keyboard = []
    if v.completed_at is None:
        buttons.append([ctx.button(ctx.t("📈 Report progress"), "jg", "r", v.id)])
    buttons.append([ctx.button(ctx.t("📷 Before photos (整改前)"), "jg", "pb", v.id),
                    ctx.button(ctx.t("📷 After photos (整改后)"), "jg", "pa", v.id)])
    if v.completed_at is None and any(m.done_on is None for m in v.milestones):
        buttons.append([ctx.button(ctx.t("✓ Tick a milestone"), "jg", "m", v.id)])
    if v.completed_at is None:
        buttons.append([ctx.button(ctx.t("🏁 Mark complete"), "jg", "c", v.id)])
    buttons.append([ctx.button(ctx.t("◀ My projects"), "jg", "l")])
    text = (note + "\n\n" if note else "") + _card_text(ctx, v)
    if new_message or not ctx.is_press:
        ctx.reply(text, buttons)
    else:
        ctx.edit(text, buttons)


def _summary(ctx: Ctx, data: dict[str, Any]) -> str:
    lines = [ctx.t("<b>Please check your report</b>"), ctx.t("Progress: {percent}%", percent=data["percent"])]
    if data.get("note"):
        lines.append(ctx.t("Note: {note}", note=h(data["note"])))
    lines.append(ctx.t("Photos: {count}", count=len(data.get("photos", []))))
    return "\n".join(lines)


async def _owner_step(ctx: Ctx, step: str, data: dict[str, Any]) -> None:
    pid = int(data["id"])
    if step == "percent":
        await _ask(ctx, OWNER_FLOW, step, data, ctx.t("How far along is it? Tap a percent or send a number from 0 "
                                                      "to 100."),
                   [[ctx.button(f"{n}%", "jg", "p", pid, n) for n in PERCENTS]])
    elif step == "note":
        await _ask(ctx, OWNER_FLOW, step, data,
                   ctx.t("{percent}%. Add a short note on what was done (at most {limit} characters), or tap "
                         "“Skip”.", percent=data["percent"], limit=projects.LIMITS["note"]),
                   [[ctx.button(ctx.t("Skip ▶"), "jg", "k", pid)]])
    elif step == "photos":
        await _ask(ctx, OWNER_FLOW, step, data,
                   ctx.t("Send photos of the work now (at most {limit}), then tap “Done”. No photos? Tap “Done”.",
                         limit=projects.MAX_PHOTOS), [[ctx.button(ctx.t("Done ▶"), "jg", "D", pid)]])
    elif step == "confirm":
        await _ask(ctx, OWNER_FLOW, step, data, _summary(ctx, data),
                   [[ctx.button(ctx.t("✅ Submit"), "jg", "ok", pid)]])
    else:  # before / after
        await _ask(ctx, OWNER_FLOW, step, data,
                   ctx.t("Send the {kind} now (at most {limit} per project), then tap “Done”.",
                         kind=ctx.t(KIND_NAMES[step]), limit=projects.MAX_PHOTOS),
                   [[ctx.button(ctx.t("Done ▶"), "jg", "D", pid)]])


async def _reportable(ctx: Ctx, project_id: int) -> int:
    project = await projects.get(ctx.uow, actor=ctx.actor, project_id=project_id)
    if not projects.may_report(ctx.actor, project):
        raise Forbidden("project_owner")
    if project.completed_at is not None:
        raise AlreadyDone("project_complete")
    return project.id or 0


@router.callback("jg")
async def owner_press(ctx: Ctx) -> None:
    action = ctx.args[0] if ctx.args else ""
    key = int_arg(ctx.args[1]) if len(ctx.args) > 1 else None
    state = ctx.state if ctx.state is not None and ctx.state.flow == OWNER_FLOW else None
    data = dict(state.data) if state is not None else {}
    in_step = state.step if state is not None and data.get("id") == key else None
    if action == "l":
        await ctx.clear_state()
        await _owner_list(ctx)
    elif key is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
    elif action in ("v", "x"):
        await ctx.clear_state()
        await _owner_card(ctx, key)
    elif action == "r":
        await _owner_step(ctx, "percent", {"id": await _reportable(ctx, key)})
    elif action == "p" and in_step == "percent" and len(ctx.args) == 3 and int_arg(ctx.args[2]) is not None:
        data["percent"] = projects.check_percent(int(ctx.args[2]))
        await _owner_step(ctx, "note", data)
    elif action == "k" and in_step == "note":
        data["note"] = ""
        await _owner_step(ctx, "photos", {**data, "photos": []})
    elif action == "D" and in_step == "photos":
        await _owner_step(ctx, "confirm", data)
    elif action == "ok" and in_step == "confirm":
        await projects.report(ctx.uow, actor=ctx.actor, project_id=key, percent=int(data["percent"]),
                              note=data.get("note", ""), photos=[tuple(p) for p in data.get("photos", [])],
                              now=ctx.now)
        await ctx.clear_state()
        await _owner_card(ctx, key, note=ctx.t("✅ Thank you! Your progress report is saved."))
    elif action in ("pb", "pa"):
        project = await projects.get(ctx.uow, actor=ctx.actor, project_id=key)
        if not projects.may_report(ctx.actor, project):
            raise Forbidden("project_owner")
        await _owner_step(ctx, "before" if action == "pb" else "after", {"id": project.id, "photos": []})
    elif action == "D" and in_step in ("before", "after"):
        added = await projects.add_photos(ctx.uow, actor=ctx.actor, project_id=key, kind=in_step,
                                          photos=[tuple(p) for p in data.get("photos", [])], now=ctx.now)
        await ctx.clear_state()
        await _owner_card(ctx, key, note=tn(ctx.lang, "✅ {n} new photo saved: {kind}.", "✅ {n} new photos saved: {kind}.",
                                            added, kind=ctx.t(KIND_NAMES[in_step])))
    elif action == "m":
        await ctx.clear_state()
        await _reportable(ctx, key)
        await _milestones_screen(ctx, key, "jg")
    elif action in ("t", "T"):
        await _tick_press(ctx, "jg", OWNER_FLOW, action, key)
    elif action == "c":
        v = await _view(ctx, await _reportable(ctx, key))
        warn = "" if v.after_photos else "\n" + ctx.t("There is no after photo (整改后) yet: the project stays 🟡 "
                                                      "until one is added.")
        ctx.show(ctx.t("Mark #{number} {title} complete? Progress becomes 100% and the residents will be asked "
                       "to check it.", number=v.number, title=h(v.title)) + warn,
                 [[ctx.button(ctx.t("🏁 Yes, it is complete"), "jg", "C", v.id),
                   ctx.button(ctx.t("✖ Cancel"), "jg", "v", v.id)]])
    elif action == "C":
        verdict = await projects.complete(ctx.uow, actor=ctx.actor, project_id=key, now=ctx.now)
        await ctx.clear_state()
        if "after_photo_missing" in verdict.reasons:
            note = ctx.t("🏁 Marked complete. It stays 🟡 until there is an after photo (整改后): tap “After photos” "
                         "and send one.")
        else:
            note = ctx.t("🏁 Marked complete: 🟢 done. Thank you!")
        await _owner_card(ctx, key, note=note)
    else:
        ctx.toast(ctx.t("This button belongs to an earlier step."), alert=True)


@router.flow(OWNER_FLOW)
async def owner_text(ctx: Ctx) -> None:
    state = ctx.state
    assert state is not None
    data = dict(state.data)
    msg = ctx.message
    if state.step in ("photos", "before", "after"):
        if not msg.photo_file_id:
            ctx.reply(ctx.t("That is not a photo. Please send a photo (as a picture, not as a file), or tap “Done”."))
            return
        photos = [*data.get("photos", []), [msg.photo_file_id[:255], (msg.photo_unique_id or msg.photo_file_id)[:64]]]
        if len({p[1] for p in photos}) > projects.MAX_PHOTOS:
            raise Invalid("photos", "too_many", limit=projects.MAX_PHOTOS)
        data["photos"] = photos
        await ctx.set_state(OWNER_FLOW, state.step, data)
        ctx.reply(ctx.t("📷 Photo {count} received. Send more, or tap “Done”.", count=len(photos)),
                  [[ctx.button(ctx.t("Done ▶"), "jg", "D", int(data["id"]))]])
    elif state.step == "percent" and msg.text:
        data["percent"] = projects.parse_percent(msg.text[:MAX_ARGS])
        await _owner_step(ctx, "note", data)
    elif state.step == "note" and msg.text:
        data["note"] = projects.clean("note", msg.text, allow_empty=True)
        await _owner_step(ctx, "photos", {**data, "photos": []})
    elif state.step == "tick" and msg.text:
        await _tick_typed(ctx, "jg", data, msg.text[:MAX_ARGS])
    else:
        ctx.reply(ctx.t("Please tap one of the buttons above, or send /cancel to stop."))


#: The progress list's own wording of its errors (bot/handlers/__init__.py: report_error asks it first).
EXPLAIN = explain_projects
#: The projects' notices, worded in bot/handlers/project_notices.py.
NOTICES = project_notices.NOTICES
