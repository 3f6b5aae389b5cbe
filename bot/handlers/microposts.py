"""/micro (F-9.4): micro projects, deeds and posts (微项目/微实事/微岗位) in a private chat, by buttons.

Everyone sees the open and claimed ones and claims one with one press (atomic, like wishes); the claimer marks it
done with a note or a photo, and its author is told. Admins and committee members post new ones (➕: the kind, a
title, details or ⏭ skip). The groups see a new one with a deep link (/start micro_N) to claim it in private."""

from __future__ import annotations

from typing import Any

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tr
from bot.core.types import Button, Keyboard, OutMessage
from bot.handlers.common import grid, int_arg, pager
from bot.handlers.wishes import ask_consent
from bot.render import NoticeRenderer, h
from flows import microposts
from flows.errors import AlreadyDone, Expired, FlowError, Forbidden, Invalid, NotFound
from flows.microposts import MicroDone, MicroPosted
from flows.roles import Perm
from storage.models_micro import MicroPost

router = Router()
P = "mp"
FLOW = "micro"
LINK = "micro_"
KIND_NAMES = {"project": N_("Micro project (微项目)"), "deed": N_("Micro deed (微实事)"), "post": N_("Micro post (微岗位)")}
STATE_NAMES = {"open": N_("open"), "claimed": N_("claimed"), "done": N_("done")}


def explain_micro(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, AlreadyDone):
        return {"micropost": ctx.t("Someone claimed this a moment ago (已被认领) — thank you all the same! /micro shows "
                                   "the others."),
                "micropost:mine": ctx.t("You have claimed this already.")}.get(err.what)
    if isinstance(err, Forbidden):
        return {"micro": ctx.t("Only admins and committee members post micro projects, deeds and posts."),
                "micro:own": ctx.t("You posted this one: someone else takes it on."),
                "micro:claimer": ctx.t("Only the one who claimed it marks it done.")}.get(err.permission)
    if isinstance(err, NotFound) and err.what == "micropost":
        return ctx.t("There is no micro matter no. {key}. /micro shows them.", key=h(str(err.key)))
    if isinstance(err, Invalid):
        if err.reason == "too_long":
            return ctx.t("Too long: {length} characters, at most {limit}. Please send a shorter text.",
                         length=err.details.get("length"), limit=err.details.get("limit"))
        return ctx.t("Please send a short text.")
    if isinstance(err, Expired) and err.what == "micro":
        return ctx.t("This has expired. Send /micro again.")
    return None


EXPLAIN = explain_micro


