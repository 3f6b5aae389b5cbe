"""/start and registration, /help, /lang, /me, /cancel."""

from __future__ import annotations

from bot.core.dispatch import ANYWHERE, PRIVATE, Ctx, Router
from bot.core.i18n import N_
from bot.handlers.common import explain, grid, int_arg, not_a_member, pager
from bot.menus import grouped
from bot.render import h, purpose_name, roles_list
from flows import membership, paging
from flows.errors import FlowError
from flows.membership import Registered
from storage.models import Community

router = Router()
REG = "reg"


def _welcome_back(ctx: Ctx) -> str:
    assert ctx.actor.community is not None
    return ctx.t("Welcome back, {name}! You are registered in {community}. Send /help to see what you can do.",
                 name=h(ctx.actor.user.first_name), community=h(ctx.actor.community.name))


@router.command("start", where=PRIVATE, description=N_("Register or start over"))
async def start(ctx: Ctx) -> None:
    payload = ctx.message.args.strip()[:64]
    if payload.startswith("i_"):
        await _start_with_invite(ctx, payload[2:])
    elif payload.startswith("b_"):
        ids = [int_arg(p) for p in payload[2:].split("_")]
        if len(ids) == 2 and ids[0] is not None and ids[1] is not None:
            await _begin(ctx, ids[0], building_id=ids[1])
        else:
            await _choose_community(ctx)
    elif payload.startswith("c_"):
        community = await membership.community_by_slug(ctx.uow, payload[2:])
        await _begin(ctx, community.id or 0)
    elif payload == "need" and ctx.actor.member is not None:
        from bot.handlers.needs import from_link  # the groups' "submit a need" link
        await from_link(ctx)
    elif payload.startswith("needs_") and ctx.actor.member is not None:
        from bot.handlers.needs import browse_link  # a group's needs list: its category buttons
        await browse_link(ctx, payload)
    elif payload == "report" and ctx.actor.member is not None:
        from bot.handlers.requests import from_link as report_link  # the groups' "continue the report" link
        await report_link(ctx)
    elif payload.startswith("rate_") and ctx.actor.member is not None:
        from bot.handlers.acceptance import from_link as rate_link  # the comparison post's ⭐ link
        await rate_link(ctx, payload)
    elif payload.startswith("project_") and ctx.actor.member is not None:
        from bot.handlers.board import from_link as project_link  # the group board's buttons
        await project_link(ctx, payload)
    elif payload.startswith("wish") and ctx.actor.member is not None:
        from bot.handlers.wishes import from_link as wish_link  # the groups' micro-wish and digest links
        await wish_link(ctx, payload)
    elif payload.startswith("micro_") and ctx.actor.member is not None:
        from bot.handlers.microposts import from_link as micro_link  # the groups' micro post links
        await micro_link(ctx, payload)
    elif payload.startswith(("job_", "training_")) and ctx.actor.member is not None:
        from bot.handlers.jobs import from_link as jobs_link  # a job or training post's link (#16)
        await jobs_link(ctx, payload)
    elif payload == "vote" and ctx.actor.member is not None:
        from bot.handlers.voting import show_sheet  # the groups' "vote in private" link
        await show_sheet(ctx)
    elif ctx.actor.member is not None:
        ctx.reply(_welcome_back(ctx))
    else:
        await _choose_community(ctx)


async def _choose_community(ctx: Ctx, page: int = 1) -> None:
    communities = await membership.list_communities(ctx.uow)
    if not communities:
        ctx.reply(ctx.t("No community uses Linli yet. Please ask your community office."))
        return
    if len(communities) == 1:
        await _begin(ctx, communities[0].id or 0)
        return
    shown = paging.of_list(communities, page, 8)
    buttons = grid([ctx.button(c.name, "rg", "c", c.id or 0) for c in shown.items], 2)
    if shown.pages > 1:
        buttons.append(pager(ctx, shown.page, shown.pages, "rg", "cp"))
    await ctx.set_state(REG, "community", {})
    ctx.show(ctx.t("Welcome to Linli (邻里)! Which community do you live in?"), buttons)


