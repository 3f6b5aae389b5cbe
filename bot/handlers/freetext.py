"""A resident's free message in private (text or voice, outside any dialog): never a dead end.

The bot offers, with buttons, what the message can become (flows/offers.py decides which offers apply:
a need while the needs list is collecting; a request, 诉求, once the community takes them) and names the
grid worker to contact. Pressing "Submit it as a need" runs the need's last steps with the message as its
text: the category, then a check and ✅ Submit (flows/needs.submit), or ✖ at any step. In groups free text
is never answered (the dispatcher does not pass it on); someone unregistered is told how to register."""

from __future__ import annotations

from typing import Any

from bot.core.dispatch import Ctx, Router
from bot.core.types import Keyboard
from bot.handlers import requests as report_handlers
from bot.handlers.common import grid
from bot.handlers.needs_words import cat_name, cat_of, cat_ref, explain_needs
from bot.render import h
from flows import needs, offers
from flows.errors import FlowError, Invalid
from flows.offers import Contact

router = Router()
FLOW = "free"
PREVIEW = 300  # characters of the message repeated in the offer


async def free_text(ctx: Ctx) -> None:
    """A private message that is no command and belongs to no dialog (the dispatcher's no_conversation)."""
    ctx.origin = __name__  # errors below are worded by this module's EXPLAIN
    if ctx.actor.member is None:
        ctx.reply(ctx.t("Hello! Send /start to register with your community."))
        return
    msg = ctx.message
    text = msg.text.strip()
    if not text and not msg.voice_file_id:  # a photo, a sticker, a location…: nothing to pass on
        ctx.reply(ctx.t("I did not understand that. Send /help to see what you can do."))
        return
    found = await offers.offers_for(ctx.uow, actor=ctx.actor, now=ctx.now, per_member=ctx.core.needs_per_member)
    buttons: Keyboard = []
    if offers.NEED in found.kinds:
        buttons.append([ctx.button(ctx.t("📝 Submit it as a need"), "ft", "n", msg.message_id)])
    if offers.REQUEST in found.kinds:
        buttons.append([ctx.button(ctx.t("📮 Report it as a request (诉求)"), "ft", "r", msg.message_id)])
    contact = _contact_line(ctx, found.contacts)
    if not buttons:
        await ctx.clear_state()
        ctx.reply(ctx.t("I cannot answer messages myself.") + "\n" + contact)
        return
    data: dict[str, Any] = {"text": text[:4096], "id": msg.message_id}  # the buttons name the message they offer
    if msg.voice_file_id:
        data.update(text="", voice=msg.voice_file_id[:255], voice_s=msg.voice_seconds or 1)
    await ctx.set_state(FLOW, "offer", data)
    buttons.append([ctx.button(ctx.t("✖ No, thanks"), "ft", "x", msg.message_id)])
    lines = [ctx.t("<b>Shall I pass your message on?</b>"), _quoted(ctx, data)]
    if offers.REQUEST in found.kinds:
        lines.append(ctx.t("A problem to fix, a dispute or a safety hazard: as a request (诉求) it goes to the "
                           "committees, who assign it; you are told at every step and confirm the result."))
    if offers.NEED in found.kinds:
        lines.append(ctx.t("The needs list of the community is collecting: your message can become a need, which the "
                           "neighbours can support and the community may take up as a project."))
    lines += ["", contact]
    ctx.reply("\n".join(lines), buttons)


def _quoted(ctx: Ctx, data: dict[str, Any]) -> str:
    if data.get("voice"):
        s = int(data.get("voice_s") or 0)
        return ctx.t("🎤 voice message ({length})", length=f"{s // 60}:{s % 60:02d}")
    text = data.get("text", "")
    return "<i>" + h(text if len(text) <= PREVIEW else text[:PREVIEW] + "…") + "</i>"


def _contact_line(ctx: Ctx, contacts: tuple[Contact, ...]) -> str:
    if not contacts:
        return ctx.t("Your community has no grid worker yet: please ask the community office, or in your "
                     "community's group.")
    names = ("、" if ctx.lang.startswith("zh") else ", ").join(
        f'<a href="tg://user?id={c.tg_id}">{h(c.name)}</a>' for c in contacts)
    return ctx.t("For repairs and everyday matters your grid worker is {names}: tap the name to write to them on "
                 "Telegram.", names=names)


