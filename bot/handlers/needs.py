"""The needs list (需求清单): collecting, browsing, supporting and reviewing residents' needs.

/need (private: category → text → optional photo → confirm; in a group: `/need 文字`, then the
category by button for the author only), /need_for (grid workers, admins), /needs (browse, "+1",
and for admins: open, close, review — promoting asks for a title, then the category —, and
`categories`: switch categories on/off, add the community's own); /myneeds is bot/handlers/myneeds.py. The groups' reminders
while the collection is open are the "needs_remind" notice (queued by the scheduler)."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.core.dispatch import ANYWHERE, PRIVATE, Ctx, Router
from bot.core.i18n import N_, tn, tr
from bot.core.types import Keyboard
from bot.handlers import needs_notices
from bot.handlers.common import MAX_ARGS, grid, int_arg, pager
from bot.handlers.needs_notices import CHANNEL_NAMES
from bot.render import h
from flows import needs
from flows.errors import AlreadyDone, FlowError, Invalid, LimitReached, NotFound, NotRegistered
from flows.needs import NeedLine
from flows.roles import Perm

router = Router()
FLOW, REVIEW, GROUP_FLOW, CATS = "need", "need_review", "need_group", "need_cats"

CATEGORY_NAMES = {"env": N_("Environment"), "facility": N_("Facilities"), "elderly": N_("Elderly care"),
                  "culture": N_("Culture and sports"), "safety": N_("Safety"), "traffic": N_("Parking and traffic"),
                  "green": N_("Greening"), "convenience": N_("Convenience services"), "child": N_("Children"),
                  "property": N_("Property management")}
STATUS_NAMES = {"open": N_("open"), "merged": N_("merged"), "rejected": N_("not taken up"),
                "candidate": N_("candidate project")}
FIELD_NAMES = {"text": N_("need"), "reason": N_("reason"), "title": N_("title"), "category": N_("category name")}


def cat_name(lang: str, code: str) -> str:
    """A category's name as plain text (escape it with h() in HTML): translated for the ten
    defaults, as the community wrote it for its own ("x:<name>")."""
    if code in CATEGORY_NAMES:
        return tr(lang, CATEGORY_NAMES[code])
    return code[len(needs.OWN):] if code.startswith(needs.OWN) else code


def cat_ref(ctx: Ctx, code: str) -> str:
    """A category in button data (no ':' allowed there, 64 bytes): a default's code, or "x<n>" for the
    community's n-th own category (own categories are never removed, so n stays the same)."""
    if code in needs.CATEGORIES:
        return code
    own = [c for c in needs.all_categories(ctx.actor.community) if c not in needs.CATEGORIES]
    return f"x{own.index(code)}" if code in own else "?"


def cat_of(ctx: Ctx, ref: str) -> str | None:
    """The category a button names, or None."""
    if ref in needs.CATEGORIES:
        return ref
    own = [c for c in needs.all_categories(ctx.actor.community) if c not in needs.CATEGORIES]
    index = int_arg(ref[1:]) if ref.startswith("x") else None
    return own[index] if index is not None and index < len(own) else None


# ---------------------------------------------------------------- errors