async def _start_with_invite(ctx: Ctx, code: str) -> None:
    invite = await membership.peek_invite(ctx.uow, code=code, now=ctx.now)
    member = await membership.membership(ctx.uow, user=ctx.actor.user, community_id=invite.community_id)
    if member is not None:
        done = await membership.register(ctx.uow, user=ctx.actor.user, community_id=invite.community_id,
                                         building_id=None, now=ctx.now, invite_code=code)
        ctx.reply(_registered_text(ctx, done))
        return
    await _begin(ctx, invite.community_id, invite=code)


async def _begin(ctx: Ctx, community_id: int, *, building_id: int | None = None, invite: str | None = None) -> None:
    community = await membership.get_community(ctx.uow, community_id)
    if invite is None and await membership.membership(ctx.uow, user=ctx.actor.user,
                                                      community_id=community_id) is not None:
        _already_registered(ctx, community)  # e.g. a member who taps a group's "Register" button
        return
    data = {"community_id": community_id, "invite": invite, "building_id": building_id}
    if building_id is not None:
        await membership.get_building(ctx.uow, community_id=community_id, building_id=building_id)
        await _ask_consent(ctx, community, data)
        return
    page = await membership.list_buildings(ctx.uow, community_id=community_id)
    if page.total == 0:
        await _ask_consent(ctx, community, data)
        return
    await ctx.set_state(REG, "building", data)
    ctx.show(ctx.t("Welcome to {community}! Which building do you live in?", community=h(community.name)),
          _building_buttons(ctx, page))


def _already_registered(ctx: Ctx, community: Community) -> None:
    """No consent asked again: they are told they are registered, and what they can do."""
    lines = [ctx.t("✅ You are already registered in {community}, {name}: nothing more to do.",
                   community=h(community.name), name=h(ctx.actor.user.first_name))]
    buttons = None
    if ctx.actor.community is not None and ctx.actor.community.id == community.id:
        lines += ["", ctx.t("<b>What you can do here</b>")]
        lines += [f"/{spec.name} — {ctx.t(spec.description)}" for spec in ctx.core.visible_commands(ctx.actor,
                                                                                                    "private")]
    else:  # a member there, working in another community now
        lines.append(ctx.t("You are working in {community} now.", community=h(ctx.actor.community.name
                                                                               if ctx.actor.community else "")))
        buttons = [[ctx.button(ctx.t("Switch to {community}", community=community.name), "sw", community.id or 0)]]
    ctx.reply("\n".join(lines), buttons)


def _building_buttons(ctx: Ctx, page: paging.Page) -> list:
    buttons = grid([ctx.button(ctx.t("Building {label}", label=b.label), "rg", "b", b.id) for b in page.items], 4)
    if page.pages > 1:
        buttons.append(pager(ctx, page.page, page.pages, "rg", "bp"))
    buttons.append([ctx.button(ctx.t("I do not live here / skip"), "rg", "b", 0)])
    return buttons


async def _ask_consent(ctx: Ctx, community: Community, data: dict) -> None:
    await ctx.set_state(REG, "consent", data)
    text = ctx.t(
        "<b>Privacy notice</b>\n"
        "To serve you, {community} keeps your Telegram name, your building and the roles you hold. "
        "Only community staff can see them; they are never shown in groups and you can ask the community "
        "office to delete them at any time.\n\nDo you agree?", community=h(community.name))
    ctx.show(text, [[ctx.button(ctx.t("✅ I agree"), "rg", "yes"), ctx.button(ctx.t("No, thanks"), "rg", "no")]])


