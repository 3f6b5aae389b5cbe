"""The care ledger (重点人员关爱台账): /pair, /mine, /grid, and the ledger's notices (flows/care/notices.py).

Private-chat only; volunteers see alias, building and room."""

from __future__ import annotations

from typing import Any

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tr
from bot.core.types import OutMessage
from bot.handlers.care import PAIR_ROLES, RISK_EMOJI, _place, _vol, explain_care
from bot.handlers.common import MAX_ARGS, grid, int_arg, pager
from bot.render import NoticeRenderer, h
from flows import care
from flows.roles import Perm

router = Router()


# ---------------------------------------------------------------- /pair


@router.command("pair", where=PRIVATE, description=N_("Pair a key person with volunteers"), perm=Perm.PAIR)
async def pair_cmd(ctx: Ctx) -> None:
    ctx.actor.require(Perm.PAIR)
    words = ctx.message.args[:MAX_ARGS].split()
    numbers = [int_arg(w) for w in words]
    if len(words) == 1 and numbers[0] is not None:
        await _choose(ctx, numbers[0], None, 1)
    elif len(words) == 3 and None not in numbers:
        await _pair(ctx, numbers[0] or 0, numbers[1] or 0, numbers[2] or 0)
    else:
        ctx.reply(ctx.t("Usage: /pair NO (then tap the volunteers) or /pair NO PRIMARY_NO BACKUP_NO. "
                        "/person list shows the persons, /members volunteer the volunteers."))


async def _choose(ctx: Ctx, person_id: int, primary: int | None, page_no: int) -> None:
    line = await care.person_line(ctx.uow, actor=ctx.actor, person_id=person_id)
    page = await care.list_volunteers(ctx.uow, actor=ctx.actor, page=page_no, exclude=primary)
    if page.total == 0:
        ctx.show(ctx.t("There are no (other) volunteers to pair yet. Invite some with /invite volunteer."))
        return
    first = "-" if primary is None else primary
    buttons = grid([ctx.button(f"{v.name[:24]} ({v.member_id})", "pp", person_id, first, v.member_id)
                    for v in page.items], 2)
    if page.pages > 1:
        buttons.append(pager(ctx, page.page, page.pages, "pq", person_id, first))
    if primary is None:
        text = ctx.t("Who is the primary volunteer (结对志愿者) of no. {id} {alias}?", id=line.id, alias=h(line.alias))
    else:
        name = await care.volunteer(ctx.uow, primary)
        text = ctx.t("Primary volunteer: {name}. Who is the backup volunteer (备用志愿者)?",
                     name=_vol(ctx, name))
    ctx.show(text, buttons)


@router.callback("pq")
async def pair_page(ctx: Ctx) -> None:
    if len(ctx.args) != 3:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    primary = None if ctx.args[1] == "-" else int_arg(ctx.args[1])
    await _choose(ctx, int_arg(ctx.args[0]) or 0, primary, int_arg(ctx.args[2]) or 1)


@router.callback("pp")
async def pair_press(ctx: Ctx) -> None:
    numbers = [None if a == "-" else int_arg(a) for a in ctx.args]
    if len(numbers) == 1 and numbers[0] is not None:
        await _choose(ctx, numbers[0], None, 1)
    elif len(numbers) == 3 and numbers[0] is not None and numbers[2] is not None:
        if numbers[1] is None:
            await _choose(ctx, numbers[0], numbers[2], 1)
        else:
            await _pair(ctx, numbers[0], numbers[1], numbers[2])
    else:
        ctx.toast(ctx.t("This button is not valid."), alert=True)


async def _pair(ctx: Ctx, person_id: int, primary: int, backup: int) -> None:
    person = await care.pair(ctx.uow, actor=ctx.actor, person_id=person_id, primary_id=primary, backup_id=backup,
                             now=ctx.now)
    ctx.show(ctx.t("✅ No. {id} {alias} is paired: primary volunteer {primary}, backup volunteer {backup}. "
                     "Both were told (alias and room only).", id=person.id, alias=h(person.alias),
                     primary=_vol(ctx, await care.volunteer(ctx.uow, primary)),
                     backup=_vol(ctx, await care.volunteer(ctx.uow, backup))))


# ---------------------------------------------------------------- /mine


@router.command("mine", where=PRIVATE, description=N_("The key persons I look after"), perm=Perm.CHECK)
async def mine(ctx: Ctx) -> None:
    lines_ = await care.my_persons(ctx.uow, actor=ctx.actor, now=ctx.now)
    if not lines_:
        ctx.reply(ctx.t("You are not paired with any key person yet."))
        return
    out = [ctx.t("<b>The key persons you look after</b>")]
    for primary in (True, False):
        group = [p for p in lines_ if p.as_primary == primary]
        if group:
            out.append(ctx.t("As primary volunteer (结对志愿者):") if primary else
                       ctx.t("As backup volunteer (备用志愿者):"))
            out += [f"{RISK_EMOJI.get(p.risk, '')} {h(p.alias)} · {_place(ctx, p.building, p.room)}" for p in group]
    ctx.reply("\n".join(out))


