"""/spaces (微效空间, #16, F-9.3), in a private chat, by buttons: the community's micro spaces, the open ones first
(until when; the others with their next opening), paged; a space's hours, services, keeper and tools; borrowing a
tool (a period → the keeper is asked → ✅ handed over → ↩ returned); a keeper's service records ("缝补 ×3") and tools
(➕ added, 🗑 retired); the office (admins, grid workers) registers spaces and changes them. The loans' notices are
bot/handlers/loans.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tn
from bot.core.types import Button, Keyboard
from bot.handlers.common import grid, int_arg, pager
from bot.render import h
from flows import loans, spaces
from flows.clock import local
from flows.errors import AlreadyDone, Expired, FlowError, Forbidden, Invalid, NotFound
from flows.roles import Perm
from storage.models import Member
from storage.models_spaces import Space

router = Router()
P = "sp"
FLOW = "spaces"
#: Counts offered for a service record.
COUNTS = (1, 2, 3, 5, 10)
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
FIELD_NAMES = {"name": N_("Name"), "place": N_("Place"), "hours": N_("Opening hours"), "services": N_("Services"),
               "keeper": N_("Keeper")}


def explain_spaces(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, Forbidden):
        return {
            "spaces": ctx.t("Only community admins and grid workers register micro spaces."),
            "space:manage": ctx.t("Only the space's keeper, community admins and grid workers manage this space."),
            "loan:keeper": ctx.t("Only the space's keeper (or the community office) confirms hand-overs and "
                                 "returns."),
            "loan:borrower": ctx.t("Only the borrower withdraws this request."),
        }.get(err.permission)
    if isinstance(err, NotFound) and err.what in ("space", "tool", "loan"):
        return ctx.t("That no longer exists. Send /spaces to see the spaces as they are now.")
    if isinstance(err, AlreadyDone) and err.what == "tool:busy":
        return ctx.t("This tool is on loan or asked for: retire it once it is back.")
    if isinstance(err, AlreadyDone) and err.what == "tool":
        return ctx.t("Sorry, someone else has just asked for this tool: it is not free now. Try again after it is "
                     "returned.")
    if isinstance(err, AlreadyDone) and err.what == "loan:mine":
        return ctx.t("You have asked for this tool already (or have it): see 🔧 My loans in /spaces.")
    if isinstance(err, AlreadyDone) and err.what == "loan":
        return ctx.t("This was already done (perhaps from another button). Send /spaces to see the loans.")
    if isinstance(err, Expired):
        return ctx.t("This form has expired. Send /spaces to start again.")
    if isinstance(err, Invalid):
        limit = err.details.get("limit")
        if err.reason == "too_long":
            return ctx.t("Too long: at most {limit} characters. Please send a shorter one.", limit=limit)
        if err.reason == "empty":
            return ctx.t("That cannot be empty. Please send it again.")
        return {
            ("hours", "format"): ctx.t("Please send the opening hours like this: 1-5 08:00-11:30 14:00-17:00; 6 "
                                       "09:00-12:00 (1 = Monday … 7 = Sunday; 每天 = every day)."),
            ("hours", "overlap"): ctx.t("Two opening times of the same day overlap. Please send them again."),
            ("services", "too_many"): ctx.t("At most {limit} services, please.", limit=limit),
            ("keeper", "format"): ctx.t("Please send the keeper's member number (/members shows them)."),
            ("count", "range"): ctx.t("A record counts 1 to {limit} services.", limit=limit),
            ("space", "no_keeper"): ctx.t("This space has no keeper yet, so nobody can hand tools over. Please ask "
                                          "the community office."),
            ("days", "range"): ctx.t("A loan lasts 1 to {limit} days.", limit=limit),
        }.get((err.field, err.reason))
    return None


EXPLAIN = explain_spaces


def _tz(ctx: Ctx) -> str:
    return ctx.actor.home().timezone


def when_text(ctx: Ctx, at: datetime) -> str:
    here = local(at, _tz(ctx))
    today = local(ctx.now, _tz(ctx)).date()
    if here.date() == today:
        return ctx.t("today {time}", time=f"{here:%H:%M}")
    return f"{ctx.t(WEEKDAYS[here.weekday()])} {here:%m-%d %H:%M}"


def hours_lines(ctx: Ctx, hours: dict[str, Any]) -> str:
    lines = []
    for day in range(1, 8):
        slots = hours.get(str(day))
        text = "  ".join(f"{a}–{b}" for a, b in slots) if slots else ctx.t("closed")
        lines.append(f"{ctx.t(WEEKDAYS[day - 1])} {text}")
    return "\n".join(lines)


# ---------------------------------------------------------------- the list


@router.command("spaces", where=PRIVATE, description=N_("Micro spaces: open now, tools to borrow"),
                member_only=True)
async def spaces_cmd(ctx: Ctx) -> None:
    await ctx.clear_state()
    await _list(ctx, 1)


async def _list(ctx: Ctx, page: int) -> None:
    shown = await spaces.listing(ctx.uow, actor=ctx.actor, now=ctx.now, page=page)
    lines = [ctx.t("🏠 <b>Micro spaces</b> (微效空间)")]
    for ln in shown.items:
        s = ln.space
        if ln.closes_at is not None:
            state = ctx.t("🟢 open until {time}", time=f"{local(ln.closes_at, _tz(ctx)):%H:%M}")
        elif ln.opens_at is not None:
            state = ctx.t("⚪ closed, opens {when}", when=when_text(ctx, ln.opens_at))
        else:
            state = ctx.t("⚪ closed")
        lines.append(f"{s.number}. <b>{h(s.name)}</b> · {h(s.place)}\n   {state}")
    if not shown.items:
        lines.append(ctx.t("No micro space is registered yet."))
    buttons: Keyboard = grid([ctx.button(f"{ln.space.number}. {ln.space.name}", P, "s", ln.space.number)
                              for ln in shown.items], 2)
    if shown.pages > 1:
        buttons.append(pager(ctx, shown.page, shown.pages, P, "p"))
    extra = [ctx.button(ctx.t("🔧 My loans"), P, "my")]
    if spaces.may_register(ctx.actor):
        extra.append(ctx.button(ctx.t("➕ Register a space"), P, "new"))
    buttons.append(extra)
    ctx.show("\n".join(lines), buttons)


async def _keeper_name(ctx: Ctx, space: Space) -> str:
    member = await ctx.uow.session.get(Member, space.keeper_member_id) if space.keeper_member_id else None
    return member.display_name if member is not None else "—"


async def show_space(ctx: Ctx, number: int) -> None:
    space = await spaces.get(ctx.uow, actor=ctx.actor, number=number)
    tools = await spaces.tools(ctx.uow, space=space)
    manage = spaces.may_manage(ctx.actor, space)
    open_until = spaces.open_until(space.hours, ctx.now, _tz(ctx))
    lines = [f"🏠 <b>{h(space.name)}</b> (#{space.number})", ctx.t("📍 {place}", place=h(space.place)),
             ctx.t("🟢 open now, until {time}", time=f"{local(open_until, _tz(ctx)):%H:%M}") if open_until
             else ctx.t("⚪ closed now"),
             ctx.t("🕘 Opening hours:"), hours_lines(ctx, space.hours),
             ctx.t("🧵 Services: {services}", services=h("、".join(space.services)) or "—"),
             ctx.t("🙋 Keeper: {name}", name=h(await _keeper_name(ctx, space)))]
    states = {"in": ctx.t("free"), "requested": ctx.t("asked for"), "out": ctx.t("on loan")}
    if tools:
        lines.append(ctx.t("🔧 Tools:"))
        lines += [f"  {t.name} — {states.get(t.state, t.state)}" for t in tools]
    if manage:
        month = spaces.month_of(local(ctx.now, _tz(ctx)).date())
        counts = [f"{h(service)} {n}" for number_, _, service, n in
                  await spaces.month_counts(ctx.uow, community_id=space.community_id, month=month)
                  if number_ == space.number]
        lines.append(ctx.t("✍ Services this month: {counts}", counts=" · ".join(counts) or "—"))
    buttons: Keyboard = grid([ctx.button(ctx.t("🔧 Borrow {tool}", tool=t.name), P, "b", t.number)
                              for t in tools if t.state == "in"], 2)
    if manage:
        buttons.append([ctx.button(ctx.t("✍ Record services"), P, "rs", number),
                        ctx.button(ctx.t("📋 Loans"), P, "ls", number)])
        buttons.append([ctx.button(ctx.t("➕ Add a tool"), P, "at", number),
                        ctx.button(ctx.t("✏ Change"), P, "ch", number)])
        if tools:
            buttons.append([ctx.button(ctx.t("🗑 Retire a tool"), P, "rt", number)])
    buttons.append([ctx.button(ctx.t("◀ All spaces"), P, "p", 1)])
    ctx.show("\n".join(lines), buttons)


# ---------------------------------------------------------------- borrowing


async def _borrow(ctx: Ctx, tool_number: int) -> None:
    ctx.show(ctx.t("For how long would you like to borrow it?"),
             [[ctx.button(tn(ctx.lang, "{n} day", "{n} days", d), P, "bd", tool_number, d) for d in loans.PERIODS],
              [ctx.button(ctx.t("✖ Cancel"), P, "x")]])


async def _borrowed(ctx: Ctx, tool_number: int, days: int) -> None:
    loan = await loans.request(ctx.uow, actor=ctx.actor, tool_number=tool_number, days=days, now=ctx.now)
    ctx.show(ctx.t("📨 Asked: loan no. {loan}, back by {due}. The keeper confirms when you pick it up; I will tell "
                   "you.", loan=loan.number, due=loan.due_on.isoformat()))


async def _my_loans(ctx: Ctx) -> None:
    rows = await loans.mine(ctx.uow, actor=ctx.actor)
    if not rows:
        ctx.show(ctx.t("You have no tool on loan and no request open."), [[ctx.button(ctx.t("◀ All spaces"), P, "p",
                                                                                     1)]])
        return
    lines = [ctx.t("🔧 <b>My loans</b>")]
    buttons: list[Button] = []
    for r in rows:
        if r.loan.state == "out":
            lines.append(ctx.t("{loan}. {tool} at {space} — back by {due}", loan=r.loan.number, tool=h(r.tool.name),
                               space=h(r.space.name), due=r.loan.due_on.isoformat()))
        else:
            lines.append(ctx.t("{loan}. {tool} at {space} — waiting for the keeper", loan=r.loan.number,
                               tool=h(r.tool.name), space=h(r.space.name)))
            buttons.append(ctx.button(ctx.t("Withdraw no. {loan}", loan=r.loan.number), "ln", "c", r.loan.number))
    ctx.show("\n".join(lines), [*grid(buttons, 2), [ctx.button(ctx.t("◀ All spaces"), P, "p", 1)]])


async def _space_loans(ctx: Ctx, number: int) -> None:
    space = await spaces.get(ctx.uow, actor=ctx.actor, number=number)
    rows = await loans.of_space(ctx.uow, actor=ctx.actor, space=space)
    lines = [ctx.t("📋 <b>Loans</b> · {space}", space=h(space.name))]
    buttons: list[Button] = []
    for r in rows:
        if r.loan.state == "out":
            lines.append(ctx.t("{loan}. {tool} — {name}, back by {due}", loan=r.loan.number, tool=h(r.tool.name),
                               name=h(r.borrower), due=r.loan.due_on.isoformat()))
            buttons.append(ctx.button(ctx.t("↩ No. {loan} returned", loan=r.loan.number), "ln", "r", r.loan.number))
        else:
            lines.append(ctx.t("{loan}. {tool} — {name} asks for it", loan=r.loan.number, tool=h(r.tool.name),
                               name=h(r.borrower)))
            buttons.append(ctx.button(ctx.t("✅ No. {loan} handed over", loan=r.loan.number), "ln", "h",
                                      r.loan.number))
    if not rows:
        lines.append(ctx.t("No tool is out or asked for."))
    ctx.show("\n".join(lines), [*grid(buttons, 2), [ctx.button(ctx.t("◀ Back"), P, "s", number)]])


# ---------------------------------------------------------------- retiring a tool


async def _retire_pick(ctx: Ctx, number: int) -> None:
    space = await spaces.managed(ctx.uow, actor=ctx.actor, number=number)
    tools = await spaces.tools(ctx.uow, space=space)
    ctx.show(ctx.t("Which tool leaves the list (broken, lost or given away)? Its loans stay in the history; one on "
                   "loan can be retired once it is back."),
             [*grid([ctx.button(t.name, P, "rq", number, t.number) for t in tools], 2),
              [ctx.button(ctx.t("◀ Back"), P, "s", number)]])


async def _retire_ask(ctx: Ctx, number: int, tool_number: int) -> None:
    space = await spaces.managed(ctx.uow, actor=ctx.actor, number=number)
    tool = next((t for t in await spaces.tools(ctx.uow, space=space) if t.number == tool_number), None)
    if tool is None:
        raise NotFound("tool", tool_number)
    ctx.show(ctx.t("Retire {tool} at {space}? Nobody can ask for it any more.", tool=h(tool.name),
                   space=h(space.name)),
             [[ctx.button(ctx.t("🗑 Yes, retire it"), P, "ry", number, tool_number),
               ctx.button(ctx.t("✖ Keep it"), P, "s", number)]])


async def _retired(ctx: Ctx, number: int, tool_number: int) -> None:
    tool = await spaces.retire_tool(ctx.uow, actor=ctx.actor, tool_number=tool_number, now=ctx.now)
    ctx.show(ctx.t("🗑 {tool} is off the list.", tool=h(tool.name)), [[ctx.button(ctx.t("◀ Back"), P, "s", number)]])


# ---------------------------------------------------------------- service records


async def _record_pick(ctx: Ctx, number: int) -> None:
    space = await spaces.managed(ctx.uow, actor=ctx.actor, number=number)
    ctx.show(ctx.t("Which service did you give today?"),
             [*grid([ctx.button(s, P, "rv", number, i) for i, s in enumerate(space.services)], 3),
              [ctx.button(ctx.t("✖ Cancel"), P, "x")]])


async def _record_count(ctx: Ctx, number: int, index: int) -> None:
    space = await spaces.managed(ctx.uow, actor=ctx.actor, number=number)
    if not 0 <= index < len(space.services):
        raise Expired("spaces")
    ctx.show(ctx.t("How many times today: {service}?", service=h(space.services[index])),
             [[ctx.button(f"×{n}", P, "rc", number, index, n) for n in COUNTS], [ctx.button(ctx.t("✖ Cancel"), P,
                                                                                          "x")]])


async def _record(ctx: Ctx, number: int, index: int, count: int) -> None:
    space = await spaces.managed(ctx.uow, actor=ctx.actor, number=number)
    if not 0 <= index < len(space.services):
        raise Expired("spaces")
    service = space.services[index]
    month = await spaces.record_service(ctx.uow, actor=ctx.actor, number=number, service=service, count=count,
                                        now=ctx.now)
    ctx.show(ctx.t("✅ Recorded: {service} ×{count} today. This month: {month}.", service=h(service), count=count,
                   month=month), [[ctx.button(ctx.t("◀ Back"), P, "s", number)]])


# ---------------------------------------------------------------- registering and changing


def _cancel_row(ctx: Ctx) -> list[Button]:
    return [ctx.button(ctx.t("✖ Cancel"), P, "x")]


ASK = {
    "name": N_("Send the space's name (at most 40 characters), e.g. 3号楼门岗微空间."),
    "place": N_("Where is it? (at most 80 characters), e.g. 3号楼东侧门岗."),
    "hours": N_("Opening hours, in the community's time: e.g. 1-5 08:00-11:30 14:00-17:00; 6 09:00-12:00 "
                "(1 = Monday … 7 = Sunday; 每天 = every day; a day left out is closed)."),
    "services": N_("Its services, separated by 、 or spaces, e.g. 缝补、理发、工具借用."),
    "keeper": N_("The keeper's member number (/members shows them)."),
}
ORDER = ("name", "place", "hours", "services", "keeper")


def _check(ctx: Ctx, field: str, text: str) -> Any:
    if field == "name":
        return spaces.clean("name", text, spaces.NAME_MAX)
    if field == "place":
        return spaces.clean("place", text, spaces.PLACE_MAX)
    if field == "hours":
        return spaces.parse_hours(text)
    if field == "services":
        return spaces.parse_services(text)
    number = int_arg(text.strip().lstrip("#"))
    if number is None:
        raise Invalid("keeper", "format")
    return number


@router.flow(FLOW)
async def dialog(ctx: Ctx) -> None:
    if ctx.state is None:
        raise Expired("spaces")
    data, step = dict(ctx.state.data), ctx.state.step
    text = ctx.message.text
    if step == "tool":
        tool = await spaces.add_tool(ctx.uow, actor=ctx.actor, number=int(data["space"]), name=text, now=ctx.now)
        await ctx.clear_state()
        ctx.reply(ctx.t("✅ {tool} can now be borrowed at this space (tool no. {number}).", tool=h(tool.name),
                        number=tool.number), [[ctx.button(ctx.t("◀ Back"), P, "s", int(data["space"]))]])
    elif step.startswith("edit:"):
        field = step.split(":", 1)[1]
        await spaces.update(ctx.uow, actor=ctx.actor, number=int(data["space"]), field=field, text=text, now=ctx.now)
        await ctx.clear_state()
        ctx.reply(ctx.t("✅ Changed."), [[ctx.button(ctx.t("◀ Back"), P, "s", int(data["space"]))]])
    elif step in ORDER:
        value = _check(ctx, step, text)
        if step == "keeper":
            await spaces.keeper_of(ctx.uow, actor=ctx.actor, member_no=value)
        data[step] = value
        following = ORDER[ORDER.index(step) + 1:] if step != ORDER[-1] else ()
        if following:
            await ctx.set_state(FLOW, following[0], data)
            ctx.reply(ctx.t(ASK[following[0]]), [_cancel_row(ctx)])
            return
        await ctx.set_state(FLOW, "confirm", data)
        ctx.reply("\n".join([ctx.t("Register this space?"), f"<b>{h(data['name'])}</b> · {h(data['place'])}",
                             hours_lines(ctx, data["hours"]), h("、".join(data["services"])),
                             ctx.t("Keeper: member no. {n}", n=data["keeper"])]),
                  [[ctx.button(ctx.t("✅ Register"), P, "ok"), ctx.button(ctx.t("✖ Cancel"), P, "x")]])
    else:
        ctx.reply(ctx.t("Please tap one of the buttons above, or send /cancel to stop."))


async def _confirm(ctx: Ctx) -> None:
    if ctx.state is None or ctx.state.flow != FLOW or ctx.state.step != "confirm":
        raise Expired("spaces")
    d = ctx.state.data
    space = await spaces.register(ctx.uow, actor=ctx.actor, now=ctx.now, draft=spaces.Draft(
        name=d["name"], place=d["place"], hours=d["hours"], services=tuple(d["services"]),
        keeper_member_id=int(d["keeper"])))
    await ctx.clear_state()
    ctx.edit(ctx.t("✅ Micro space no. {number} “{name}” is registered.", number=space.number, name=h(space.name)),
             [[ctx.button(ctx.t("Open it"), P, "s", space.number)]])


async def _change(ctx: Ctx, number: int) -> None:
    space = await spaces.managed(ctx.uow, actor=ctx.actor, number=number)
    fields = spaces.FIELDS if ctx.actor.can(Perm.SPACES) else tuple(f for f in spaces.FIELDS
                                                                     if f in spaces.KEEPER_FIELDS)
    ctx.show(ctx.t("What should change at {space}?", space=h(space.name)),
             [*grid([ctx.button(ctx.t(FIELD_NAMES[f]), P, "cf", number, f) for f in fields], 3), _cancel_row(ctx)])


@router.callback(P)
async def pressed(ctx: Ctx) -> None:
    action = str(ctx.args[0])
    nums = [int(a) for a in ctx.args[1:] if str(a).lstrip("-").isdigit()]
    if action == "x":
        await ctx.clear_state()
        ctx.show(ctx.t("Cancelled."))
    elif action == "p":
        await _list(ctx, nums[0])
    elif action == "s":
        await show_space(ctx, nums[0])
    elif action == "my":
        await _my_loans(ctx)
    elif action == "b":
        await _borrow(ctx, nums[0])
    elif action == "bd":
        await _borrowed(ctx, nums[0], nums[1])
    elif action == "ls":
        await _space_loans(ctx, nums[0])
    elif action == "rs":
        await _record_pick(ctx, nums[0])
    elif action == "rv":
        await _record_count(ctx, nums[0], nums[1])
    elif action == "rc":
        await _record(ctx, nums[0], nums[1], nums[2])
    elif action == "at":
        await spaces.managed(ctx.uow, actor=ctx.actor, number=nums[0])
        await ctx.set_state(FLOW, "tool", {"space": nums[0]})
        ctx.show(ctx.t("Send the tool's name (at most 40 characters), e.g. 电钻."), [_cancel_row(ctx)])
    elif action == "rt":
        await _retire_pick(ctx, nums[0])
    elif action == "rq":
        await _retire_ask(ctx, nums[0], nums[1])
    elif action == "ry":
        await _retired(ctx, nums[0], nums[1])
    elif action == "ch":
        await _change(ctx, nums[0])
    elif action == "cf":
        field = str(ctx.args[2])
        if field not in spaces.FIELDS:
            raise Expired("spaces")
        await spaces.managed(ctx.uow, actor=ctx.actor, number=nums[0])
        await ctx.set_state(FLOW, f"edit:{field}", {"space": nums[0]})
        ctx.show(ctx.t(ASK[field]), [_cancel_row(ctx)])
    elif action == "new":
        if not spaces.may_register(ctx.actor):
            raise Forbidden("spaces")
        await ctx.set_state(FLOW, "name", {})
        ctx.show(ctx.t("🏠 <b>Register a micro space</b>") + "\n" + ctx.t(ASK["name"]), [_cancel_row(ctx)])
    elif action == "ok":
        await _confirm(ctx)
    else:
        raise Expired("spaces")
