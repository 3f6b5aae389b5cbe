"""/import (F-11.3): residents (the household roster), key persons (care ledger) or 12345 hotline complaints from
a CSV or XLSX file sent as a document, in a private chat. The file goes through a dry run first — counts, the
first rejected rows with their line and why, the whole report as a file when long — then ✅ import or ✖ cancel.
A roster naming buildings the community does not have yet offers 🏢: the same file checked again, those buildings
to be added by the import. A roster whose every row went through but which leaves out households of its buildings
(people moved away) offers 🗑: the same file checked again, those households to be removed by the import.

Admins import every kind; a grid worker key persons into their own grid's buildings (flows/imports/runs.py
decides). The file is downloaded after the update's commit (FetchDocument) and never kept: ✅ downloads it again
and imports it only if it is the file previewed. Every dry run and import is audited (action "import")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from bot import imports as words
from bot.core import callbacks
from bot.core.dispatch import ANYWHERE, Core, Ctx, Router
from bot.core.i18n import N_, tn, tr
from bot.core.types import Button, OutMessage, Progress, Reply, Send, SendDocument
from bot.handlers.common import int_arg
from flows.errors import AlreadyDone, Expired, FlowError, Forbidden, NotFound
from flows.imports import reader, runs
from flows.imports.run import Report
from flows.roles import Perm
from storage.models_roster import ImportRun

router = Router()
FLOW = "import"
HINTS = {
    "residents": N_("Columns: 楼栋 (building), 房号 (room); optional 人数 (household size), 姓名 (a resident's name), "
                    "电话 (phone). A building the community does not have yet: the dry run offers to add it."),
    "key-persons": N_("Columns: 楼栋, 房号, 称呼 (alias), 姓名, 风险 (红/黄/绿); optional 类别, 服务, 紧急联系人, 备注, "
                      "结对志愿者, 备用志愿者 (member numbers)."),
    "complaints": N_("Columns: 工单编号, 来电时间 (or 受理时间), 诉求内容 (or 问题描述); optional 诉求类别, 小区名称, "
                     "地址, 办结时间, 满意度. The caller's name and phone are not read."),
}


def explain_imports(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, Forbidden) and err.details.get("permission", "").startswith("import"):
        return ctx.t("Imports are for the community's admins; a grid worker can import key persons of their own "
                     "grid.")
    if isinstance(err, (NotFound, AlreadyDone)) and err.details.get("what") == "import":
        return ctx.t("This import is already done or cancelled. Send /import to start again.")
    if isinstance(err, Expired) and err.details.get("what") == "import":
        return ctx.t("This dry run is too old to import. Send /import and the file again.")
    return None


EXPLAIN = explain_imports


def _private(ctx: Ctx) -> bool:
    assert ctx.event.chat is not None
    if ctx.event.chat.is_private:
        return True
    ctx.reply(ctx.t("Imports are done only in a private chat with me: the files hold personal data. "
                    "Please send /import to me there."))
    return False


@router.command("import", where=ANYWHERE, description=N_("Import residents, key persons or 12345 complaints"),
                perm=Perm.PERSONS)
async def import_command(ctx: Ctx) -> None:
    if not _private(ctx):
        return
    kinds = await runs.allowed_kinds(ctx.uow, actor=ctx.actor)
    buttons = [[ctx.button(ctx.t(words.KIND_NAMES[k]), "imk", k)] for k in kinds]
    ctx.reply(ctx.t("<b>Import</b>\nWhat do you want to import? You will see what would change before anything "
                    "is written."), [*buttons, [ctx.button(ctx.t("✖ Cancel"), "imx", 0)]])


@router.callback("imk")
async def pick_kind(ctx: Ctx) -> None:
    kind = ctx.args[0] if ctx.args else ""
    if kind not in await runs.allowed_kinds(ctx.uow, actor=ctx.actor):
        ctx.toast()
        return
    await ctx.set_state(FLOW, "file", {"kind": kind})
    ctx.edit(ctx.t("<b>{kind}</b>\nSend me the file as a document (📎 → File): CSV (UTF-8 or GBK) or XLSX, at "
                   "most {limit} MB.\n{hint}", kind=ctx.t(words.KIND_NAMES[kind]),
                   limit=reader.MAX_BYTES // (1024 * 1024), hint=ctx.t(HINTS[kind])),
             [[ctx.button(ctx.t("✖ Cancel"), "imx", 0)]])


@router.flow(FLOW)
async def on_file(ctx: Ctx) -> None:
    ev = ctx.message
    assert ctx.state is not None
    kind = str(ctx.state.data.get("kind", ""))
    if not ev.document_file_id:
        ctx.reply(ctx.t("Please send the file as a document (📎 → File), CSV or XLSX."),
                  [[ctx.button(ctx.t("✖ Cancel"), "imx", 0)]])
        return
    if not ev.document_name.lower().endswith(reader.EXTENSIONS):
        ctx.reply(ctx.t(words.FILE_REASONS["type"]), [[ctx.button(ctx.t("✖ Cancel"), "imx", 0)]])
        return
    if ev.document_size > reader.MAX_BYTES:
        ctx.reply(ctx.t(words.FILE_REASONS["size"], limit=reader.MAX_BYTES // (1024 * 1024)),
                  [[ctx.button(ctx.t("✖ Cancel"), "imx", 0)]])
        return
    run = await runs.start(ctx.uow, actor=ctx.actor, kind=kind, file_id=ev.document_file_id,
                           file_name=ev.document_name, now=ctx.now)
    await ctx.clear_state()
    ctx.reply(ctx.t("Reading the file… (a dry run: nothing is written yet)"))
    ctx.fetch_document(ev.document_file_id, _preview(ctx.core, run.id or 0, ctx.actor.lang, ctx.chat_id,
                                                     ctx.actor.user.id),
                       failed=ctx.t("I could not get the file from Telegram. Please send /import again."),
                       progress=_checking(ctx.actor.lang))


def _checking(lang: str) -> Callable[[int, int], OutMessage]:
    return lambda done, total: OutMessage(tr(lang, "⏳ Checking the file: row {done} of {total}…", done=done,
                                             total=total))


def _importing(lang: str) -> Callable[[int, int], OutMessage]:
    return lambda done, total: OutMessage(tr(lang, "⏳ Importing: row {done} of {total}…", done=done, total=total))


def _button(core: Core, now: datetime, text: str, *fields: str | int) -> Button:
    return Button(text, callbacks.pack(core.secret, list(fields), now=now, ttl=core.button_ttl))


def _report(lang: str, report: Report, title: str) -> str:
    text = [title, words.counts(lang, report), *words.absent(lang, report)]
    shown = words.lines(lang, report)
    text += [f"• {line}" for line in shown]
    if len(report.rejected) > words.SHOWN:
        text.append(tr(lang, "The whole report is in the file below."))
    return "\n".join(text)


def _document(chat_id: int, lang: str, report: Report, name: str) -> list[Reply]:
    if len(report.rejected) <= words.SHOWN:
        return []
    return [SendDocument(chat_id, name, words.as_csv(lang, report), caption=words.counts(lang, report))]


def _preview(core: Core, run_id: int, lang: str, chat_id: int,
             user_id: int | None) -> Callable[[bytes, Progress], Awaitable[list[Reply]]]:
    async def then(data: bytes, progress: Progress) -> list[Reply]:
        now = core.clock.now()
        done = await runs.preview(core.db, run_id=run_id, data=data, sealer=core.sealer, now=now,
                                  actor_user_id=user_id, progress=progress)
        if done.refused is not None:
            aliases = runs.ALIASES[done.run.kind]
            return [Send(chat_id, OutMessage(words.refused(lang, done.refused, aliases)))]
        assert done.report is not None
        report = done.report
        title = tr(lang, "<b>Dry run: {kind}</b> (nothing written yet)",
                   kind=tr(lang, words.KIND_NAMES[done.run.kind]))
        chosen = runs.choices(done.run)  # ✅ imports what this dry run showed, not an earlier one's
        buttons = [[_button(core, now, tr(lang, "✅ Import"), "ima", run_id, chosen),
                    _button(core, now, tr(lang, "✖ Cancel"), "imx", run_id)]]
        if not report.counts["created"] and not report.counts["updated"] and not report.removing:
            buttons = [[_button(core, now, tr(lang, "✖ Close"), "imx", run_id)]]
        if runs.may_remove_absent(done.run, report):
            buttons.insert(0, [_button(core, now, tn(lang, "🗑 Also remove the {n} household not in the file, check again",
                                                     "🗑 Also remove the {n} households not in the file, check again",
                                                     sum(report.absent.values())), "imr", run_id)])
        if runs.may_create_buildings(done.run, report):
            buttons.insert(0, [_button(core, now, tr(lang, "🏢 Add the missing buildings, check again"), "imb",
                                       run_id)])
        return [Send(chat_id, OutMessage(_report(lang, report, title), buttons)),
                *_document(chat_id, lang, report, f"import-{done.run.kind}-dry-run.csv")]

    return then


def _apply(core: Core, run_id: int, lang: str, chat_id: int,
           user_id: int | None) -> Callable[[bytes, Progress], Awaitable[list[Reply]]]:
    async def then(data: bytes, progress: Progress) -> list[Reply]:
        done = await runs.apply(core.db, run_id=run_id, data=data, sealer=core.sealer, now=core.clock.now(),
                                actor_user_id=user_id, progress=progress)
        if done.changed or done.report is None:
            return [Send(chat_id, OutMessage(tr(lang, "The file is not the one of the dry run. Nothing was "
                                                      "imported; send /import again.")))]
        title = tr(lang, "<b>Imported: {kind}</b>", kind=tr(lang, words.KIND_NAMES[done.run.kind]))
        return [Send(chat_id, OutMessage(_report(lang, done.report, title))),
                *_document(chat_id, lang, done.report, f"import-{done.run.kind}.csv")]

    return then


@router.callback("ima")
async def apply_press(ctx: Ctx) -> None:
    run_id = int_arg(ctx.args[0]) if ctx.args else None
    if not run_id:
        ctx.toast()
        return
    chosen = (int_arg(ctx.args[1]) if len(ctx.args) > 1 else None) or 0  # what the dry run under it was made with
    run = await runs.claim(ctx.uow, actor=ctx.actor, run_id=run_id, now=ctx.now, chosen=chosen)
    ctx.edit(ctx.t("Importing {kind}…", kind=ctx.t(words.KIND_NAMES[run.kind])))
    ctx.fetch_document(run.file_id, _apply(ctx.core, run_id, ctx.actor.lang, ctx.chat_id, ctx.actor.user.id),
                       failed=ctx.t("I could not get the file from Telegram again; nothing was imported. Please "
                                    "send /import again."),
                       progress=_importing(ctx.actor.lang))
    ctx.toast()


@router.callback("imb")
async def buildings_press(ctx: Ctx) -> None:
    """A roster's dry run rejected rows naming buildings the community lacks: the same file checked again, those
    buildings to be added by the import (a second dry run; ✅ under it imports)."""
    await _check_again(ctx, runs.with_buildings, ctx.t(
        "Checking the file again, adding the buildings it names that the community does not have yet… (a dry run: "
        "nothing is written yet)"))


@router.callback("imr")
async def removal_press(ctx: Ctx) -> None:
    """A roster's dry run went through but leaves out households of its buildings: the same file checked again, those
    households to be removed by the import (a second dry run; ✅ under it imports and removes)."""
    await _check_again(ctx, runs.with_removal, ctx.t(
        "Checking the file again, removing the households of its buildings that it leaves out… (a dry run: nothing "
        "is written yet)"))


async def _check_again(ctx: Ctx, choose: Callable[..., Awaitable[ImportRun]], checking: str) -> None:
    """A choice under a roster's dry run (`choose` records it, once): the same file downloaded and checked again."""
    run_id = int_arg(ctx.args[0]) if ctx.args else None
    if not run_id:
        ctx.toast()
        return
    run = await choose(ctx.uow, actor=ctx.actor, run_id=run_id, now=ctx.now)
    ctx.edit(checking)
    ctx.fetch_document(run.file_id, _preview(ctx.core, run_id, ctx.actor.lang, ctx.chat_id, ctx.actor.user.id),
                       failed=ctx.t("I could not get the file from Telegram again; nothing was imported. Please "
                                    "send /import again."),
                       progress=_checking(ctx.actor.lang))
    ctx.toast()


@router.callback("imx")
async def cancel_press(ctx: Ctx) -> None:
    run_id = int_arg(ctx.args[0]) if ctx.args else None
    if run_id:
        await runs.cancel(ctx.uow, actor=ctx.actor, run_id=run_id, now=ctx.now)
    elif ctx.state is not None and ctx.state.flow == FLOW:
        await ctx.clear_state()
    ctx.edit(ctx.t("Import cancelled: nothing was written."))
    ctx.toast()
