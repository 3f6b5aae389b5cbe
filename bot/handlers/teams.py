"""/team (F-9.1): the building enthusiast teams (楼门热心人), in a private chat, by buttons.

Admins and grid workers (their own grid's buildings) pick a building, then add members (➕, or ➕ as a Party-member
household: the member number typed), set the leader (⭐), remove someone (➖, confirmed: what it fed stops, see
flows/teams.py) and pair a Party-member household with a key person (🤝, the person's number from /person list).
A member sees their team and, as a Party-member household, their key persons — alias and room only."""

from __future__ import annotations

from typing import Any

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tr
from bot.core.types import Keyboard, OutMessage
from bot.handlers.common import grid, int_arg
from bot.render import NoticeRenderer, h
from flows import teams
from flows.errors import AlreadyDone, Expired, FlowError, Forbidden, Invalid, NotFound
from flows.roles import Perm
from flows.teams import TeamJoined, TeamLeader, TeamLeft, TeamPaired, TeamUnpaired, TeamView

router = Router()
P = "tm"
FLOW = "team"


def explain_team(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, Forbidden) and err.permission == "teams:building":
        return ctx.t("That building is not yours: grid workers put together the teams of their own grid's buildings.")
    if isinstance(err, Invalid) and err.field == "member":
        if err.reason == "not_party":
            return ctx.t("Member no. {member} is not a Party-member household of a team. Add them with “➕ Party "
                         "household” first.", member=err.details.get("member_id"))
        return ctx.t("Member no. {member} is not in this team.", member=err.details.get("member_id"))
    if isinstance(err, AlreadyDone):
        return {
            "team_member": ctx.t("They are in this team already."),
            "team_leader": ctx.t("They lead this team already."),
            "team_pair": ctx.t("They are paired with that person already."),
        }.get(err.what)
    if isinstance(err, NotFound) and err.what == "person":
        return ctx.t("There is no key person no. {key} you may pair. /person list shows them.", key=h(str(err.key)))
    if isinstance(err, Expired) and err.what == "team":
        return ctx.t("This has expired. Send /team again.")
    return None


EXPLAIN = explain_team


# ---------------------------------------------------------------- notices


def _n_joined(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = tr(lang, "🏠 You are now in the enthusiast team (楼门热心人) of building {building}, {community}. /team shows "
                    "it.", building=h(p["building"]), community=h(p["community"]))
    if p.get("party"):
        text += "\n" + tr(lang, "As a Party-member household you may be paired with neighbours who need care.")
    return OutMessage(text=text)


def _n_left(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "You are no longer in the enthusiast team of building {building}. Thank you for "
                                    "everything you did!", building=h(p["building"])))


def _n_leader(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "⭐ You now lead the enthusiast team of building {building}.",
                              building=h(p["building"])))


def _n_paired(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "🤝 You are paired with {alias} (building {building}, room {room}) as a Party-member "
                                    "household. /team shows your pairs.", alias=h(p["alias"]),
                              building=h(p["building"]), room=h(p["room"])))


def _n_unpaired(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "Your pairing with {alias} (building {building}, room {room}) has ended.",
                              alias=h(p["alias"]), building=h(p["building"]), room=h(p["room"])))


NOTICES = {TeamJoined.kind: _n_joined, TeamLeft.kind: _n_left, TeamLeader.kind: _n_leader,
           TeamPaired.kind: _n_paired, TeamUnpaired.kind: _n_unpaired}


# ---------------------------------------------------------------- /team


@router.command("team", where=PRIVATE, description=N_("The building enthusiast teams"), perm=Perm.TEAM)
async def team_cmd(ctx: Ctx) -> None:
    ctx.actor.require(Perm.TEAM)
    await ctx.clear_state()
    if ctx.actor.can(Perm.TEAMS):
        await _buildings(ctx)
        return
    mine = await teams.my_teams(ctx.uow, actor=ctx.actor)
    if not mine:
        ctx.reply(ctx.t("You are not in a building team yet. The community office or your grid worker adds you."))
    for building_id in mine:
        await _show(ctx, building_id)
    await _pairs(ctx, quiet=True)


async def _buildings(ctx: Ctx) -> None:
    rows = await teams.buildings(ctx.uow, actor=ctx.actor)
    buttons: Keyboard = grid([ctx.button(ctx.t("Building {label}", label=b.label), P, "b", b.id or 0) for b in rows], 3)
    ctx.show(ctx.t("🏠 <b>Enthusiast teams</b> (楼门热心人): which building?") if rows else
             ctx.t("No building is yours to manage."), buttons)


def _text(ctx: Ctx, v: TeamView) -> str:
    lines = [ctx.t("🏠 <b>Enthusiast team of building {building}</b>", building=h(v.building)),
             ctx.t("Leader: {name}", name=h(v.leader) if v.leader else "—")]
    for m in v.members:
        tags = ([ctx.t("⭐ leader")] if m.leader else []) + ([ctx.t("Party household")] if m.party else [])
        if m.pairs:
            tags.append(ctx.t("paired with {n}", n=m.pairs))
        lines.append(f"{m.member_id}. {h(m.name)}" + (f" · {' · '.join(tags)}" if tags else ""))
    if not v.members:
        lines.append(ctx.t("Nobody yet."))
    return "\n".join(lines)


