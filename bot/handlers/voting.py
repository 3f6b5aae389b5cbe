"""A representative's own ballot sheet (居民代表点选, F-2): /vote (or the invitation's deep link) opens it in
private; ✅/⬜ toggles a page of candidates at a time, 📨 submits, and the sheet can be changed and submitted
again until closing. Every press carries the sheet's version, so a stale double press applies nothing.
The admins' card, the dialog, receipts and ties are `bot/handlers/ballot.py`."""

from __future__ import annotations

from bot.core.dispatch import ANYWHERE, Ctx, Router
from bot.core.i18n import N_
from bot.core.types import Keyboard
from bot.handlers.ballot import _community_id, _current, _round, _tz, _when, explain_ballot
from bot.handlers.common import int_arg, pager
from bot.render import h
from flows import ballot
from flows.ballot import SheetView
from flows.errors import Invalid
from flows.roles import Perm

router = Router()
PAGE = 8  # candidates per page of a sheet
EXPLAIN = explain_ballot


def _sheet_text(ctx: Ctx, s: SheetView) -> str:
    b = s.ballot
    lines = [_round(ctx, b),
             ctx.t("Please choose {minimum}–{choose}", minimum=b.minimum, choose=b.choose) + " · "
             + ctx.t("chosen {count}/{choose}", count=len(s.chosen), choose=b.choose),
             ctx.t("Closes {closes}", closes=_when(b.closes_at, _tz(ctx)))]
    if s.cast and s.receipt:
        code = "<code>" + h(s.receipt) + "</code>"
        lines.append(ctx.t("✅ Submitted · receipt code {code}, you can change it until closing", code=code))
    if s.changed and s.cast:
        lines.append(ctx.t("⚠ There are changes not submitted yet."))
    elif not s.cast:
        lines.append(ctx.t("Not submitted yet: tap the projects, then “Submit”."))
    return "\n".join(lines)


def _sheet_buttons(ctx: Ctx, s: SheetView, version: int, page: int) -> Keyboard:
    b = s.ballot
    pages = max(1, -(-len(b.candidates) // PAGE))
    page = min(max(page, 1), pages)
    rows: Keyboard = []
    for c in b.candidates[(page - 1) * PAGE:page * PAGE]:
        label = f"{c.position}. {c.title}"
        if c.withdrawn:
            rows.append([ctx.button("🚫 " + label, "bv", "w", b.id)])
        else:
            mark = "✅" if c.id in s.chosen else "⬜"
            rows.append([ctx.button(f"{mark} {label}", "bv", "t", b.id, c.id, version, page)])
    nav = pager(ctx, page, pages, "bv", "s", b.id)
    if nav:
        rows.append(nav)
    rows.append([ctx.button(ctx.t("📨 Submit"), "bv", "ok", b.id, page)])
    return rows


async def _show_sheet(ctx: Ctx, s: SheetView, page: int) -> None:
    ctx.show(_sheet_text(ctx, s), _sheet_buttons(ctx, s, s.version, page))


async def show_sheet(ctx: Ctx, ballot_id: int | None = None, page: int = 1) -> None:
    """The actor's sheet of the ballot (the current one when not given)."""
    if ballot_id is None:
        b = await _current(ctx)
        if b is None or b.status == "draft":
            ctx.reply(ctx.t("No representatives' ballot is open at the moment."))
            return
        if b.status != "open":
            raise Invalid("ballot", "closed")
        ballot_id = b.id
    s = await ballot.sheet(ctx.uow, actor=ctx.actor, secret=ctx.core.ballot_key, ballot_id=ballot_id, now=ctx.now)
    if s.ballot.status != "open":
        raise Invalid("ballot", "closed")
    await _show_sheet(ctx, s, page)


async def from_link(ctx: Ctx) -> None:
    """The groups' "vote in private" link (/start vote)."""
    await show_sheet(ctx)


@router.command("vote", where=ANYWHERE, description=N_("Vote on the representatives' ballot (居民代表)"),
                perm=Perm.VOTE)
async def vote(ctx: Ctx) -> None:
    chat = ctx.event.chat
    assert chat is not None
    if not chat.is_private:
        ctx.reply(ctx.t("The ballot is secret: please vote in a private chat with me."),
                  [[ctx.url_button(ctx.t("🗳 Vote in private"), ctx.deep_link("vote"))]])
        return
    _community_id(ctx)
    await show_sheet(ctx)


@router.callback("bv", stateless=True)
async def sheet_press(ctx: Ctx) -> None:
    action = ctx.args[0] if ctx.args else ""
    ids = [int_arg(a) for a in ctx.args[1:]]
    if not ids or any(i is None for i in ids):
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    bid = ids[0] or 0
    _community_id(ctx)
    if action == "s":
        await show_sheet(ctx, bid, (ids[1] if len(ids) > 1 else None) or 1)
    elif action == "w":
        ctx.toast(ctx.t("This candidate has been withdrawn and cannot be chosen."), alert=True)
    elif action == "t" and len(ids) == 4:
        await _toggle(ctx, bid, ids[1] or 0, ids[2] or 0, ids[3] or 1)
    elif action == "ok":
        s = await ballot.submit(ctx.uow, actor=ctx.actor, secret=ctx.core.ballot_key, ballot_id=bid, now=ctx.now)
        await _show_sheet(ctx, s, (ids[1] if len(ids) > 1 else None) or 1)
        ctx.toast(ctx.t("✅ Submitted. Receipt code {code}; you can change your choices until closing.",
                        code=s.receipt or ""), alert=True)
    else:
        ctx.toast(ctx.t("This button is not valid."), alert=True)


async def _toggle(ctx: Ctx, ballot_id: int, candidate_id: int, version: int, page: int) -> None:
    try:
        s = await ballot.toggle(ctx.uow, actor=ctx.actor, secret=ctx.core.ballot_key, ballot_id=ballot_id,
                                candidate_id=candidate_id, now=ctx.now, version=version)
    except Invalid as err:
        if err.field != "sheet":
            raise
        # a press from an old screen: nothing applied; show the sheet as it is now
        s = await ballot.sheet(ctx.uow, actor=ctx.actor, secret=ctx.core.ballot_key, ballot_id=ballot_id, now=ctx.now)
        await _show_sheet(ctx, s, page)
        ctx.toast(ctx.t("Your ballot changed in the meantime: this is how it is now. Please look again."), alert=True)
        return
    await _show_sheet(ctx, s, page)
