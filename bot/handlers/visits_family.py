"""Family members of key persons (#17): /family for them (their relative's alias and room, a service to ask for, ✖
to end their own link, confirmed), `/services family PERSON` for the grid worker or an admin (a one-time invite
link, the linked family with ✖).

Flows decide (flows/visits/family.py, services.py); this words. Never a name or contact: alias and room only."""

from __future__ import annotations

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_
from bot.handlers.common import int_arg
from bot.handlers.visits import SERVICE_NAMES, SHORT, _parse_when
from bot.render import h
from flows.care.ledger import SERVICES
from flows.clock import local
from flows.errors import Forbidden, Invalid, NotFound
from flows.roles import Perm
from flows.visits import family, services

router = Router()
FLOW = "family_ask"


def _service(ctx: Ctx, kind: str) -> str:
    return ctx.t(SERVICE_NAMES.get(kind, kind))


@router.command("family", where=PRIVATE, perm=Perm.FAMILY,
                description=N_("Your relative on the care ledger: ask for 助医/助洁/助行/助急"))
async def family_cmd(ctx: Ctx) -> None:
    rows = await family.relatives(ctx.uow, actor=ctx.actor, now=ctx.now)
    if not rows:
        ctx.reply(ctx.t("You are not linked to anyone on the care ledger (any more)."))
        return
    lines = [ctx.t("<b>Your relative</b> — tap a service to ask for it:")]
    buttons = []
    for r in rows:
        lines.append(ctx.t("• {alias} (room {room})", alias=h(r.alias), room=h(r.room)))
        buttons.append([ctx.button(SHORT[k], "fa", r.person_id, k) for k in SERVICES])
        buttons.append([ctx.button(ctx.t("✖ Unlink me from {alias}", alias=r.alias), "fq", r.person_id)])
    ctx.show("\n".join(lines), buttons)


@router.callback("fq")
async def leave_ask(ctx: Ctx) -> None:
    """✖ under /family: asks first — only a new invite from the grid worker links them again."""
    pid = int_arg(ctx.args[0]) if ctx.args else None
    mine = [r for r in await family.relatives(ctx.uow, actor=ctx.actor, now=ctx.now) if r.person_id == pid]
    if not mine:
        ctx.toast(ctx.t("You are not linked to this person (any more)."), alert=True)
        return
    ctx.edit(ctx.t("Unlink yourself from {alias}? You will get no more notices about them and cannot ask for "
                   "services for them; requests you made stay. Only a new invite from the grid worker links you "
                   "again.", alias=h(mine[0].alias)),
             [[ctx.button(ctx.t("✖ Yes, unlink me"), "fl", mine[0].person_id),
               ctx.button(ctx.t("Keep the link"), "fk", mine[0].person_id)]])
    ctx.toast()


@router.callback("fl")
async def leave_press(ctx: Ctx) -> None:
    pid = int_arg(ctx.args[0]) if ctx.args else None
    if pid is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    try:
        await family.leave(ctx.uow, actor=ctx.actor, person_id=pid, now=ctx.now)
    except NotFound:
        ctx.toast(ctx.t("You are not linked to this person (any more)."), alert=True)
        return
    ctx.edit(ctx.t("✖ Unlinked. You get no more notices about this person; the grid worker can invite you again."))
    ctx.toast()


@router.callback("fk")
async def leave_kept(ctx: Ctx) -> None:
    ctx.edit(ctx.t("The link stays. Send /family to ask for a service."))
    ctx.toast()


@router.callback("fa")
async def ask_press(ctx: Ctx) -> None:
    pid = int_arg(ctx.args[0]) if ctx.args else None
    kind = ctx.args[1] if len(ctx.args) > 1 else ""
    if pid is None or kind not in SERVICES:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    if not await family.linked(ctx.uow, member_id=ctx.actor.registered().id, person_id=pid):
        ctx.toast(ctx.t("You are not linked to this person (any more)."), alert=True)
        return
    if kind == services.URGENT:
        await _ask(ctx, pid, kind, ctx.now)
        return
    await ctx.set_state(FLOW, "when", {"person_id": pid, "kind": kind})
    ctx.reply(ctx.t("{service}: when? Send the date and time as MM-DD HH:MM (e.g. 03-04 09:00), or /cancel.",
                    service=_service(ctx, kind)))