async def _show(ctx: Ctx, building_id: int, *, edit: bool = False) -> None:
    v = await teams.view(ctx.uow, actor=ctx.actor, building_id=building_id)
    buttons: Keyboard = []
    if ctx.actor.can(Perm.TEAMS):
        buttons = [[ctx.button(ctx.t("➕ Member"), P, "a", building_id, 0),
                    ctx.button(ctx.t("➕ Party household"), P, "a", building_id, 1)],
                   [ctx.button(ctx.t("⭐ Leader"), P, "L", building_id), ctx.button(ctx.t("➖ Remove"), P, "R", building_id),
                    ctx.button(ctx.t("🤝 Pair"), P, "P", building_id)],
                   [ctx.button(ctx.t("◀ Buildings"), P, "bb")]]
    (ctx.show if edit else ctx.reply)(_text(ctx, v), buttons or None)


async def _pairs(ctx: Ctx, *, quiet: bool = False) -> None:
    lines = await teams.my_pairs(ctx.uow, actor=ctx.actor, now=ctx.now)
    if not lines and quiet:
        return
    text = [ctx.t("🤝 <b>Your pairs</b> (as a Party-member household)")]
    text += [ctx.t("{alias} · building {building}, room {room}", alias=h(x.alias), building=h(x.building),
                   room=h(x.room)) for x in lines] or [ctx.t("Nobody yet.")]
    ctx.reply("\n".join(text))


async def _pick(ctx: Ctx, building_id: int, action: str, question: str) -> None:
    v = await teams.view(ctx.uow, actor=ctx.actor, building_id=building_id)
    if not v.members:
        ctx.toast(ctx.t("Nobody yet."), alert=True)
        return
    members = [m for m in v.members if m.party] if action == "P" else list(v.members)
    if not members:
        ctx.toast(ctx.t("No Party-member household in this team yet."), alert=True)
        return
    ctx.show(question, [*grid([ctx.button(f"{m.name[:20]} ({m.member_id})", P, action.lower(), building_id,
                                          m.member_id) for m in members], 2),
                        [ctx.button(ctx.t("✖ Cancel"), P, "b", building_id)]])


@router.callback(P)
async def pressed(ctx: Ctx) -> None:
    action = str(ctx.args[0])
    nums = [int_arg(str(a)) or 0 for a in ctx.args[1:]]
    if action == "bb":
        await _buildings(ctx)
    elif action == "b":
        await ctx.clear_state()
        await _show(ctx, nums[0], edit=True)
    elif action == "a":
        await teams.view(ctx.uow, actor=ctx.actor, building_id=nums[0])
        ctx.actor.require(Perm.TEAMS)
        await ctx.set_state(FLOW, "add", {"building": nums[0], "party": bool(nums[1])})
        ctx.show(ctx.t("Send the member number of the person to add (/members shows the numbers)."),
                 [[ctx.button(ctx.t("✖ Cancel"), P, "b", nums[0])]])
    elif action == "L":
        await _pick(ctx, nums[0], "L", ctx.t("Who leads the team?"))
    elif action == "R":
        await _pick(ctx, nums[0], "R", ctx.t("Whom to take out of the team?"))
    elif action == "P":
        await _pick(ctx, nums[0], "P", ctx.t("Which Party-member household?"))
    elif action == "l":
        v = await teams.set_leader(ctx.uow, actor=ctx.actor, building_id=nums[0], member_id=nums[1], now=ctx.now)
        ctx.show(_text(ctx, v), [[ctx.button(ctx.t("◀ Back"), P, "b", nums[0])]])
    elif action == "r":
        ctx.show(ctx.t("Take member no. {member} out of the team? Their pairings end and they are told.",
                       member=nums[1]),
                 [[ctx.button(ctx.t("✅ Yes, remove"), P, "rr", nums[0], nums[1]),
                   ctx.button(ctx.t("✖ Cancel"), P, "b", nums[0])]])
    elif action == "rr":
        v = await teams.remove_member(ctx.uow, actor=ctx.actor, building_id=nums[0], member_id=nums[1], now=ctx.now)
        ctx.show(_text(ctx, v), [[ctx.button(ctx.t("◀ Back"), P, "b", nums[0])]])
    elif action == "p":
        await ctx.set_state(FLOW, "pair", {"building": nums[0], "member": nums[1]})
        ctx.show(ctx.t("Send the number of the key person to pair them with (/person list shows the numbers)."),
                 [[ctx.button(ctx.t("✖ Cancel"), P, "b", nums[0])]])
    else:
        raise Expired("team")


@router.flow(FLOW)
async def dialog(ctx: Ctx) -> None:
    if ctx.state is None:
        raise Expired("team")
    data = dict(ctx.state.data)
    number = int_arg(ctx.message.text)
    if number is None:
        ctx.reply(ctx.t("Please send a number, or /cancel to stop."))
        return
    if ctx.state.step == "add":
        v = await teams.add_member(ctx.uow, actor=ctx.actor, building_id=int(data["building"]), member_id=number,
                                   party=bool(data.get("party")), now=ctx.now)
        await ctx.clear_state()
        ctx.reply(_text(ctx, v), [[ctx.button(ctx.t("◀ Back"), P, "b", v.building_id)]])
    elif ctx.state.step == "pair":
        line = await teams.pair(ctx.uow, actor=ctx.actor, person_id=number, member_id=int(data["member"]), now=ctx.now)
        await ctx.clear_state()
        ctx.reply(ctx.t("🤝 Paired: {alias} (building {building}, room {room}). They are told.", alias=h(line.alias),
                        building=h(line.building), room=h(line.room)),
                  [[ctx.button(ctx.t("◀ Back"), P, "b", int(data["building"]))]])
    else:
        raise Expired("team")
