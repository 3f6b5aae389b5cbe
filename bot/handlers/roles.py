"""/invite, /invites, /grant, /revoke, /members and /audit: the community office's tools."""

from __future__ import annotations

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_
from bot.handlers.common import MAX_ARGS, grid, int_arg, pager
from bot.render import ORG_NAMES, h, role_name, roles_list
from flows import access, audit, membership
from flows.clock import local
from flows.roles import INVITABLE_BY, NEEDS_ORG, Org, Perm, Role, parse_org, parse_role

router = Router()


def _invitable(ctx: Ctx) -> list[Role]:
    out: set[Role] = set()
    for r in ctx.actor.roles:
        try:
            out |= INVITABLE_BY.get(Role(r), frozenset())
        except ValueError:
            continue
    return [r for r in Role if r in out and r is not Role.PROPERTY_STAFF]  # tied to a project: /property


@router.command("invite", where=PRIVATE, description=N_("One-time invite link for a role"), perm=Perm.INVITE)
async def invite(ctx: Ctx) -> None:
    ctx.actor.require(Perm.INVITE)
    words = ctx.message.args[:MAX_ARGS].split()
    if not words:
        buttons = grid([ctx.button(role_name(ctx.lang, r.value), "iv", r.value) for r in _invitable(ctx)], 2)
        ctx.reply(ctx.t("Which role should the invited person get?"), buttons)
        return
    role = parse_role(words[0])
    org = parse_org(words[1]) if len(words) > 1 else None
    if role is None or (len(words) > 1 and org is None):
        ctx.reply(ctx.t("Usage: /invite ROLE [ORGANISATION], e.g. /invite volunteer or /invite committee property.\n"
                        "Roles: {roles}", roles=", ".join(r.value for r in _invitable(ctx))))
        return
    await _make_invite(ctx, role, org)


@router.callback("iv")
async def invite_press(ctx: Ctx) -> None:
    role = parse_role(ctx.args[0]) if ctx.args else None
    if role is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    org = parse_org(ctx.args[1]) if len(ctx.args) > 1 else None
    if role in NEEDS_ORG and org is None:
        ctx.actor.require(Perm.INVITE)
        buttons = grid([ctx.button(ctx.t(ORG_NAMES[o.value]), "iv", role.value, o.value) for o in Org], 2)
        ctx.edit(ctx.t("Which organisation does the request handler work for?") if role is Role.HANDLER
                 else ctx.t("Which organisation is the committee member from?"), buttons)
        return
    await _make_invite(ctx, role, org)


async def _make_invite(ctx: Ctx, role: Role, org: Org | None) -> None:
    inv = await membership.create_invite(ctx.uow, actor=ctx.actor, role=role, org=org, now=ctx.now)
    link = ctx.deep_link(f"i_{inv.code}")
    text = ctx.t("One-time invite link for a {role} (valid for 7 days, one person):\n{link}\n"
                 "Forward it to the person; it registers them and gives them the role.",
                 role=role_name(ctx.lang, role.value, org.value if org else None), link=link)
    ctx.show(text)


def _parse_member_role(ctx: Ctx, usage: str) -> tuple[int, Role, Org | None] | None:
    words = ctx.message.args[:MAX_ARGS].split()
    member_id = int_arg(words[0]) if words else None
    role = parse_role(words[1]) if len(words) > 1 else None
    org = parse_org(words[2]) if len(words) > 2 else None
    if member_id is None or role is None or (len(words) > 2 and org is None) or len(words) > 3:
        ctx.reply(usage)
        return None
    return member_id, role, org


@router.command("invites", where=PRIVATE, description=N_("Open invite links, to withdraw"), perm=Perm.INVITE)
async def invites(ctx: Ctx) -> None:
    await _invites_page(ctx, 1)


@router.callback("is")
async def invites_press(ctx: Ctx) -> None:
    """is:PAGE pages the list; is:x:ID:PAGE withdraws an invite and shows the page again."""
    if ctx.args and ctx.args[0] == "x" and len(ctx.args) == 3:
        invite_id, page_no = int_arg(ctx.args[1]), int_arg(ctx.args[2])
        if invite_id is None or page_no is None:
            ctx.toast(ctx.t("This button is not valid."), alert=True)
            return
        await access.cancel_invite(ctx.uow, actor=ctx.actor, invite_id=invite_id, now=ctx.now)
        ctx.toast(ctx.t("❌ Invite withdrawn: the link no longer works."))
        await _invites_page(ctx, page_no)
        return
    page_no = int_arg(ctx.args[0]) if len(ctx.args) == 1 else None
    if page_no is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    await _invites_page(ctx, page_no)


