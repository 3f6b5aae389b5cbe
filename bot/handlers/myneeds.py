"""/myneeds: the needs a member submitted (or that were entered for them) and their state."""

from __future__ import annotations

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_
from bot.handlers.common import int_arg, pager
from bot.handlers.needs import _line, explain_needs
from flows import needs

router = Router()


@router.command("myneeds", where=PRIVATE, description=N_("The needs you submitted and their state"),
                member_only=True)
async def myneeds(ctx: Ctx) -> None:
    await _my_page(ctx, 1)


async def _my_page(ctx: Ctx, page: int) -> None:
    shown = await needs.my_needs(ctx.uow, actor=ctx.actor, page=page)
    if not shown.items:
        ctx.show(ctx.t("You have not submitted any needs yet. /need adds one."))
        return
    lines = [ctx.t("<b>Your needs</b> ({total})", total=shown.total)] + [_line(ctx, n) for n in shown.items]
    nav = pager(ctx, shown.page, shown.pages, "nm")
    ctx.show("\n\n".join(lines), [nav] if nav else None)


@router.callback("nm")
async def my_press(ctx: Ctx) -> None:
    await _my_page(ctx, (int_arg(ctx.args[0]) if ctx.args else None) or 1)


#: Errors are worded as the needs list words them.
EXPLAIN = explain_needs
