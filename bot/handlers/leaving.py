"""A membership ends (flows/leaving.py): `/leave` (a member who moves away) and `/remove N` (an admin removes
member no. N, e.g. someone who moved or an account that is not a resident). Both show what will end and ask
first (✅ / ✖); the answer says what was passed on. Private chat only: a group never sees who left."""

from __future__ import annotations

from typing import Any

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tn, tr
from bot.core.types import OutMessage
from bot.handlers.common import MAX_ARGS, int_arg
from bot.render import NoticeRenderer, h, roles_list
from flows import leaving
from flows.errors import AlreadyDone, FlowError, Invalid, NotFound
from flows.roles import Perm

router = Router()


def explain_leaving(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, Invalid) and err.field == "leave":
        if err.reason == "last_admin":
            return ctx.t("The community's only admin cannot leave or be removed: first make someone else admin "
                         "(/invite admin or /grant).")
        if err.reason == "self":
            return ctx.t("To leave the community yourself, send /leave.")
    if isinstance(err, NotFound) and err.what == "member":
        return ctx.t("There is no member no. {id} in this community (any more). /members lists them.",
                     id=h(err.key if err.key is not None else "?"))
    if isinstance(err, AlreadyDone) and err.what == "left":
        return ctx.t("That membership has already ended.")
    return None


EXPLAIN = explain_leaving


def _what_ends(ctx: Ctx, roles: tuple[str, ...]) -> str:
    others = tuple(r for r in roles if r != "resident")
    lines = [ctx.t("Your name and building are removed from the community's lists; what was written before "
                   "(needs, requests, votes) stays without a name.")]
    if others:
        lines.insert(0, ctx.t("These roles end: {roles}. Key persons, checks and grids are passed on to others.",
                              roles=roles_list(ctx.lang, list(others))))
    return "\n".join(lines)


@router.command("leave", where=PRIVATE, description=N_("Leave the community (moving away)"), member_only=True)
async def leave(ctx: Ctx) -> None:
    _, _, roles = await leaving.preview(ctx.uow, actor=ctx.actor, member_id=None)
    community = ctx.actor.home()
    ctx.reply(ctx.t("<b>Leave {community}?</b>", community=h(community.name)) + "\n" + _what_ends(ctx, roles)
              + "\n" + ctx.t("You can register again at any time with /start."),
              [[ctx.button(ctx.t("✅ Leave the community"), "lv", "me"), ctx.button(ctx.t("✖ Cancel"), "lv", "x")]])


@router.command("remove", where=PRIVATE, description=N_("Remove a member from the community (moved away)"),
                perm=Perm.GRANT)
async def remove(ctx: Ctx) -> None:
    words = ctx.message.args[:MAX_ARGS].split()
    member_id = int_arg(words[0]) if len(words) == 1 else None
    if member_id is None:
        ctx.reply(ctx.t("Usage: /remove MEMBER_NO, e.g. /remove 12 (/members shows the numbers)."))
        return
    member, user, roles = await leaving.preview(ctx.uow, actor=ctx.actor, member_id=member_id)
    others = tuple(r for r in roles if r != "resident")
    text = ctx.t("<b>Remove {name} (no. {id}) from the community?</b>", name=h(member.display_name or user.first_name),
                 id=member.id)
    if others:
        text += "\n" + ctx.t("These roles end: {roles}. Key persons, checks and grids are passed on to others.",
                             roles=roles_list(ctx.lang, list(others)))
    text += "\n" + ctx.t("They are told, and may register again.")
    ctx.reply(text, [[ctx.button(ctx.t("✅ Remove"), "lv", "rm", member.id or 0), ctx.button(ctx.t("✖ Cancel"), "lv", "x")]])


def _summary(ctx: Ctx, done: leaving.Left) -> str:
    parts = []
    if done.persons:
        parts.append(tn(ctx.lang, "{n} key person passed on", "{n} key persons passed on", done.persons))
    if done.checks_passed_on:
        parts.append(tn(ctx.lang, "{n} check passed on", "{n} checks passed on", done.checks_passed_on))
    if done.grids:
        parts.append(tn(ctx.lang, "{n} grid without its grid worker", "{n} grids without their grid worker",
                        done.grids))
    return ("\n" + "; ".join(parts)) if parts else ""


@router.callback("lv")
async def leaving_press(ctx: Ctx) -> None:
    action = ctx.args[0] if ctx.args else ""
    if action == "x":
        ctx.edit(ctx.t("Cancelled: nothing changed."))
    elif action == "me":
        community = ctx.actor.home()
        done = await leaving.end(ctx.uow, actor=ctx.actor, member_id=None, now=ctx.now)
        ctx.edit(ctx.t("You have left {community}. Thank you for being a good neighbour! Send /start to register "
                       "again.", community=h(community.name)) + _summary(ctx, done))
    elif action == "rm" and len(ctx.args) == 2 and (member_id := int_arg(ctx.args[1])) is not None:
        done = await leaving.end(ctx.uow, actor=ctx.actor, member_id=member_id, now=ctx.now)
        ctx.edit(ctx.t("✅ Member no. {id} is removed; they are told.", id=done.member_id) + _summary(ctx, done))
    else:
        ctx.toast(ctx.t("This button is not valid."), alert=True)


def _removed_notice(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "You are no longer a member of {community} (removed by an admin, e.g. after a "
                                    "move). If this is a mistake, send /start to register again.",
                              community=h(p.get("community", ""))))


NOTICES = {leaving.MemberRemoved.kind: _removed_notice}
