"""/export (F-11.3): a community's list as a CSV or XLSX file, sent in private as a document.

`/export needs xlsx [2026]`, or `/export` alone with buttons to pick the list and then the format. Admins get
every list; grid workers the care ledger and the check-ins of their grid (flows/exports.py decides and
audits). In a group it is refused: a list may hold personal data. The file is a direct reply, never an outbox
row (bot/core/types.py: SendDocument)."""

from __future__ import annotations

import asyncio

from bot.core.dispatch import ANYWHERE, Ctx, Router
from bot.core.i18n import N_, tn
from bot.exports import FORMATS, LIST_NAMES, filename, render
from bot.handlers.common import grid, int_arg
from flows import exports
from flows.errors import FlowError, Forbidden, Invalid
from flows.roles import Perm

router = Router()


def explain_exports(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, Forbidden) and err.details.get("permission", "").startswith("export"):
        return ctx.t("Exports are for the community's admins; a grid worker can export the care ledger and the "
                     "check-ins of their own grid.")
    if isinstance(err, Invalid) and err.details.get("field") in ("list", "format", "year"):
        return _usage(ctx)
    return None


EXPLAIN = explain_exports


def _usage(ctx: Ctx) -> str:
    return ctx.t("<b>Export</b>\n/export LIST FORMAT [YEAR] — for example /export needs xlsx 2026.\n"
                 "Lists: {lists}. Formats: {formats}.", lists=", ".join(exports.KINDS), formats=", ".join(FORMATS))


def _private(ctx: Ctx) -> bool:
    assert ctx.event.chat is not None
    if ctx.event.chat.is_private:
        return True
    ctx.reply(ctx.t("Exports are sent only in a private chat with me: a list may hold personal data. "
                    "Please send /export to me there."))
    return False


async def _pick_list(ctx: Ctx) -> None:
    kinds = await exports.allowed_kinds(ctx.uow, actor=ctx.actor)
    buttons = [ctx.button(ctx.t(LIST_NAMES[k]), "xp", k) for k in kinds]
    ctx.show(ctx.t("Which list do you want to export?"), grid(buttons, 2))


def _pick_format(ctx: Ctx, kind: str, year: int | None) -> None:
    buttons = [ctx.button(f.upper(), "xp", kind, f, year or 0) for f in FORMATS]
    ctx.show(ctx.t("{list}: which format?", list=ctx.t(LIST_NAMES[kind])), [buttons])


async def _send(ctx: Ctx, kind: str, fmt: str, year: int | None) -> None:
    community = ctx.actor.home()
    table = await exports.export(ctx.uow, kind=kind, community=community, actor=ctx.actor, sealer=ctx.core.sealer,
                                 now=ctx.now, year=year, via="bot")
    lang = ctx.actor.lang
    # on a thread: an XLSX of a district's 8,000 requests takes about two seconds, which on the event loop held
    # every other update that long
    data = await asyncio.to_thread(render, table, fmt, lang)
    ctx.send_document(filename(table, fmt, year), data,
                      caption=tn(lang, "{list}: {count} row", "{list}: {count} rows", len(table.rows),
                                     list=ctx.t(LIST_NAMES[kind]), count=len(table.rows)),
                      failed=ctx.t("Telegram did not take the file just now. Please send /export again in a "
                                   "moment."))


@router.command("export", where=ANYWHERE, description=N_("Export a list as a CSV or XLSX file"), perm=Perm.PERSONS)
async def export_command(ctx: Ctx) -> None:
    if not _private(ctx):
        return
    words = ctx.message.args.lower().split()
    if not words:
        await _pick_list(ctx)
        return
    kind = words[0]
    fmt = words[1] if len(words) > 1 else ""
    year = int_arg(words[2]) if len(words) > 2 else None
    if kind not in exports.KINDS or (fmt and fmt not in FORMATS) or (len(words) > 2 and year is None) \
            or len(words) > 3:
        ctx.reply(_usage(ctx))
        return
    if not fmt:
        _pick_format(ctx, kind, year)
        return
    await _send(ctx, kind, fmt, year)


@router.callback("xp")
async def export_press(ctx: Ctx) -> None:
    args = ctx.args
    kind = args[0] if args else ""
    if kind not in exports.KINDS:
        ctx.toast()
        await _pick_list(ctx)
        return
    year = (int_arg(args[2]) or None) if len(args) > 2 else None
    if len(args) < 2 or args[1] not in FORMATS:
        ctx.toast()
        _pick_format(ctx, kind, year)
        return
    await _send(ctx, kind, args[1], year)
    ctx.toast()
