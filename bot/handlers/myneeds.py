"""/myneeds: the needs a member submitted, that were entered for them or that they support with "+1", and
what became of them — past the review, through the vote (当选 / 未当选) and the project's progress (进行中,
with its colour and percent) to its completion (已完成, with the before/after picture and the ⭐ acceptance button). The notices telling
the author and the "+1" supporters of the election and of the completion are worded here too."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tn, tr
from bot.core.types import Button, Keyboard, OutMessage
from bot.handlers.acceptance import LINK as RATE_LINK
from bot.handlers.board import COLOUR_NAMES, EMOJI
from bot.handlers.common import int_arg, pager
from bot.handlers.needs_notices import CHANNEL_NAMES, need_ref
from bot.handlers.needs_words import explain_needs, need_line
from bot.render import NoticeRenderer, h
from flows import acceptance, needs_loop
from flows.errors import FlowError, Invalid
from flows.needs_loop import MyNeed, NeedDone, NeedsElected

router = Router()


def entered_for(lang: str, channel: str) -> str:
    """How a need someone else recorded for the resident is named ("" for their own)."""
    if channel == "door_visit":
        return tr(lang, "A need the grid worker entered for you (door visit)")
    if channel in CHANNEL_NAMES:
        return tr(lang, "A need recorded for you at the {channel}", channel=tr(lang, CHANNEL_NAMES[channel]))
    return ""


def _stage(ctx: Ctx, m: MyNeed) -> str:
    title, number = h(m.project_title or ""), m.project_number
    if m.stage == needs_loop.ELECTED:
        return tn(ctx.lang, "🗳 Elected (当选): project {number} “{title}” of this year ({n} vote); the work has not "
                  "started yet.", "🗳 Elected (当选): project {number} “{title}” of this year ({n} votes); the work "
                  "has not started yet.", m.votes or 0, number=number, title=title)
    if m.stage == needs_loop.IN_PROGRESS:
        colour = m.colour or "yellow"
        return ctx.t("{emoji} In progress (进行中): project {number} “{title}” · {percent}% · {colour}",
                     emoji=EMOJI.get(colour, "🟡"), number=number, title=title, percent=m.percent,
                     colour=ctx.t(COLOUR_NAMES.get(colour, COLOUR_NAMES["yellow"])))
    if m.stage == needs_loop.DONE:
        return ctx.t("✅ Done (已完成) on {day}: project {number} “{title}”. Tap 🖼 for the before/after picture, ⭐ "
                     "to rate the work.", day=m.completed_on or "", number=number, title=title)
    return ctx.t("Not elected (未当选) in the representatives' vote.")


def _my_line(ctx: Ctx, m: MyNeed) -> str:
    n = m.line
    if m.stage in (needs_loop.ELECTED, needs_loop.IN_PROGRESS, needs_loop.DONE, needs_loop.NOT_ELECTED):
        out = need_line(ctx, replace(n, status="open")) + "\n" + _stage(ctx, m)
    else:
        out = need_line(ctx, n)
    if m.supported:
        out += "\n" + ctx.t("👍 You support this need (+1).")
    elif n.channel != "chat":
        out += "\n" + entered_for(ctx.lang, n.channel)
    return out


@router.command("myneeds", where=PRIVATE, description=N_("The needs you submitted or support, and their state"),
                member_only=True)
async def myneeds(ctx: Ctx) -> None:
    await _my_page(ctx, 1)


async def _my_page(ctx: Ctx, page: int) -> None:
    shown = await needs_loop.my_needs(ctx.uow, actor=ctx.actor, now=ctx.now, page=page)
    if not shown.items:
        ctx.show(ctx.t("You have not submitted any needs yet. /need adds one."))
        return
    lines = [ctx.t("<b>Your needs</b> ({total})", total=shown.total)] + [_my_line(ctx, m) for m in shown.items]
    buttons: Keyboard = []
    for m in shown.items:
        if m.project_id is None:
            continue
        row = [ctx.button(ctx.t("📋 Project {number}", number=m.project_number), "bd", "p", m.project_id)]
        if m.stage == needs_loop.DONE:
            row += [ctx.button("🖼", "nm", "pic", m.project_id),
                    ctx.url_button(ctx.t("⭐ Rate"), ctx.deep_link(f"{RATE_LINK}{m.project_id}"))]
        buttons.append(row)
    nav = pager(ctx, shown.page, shown.pages, "nm")
    if nav:
        buttons.append(nav)
    ctx.show("\n\n".join(lines), buttons or None)


@router.callback("nm")
async def my_press(ctx: Ctx) -> None:
    if ctx.args and ctx.args[0] == "pic":
        project_id = int_arg(ctx.args[1]) if len(ctx.args) > 1 else None
        await acceptance.send_picture(ctx.uow, actor=ctx.actor, project_id=project_id or 0, now=ctx.now)
        ctx.toast(ctx.t("The before/after picture is on its way."))
        return
    await _my_page(ctx, (int_arg(ctx.args[0]) if ctx.args else None) or 1)


def explain_myneeds(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, Invalid) and err.field == "project" and err.reason == "no_photos":
        return ctx.t("There is no photo of this project yet.")
    return explain_needs(ctx, err)


# ---------------------------------------------------------------- notices


def _who(lang: str, p: dict[str, Any]) -> str:
    return need_ref(lang, p.get("need_number", ""), p.get("channel"), author=bool(p.get("author")))


def _n_elected(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    """One person's elected needs: a sentence for one, a list for several."""
    items = [x for x in p.get("needs") or [] if isinstance(x, dict)]
    if len(items) == 1:
        x = items[0]
        return OutMessage(text=tn(
            lang, "🎉 {need} was elected in the representatives' vote: it is project {number} of {year}, “{title}” "
                  "({n} vote). /myneeds follows its progress.",
            "🎉 {need} was elected in the representatives' vote: it is project {number} of {year}, “{title}” "
            "({n} votes). /myneeds follows its progress.", int(x.get("votes") or 0), need=_who(lang, x),
            number=x.get("project_number", ""), year=p.get("year", ""), title=h(x.get("title", ""))))
    lines = [tr(lang, "🎉 The representatives' vote made these needs you asked for or supported projects of {year}:",
                year=p.get("year", ""))]
    lines += [tn(lang, "• {need}: project {number} “{title}” ({n} vote)", "• {need}: project {number} “{title}” "
                 "({n} votes)", int(x.get("votes") or 0), need=_who(lang, x), number=x.get("project_number", ""),
                 title=h(x.get("title", "")))
              for x in items]
    lines.append(tr(lang, "/myneeds follows their progress."))
    return OutMessage(text="\n".join(lines))


def _n_done(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = tr(lang, "✅ {need} is done: project {number} “{title}” was completed on {day}.", need=_who(lang, p),
              number=p.get("number", ""), title=h(p.get("title", "")), day=p.get("completed_on") or "")
    if p.get("before") and p.get("after"):
        text += "\n" + tr(lang, "The picture shows it before and after the works.")
    text += "\n" + tr(lang, "Is it done well? Give it stars in the acceptance form (验收单).")
    pid = p.get("project_id", 0)
    return OutMessage(text=text, buttons=[[Button(text=tr(lang, "⭐ Rate"), url=r.deep_link(f"{RATE_LINK}{pid}"))]])


NOTICES = {NeedsElected.kind: _n_elected, NeedDone.kind: _n_done}

#: Errors are worded as the needs list words them.
EXPLAIN = explain_myneeds