def _n_posted(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = tr(lang, "🧩 <b>{kind} no. {number}</b>: {title}", kind=tr(lang, KIND_NAMES.get(p["sort"], p["sort"])),
              number=p["number"], title=h(p["title"]))
    if p.get("text"):
        text += "\n" + h(p["text"])
    return OutMessage(text=text, buttons=[[Button(text=tr(lang, "🙋 I'll take it on"),
                                                  url=r.deep_link(f"{LINK}{p['number']}"))]])


def _n_done(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = tr(lang, "✅ {name} has done no. {number}: {title}.", name=h(p["name"]), number=p["number"],
              title=h(p["title"]))
    if p.get("note"):
        text += "\n" + h(p["note"])
    return OutMessage(text=text, photo=p.get("photo"))


NOTICES = {MicroPosted.kind: _n_posted, MicroDone.kind: _n_done}


@router.command("micro", where=PRIVATE, description=N_("Micro projects, deeds and posts to take on"),
                member_only=True)
async def micro_cmd(ctx: Ctx) -> None:
    ctx.actor.registered()
    await _list(ctx, 1)


async def from_link(ctx: Ctx, payload: str) -> None:
    """The groups' "🙋 I'll take it on" link (/start micro_N)."""
    number = int_arg(payload[len(LINK):])
    if number is None:
        await _list(ctx, 1)
    else:
        await _card(ctx, number)


async def _list(ctx: Ctx, page_no: int) -> None:
    page = await microposts.listing(ctx.uow, actor=ctx.actor, page=page_no)
    lines = [ctx.t("🧩 <b>Micro projects, deeds and posts</b> (tap one)")]
    lines += [f"{p.number}. {h(p.title)} · {ctx.t(STATE_NAMES[p.state])}" for p in page.items]
    if not page.total:
        lines.append(ctx.t("Nothing open right now."))
    buttons: Keyboard = grid([ctx.button(str(p.number), P, "s", p.number) for p in page.items], 4)
    if page.pages > 1:
        buttons.append(pager(ctx, page.page, page.pages, P, "o"))
    if ctx.actor.can(Perm.MICRO):
        buttons.append([ctx.button(ctx.t("➕ Post a new one"), P, "new")])
    ctx.show("\n".join(lines), buttons or None)


def _card_text(ctx: Ctx, p: MicroPost) -> str:
    lines = [ctx.t("🧩 <b>{kind} no. {number}</b> · {state}", kind=ctx.t(KIND_NAMES[p.kind]), number=p.number,
                   state=ctx.t(STATE_NAMES[p.state])), h(p.title)]
    if p.text:
        lines.append(h(p.text))
    return "\n".join(lines)


async def _card(ctx: Ctx, number: int) -> None:
    p = await microposts.get(ctx.uow, actor=ctx.actor, number=number)
    me = ctx.actor.registered()
    buttons: Keyboard = []
    if p.state == "open" and p.created_by != me.id:
        buttons.append([ctx.button(ctx.t("🙋 Claim"), P, "c", p.number)])
    if p.state == "claimed" and p.claimer_member_id == me.id:
        buttons.append([ctx.button(ctx.t("✅ Done"), P, "d", p.number)])
    ctx.reply(_card_text(ctx, p), buttons or None)


def _data(ctx: Ctx) -> dict[str, Any]:
    if ctx.state is None or ctx.state.flow != FLOW:
        raise Expired("micro")
    return dict(ctx.state.data)


@router.flow(FLOW)
async def dialog(ctx: Ctx) -> None:
    data = _data(ctx)
    step = ctx.state.step if ctx.state is not None else ""
    msg = ctx.message
    if step == "title":
        data["title"] = microposts.check_text(msg.text, limit=microposts.TITLE_MAX, field="title")
        await ctx.set_state(FLOW, "text", data)
        ctx.reply(ctx.t("Any details (at most {limit} characters)? Send them, or skip.", limit=microposts.TEXT_MAX),
                  [[ctx.button(ctx.t("⏭ Skip"), P, "k"), ctx.button(ctx.t("✖ Cancel"), P, "x")]])
    elif step == "text":
        data["text"] = microposts.check_text(msg.text, limit=microposts.TEXT_MAX)
        await _publish(ctx, data)
    elif step == "done":
        photo = msg.photo_file_id[:255] if msg.photo_file_id else None
        p = await microposts.done(ctx.uow, actor=ctx.actor, number=int(data["number"]), note=msg.text, photo=photo,
                                  now=ctx.now)
        await ctx.clear_state()
        ctx.reply(ctx.t("✅ No. {number} is done. Thank you!", number=p.number))
    else:
        ctx.reply(ctx.t("Please tap one of the buttons above, or send /cancel to stop."))


async def _publish(ctx: Ctx, data: dict[str, Any]) -> None:
    p = await microposts.post(ctx.uow, actor=ctx.actor, kind=data["kind"], title=data["title"],
                              text=data.get("text", ""), now=ctx.now)
    await ctx.clear_state()
    ctx.reply(ctx.t("🧩 No. {number} is posted to the community's groups.", number=p.number))


@router.callback(P)
async def pressed(ctx: Ctx) -> None:
    action = str(ctx.args[0])
    arg = str(ctx.args[1]) if len(ctx.args) > 1 else ""
    num = int_arg(arg)
    if action == "x":
        await ctx.clear_state()
        ctx.show(ctx.t("Cancelled."))
    elif action == "o":
        await _list(ctx, num or 1)
    elif action == "s" and num is not None:
        await _card(ctx, num)
    elif action == "new":
        ctx.actor.require(Perm.MICRO)
        ctx.show(ctx.t("What kind?"), [[ctx.button(ctx.t(KIND_NAMES[k]), P, "kind", k)] for k in microposts.KINDS]
                 + [[ctx.button(ctx.t("✖ Cancel"), P, "x")]])
    elif action == "kind" and arg in microposts.KINDS:
        ctx.actor.require(Perm.MICRO)
        await ctx.set_state(FLOW, "title", {"kind": arg})
        ctx.show(ctx.t("Its title, in a few words (at most {limit} characters)?", limit=microposts.TITLE_MAX))
    elif action == "k":
        data = _data(ctx)
        if "title" not in data:
            raise Expired("micro")
        await _publish(ctx, data)
    elif action == "c" and num is not None:
        p = await microposts.claim(ctx.uow, actor=ctx.actor, number=num, now=ctx.now)
        ctx.toast(ctx.t("Claimed!"))
        ctx.reply(ctx.t("🙋 You took on no. {number}: {title}. When it is done, tap “✅ Done”.", number=p.number,
                        title=h(p.title)), [[ctx.button(ctx.t("✅ Done"), P, "d", p.number)]])
        await ask_consent(ctx)
    elif action == "d" and num is not None:
        p = await microposts.get(ctx.uow, actor=ctx.actor, number=num)
        if p.claimer_member_id != ctx.actor.registered().id or p.state != "claimed":
            raise Forbidden("micro:claimer")
        await ctx.set_state(FLOW, "done", {"number": num})
        ctx.reply(ctx.t("Send a short note of what was done, or a photo."), [[ctx.button(ctx.t("✖ Cancel"), P, "x")]])
    else:
        raise Expired("micro")