@router.flow(FLOW)
async def ask_when(ctx: Ctx) -> None:
    assert ctx.state is not None
    when = _parse_when((ctx.message.text or "")[:40], ctx.now, ctx.actor.home().timezone)
    if when is None:
        ctx.reply(ctx.t("Please send the date and time as MM-DD HH:MM (e.g. 03-04 09:00), or /cancel."))
        return
    data = ctx.state.data
    try:
        await _ask(ctx, int(data["person_id"]), str(data["kind"]), when)
    except Invalid as err:
        ctx.reply({"past": ctx.t("That time has passed."),
                   "too_far": ctx.t("At most {limit} days ahead.", limit=services.MAX_AHEAD.days)}.get(
                       err.reason, ctx.t("Please send the date and time as MM-DD HH:MM (e.g. 03-04 09:00), "
                                         "or /cancel.")))
        return
    await ctx.clear_state()


async def _ask(ctx: Ctx, person_id: int, kind: str, when: object) -> None:
    try:
        req = await services.ask(ctx.uow, actor=ctx.actor, person_id=person_id, kind=kind, wanted_at=when,  # type: ignore[arg-type]
                                 now=ctx.now)
    except (Forbidden, NotFound):
        await ctx.clear_state()
        ctx.reply(ctx.t("You are not linked to this person (any more)."))
        return
    text = ctx.t("✅ S-{n}: {service} asked. Those who offer it have been told.", n=req.number,
                 service=_service(ctx, kind))
    if kind == services.URGENT:
        text += "\n" + ctx.t("🆘 The grid worker has been alerted at once.")
    ctx.reply(text + "\n" + ctx.t("You will hear when someone takes it and when it is done."))


# ---------------------------------------------------------------- the grid worker's side


async def family_links(ctx: Ctx, words: list[str]) -> None:
    """`/services family PERSON`: a one-time invite link for a family member, and the linked family with ✖."""
    pid = int_arg(words[0]) if words else None
    if pid is None:
        ctx.reply(ctx.t("Usage: /services family PERSON, e.g. /services family 12 — an invite link for a family "
                        "member, and the family linked already."))
        return
    try:
        inv = await family.invite(ctx.uow, actor=ctx.actor, person_id=pid, now=ctx.now)
        person, rows = await family.links(ctx.uow, actor=ctx.actor, person_id=pid)
    except (Forbidden, NotFound):
        ctx.reply(ctx.t("Only the person's grid worker and admins can invite family."))
        return
    lines = [ctx.t("One-time invite link for a family member of {alias} (valid for 7 days, one person):\n{link}\n"
                   "Forward it to them: they will see this person's alias and room only and may ask for services.",
                   alias=h(person.alias), link=ctx.deep_link(f"i_{inv.code}"))]
    buttons = []
    if rows:
        lines.append(ctx.t("Linked family — ✖ removes one:"))
    tz = ctx.actor.home().timezone
    for i, link in enumerate(rows, start=1):
        lines.append(f"{i}. {h(link.name)} · {local(link.since, tz):%Y-%m-%d}")
        buttons.append([ctx.button(ctx.t("✖ Remove no. {n}", n=i), "fx", link.id)])
    ctx.show("\n".join(lines), buttons)


@router.callback("fx")
async def remove_press(ctx: Ctx) -> None:
    lid = int_arg(ctx.args[0]) if ctx.args else None
    if lid is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    try:
        await family.remove(ctx.uow, actor=ctx.actor, link_id=lid, now=ctx.now)
    except (Forbidden, NotFound):
        ctx.toast(ctx.t("This family link is gone already (or not yours to remove)."), alert=True)
        return
    ctx.toast(ctx.t("Removed: they get no more notices about this person."))
    ctx.reply(ctx.t("✖ Family link removed. Their open requests stay; they get no more notices about this person."))


__all__ = ["family_links", "router"]