def _category_keyboard(ctx: Ctx) -> Keyboard:
    offer = ctx.state.data["id"] if ctx.state else 0
    buttons = grid([ctx.button(cat_name(ctx.lang, c), "ft", "c", offer, cat_ref(ctx, c))
                    for c in needs.categories(ctx.actor.community)], 2)
    buttons.append([ctx.button(ctx.t("✖ Cancel"), "ft", "x", offer)])
    return buttons


@router.callback("ft")
async def offer_press(ctx: Ctx) -> None:
    action = ctx.args[0] if ctx.args else ""
    state = ctx.state
    offer = ctx.args[1] if len(ctx.args) > 1 else ""
    if state is None or state.flow != FLOW or offer != str(state.data.get("id")):
        ctx.toast(ctx.t("This offer has expired: nothing was passed on. Send your message again to get a new "
                        "one."), alert=True)
        return
    data = dict(state.data)
    if action == "x":
        await ctx.clear_state()
        ctx.edit(ctx.t("All right, nothing was passed on."))
    elif action == "r" and state.step == "offer":
        ctx.origin = report_handlers.__name__  # a text too long for a request is worded as the report dialog does
        voice = (str(data["voice"]), int(data.get("voice_s") or 1)) if data.get("voice") else None
        await report_handlers.start_report(ctx, None if voice else data.get("text", ""), voice=voice)  # its state
        ctx.edit(ctx.t("<b>Shall I pass your message on?</b>") + "\n" + _quoted(ctx, data) + "\n"
                 + ctx.t("📮 As a request (诉求): a few questions follow."))
    elif action == "n" and state.step == "offer":
        if ctx.actor.community is None or await needs.current_period(ctx.uow, community=ctx.actor.community,
                                                                     now=ctx.now) is None:
            raise Invalid("period", "closed")
        await needs.check_allowance(ctx.uow, actor=ctx.actor, now=ctx.now, per_member=ctx.core.needs_per_member)
        if not data.get("voice"):
            data["text"] = needs.clean("text", data.get("text", ""))
        await ctx.set_state(FLOW, "category", data)
        ctx.edit(ctx.t("<b>New need (需求清单)</b>\nWhich category is it?") + "\n\n" + _quoted(ctx, data),
                 _category_keyboard(ctx))
    elif action == "c" and state.step == "category":
        code = cat_of(ctx, ctx.args[2]) if len(ctx.args) > 2 else None
        if code is None or code not in needs.categories(ctx.actor.community):
            raise Invalid("category", "unknown")
        data["cat"] = code
        await ctx.set_state(FLOW, "confirm", data)
        lines = [ctx.t("<b>Please check your need</b>"),
                 ctx.t("Category: {category}", category=h(cat_name(ctx.lang, code))), _quoted(ctx, data)]
        ctx.edit("\n".join(lines), [[ctx.button(ctx.t("✅ Submit"), "ft", "ok", offer),
                                     ctx.button(ctx.t("✖ Cancel"), "ft", "x", offer)]])
    elif action == "ok" and state.step == "confirm":
        row = await needs.submit(ctx.uow, actor=ctx.actor, category=data["cat"], text=data.get("text", ""),
                                 now=ctx.now, voice_file_id=data.get("voice"), voice_seconds=data.get("voice_s"),
                                 per_member=ctx.core.needs_per_member)
        await ctx.clear_state()
        ctx.edit(ctx.t("✅ Thank you! Your need is recorded as need #{number}. Neighbours can support it with "
                       "“+1”; /myneeds shows its state.", number=row.number))
    else:
        ctx.toast(ctx.t("This button belongs to an earlier step."), alert=True)


@router.flow(FLOW)
async def another_message(ctx: Ctx) -> None:
    """A new message while an offer is open: it replaces the offer (the last message is the one meant)."""
    await free_text(ctx)


def explain_freetext(ctx: Ctx, err: FlowError) -> str | None:
    return explain_needs(ctx, err)


EXPLAIN = explain_freetext
