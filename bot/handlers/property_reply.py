"""/property_reply (#15, F-10): the right of reply. A member of a property company (role property_staff, tied to
a project) sees the latest submitted scores of their project with the evidence, and answers each deduction
before publication; the answer is shown beside the score when the ranking is published."""

from __future__ import annotations

from typing import Any

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tn, tr
from bot.core.types import Button, OutMessage
from bot.render import NoticeRenderer, h
from flows.clock import local
from flows.errors import AlreadyDone, Expired, FlowError, Forbidden, Invalid, NotFound
from flows.property import evaluation as ev
from flows.property import rectify
from flows.property.notices import PropertyScored, RectificationOverdue
from flows.roles import Perm

router = Router()
P = "prr"
FLOW = "property_reply"


def explain_reply(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, Forbidden):
        return ctx.t("Only the members of the project's property company may reply to its scores.")
    if isinstance(err, AlreadyDone) and err.what == "task":
        return ctx.t("That task was reported fixed already.")
    if isinstance(err, AlreadyDone) and err.what == "evaluation":
        return ctx.t("The ranking with these scores is published already; replies are closed.")
    if isinstance(err, NotFound) and err.what == "deduction":
        return ctx.t("That item has no deduction to reply to.")
    if isinstance(err, Expired):
        return ctx.t("This step has expired. Please send /property_reply again.")
    if isinstance(err, Invalid) and err.field == "reply":
        return ctx.t("Please send your reply as text, at most {limit} characters.", limit=err.details.get("limit", 500))
    return None


EXPLAIN = explain_reply


def _n_scored(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tn(lang, "🏢 The committee scored {estate} for {month}: {points:g} points, {n} deduction. "
                                    "You may reply to it before the ranking is published: /property_reply",
                              "🏢 The committee scored {estate} for {month}: {points:g} points, {n} deductions. "
                              "You may reply to each deduction before the ranking is published: /property_reply",
                              int(p.get("deductions", 0)), estate=h(p.get("estate", "")), month=p.get("month", ""),
                              points=p.get("points", 0)))