def _registered_text(ctx: Ctx, done: Registered) -> str:
    lang = ctx.actor.user.language or done.community.locale
    lines = []
    if done.new_member:
        lines.append(ctx.t("🎉 Welcome to {community}! You are registered.", community=h(done.community.name)))
    if done.granted is not None:
        lines.append(ctx.t("Your role: {role}.", role=roles_list(lang, [done.granted.value], done.organisation)))
    if done.family:
        lines.append(ctx.t("You are linked as family to {alias}. /family asks for a service for them.",
                           alias=h(done.family)))
    lines.append(ctx.t("Send /help to see what you can do; /me shows what we keep about you."))
    return "\n".join(lines)


@router.callback("rg")
async def registration_press(ctx: Ctx) -> None:
    state = ctx.state
    action = ctx.args[0] if ctx.args else ""
    if state is None or state.flow != REG:
        ctx.toast(ctx.t("This registration has expired. Send /start to begin again."), alert=True)
        return
    data = dict(state.data)
    if action == "cp" and state.step == "community":
        await _choose_community(ctx, int(ctx.args[1]))
    elif action == "c" and state.step == "community":
        await _begin(ctx, int(ctx.args[1]))
    elif action == "bp" and state.step == "building":
        page = await membership.list_buildings(ctx.uow, community_id=data["community_id"], page=int(ctx.args[1]))
        ctx.edit(ctx.t("Which building do you live in?"), _building_buttons(ctx, page))
    elif action == "b" and state.step == "building":
        building_id = int(ctx.args[1]) or None
        if building_id is not None:
            await membership.get_building(ctx.uow, community_id=data["community_id"], building_id=building_id)
        data["building_id"] = building_id
        await _ask_consent(ctx, await membership.get_community(ctx.uow, data["community_id"]), data)
    elif action == "yes" and state.step == "consent":
        await _finish(ctx, data)
    elif action == "no" and state.step == "consent":
        await ctx.clear_state()
        ctx.edit(ctx.t("All right, nothing was saved. Send /start whenever you change your mind."))
    else:
        ctx.toast(ctx.t("This button has expired. Please send the command again."), alert=True)


async def _finish(ctx: Ctx, data: dict) -> None:
    await ctx.clear_state()
    invite = data.get("invite")
    stale: str | None = None
    if invite:
        try:
            await membership.peek_invite(ctx.uow, code=invite, now=ctx.now)
        except FlowError as err:  # it went stale while they read the notice: register, and say why
            stale, invite = explain(ctx, err), None
    done = await membership.register(ctx.uow, user=ctx.actor.user, community_id=data["community_id"],
                                     building_id=data.get("building_id"), now=ctx.now, invite_code=invite)
    ctx.edit(_registered_text(ctx, done))
    if stale:
        ctx.reply(stale)


@router.flow(REG)
async def registration_text(ctx: Ctx) -> None:
    """Typed text during registration: a building number is accepted, anything else gets a hint."""
    state = ctx.state
    assert state is not None
    if state.step == "building":
        match = await membership.building_by_label(ctx.uow, community_id=state.data["community_id"],
                                                   label=ctx.message.text[:40])
        if match is not None:
            data = dict(state.data, building_id=match.id)
            await _ask_consent(ctx, await membership.get_community(ctx.uow, data["community_id"]), data)
            return
    ctx.reply(ctx.t("Please tap one of the buttons above, or send /cancel to stop."))


@router.command("cancel", where=PRIVATE, description=N_("Stop what you are doing"))
async def cancel(ctx: Ctx) -> None:
    state = await ctx.load_state()
    await ctx.clear_state()
    ctx.reply(ctx.t("Cancelled.") if state else ctx.t("There is nothing to cancel."))