async def _invites_page(ctx: Ctx, page_no: int) -> None:
    page = await access.list_invites(ctx.uow, actor=ctx.actor, now=ctx.now, page=page_no)
    if page.total == 0:
        ctx.show(ctx.t("There are no open invite links. /invite makes one."))
        return
    tz = ctx.actor.community.timezone if ctx.actor.community else "Asia/Shanghai"
    lines = [ctx.t("<b>Open invite links</b> ({total}) — ❌ withdraws one:", total=page.total)]
    buttons = []
    for i, inv in enumerate(page.items, start=(page.page - 1) * 8 + 1):
        lines.append(ctx.t("{n}. {role} · by {issuer} · valid until {until}", n=i,
                           role=role_name(ctx.lang, inv.role, inv.organisation), issuer=h(inv.issuer) or ctx.t("—"),
                           until=f"{local(inv.expires_at, tz):%m-%d %H:%M}"))
        buttons.append([ctx.button(ctx.t("❌ Withdraw no. {n}", n=i), "is", "x", inv.id, page.page)])
    if page.pages > 1:
        buttons.append(pager(ctx, page.page, page.pages, "is"))
    ctx.show("\n".join(lines), buttons)


@router.command("grant", where=PRIVATE, description=N_("Give a member a role"), perm=Perm.GRANT)
async def grant(ctx: Ctx) -> None:
    ctx.actor.require(Perm.GRANT)
    parsed = _parse_member_role(ctx, ctx.t("Usage: /grant MEMBER_NO ROLE [ORGANISATION], e.g. /grant 12 volunteer. "
                                           "/members shows the numbers."))
    if parsed is None:
        return
    view = await membership.grant_role(ctx.uow, actor=ctx.actor, member_id=parsed[0], role=parsed[1],
                                       org=parsed[2], now=ctx.now)
    ctx.reply(ctx.t("✅ {name} (no. {id}) is now: {roles}", name=h(view.name), id=view.member_id,
                    roles=roles_list(ctx.lang, list(view.roles), view.organisation)))


@router.command("revoke", where=PRIVATE, description=N_("Take a role from a member"), perm=Perm.GRANT)
async def revoke(ctx: Ctx) -> None:
    ctx.actor.require(Perm.GRANT)
    parsed = _parse_member_role(ctx, ctx.t("Usage: /revoke MEMBER_NO ROLE, e.g. /revoke 12 volunteer."))
    if parsed is None:
        return
    view = await access.revoke_role(ctx.uow, actor=ctx.actor, member_id=parsed[0], role=parsed[1], now=ctx.now)
    ctx.reply(ctx.t("✅ {name} (no. {id}) now holds: {roles}", name=h(view.name), id=view.member_id,
                    roles=roles_list(ctx.lang, list(view.roles), view.organisation) or ctx.t("—")))


@router.command("members", where=PRIVATE, description=N_("List the community's members"), perm=Perm.MEMBERS)
async def members(ctx: Ctx) -> None:
    words = ctx.message.args[:MAX_ARGS].split()
    role = parse_role(words[0]) if words else None
    if words and role is None:
        ctx.reply(ctx.t("Usage: /members [ROLE], e.g. /members volunteer"))
        return
    await _members_page(ctx, 1, role)


@router.callback("mb")
async def members_press(ctx: Ctx) -> None:
    role = parse_role(ctx.args[0]) if ctx.args and ctx.args[0] != "-" else None
    await _members_page(ctx, int(ctx.args[-1]), role)


async def _members_page(ctx: Ctx, page_no: int, role: Role | None) -> None:
    page = await membership.list_members(ctx.uow, actor=ctx.actor, page=page_no, role=role)
    lines = [ctx.t("<b>Members</b> ({total})", total=page.total)]
    for v in page.items:
        building = ctx.t(" · building {b}", b=h(v.building)) if v.building else ""
        unreachable = " ⚠️" if v.unreachable else ""
        lines.append(f"{v.member_id}. {h(v.name)}{building} — {roles_list(ctx.lang, list(v.roles), v.organisation)}"
                     f"{unreachable}")
    buttons = [pager(ctx, page.page, page.pages, "mb", role.value if role else "-")] if page.pages > 1 else None
    ctx.show("\n".join(lines), buttons)


@router.command("audit", where=PRIVATE, description=N_("Who did what, when"), perm=Perm.AUDIT)
async def audit_cmd(ctx: Ctx) -> None:
    await _audit_page(ctx, 1)


@router.callback("au")
async def audit_press(ctx: Ctx) -> None:
    await _audit_page(ctx, int(ctx.args[0]))


async def _audit_page(ctx: Ctx, page_no: int) -> None:
    me = ctx.actor.require(Perm.AUDIT)
    page = await audit.list_entries(ctx.uow, community_id=me.community_id, page=page_no)
    tz = ctx.actor.community.timezone if ctx.actor.community else "Asia/Shanghai"
    lines = [ctx.t("<b>Audit log</b> ({total})", total=page.total),
             ctx.t("Who: member no. and the name they had at the time.")]
    for e in page.items:
        subject = f" {e.subject_type}#{e.subject_id}" if e.subject_type else ""
        who = " ".join(part for part in (f"#{e.member_no}" if e.member_no else "", h(e.actor)) if part) or "—"
        lines.append(f"{local(e.at, tz):%m-%d %H:%M} {who}: {e.action}{subject}")
    buttons = [pager(ctx, page.page, page.pages, "au")] if page.pages > 1 else None
    ctx.show("\n".join(lines), buttons)
