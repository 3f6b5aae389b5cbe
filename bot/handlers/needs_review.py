"""Reviewing the needs list (admins): `/needs review` — merge, reject, promote to a candidate project (a title,
then the category) — and `/needs categories`: switch categories on or off, add the community's own. The
/needs command itself (bot/handlers/needs.py) opens these screens."""

from __future__ import annotations

from bot.core.dispatch import Ctx, Router
from bot.core.i18n import N_, tr
from bot.core.types import Keyboard
from bot.handlers.common import grid, int_arg, pager
from bot.handlers.needs_notices import CHANNEL_NAMES
from bot.handlers.needs_words import CATEGORY_NAMES, cat_name, cat_of, cat_ref, explain_needs, need_line
from bot.render import h
from flows import needs
from flows.errors import Invalid
from flows.roles import Perm

router = Router()
REVIEW, CATS = "need_review", "need_cats"

# ---------------------------------------------------------------- review (admins)


async def review_page(ctx: Ctx, page: int) -> None:
    shown = await needs.review_list(ctx.uow, actor=ctx.actor, now=ctx.now, page=page)
    if not shown.items:
        ctx.show(ctx.t("No open needs to review."))
        return
    lines = [ctx.t("<b>Open needs to review</b> ({total})", total=shown.total)]
    lines += [need_line(ctx, n) for n in shown.items]
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
    text = need_line(ctx, n, full=True) + "\n" + ctx.t("Channel: {channel}", channel=ctx.t(CHANNEL_NAMES[n.channel]))
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
        await review_page(ctx, number or 1)
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


async def categories_screen(ctx: Ctx, *, note: str = "") -> None:
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
        await categories_screen(ctx)
    elif action == "a":
        await ctx.set_state(CATS, "name", {})
        ctx.edit(ctx.t("Send the name of the new category (at most {limit} characters).",
                       limit=needs.LIMITS["category"]), [[ctx.button(ctx.t("✖ Cancel"), "nc", "x")]])
    elif action == "x":
        await ctx.clear_state()
        await categories_screen(ctx)
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
    await categories_screen(ctx, note=ctx.t("✅ Category “{name}” added and in use.", name=h(cat_name(ctx.lang, code))))


#: The needs list's own wording of its errors (bot/handlers/__init__.py: report_error asks it first).
EXPLAIN = explain_needs