@router.command("help", where=ANYWHERE, description=N_("What I can do for you here"))
async def help_(ctx: Ctx) -> None:
    chat = ctx.event.chat
    assert chat is not None
    where = "private" if chat.is_private else "group"
    lines = [ctx.t("<b>What you can do here</b>")]
    for heading, specs in grouped(ctx.core.visible_commands(ctx.actor, where)):  # by feature (bot/menus.py)
        lines += ["", f"<b>{ctx.t(heading)}</b>"] + [f"/{spec.name} — {ctx.t(spec.description)}" for spec in specs]
    if ctx.actor.outsider and ctx.actor.community is not None:
        lines += ["", not_a_member(ctx, ctx.actor.community.name)]
    elif ctx.actor.member is None:
        lines.append("")
        lines.append(ctx.t("You are not registered yet: send /start to me in a private chat."))
    else:
        assert ctx.actor.community is not None
        lines.append("")
        lines.append(ctx.t("You are: {roles} · {community}", community=h(ctx.actor.community.name),
                           roles=roles_list(ctx.lang, sorted(ctx.actor.roles))))
    if chat.is_group:
        lines.append(await _group_line(ctx, chat.id))
    ctx.reply("\n".join(lines))


async def _group_line(ctx: Ctx, tg_chat_id: int) -> str:
    chat, community, building = await membership.chat_info(ctx.uow, tg_chat_id=tg_chat_id)
    if chat is None or community is None or chat.purpose is None:
        return ctx.t("This group is not linked to a community yet.")
    return ctx.t("This group is the {purpose} of {community}.",
                 purpose=purpose_name(ctx.lang, chat.purpose, building.label if building else None),
                 community=h(community.name))


@router.command("lang", where=ANYWHERE, description=N_("Choose your language"))
async def lang(ctx: Ctx) -> None:
    choice = ctx.message.args.strip().lower()
    if choice:
        code = {"zh": "zh_CN", "zh_cn": "zh_CN", "中文": "zh_CN", "cn": "zh_CN", "en": "en", "english": "en"}.get(choice)
        await membership.set_language(ctx.uow, user=ctx.actor.user, lang=code or choice, now=ctx.now,
                                      actor=ctx.actor)
        ctx.actor.user.language = code
        ctx.reply(ctx.t("Language set: English."))
        return
    ctx.reply(ctx.t("Choose your language:"), [[ctx.button("中文", "lg", "zh_CN"), ctx.button("English", "lg", "en")]])


@router.callback("lg", stateless=True)
async def lang_press(ctx: Ctx) -> None:
    code = ctx.args[0] if ctx.args else ""
    await membership.set_language(ctx.uow, user=ctx.actor.user, lang=code, now=ctx.now, actor=ctx.actor)
    ctx.actor.user.language = code
    ctx.edit(ctx.t("Language set: English."))


@router.command("me", where=PRIVATE, description=N_("What Linli keeps about you"), member_only=True)
async def me(ctx: Ctx) -> None:
    prof = await membership.profile(ctx.uow, actor=ctx.actor)
    v = prof.view
    lines = [
        ctx.t("<b>Your profile</b>"),
        ctx.t("Name: {name}", name=h(v.name)),
        ctx.t("Member no.: {id}", id=v.member_id),
        ctx.t("Community: {community}", community=h(prof.community.name)),
        ctx.t("Building: {building}", building=h(v.building) if v.building else ctx.t("—")),
        ctx.t("Roles: {roles}", roles=roles_list(ctx.lang, list(v.roles), v.organisation)),
        ctx.t("Language: {language}", language="中文" if ctx.lang == "zh_CN" else "English"),
    ]
    buttons = [[ctx.button(ctx.t("Switch to {community}", community=c.name), "sw", c.id or 0)]
               for c in prof.other_communities[:5]]
    ctx.reply("\n".join(lines), buttons or None)


@router.callback("sw")
async def switch_press(ctx: Ctx) -> None:
    community = await membership.switch_community(ctx.uow, user=ctx.actor.user, community_id=int(ctx.args[0]),
                                                   now=ctx.now)
    ctx.edit(ctx.t("You are now working in {community}.", community=h(community.name)))
