"""The needs list (需求清单): collecting, browsing and supporting residents' needs.

/need (private: category → text → optional photo → confirm; in a group: `/need 文字`, then the
category by button for the author only), /need_for (grid workers, admins), /needs (browse, "+1" — in a group
the categories are deep links, so browsing happens in private and the group's message stays —, and for
admins: open, close; `review` and `categories` are bot/handlers/needs_review.py); /myneeds is
bot/handlers/myneeds.py; the words they share are bot/handlers/needs_words.py. The groups' reminders while the
collection is open are the "needs_remind" notice (queued by the scheduler)."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.core.dispatch import ANYWHERE, PRIVATE, Ctx, Router
from bot.core.i18n import N_, tn
from bot.core.types import Keyboard
from bot.handlers import needs_notices
from bot.handlers.common import MAX_ARGS, grid, int_arg, pager
from bot.handlers.needs_notices import CHANNEL_NAMES
from bot.handlers.needs_review import categories_screen, review_page
from bot.handlers.needs_words import cat_name, cat_of, cat_ref, explain_needs, need_line, voice_label
from bot.render import h
from flows import membership, needs
from flows.errors import Invalid, NotRegistered
from flows.roles import Perm

router = Router()
FLOW, GROUP_FLOW = "need", "need_group"
LINK = "needs_"  # a group's category link: /start needs_<community id>_<category>


# ---------------------------------------------------------------- submitting: /need, /need_for


def _category_buttons(ctx: Ctx, *fields: str | int) -> Keyboard:
    return grid([ctx.button(cat_name(ctx.lang, c), *fields, cat_ref(ctx, c))
                 for c in needs.categories(ctx.actor.community)], 2)


async def _check_open(ctx: Ctx, *, own: bool = True) -> None:
    if ctx.actor.member is None:
        raise NotRegistered()
    assert ctx.actor.community is not None
    if await needs.current_period(ctx.uow, community=ctx.actor.community, now=ctx.now) is None:
        raise Invalid("period", "closed")
    if own:  # before the dialog, not after the typing: at most LINLI_NEEDS_PER_MEMBER per collection
        await needs.check_allowance(ctx.uow, actor=ctx.actor, now=ctx.now, per_member=ctx.core.needs_per_member)


async def start_dialog(ctx: Ctx, data: dict[str, Any] | None = None) -> None:
    """Begin the private dialog at the category step (also from the groups' deep link)."""
    data = data or {"ch": "chat"}
    await _check_open(ctx, own=data["ch"] == "chat")
    await ctx.set_state(FLOW, "category", data)
    buttons = _category_buttons(ctx, "nd", "c")
    buttons.append([ctx.button(ctx.t("✖ Cancel"), "nd", "x")])
    intro = ctx.t("<b>New need (需求清单)</b>\nWhich category is it?")
    if data.get("author_name"):
        intro += "\n" + ctx.t("On behalf of {name} ({channel}).", name=h(data["author_name"]),
                              channel=ctx.t(CHANNEL_NAMES[data["ch"]]))
    ctx.show(intro, buttons)


async def from_link(ctx: Ctx) -> None:
    """The groups' "submit a need" deep link (/start need)."""
    await start_dialog(ctx)


@router.command("need", where=ANYWHERE, description=N_("Tell the community what is needed (需求清单)"))
async def need(ctx: Ctx) -> None:
    chat = ctx.event.chat
    assert chat is not None
    if chat.is_private:
        await start_dialog(ctx)
        return
    text = ctx.message.args.strip()
    if not text:
        ctx.reply(ctx.t("Write the need after the command, e.g. /need 3号楼楼道灯不亮 — or tell me in a private "
                        "chat."), [[ctx.url_button(ctx.t("Open private chat"), ctx.deep_link("need"))]])
        return
    await _check_open(ctx)
    body = needs.clean("text", text)
    await ctx.set_state(GROUP_FLOW, "category", {"text": body})
    ctx.reply(ctx.t("Which category, {name}? (Only you can choose.)", name=h(ctx.actor.user.first_name)),
              _category_buttons(ctx, "ng", ctx.user_id))


@router.command("need_for", where=PRIVATE, description=N_("Enter a need for a resident (door visit)"),
                perm=Perm.NEEDS_ENTER)
async def need_for(ctx: Ctx) -> None:
    ctx.actor.require(Perm.NEEDS_ENTER)
    number = int_arg(ctx.message.args[:MAX_ARGS])
    if number is None:
        ctx.reply(ctx.t("Usage: /need_for MEMBER_NO (the resident's member number, see /members)"))
        return
    member, user = await needs.member_of(ctx.uow, actor=ctx.actor, member_id=number)
    data = {"ch": "door_visit", "author": member.id, "author_name": member.display_name or user.first_name}
    channels = needs.allowed_channels(ctx.actor)
    if len(channels) > 1:
        await _check_open(ctx, own=False)
        await ctx.set_state(FLOW, "channel", data)
        ctx.reply(ctx.t("Need of {name}: where was it raised?", name=h(data["author_name"])),
                  [[ctx.button(ctx.t(CHANNEL_NAMES[c]), "nd", "ch", c)] for c in channels])
        return
    await start_dialog(ctx, data)


async def _ask(ctx: Ctx, step: str, data: dict[str, Any], *, new_message: bool = False) -> None:
    await ctx.set_state(FLOW, step, data)
    cancel = ctx.button(ctx.t("✖ Cancel"), "nd", "x")
    if step == "text":
        text = ctx.t("{category}: describe the need in a few sentences (at most {limit} characters), or send a "
                     "voice message 🎤.", category=h(cat_name(ctx.lang, data["cat"])), limit=needs.LIMITS["text"])
        buttons: Keyboard = [[cancel]]
    elif step == "photo":
        text = ctx.t("A photo helps. Send one now, or tap “Skip”.")
        buttons = [[ctx.button(ctx.t("Skip ▶"), "nd", "k"), cancel]]
    else:
        lines = [ctx.t("<b>Please check your need</b>"),
                 ctx.t("Category: {category}", category=h(cat_name(ctx.lang, data["cat"]))),
                 h(data["text"]) if data.get("text") else voice_label(ctx, data.get("voice_s")),
                 ctx.t("Photo: {photo}", photo=ctx.t("yes") if data.get("photo") else ctx.t("none"))]
        if data.get("author_name"):
            lines.append(ctx.t("On behalf of {name} ({channel}).", name=h(data["author_name"]),
                               channel=ctx.t(CHANNEL_NAMES[data["ch"]])))
        text = "\n".join(lines)
        buttons = [[ctx.button(ctx.t("✅ Submit"), "nd", "ok"), cancel]]
    if new_message or not ctx.is_press:
        ctx.reply(text, buttons)
    else:
        ctx.edit(text, buttons)


def _submitted_text(ctx: Ctx, number: int, *, for_someone: bool = False) -> str:
    if for_someone:
        return ctx.t("✅ Recorded as need #{number}.", number=number)
    return ctx.t("✅ Thank you! Your need is recorded as need #{number}. Neighbours can support it with "
                 "“+1”; /myneeds shows its state.", number=number)


@router.callback("nd")
async def dialog_press(ctx: Ctx) -> None:
    action = ctx.args[0] if ctx.args else ""
    state = ctx.state
    if state is None or state.flow != FLOW:
        ctx.toast(ctx.t("This dialog has ended. Send /need to start again."), alert=True)
        return
    data = dict(state.data)
    arg = ctx.args[1] if len(ctx.args) > 1 else ""
    if action == "x":
        await ctx.clear_state()
        ctx.edit(ctx.t("Cancelled, nothing was saved."))
    elif action == "ch" and state.step == "channel" and arg in needs.allowed_channels(ctx.actor):
        data["ch"] = arg
        await start_dialog(ctx, data)
    elif action == "c" and state.step == "category" and cat_of(ctx, arg) in needs.categories(ctx.actor.community):
        data["cat"] = cat_of(ctx, arg)
        await _ask(ctx, "text", data)
    elif action == "k" and state.step == "photo":
        data["photo"] = None
        await _ask(ctx, "confirm", data)
    elif action == "ok" and state.step == "confirm":
        row = await needs.submit(ctx.uow, actor=ctx.actor, category=data["cat"], text=data["text"], now=ctx.now,
                                 photo_file_id=data.get("photo"), channel=data.get("ch", "chat"),
                                 author_member_id=data.get("author"), voice_file_id=data.get("voice"),
                                 voice_seconds=data.get("voice_s"), per_member=ctx.core.needs_per_member)
        await ctx.clear_state()
        ctx.edit(_submitted_text(ctx, row.number, for_someone=bool(data.get("author"))))
    else:
        ctx.toast(ctx.t("This button belongs to an earlier step."), alert=True)


@router.flow(FLOW)
async def dialog_text(ctx: Ctx) -> None:
    state = ctx.state
    assert state is not None
    data = dict(state.data)
    msg = ctx.message
    if state.step == "text" and msg.voice_file_id:  # told, not typed: the admins will listen to it
        if (msg.voice_seconds or 0) > needs.VOICE_SECONDS:
            ctx.reply(ctx.t("That voice message is too long: at most {minutes} minutes, please.",
                            minutes=needs.VOICE_SECONDS // 60))
            return
        data.update(text="", voice=msg.voice_file_id[:255], voice_s=msg.voice_seconds or 1)
        await _ask(ctx, "photo", data)
    elif state.step == "text" and msg.text:
        data["text"] = needs.clean("text", msg.text)
        data.pop("voice", None)
        data.pop("voice_s", None)
        await _ask(ctx, "photo", data)
    elif state.step == "photo" and msg.photo_file_id:
        data["photo"] = msg.photo_file_id[:255]
        await _ask(ctx, "confirm", data)
    elif state.step == "photo":
        ctx.reply(ctx.t("Please send a photo, or tap “Skip”."))
    else:
        ctx.reply(ctx.t("Please tap one of the buttons above, or send /cancel to stop."))


@router.callback("ng")
async def group_category(ctx: Ctx) -> None:
    owner = int_arg(ctx.args[0]) if ctx.args else None
    if owner != ctx.user_id:
        ctx.toast(ctx.t("Only the person who wrote this need can choose its category."), alert=True)
        return
    state = ctx.state
    code = cat_of(ctx, ctx.args[1]) if len(ctx.args) > 1 else None
    if state is None or state.flow != GROUP_FLOW or code is None or code not in needs.categories(ctx.actor.community):
        ctx.toast(ctx.t("This dialog has ended. Send /need to start again."), alert=True)
        return
    row = await needs.submit(ctx.uow, actor=ctx.actor, category=code, text=state.data["text"], now=ctx.now,
                             per_member=ctx.core.needs_per_member)
    await ctx.clear_state()
    ctx.edit(ctx.t("✅ Need #{number} recorded ({category}). Thank you!", number=row.number,
                   category=h(cat_name(ctx.lang, code))))
    ctx.reply(_submitted_text(ctx, row.number) + "\n\n" + h(row.text), chat_id=ctx.actor.user.tg_id)


# ---------------------------------------------------------------- browsing, "+1" (/myneeds: bot/handlers/myneeds.py)


def _in_group(ctx: Ctx) -> bool:
    return ctx.event.chat is not None and not ctx.event.chat.is_private


async def _as_member_of(ctx: Ctx, community_id: int | None) -> None:
    """Browse as a member of `community_id` (a group's list followed into private carries its community: the
    group's, never the presser's active one). Refused when they are not a member there."""
    if community_id is None or (ctx.actor.community is not None and ctx.actor.community.id == community_id):
        return
    community = await membership.get_community(ctx.uow, community_id)
    bound = await membership.load_actor(ctx.uow, ctx.actor.user, community=community)
    if bound.member is None:
        raise NotRegistered()
    ctx.actor = bound


async def _categories(ctx: Ctx) -> None:
    """The categories with their counts. In a group the buttons are deep links: each person browses in private
    and the group's message is never rewritten by someone's browsing."""
    counts = await needs.category_counts(ctx.uow, actor=ctx.actor, now=ctx.now)
    cid = ctx.actor.community.id if ctx.actor.community is not None else 0
    if _in_group(ctx):
        buttons = grid([ctx.url_button(f"{cat_name(ctx.lang, c)} ({n})",
                                       ctx.deep_link(f"{LINK}{cid}_{cat_ref(ctx, c)}")) for c, n in counts], 2)
    else:
        buttons = grid([ctx.button(f"{cat_name(ctx.lang, c)} ({n})", "nb", "c", cat_ref(ctx, c), cid, 1)
                        for c, n in counts], 2)
    total = sum(n for _, n in counts)
    ctx.show(tn(ctx.lang, "<b>Needs list</b> · {n} need. Choose a category:",
                "<b>Needs list</b> · {n} needs. Choose a category:", total), buttons)


async def _category_page(ctx: Ctx, code: str, page: int) -> tuple[str, Keyboard]:
    """A category's page; its buttons name the community browsed (it may not be the presser's active one)."""
    cid = ctx.actor.community.id if ctx.actor.community is not None else 0
    shown = await needs.list_needs(ctx.uow, actor=ctx.actor, category=code, now=ctx.now, page=page)
    lines = [tn(ctx.lang, "<b>{category}</b> · {n} need", "<b>{category}</b> · {n} needs", shown.total,
                category=h(cat_name(ctx.lang, code)))]
    lines += [need_line(ctx, n) for n in shown.items] or [ctx.t("No needs in this category yet.")]
    buttons: Keyboard = [[ctx.button(ctx.t("+1 我也需要 #{number}", number=n.number), "n1", n.id,
                                     cat_ref(ctx, code), shown.page, cid)] for n in shown.items]
    nav = pager(ctx, shown.page, shown.pages, "nb", "c", cat_ref(ctx, code), cid)
    if nav:
        buttons.append(nav)
    buttons.append([ctx.button(ctx.t("◀ Categories"), "nb", "h", cid)])
    return "\n\n".join(lines), buttons


async def browse_link(ctx: Ctx, payload: str) -> None:
    """A group's category link (/start needs_<community>_<category>): that community's category page, in
    private."""
    cid, _, ref = payload[len(LINK):].partition("_")
    await _as_member_of(ctx, int_arg(cid))
    code = cat_of(ctx, ref)
    if code is None:
        await _categories(ctx)
    else:
        ctx.reply(*await _category_page(ctx, code, 1))


@router.command("needs", where=ANYWHERE, description=N_("The needs list: browse and support (+1)"))
async def needs_command(ctx: Ctx) -> None:
    words = ctx.message.args[:MAX_ARGS].split()
    verb = words[0].lower() if words else ""
    if verb in ("open", "close", "review", "categories") and not (ctx.event.chat and ctx.event.chat.is_private):
        ctx.reply(ctx.t("Please use this in a private chat with me."))
        return
    if verb == "open" and len(words) <= 2:
        closes_on = None
        if len(words) == 2:
            try:
                closes_on = date.fromisoformat(words[1])
            except ValueError as exc:
                raise Invalid("closes_on", "bad",
                              year=needs.local_year(ctx.actor.community, ctx.now) if ctx.actor.community else "") from exc
        period = await needs.open_period(ctx.uow, actor=ctx.actor, now=ctx.now, closes_on=closes_on)
        ctx.reply(ctx.t("✅ The needs collection of {year} is open. Every linked group is told.", year=period.year)
                  + ("\n" + ctx.t("It closes on {day}.", day=closes_on.isoformat()) if closes_on else ""))
    elif verb == "close" and len(words) == 1:
        period = await needs.close_period(ctx.uow, actor=ctx.actor, now=ctx.now)
        ctx.reply(ctx.t("The needs collection of {year} is closed.", year=period.year))
    elif verb == "review" and len(words) == 1:
        await review_page(ctx, 1)
    elif verb == "categories" and len(words) == 1:
        await categories_screen(ctx)
    elif not words:
        await _categories(ctx)
    else:
        ctx.reply(ctx.t("Usage: /needs · /needs open [YYYY-MM-DD] · /needs close · /needs review · "
                        "/needs categories"))


@router.callback("nb")
async def browse_press(ctx: Ctx) -> None:
    action = ctx.args[0] if ctx.args else ""
    # c, category, [community (the list's: a group's may not be the presser's active one),] page · h, [community]
    if not _in_group(ctx) and (len(ctx.args) == 4 or (action == "h" and len(ctx.args) == 2)):
        await _as_member_of(ctx, int_arg(ctx.args[2] if action == "c" else ctx.args[1]))
    code = cat_of(ctx, ctx.args[1]) if len(ctx.args) >= 3 else None
    if _in_group(ctx):  # a list posted in a group before its buttons were links: answer the presser privately
        if ctx.actor.member is None:
            raise NotRegistered()
        if action == "c" and code is not None:
            ctx.reply(*await _category_page(ctx, code, 1), chat_id=ctx.actor.user.tg_id)
            ctx.toast(ctx.t("I sent you the list in our private chat."))
        else:
            ctx.toast(ctx.t("Send /needs to me in a private chat to browse the needs."), alert=True)
    elif action == "c" and code is not None:
        ctx.edit(*await _category_page(ctx, code, int_arg(ctx.args[-1]) or 1))
    else:
        await _categories(ctx)


@router.callback("n1")
async def plus_one(ctx: Ctx) -> None:
    need_id = int_arg(ctx.args[0]) if ctx.args else None
    if len(ctx.args) == 4 and not _in_group(ctx):  # need, category, page, community
        await _as_member_of(ctx, int_arg(ctx.args[3]))
    count = await needs.support(ctx.uow, actor=ctx.actor, need_id=need_id or 0, now=ctx.now)
    ctx.toast(tn(ctx.lang, "👍 Thank you! {n} neighbour needs this.", "👍 Thank you! {n} neighbours need this.", count))
    code = cat_of(ctx, ctx.args[1]) if len(ctx.args) >= 3 else None
    if code is not None and not _in_group(ctx):  # the page shows the new count (and the order by support)
        ctx.edit(*await _category_page(ctx, code, int_arg(ctx.args[2]) or 1))


NOTICES = needs_notices.NOTICES

#: The needs list's own wording of its errors (bot/handlers/__init__.py: report_error asks it first).
EXPLAIN = explain_needs