# ---------------------------------------------------------------- /grid


@router.command("grid", where=PRIVATE, description=N_("Grids, their buildings and grid workers"), perm=Perm.GRIDS)
async def grid_cmd(ctx: Ctx) -> None:
    ctx.actor.require(Perm.GRIDS)
    words = ctx.message.args[:MAX_ARGS].split()
    verb = words[0].lower() if words else ""
    if verb == "add" and len(words) >= 3:
        view = await care.set_grid(ctx.uow, actor=ctx.actor, name=words[1], buildings=",".join(words[2:]),
                                   now=ctx.now)
        ctx.reply(_grid_line(ctx, view))
    elif verb == "worker" and len(words) == 3 and int_arg(words[2]) is not None:
        view = await care.set_grid_worker(ctx.uow, actor=ctx.actor, name=words[1], member_id=int_arg(words[2]) or 0,
                                          now=ctx.now)
        ctx.reply(_grid_line(ctx, view))
    elif not words:
        grids = await care.list_grids(ctx.uow, actor=ctx.actor)
        lines = [ctx.t("<b>Grids</b> ({total})", total=len(grids))] + [_grid_line(ctx, g) for g in grids]
        lines.append(ctx.t("Set up: /grid add NAME BUILDINGS (e.g. /grid add 一网格 1-6) · "
                           "/grid worker NAME MEMBER_NO"))
        ctx.reply("\n".join(lines))
    else:
        ctx.reply(ctx.t("Usage: /grid · /grid add NAME BUILDINGS (e.g. /grid add 一网格 1-6) · "
                        "/grid worker NAME MEMBER_NO"))


def _grid_line(ctx: Ctx, g: care.GridView) -> str:
    sep = "、" if ctx.lang.startswith("zh") else ", "
    return ctx.t("{name}: buildings {buildings} · grid worker {worker}", name=h(g.name),
                 buildings=sep.join(g.buildings) or ctx.t("—"), worker=_vol(ctx, g.worker))


# ---------------------------------------------------------------- notices


def _paired_notice(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    where = tr(lang, "Building {label}", label=h(p.get("building", ""))) if p.get("building") else ""
    return OutMessage(text=tr(
        lang, "🤝 You are now the {role} of {alias} ({place}). You will get the daily check-ins for them. "
              "/mine shows everyone you look after.",
        role=tr(lang, PAIR_ROLES.get(p.get("role", ""), "primary volunteer")), alias=h(p.get("alias", "")),
        place=f"{where} {h(p.get('room', ''))}".strip()))


def _unpaired_notice(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    where = tr(lang, "Building {label}", label=h(p.get("building", ""))) if p.get("building") else ""
    return OutMessage(text=tr(
        lang, "You no longer look after {alias} ({place}): another volunteer has taken over. Thank you! "
              "/mine shows everyone you look after now.",
        alias=h(p.get("alias", "")), place=f"{where} {h(p.get('room', ''))}".strip()))


def _closed_notice(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    where = tr(lang, "Building {label}", label=h(p.get("building", ""))) if p.get("building") else ""
    return OutMessage(text=tr(
        lang, "{alias} ({place}) has left the care ledger: no more check-ins for them. Thank you for looking after "
              "them! /mine shows everyone you look after now.",
        alias=h(p.get("alias", "")), place=f"{where} {h(p.get('room', ''))}".strip()))


def _needs_volunteer_notice(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    """To the grid worker: a volunteer lost the role and was taken off these key persons."""
    lines = [tr(lang, "{name} (member no. {member_id}) is no longer a volunteer and was taken off these key persons. "
                      "Please pair a new volunteer with /pair:", name=h(p.get("name", "")),
                member_id=p.get("member_id", ""))]
    for it in p.get("items", []):
        where = tr(lang, "Building {label}", label=h(it.get("building", ""))) if it.get("building") else ""
        place = f"{h(it.get('alias', ''))} ({where} {h(it.get('room', ''))})".replace("( ", "(")
        if it.get("covered"):
            lines.append("• " + tr(lang, "{place}: the backup volunteer now checks alone; a new backup is needed.",
                                   place=place))
        else:
            lines.append("• " + tr(lang, "{place}: no volunteer checks on them now. Please pair one soon; "
                                         "today's remaining checks come to you.", place=place))
    if p.get("more"):
        lines.append(tr(lang, "… and {n} more. /person list shows them.", n=p["more"]))
    return OutMessage(text="\n".join(lines))


NOTICES = {care.CarePaired.kind: _paired_notice, care.CareUnpaired.kind: _unpaired_notice,
           care.CareClosed.kind: _closed_notice, care.CareNeedsVolunteer.kind: _needs_volunteer_notice}

#: The ledger's own wording of its errors (bot/handlers/__init__.py: report_error asks it first).
EXPLAIN = explain_care