def explain_needs(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, LimitReached) and err.what == "needs":
        return tn(ctx.lang, "You have submitted {n} need in this collection, the most one person may. You can "
                    "still support your neighbours' needs with “+1” (/needs).",
                    "You have submitted {n} needs in this collection, the most one person may. You can "
                    "still support your neighbours' needs with “+1” (/needs).", err.limit)
    if isinstance(err, Invalid):
        if err.reason == "too_long" and err.field in FIELD_NAMES:
            return ctx.t("Too long: the {field} can have at most {limit} characters. Please send a shorter one.",
                         field=ctx.t(FIELD_NAMES[err.field]), limit=err.details.get("limit"))
        if err.reason == "empty" and err.field in FIELD_NAMES:
            return ctx.t("The {field} cannot be empty. Please send it again.", field=ctx.t(FIELD_NAMES[err.field]))
        if err.field == "voice" and err.reason == "too_long":
            return ctx.t("That voice message is too long: at most {minutes} minutes, please.",
                         minutes=int(err.details.get("limit") or needs.VOICE_SECONDS) // 60)
        if err.field == "voice":
            return ctx.t("That voice message could not be used. Please send it again, or type the need.")
        if err.field == "period":
            return ctx.t("The needs list is not collecting at the moment. The community will announce the next "
                         "collection in the groups.")
        if err.field == "closes_on":
            return ctx.t("The closing date must be later this year, e.g. /needs open {year}-12-31",
                         year=err.details.get("year"))
        if err.field == "merge" and err.reason == "same":
            return ctx.t("A need cannot be merged into itself. Send the number of another need.")
        if err.field == "merge":
            return ctx.t("Need #{number} is no longer open. Send the number of an open need.",
                         number=err.details.get("number"))
        if err.field == "need":
            return ctx.t("This need has been reviewed already.")
        if err.field == "channel":
            return ctx.t("You cannot record needs from that channel.")
        if err.field == "category" and err.reason == "duplicate":
            return ctx.t("There is already a category “{name}”. Send another name, or switch that one on in "
                         "the list.", name=h(err.details.get("name", "")))
        if err.field == "category":
            return ctx.t("Please choose one of the categories.")
        if err.field == "categories" and err.reason == "last":
            return ctx.t("At least one category must stay in use. Switch another one on first.")
        if err.field == "categories" and err.reason == "too_many":
            return ctx.t("At most {limit} categories can be in use. Switch one off first.",
                         limit=err.details.get("limit"))
        if err.field == "categories":
            return ctx.t("A community can add at most {limit} categories of its own. Switch an existing one on "
                         "instead.", limit=err.details.get("limit"))
    if isinstance(err, AlreadyDone):
        if err.what == "support":
            return ctx.t("You already support this need.")
        if err.what == "period":
            return ctx.t("The needs collection is already open.")
        if err.what == "period_closed":
            return ctx.t("The needs collection is already closed.")
    if isinstance(err, NotFound):
        if err.what == "need_number":
            return ctx.t("There is no need #{key} this year. Send the number of another need.", key=h(err.key))
        if err.what == "need":
            return ctx.t("That need does not exist (any more).")
        if err.what == "period":
            return ctx.t("The needs collection of {year} has not been opened. /needs open opens it.", year=err.key)
    return None


def _voice(ctx: Ctx, seconds: int | None) -> str:
    s = seconds or 0
    return ctx.t("🎤 voice message ({length})", length=f"{s // 60}:{s % 60:02d}")


def _line(ctx: Ctx, n: NeedLine, *, full: bool = False) -> str:
    text = n.text if full or len(n.text) <= 80 else n.text[:80] + "…"
    head = ctx.t("<b>Need #{number}</b> · {category}", number=n.number, category=h(cat_name(ctx.lang, n.category)))
    told = " ".join(x for x in (h(text), _voice(ctx, n.voice_seconds) if n.voice_file_id else "") if x)
    out = f"{head}\n{told}\n" + tn(ctx.lang, "👍 {n} supporter", "👍 {n} supporters", n.supporters)
    if n.status != "open":
        out += " · " + ctx.t(STATUS_NAMES.get(n.status, n.status))
    if n.status == "merged" and n.merged_into:
        out += " " + ctx.t("(into need #{number})", number=n.merged_into)
    if n.status == "rejected" and n.reject_reason:
        out += "\n" + ctx.t("Reason: {reason}", reason=h(n.reject_reason))
    if n.status == "candidate" and n.candidate_title:
        out += "\n" + ctx.t("Candidate project: {title}", title=h(n.candidate_title))
    return out


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
                 h(data["text"]) if data.get("text") else _voice(ctx, data.get("voice_s")),
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


async def _categories(ctx: Ctx) -> None:
    counts = await needs.category_counts(ctx.uow, actor=ctx.actor, now=ctx.now)
    buttons = grid([ctx.button(f"{cat_name(ctx.lang, c)} ({n})", "nb", "c", cat_ref(ctx, c), 1) for c, n in counts], 2)
    total = sum(n for _, n in counts)
    ctx.show(tn(ctx.lang, "<b>Needs list</b> · {n} need. Choose a category:",
                "<b>Needs list</b> · {n} needs. Choose a category:", total), buttons)


async def _category_page(ctx: Ctx, code: str, page: int) -> None:
    shown = await needs.list_needs(ctx.uow, actor=ctx.actor, category=code, now=ctx.now, page=page)
    lines = [tn(ctx.lang, "<b>{category}</b> · {n} need", "<b>{category}</b> · {n} needs", shown.total,
                category=h(cat_name(ctx.lang, code)))]
    lines += [_line(ctx, n) for n in shown.items] or [ctx.t("No needs in this category yet.")]
    buttons: Keyboard = [[ctx.button(ctx.t("+1 我也需要 #{number}", number=n.number), "n1", n.id,
                                     cat_ref(ctx, code), shown.page)] for n in shown.items]
    nav = pager(ctx, shown.page, shown.pages, "nb", "c", cat_ref(ctx, code))
    if nav:
        buttons.append(nav)
    buttons.append([ctx.button(ctx.t("◀ Categories"), "nb", "h")])
    ctx.show("\n\n".join(lines), buttons)


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
        await _review_page(ctx, 1)
    elif verb == "categories" and len(words) == 1:
        await _categories_screen(ctx)
    elif not words:
        await _categories(ctx)
    else:
        ctx.reply(ctx.t("Usage: /needs · /needs open [YYYY-MM-DD] · /needs close · /needs review · "
                        "/needs categories"))


@router.callback("nb")
async def browse_press(ctx: Ctx) -> None:
    action = ctx.args[0] if ctx.args else ""
    code = cat_of(ctx, ctx.args[1]) if len(ctx.args) == 3 else None
    if action == "c" and code is not None:
        await _category_page(ctx, code, int_arg(ctx.args[2]) or 1)
    else:
        await _categories(ctx)


@router.callback("n1")
async def plus_one(ctx: Ctx) -> None:
    need_id = int_arg(ctx.args[0]) if ctx.args else None
    count = await needs.support(ctx.uow, actor=ctx.actor, need_id=need_id or 0, now=ctx.now)
    ctx.toast(tn(ctx.lang, "👍 Thank you! {n} neighbour needs this.", "👍 Thank you! {n} neighbours need this.", count))
    code = cat_of(ctx, ctx.args[1]) if len(ctx.args) == 3 else None
    if code is not None:  # the page shows the new count (and the order by support)
        await _category_page(ctx, code, int_arg(ctx.args[2]) or 1)


# ---------------------------------------------------------------- review (admins)


async def _review_page(ctx: Ctx, page: int) -> None:
    shown = await needs.review_list(ctx.uow, actor=ctx.actor, now=ctx.now, page=page)
    if not shown.items:
        ctx.show(ctx.t("No open needs to review."))
        return
    lines = [ctx.t("<b>Open needs to review</b> ({total})", total=shown.total)]
    lines += [_line(ctx, n) for n in shown.items]
    buttons: Keyboard = grid([ctx.button(f"#{n.number}", "nr", "v", n.id) for n in shown.items], 5)
    nav = pager(ctx, shown.page, shown.pages, "nr", "l")
    if nav:
        buttons.append(nav)
    ctx.show("\n\n".join(lines), buttons)


async def _admin_view(ctx: Ctx, need_id: int) -> None:
    ctx.actor.require(Perm.NEEDS_REVIEW)
    n = await needs.show(ctx.uow, actor=ctx.actor, need_id=need_id)
    buttons: Keyboard = []
    if n.status == "open":
        buttons = [[ctx.button(ctx.t("🔗 Merge"), "nr", "m", n.id), ctx.button(ctx.t("✖ Reject"), "nr", "r", n.id),
                    ctx.button(ctx.t("⭐ Candidate"), "nr", "p", n.id)]]
    media = []
    if n.voice_file_id:
        media.append(ctx.button(ctx.t("🎤 Listen"), "nr", "vo", n.id))
    if n.photo_file_id:
        media.append(ctx.button(ctx.t("🖼 Photo"), "nr", "ph", n.id))
    if media:
        buttons.append(media)
    buttons.append([ctx.button(ctx.t("◀ Review list"), "nr", "l", 1)])
    text = _line(ctx, n, full=True) + "\n" + ctx.t("Channel: {channel}", channel=ctx.t(CHANNEL_NAMES[n.channel]))
    ctx.show(text, buttons)


ASK = {"m": N_("Merge need #{number} into which need? Send its number."),
       "r": N_("Why is need #{number} not taken up? Send the reason (at most 200 characters); the author is told."),
       "p": N_("A short title for candidate project from need #{number} (at most 30 characters).")}


@router.callback("nr")
async def review_press(ctx: Ctx) -> None:
    ctx.actor.require(Perm.NEEDS_REVIEW)
    action = ctx.args[0] if ctx.args else ""
    number = int_arg(ctx.args[1]) if len(ctx.args) > 1 else None
    if action in ("pk", "po", "px"):
        await _promote_press(ctx, action)
    elif action == "l":
        await _review_page(ctx, number or 1)
    elif action == "v" and number is not None:
        await _admin_view(ctx, number)
    elif action == "ph" and number is not None:
        n = await needs.show(ctx.uow, actor=ctx.actor, need_id=number)
        if n.photo_file_id:
            ctx.reply(ctx.t("Photo of need #{number}", number=n.number), photo=n.photo_file_id)
    elif action == "vo" and number is not None:
        n = await needs.show(ctx.uow, actor=ctx.actor, need_id=number)
        if n.voice_file_id:
            ctx.reply(ctx.t("Voice message of need #{number}", number=n.number), voice=n.voice_file_id)
    elif action in ASK and number is not None:
        n = await needs.show(ctx.uow, actor=ctx.actor, need_id=number)
        await ctx.set_state(REVIEW, action, {"id": n.id})
        ctx.reply(ctx.t(ASK[action], number=n.number) + "\n" + ctx.t("(or /cancel)"))
    else:
        ctx.toast(ctx.t("This button is not valid."), alert=True)


@router.flow(REVIEW)
async def review_text(ctx: Ctx) -> None:
    state = ctx.state
    assert state is not None
    need_id = int(state.data.get("id", 0))
    text = ctx.message.text
    if state.step == "pc":
        ctx.reply(ctx.t("Please tap one of the buttons above, or send /cancel to stop."))
        return
    if state.step == "m":
        into = int_arg(text.strip().lstrip("#"))
        if into is None:
            ctx.reply(ctx.t("Please send the number of the need, e.g. 12."))
            return
        row = await needs.merge(ctx.uow, actor=ctx.actor, need_id=need_id, into_number=into, now=ctx.now)
        done = ctx.t("✅ Need #{number} is merged into need #{into}; its supporters carry over. The author is told.",
                     number=row.number, into=into)
    elif state.step == "r":
        row = await needs.reject(ctx.uow, actor=ctx.actor, need_id=need_id, reason=text, now=ctx.now)
        done = ctx.t("✅ Need #{number} is not taken up. The author is told.", number=row.number)
    else:
        title = needs.clean("title", text)
        n = await needs.show(ctx.uow, actor=ctx.actor, need_id=need_id)
        await ctx.set_state(REVIEW, "pc", {"id": n.id, "title": title, "cat": n.category, "was": n.category})
        _promote_screen(ctx, n.number, title, n.category, n.category)
        return
    await ctx.clear_state()
    ctx.reply(done, [[ctx.button(ctx.t("◀ Review list"), "nr", "l", 1)]])


def _promote_screen(ctx: Ctx, number: int, title: str, was: str, chosen: str) -> None:
    """The category of the candidate project: the need's own first (the default), then the others in use."""
    choices = [was] + [c for c in needs.categories(ctx.actor.community) if c != was]
    labels = []
    for c in choices:
        label = cat_name(ctx.lang, c) if c != was else ctx.t("{category} (current)", category=cat_name(ctx.lang, c))
        labels.append(ctx.button(("✅ " if c == chosen else "") + label, "nr", "pk", cat_ref(ctx, c)))
    buttons = grid(labels, 2)
    buttons.append([ctx.button(ctx.t("✅ Confirm"), "nr", "po"), ctx.button(ctx.t("✖ Cancel"), "nr", "px")])
    text = ctx.t("Candidate project “{title}” from need #{number}.\nCategory: <b>{category}</b> — tap another one "
                 "to change it, then confirm.", title=h(title), number=number, category=h(cat_name(ctx.lang, chosen)))
    ctx.show(text, buttons)


async def _promote_press(ctx: Ctx, action: str) -> None:
    state = ctx.state
    if state is None or state.flow != REVIEW or state.step != "pc":
        ctx.toast(ctx.t("This dialog has ended. Open the need again from /needs review."), alert=True)
        return
    data = dict(state.data)
    if action == "px":
        await ctx.clear_state()
        ctx.edit(ctx.t("Cancelled, nothing was saved."), [[ctx.button(ctx.t("◀ Review list"), "nr", "l", 1)]])
        return
    if action == "pk":
        code = cat_of(ctx, ctx.args[1]) if len(ctx.args) > 1 else None
        if code is None or (code != data["was"] and code not in needs.categories(ctx.actor.community)):
            raise Invalid("category", "unknown")
        data["cat"] = code
        await ctx.set_state(REVIEW, "pc", data)
        n = await needs.show(ctx.uow, actor=ctx.actor, need_id=int(data["id"]))
        _promote_screen(ctx, n.number, data["title"], data["was"], code)
        return
    row = await needs.promote(ctx.uow, actor=ctx.actor, need_id=int(data["id"]), title=data["title"], now=ctx.now,
                              category=data["cat"])
    await ctx.clear_state()
    ctx.edit(ctx.t("✅ Need #{number} is now the candidate project “{title}” ({category}). The author is told.",
                   number=row.number, title=h(row.candidate_title or ""), category=h(cat_name(ctx.lang, row.category))),
             [[ctx.button(ctx.t("◀ Review list"), "nr", "l", 1)]])


# ---------------------------------------------------------------- categories (admins)


async def _categories_screen(ctx: Ctx, *, note: str = "") -> None:
    """Every category with a toggle (✅ in use, ⬜ switched off) and “➕ Add category”; edited in place."""
    ctx.actor.require(Perm.NEEDS_REVIEW)
    states = needs.category_states(ctx.actor.community)
    used = sum(1 for _, on in states if on)
    toggles = [ctx.button(("✅ " if on else "⬜ ") + cat_name(ctx.lang, c), "nc", "off" if on else "on",
                          cat_ref(ctx, c)) for c, on in states]
    buttons = grid(toggles, 2)
    buttons.append([ctx.button(ctx.t("➕ Add category"), "nc", "a")])
    text = ctx.t("<b>Categories of the needs list</b>\nResidents choose from the categories in use ✅ ({used}, at "
                 "most {limit}). Tap one to switch it on or off; needs already filed under a category that is "
                 "switched off keep showing there.", used=used, limit=needs.MAX_IN_USE)
    ctx.show((note + "\n\n" if note else "") + text, buttons)


@router.callback("nc")
async def categories_press(ctx: Ctx) -> None:
    ctx.actor.require(Perm.NEEDS_REVIEW)
    action = ctx.args[0] if ctx.args else ""
    if action in ("on", "off") and len(ctx.args) == 2:
        code = cat_of(ctx, ctx.args[1])
        if code is None:
            raise Invalid("category", "unknown")
        await needs.set_category(ctx.uow, actor=ctx.actor, code=code, active=action == "on", now=ctx.now)
        await _categories_screen(ctx)
    elif action == "a":
        await ctx.set_state(CATS, "name", {})
        ctx.edit(ctx.t("Send the name of the new category (at most {limit} characters).",
                       limit=needs.LIMITS["category"]), [[ctx.button(ctx.t("✖ Cancel"), "nc", "x")]])
    elif action == "x":
        await ctx.clear_state()
        await _categories_screen(ctx)
    else:
        ctx.toast(ctx.t("This button is not valid."), alert=True)


@router.flow(CATS)
async def category_name(ctx: Ctx) -> None:
    name = needs.clean("category", ctx.message.text)
    taken = {tr(lang, CATEGORY_NAMES[c]).casefold() for c in needs.CATEGORIES for lang in (ctx.lang, "zh_CN", "en")}
    if name.casefold() in taken:
        raise Invalid("category", "duplicate", name=name)
    code = await needs.add_category(ctx.uow, actor=ctx.actor, name=name, now=ctx.now)
    await ctx.clear_state()
    await _categories_screen(ctx, note=ctx.t("✅ Category “{name}” added and in use.", name=h(cat_name(ctx.lang, code))))


#: The needs list's notices, worded in bot/handlers/needs_notices.py.
NOTICES = needs_notices.NOTICES

#: The needs list's own wording of its errors (bot/handlers/__init__.py: report_error asks it first).
EXPLAIN = explain_needs