def _n_overdue(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    words = {"estate": h(p.get("estate", "")), "code": p.get("code", ""), "item": h(p.get("item", "")),
             "due": p.get("due", "")}
    if int(p.get("rung", 0)) == 0:
        return OutMessage(text=tr(lang, "⏰ Rectification due: {estate} · {code} {item} was due {due}. When it is "
                                        "fixed, report it with /property_reply.", **words))
    return OutMessage(text=tr(lang, "⏰ The property company has not reported {estate} · {code} {item} fixed "
                                    "(due {due}).", **words))


NOTICES = {PropertyScored.kind: _n_scored, RectificationOverdue.kind: _n_overdue}


@router.command("property_reply", where=PRIVATE, description=N_("Your property project's scores: reply to deductions"),
                perm=Perm.PROPERTY_REPLY)
async def reply_cmd(ctx: Ctx) -> None:
    await ctx.clear_state()
    rows = await ev.latest_for_staff(ctx.uow, actor=ctx.actor)
    if not rows:
        ctx.reply(ctx.t("No scores of your project yet. You are told when the committee submits them."))
        return
    for _project, evaluation in rows:
        await _sheet(ctx, evaluation.id or 0)
    await _tasks(ctx)


async def _tasks(ctx: Ctx) -> None:
    """The open rectification tasks (deductions of published months) with their deadlines, ✅ to report one fixed."""
    open_tasks = await rectify.tasks(ctx.uow, actor=ctx.actor)
    if not open_tasks:
        return
    ind = ev.indicators_for(ctx.actor.home())
    tz = ctx.actor.home().timezone
    lines = [ctx.t("🛠 <b>Rectification tasks</b>")]
    buttons = []
    for project, score in open_tasks[:20]:
        item = ind.item(score.code)
        due = local(score.fix_due_at, tz).strftime("%Y-%m-%d") if score.fix_due_at else "—"
        overdue = " ⏰" if score.fix_due_at and score.fix_due_at <= ctx.now else ""
        lines.append(ctx.t("{estate} · {code} {item}: by {due}", estate=h(project.estate), code=score.code,
                           item=h(item.name(ctx.lang)) if item else "", due=due) + overdue)
        buttons.append([ctx.button(ctx.t("✅ Fixed: {code}", code=score.code), P, "f", score.id or 0)])
    ctx.reply("\n".join(lines), buttons)


async def _sheet(ctx: Ctx, evaluation_id: int) -> None:
    ind = ev.indicators_for(ctx.actor.home())
    sheet = await ev.sheet(ctx.uow, actor=ctx.actor, evaluation_id=evaluation_id)
    points = sheet.evaluation.items_points or 0
    lines = [ctx.t("🏢 <b>{estate}</b> · {month}: {points:g} of {total:g} points", estate=h(sheet.project.estate),
                   month=sheet.evaluation.month, points=points, total=ind.total)]
    buttons: list[list[Button]] = []
    for item, row in ev.deductions(ind, sheet):
        line = f"• {item.code} {h(item.name(ctx.lang))}: {row.points:g}/{item.weight:g}"
        if row.note:
            line += "\n  " + ctx.t("Evidence: {note}", note=h(row.note))
        if row.reply:
            line += "\n  " + ctx.t("💬 Your reply: {reply}", reply=h(row.reply))
        lines.append(line)
        if sheet.evaluation.state == "submitted":
            row_buttons = [ctx.button(ctx.t("💬 Reply to {code}", code=item.code), P, "r", evaluation_id, item.code)]
            if row.photo:
                row_buttons.append(ctx.button(ctx.t("📷 {code}", code=item.code), P, "p", evaluation_id, item.code))
            buttons.append(row_buttons)
    if len(lines) == 1:
        lines.append(ctx.t("No deductions."))
    if sheet.evaluation.state != "submitted":
        lines.append(ctx.t("Published: replies are closed."))
    ctx.reply("\n".join(lines), buttons or None)


@router.callback(P)
async def pressed(ctx: Ctx) -> None:
    action = str(ctx.args[0]) if ctx.args else ""
    ctx.actor.require(Perm.PROPERTY_REPLY)
    if action == "r":
        e, code = int(ctx.args[1]), str(ctx.args[2])
        sheet = await ev.sheet(ctx.uow, actor=ctx.actor, evaluation_id=e)
        if sheet.evaluation.state != "submitted":
            raise AlreadyDone("evaluation")
        await ctx.set_state(FLOW, "reply", {"e": e, "code": code})
        ctx.reply(ctx.t("Send your reply to the deduction at item {code} (at most 500 characters).", code=code))
    elif action == "f":
        row = await rectify.mark_fixed(ctx.uow, actor=ctx.actor, score_id=int(ctx.args[1]), now=ctx.now)
        ctx.toast(ctx.t("✅ Reported fixed: {code}", code=row.code))
        ctx.edit_buttons([])
        await _tasks(ctx)
    elif action == "p":
        sheet = await ev.sheet(ctx.uow, actor=ctx.actor, evaluation_id=int(ctx.args[1]))
        row = sheet.scores.get(str(ctx.args[2]))
        if row is None or not row.photo:
            raise NotFound("deduction", ctx.args[2])
        ctx.reply(ctx.t("Evidence for item {code}", code=row.code), photo=row.photo)
    else:
        raise Expired("property_reply")


@router.flow(FLOW)
async def dialog(ctx: Ctx) -> None:
    if ctx.state is None or ctx.state.step != "reply":
        raise Expired("property_reply")
    data = ctx.state.data
    if not ctx.message.text.strip():
        raise Invalid("reply", "empty", limit=ev.MAX_NOTE)
    ind = ev.indicators_for(ctx.actor.home())
    await ev.reply(ctx.uow, actor=ctx.actor, ind=ind, evaluation_id=int(data["e"]), code=str(data["code"]),
                   text=ctx.message.text, now=ctx.now)
    await ctx.clear_state()
    ctx.reply(ctx.t("✅ Your reply is kept; it is shown beside the score when the ranking is published."))
    await _sheet(ctx, int(data["e"]))
