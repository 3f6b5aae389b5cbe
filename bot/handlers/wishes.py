"""/wish and /wishes (F-9.2): micro-wishes (微心愿) in a private chat, by buttons; the groups see them without the
resident's name, with a deep link (/start wish_N) to claim one in private.

- `/wish` — a resident's own wish: a sentence (or a photo with a caption) → by when (3, 7, 14 days) → a preview →
  ✅ post. `/wish for NO` — a grid worker posts one for resident no. NO (网格员代为发布).
- `/wishes` — the open wishes (tap one: its card, 🙋 claim — one press, atomic: a second press at the same moment is
  told kindly that it is taken); `/wishes mine` — one's own and claimed ones (✅ fulfilled: a photo or a note);
  `/wishes stats` — a year's counts per month (grid workers, admins).
Also here: the thank-you consent question (asked once, after the first claim), the monthly thank-you list and the
groups' daily digest (flows/digest.py) as they are rendered."""

from __future__ import annotations

from typing import Any

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tn, tr
from bot.core.types import Button, OutMessage
from bot.handlers.common import MAX_ARGS, grid, int_arg, pager
from bot.render import NoticeRenderer, h
from flows import micro, wishes
from flows.clock import local
from flows.digest import GroupDigest
from flows.errors import AlreadyDone, Expired, FlowError, Forbidden, Invalid, NotFound
from flows.micro import MonthlyThanks
from flows.roles import Perm
from flows.wishes import (
    Taken,
    WishAnswered,
    WishClaimed,
    WishFulfilled,
    WishPosted,
    WishReleased,
    WishReminder,
)
from storage.models_micro import Wish

router = Router()
P, C = "wi", "mc"  # button prefixes: wishes, the thank-you consent
FLOW = "wish"
LINK = "wish_"
STATE_NAMES = {"open": N_("open"), "claimed": N_("claimed"), "fulfilled": N_("fulfilled"), "thanked": N_("thanked")}
BY_NAMES = {"volunteer": N_("a volunteer"), "unit": N_("a unit")}


def explain_wish(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, Taken):
        return ctx.t("This wish was claimed by {by} a moment ago (已被认领) — thank you all the same! /wishes shows the "
                     "others.", by=ctx.t(BY_NAMES.get(err.by, BY_NAMES["volunteer"])))
    if isinstance(err, AlreadyDone):
        return {"wish:mine": ctx.t("You have claimed this wish already."),
                "wish": ctx.t("This wish has changed meanwhile. /wishes mine shows it as it is now."),
                "consent": ctx.t("Noted already, thank you.")}.get(err.what)
    if isinstance(err, Forbidden):
        return {"claim": ctx.t("Wishes are claimed by volunteers and units. Ask the community office to register you "
                               "as one."),
                "wish:own": ctx.t("That is a wish of your own (or one you posted): someone else fulfils it."),
                "wish:claimer": ctx.t("Only the one who claimed it marks it fulfilled."),
                "wish:asker": ctx.t("Only the resident (or the grid worker who posted it) answers that."),
                "wishes": ctx.t("Only grid workers and admins post wishes for others and see the counts.")
                }.get(err.permission)
    if isinstance(err, NotFound) and err.what == "wish":
        return ctx.t("There is no wish no. {key}. /wishes shows the open ones.", key=h(str(err.key)))
    if isinstance(err, Invalid):
        if err.reason == "too_long":
            return ctx.t("Too long: {length} characters, at most {limit}. Please send a shorter text.",
                         length=err.details.get("length"), limit=err.details.get("limit"))
        if err.field in ("text", "note"):
            return ctx.t("Please send a sentence, or a photo with a caption.")
    if isinstance(err, Expired) and err.what == "wish":
        return ctx.t("This has expired. Send /wish again.")
    return None


EXPLAIN = explain_wish


# ---------------------------------------------------------------- notices


def _posted(r: NoticeRenderer | None, lang: str, p: dict[str, Any]) -> OutMessage:
    head = tr(lang, "🌟 <b>Micro-wish no. {number}</b> · building {building}", number=p["number"],
              building=h(p["building"] or "—"))
    if p.get("again"):
        head += " " + tr(lang, "(open again)")
    text = f"{head}\n{h(p['text'])}\n" + tr(lang, "Hoped for by {due}. Who can help?", due=h(p["due"]))
    buttons = [[Button(text=tr(lang, "🙋 I can help"), url=r.deep_link(f"{LINK}{p['number']}"))]] if r else None
    return OutMessage(text=text, photo=p.get("photo"), buttons=buttons)


def _n_posted(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return _posted(r, lang, p)


def _n_claimed(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "🙋 Your wish no. {number} ({text}) is claimed by {by} {name}.", number=p["number"],
                              text=h(p["text"][:40]), by=tr(lang, BY_NAMES.get(p["by"], BY_NAMES["volunteer"])),
                              name=h(p["name"])))


def _n_reminder(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "⏰ A reminder: wish no. {number} ({text}) is hoped for by {due}. When it is done, "
                                    "mark it fulfilled in /wishes mine.", number=p["number"], text=h(p["text"][:40]),
                              due=h(p["due"])),
                      buttons=[[r.button(tr(lang, "✅ Fulfilled"), P, "f", p["number"])]])


def _n_fulfilled(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = tr(lang, "🎁 Your wish no. {number} ({text}) is marked fulfilled.", number=p["number"],
              text=h(p["text"][:40]))
    if p.get("note"):
        text += "\n" + h(p["note"])
    return OutMessage(text=text, photo=p.get("photo"),
                      buttons=[[r.button(tr(lang, "🙏 Thank you"), P, "t", p["number"]),
                                r.button(tr(lang, "✖ It did not happen"), P, "n", p["number"])]])


def _n_answered(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    if p["thanked"]:
        return OutMessage(text=tr(lang, "🙏 The resident thanks you for wish no. {number} ({text})!",
                                  number=p["number"], text=h(p["text"][:40])))
    return OutMessage(text=tr(lang, "The resident says wish no. {number} ({text}) did not happen; it is open again.",
                              number=p["number"], text=h(p["text"][:40])))


def _n_released(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "Your wish no. {number} ({text}) is open again: the one who claimed it can no longer "
                                    "help. It is shown in the groups anew.", number=p["number"], text=h(p["text"][:40])))


def _n_thanks(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = tr(lang, "💐 <b>Thank you, neighbours!</b> In {month}: {wishes} wishes fulfilled, {posts} micro matters done.",
              month=h(p["month"]), wishes=p["wishes"], posts=p["posts"])
    if p.get("names"):
        text += "\n" + h("、".join(p["names"]))
    return OutMessage(text=text)


def _n_digest(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    parts = [tr(lang, "📋 <b>Today's neighbourhood matters</b> · {community}", community=h(p["community"]))]
    for item in p.get("items") or []:
        fn = r.notices.get(item.get("kind", ""))
        if fn is not None:
            parts.append(fn(lang, item.get("params") or {}).text)
    return OutMessage(text="\n\n".join(parts)[:4096],
                      buttons=[[Button(text=tr(lang, "Open private chat"), url=r.deep_link("wishes"))]])


NOTICES = {WishPosted.kind: _n_posted, WishClaimed.kind: _n_claimed, WishReminder.kind: _n_reminder,
           WishFulfilled.kind: _n_fulfilled, WishAnswered.kind: _n_answered, WishReleased.kind: _n_released, MonthlyThanks.kind: _n_thanks,
           GroupDigest.kind: _n_digest}


# ---------------------------------------------------------------- /wish


@router.command("wish", where=PRIVATE, description=N_("Post a micro-wish (微心愿)"), member_only=True)
async def wish_cmd(ctx: Ctx) -> None:
    ctx.actor.registered()
    words = ctx.message.args[:MAX_ARGS].split()
    data: dict[str, Any] = {}
    if words:
        number = int_arg(words[1]) if len(words) == 2 and words[0].lower() in ("for", "代") else None
        if number is None:
            ctx.reply(ctx.t("/wish — post your own micro-wish\n/wish for NO — post one for resident no. NO (grid "
                            "workers)"))
            return
        ctx.actor.require(Perm.WISHES)
        data["for"] = number
    await ctx.set_state(FLOW, "text", data)
    ctx.reply(ctx.t("🌟 What is the wish? One sentence (at most {limit} characters), or a photo with a caption. The "
                    "groups see it without a name.", limit=wishes.TEXT_MAX), [[ctx.button(ctx.t("✖ Cancel"), P, "x")]])


def _data(ctx: Ctx) -> dict[str, Any]:
    if ctx.state is None or ctx.state.flow != FLOW:
        raise Expired("wish")
    return dict(ctx.state.data)


@router.flow(FLOW)
async def dialog(ctx: Ctx) -> None:
    data = _data(ctx)
    step = ctx.state.step if ctx.state is not None else ""
    msg = ctx.message
    photo = msg.photo_file_id[:255] if msg.photo_file_id else None
    if step == "text":
        data.update(text=wishes.check_text(msg.text or ("📷" if photo else "")), photo=photo)
        await ctx.set_state(FLOW, "due", data)
        ctx.reply(ctx.t("By when should it come true?"),
                  [[ctx.button(tn(ctx.lang, "In {n} day", "In {n} days", d), P, "d", d) for d in wishes.DUE_DAYS],
                   [ctx.button(ctx.t("✖ Cancel"), P, "x")]])
    elif step == "fulfil":
        w = await wishes.fulfil(ctx.uow, actor=ctx.actor, number=int(data["number"]), note=msg.text, photo=photo,
                                now=ctx.now)
        await ctx.clear_state()
        ctx.reply(ctx.t("🎁 Wish no. {number} is marked fulfilled. The resident is asked to confirm. Thank you!",
                        number=w.number))
    else:
        ctx.reply(ctx.t("Please tap one of the buttons above, or send /cancel to stop."))


async def from_link(ctx: Ctx, payload: str) -> None:
    """The groups' "🙋 I can help" link (/start wish_N), and the digest's (/start wishes)."""
    number = int_arg(payload[len(LINK):]) if payload.startswith(LINK) else None
    if number is None:
        await _open(ctx, 1)
    else:
        await _card(ctx, number)


def _card_text(ctx: Ctx, w: Wish, due: str) -> str:
    return "\n".join([ctx.t("🌟 <b>Micro-wish no. {number}</b> · {state}", number=w.number,
                            state=ctx.t(STATE_NAMES.get(w.state, w.state))),
                      h(w.text), ctx.t("Hoped for by {due}.", due=h(due))])


async def _card(ctx: Ctx, number: int) -> None:
    w = await wishes.get(ctx.uow, actor=ctx.actor, number=number)
    me = ctx.actor.registered()
    due = f"{wishes.due_day(ctx.actor.home(), w.due_at)}"
    buttons: list[list[Button]] = []
    if w.state == wishes.OPEN and me.id not in (w.for_member_id, w.posted_by_member_id):
        buttons.append([ctx.button(ctx.t("🙋 Claim"), P, "c", w.number)])
    if w.state == wishes.CLAIMED and w.claimer_member_id == me.id:
        buttons.append([ctx.button(ctx.t("✅ Fulfilled"), P, "f", w.number)])
    ctx.reply(_card_text(ctx, w, due), buttons or None, photo=w.photo)


async def _open(ctx: Ctx, page_no: int) -> None:
    page = await wishes.open_wishes(ctx.uow, actor=ctx.actor, page=page_no)
    if not page.total:
        ctx.show(ctx.t("No open wish right now. /wish posts one."))
        return
    lines = [ctx.t("🌟 <b>Open micro-wishes</b> (tap one)")]
    lines += [f"{w.number}. {h(w.text[:40])}" for w in page.items]
    buttons = grid([ctx.button(str(w.number), P, "s", w.number) for w in page.items], 4)
    if page.pages > 1:
        buttons.append(pager(ctx, page.page, page.pages, P, "o"))
    ctx.show("\n".join(lines), buttons)


@router.command("wishes", where=PRIVATE, description=N_("Open micro-wishes; mine; the counts"), member_only=True)
async def wishes_cmd(ctx: Ctx) -> None:
    ctx.actor.registered()
    arg = ctx.message.args.strip().lower()
    if arg == "mine":
        rows = await wishes.mine(ctx.uow, actor=ctx.actor)
        if not rows:
            ctx.reply(ctx.t("You have no wishes yet. /wish posts one, /wishes shows the open ones."))
            return
        lines = [ctx.t("<b>My wishes</b> (posted or claimed)")]
        lines += [f"{w.number}. {h(w.text[:30])} · {ctx.t(STATE_NAMES.get(w.state, w.state))}" for w in rows]
        ctx.reply("\n".join(lines), grid([ctx.button(str(w.number), P, "s", w.number) for w in rows], 5))
    elif arg.startswith("stats"):
        year = int_arg(arg[5:]) or local(ctx.now, ctx.actor.home().timezone).year
        months = await wishes.stats(ctx.uow, actor=ctx.actor, year=year)
        lines = [ctx.t("<b>Micro-wishes in {year}</b> (posted / claimed / fulfilled / thanked)", year=year)]
        lines += [f"{m.month:>2}: {m.posted} / {m.claimed} / {m.fulfilled} / {m.thanked}" for m in months
                  if m.posted or m.claimed or m.fulfilled or m.thanked]
        total = [sum(getattr(m, f) for m in months) for f in ("posted", "claimed", "fulfilled", "thanked")]
        lines.append(ctx.t("Year: {a} / {b} / {c} / {d}", a=total[0], b=total[1], c=total[2], d=total[3]))
        ctx.reply("\n".join(lines))
    elif arg == "thanks":
        agreed = await micro.consent(ctx.uow, member_id=ctx.actor.registered().id or 0)
        ctx.reply(ctx.t("Your name is in the monthly thank-you list.") if agreed else
                  ctx.t("Your name is not in the monthly thank-you list."),
                  [[ctx.button(ctx.t("✅ Yes, name me"), C, "y"), ctx.button(ctx.t("No, thank you"), C, "n")]])
    elif arg:
        ctx.reply(ctx.t("/wishes — the open wishes\n/wishes mine — mine and those I claimed\n/wishes stats — the "
                        "counts per month\n/wishes thanks — whether your name is in the monthly thank-you list"))
    else:
        await _open(ctx, 1)


async def ask_consent(ctx: Ctx) -> None:
    """After a first claim: may we name you in the monthly thank-you list? (asked once)"""
    me = ctx.actor.registered()
    if await micro.consent_asked(ctx.uow, member_id=me.id or 0):
        return
    ctx.reply(ctx.t("May we name you in the monthly thank-you list in the groups? (Asked once; only your name.)"),
              [[ctx.button(ctx.t("✅ Yes, name me"), C, "y"), ctx.button(ctx.t("No, thank you"), C, "n")]])


@router.callback(C)
async def consent_pressed(ctx: Ctx) -> None:
    agreed = await micro.set_consent(ctx.uow, actor=ctx.actor, agreed=str(ctx.args[0]) == "y", now=ctx.now)
    ctx.show(ctx.t("Thank you: your name will be in the thank-you list.") if agreed else
             ctx.t("Noted: your name stays out of the thank-you list."))


@router.callback(P)
async def pressed(ctx: Ctx) -> None:
    action = str(ctx.args[0])
    num = int_arg(str(ctx.args[1])) if len(ctx.args) > 1 else None
    if action == "x":
        await ctx.clear_state()
        ctx.show(ctx.t("Cancelled: nothing was posted."))
    elif action == "o":
        await _open(ctx, num or 1)
    elif action == "s" and num is not None:
        await _card(ctx, num)
    elif action == "d" and num is not None:
        data = _data(ctx)
        data["days"] = num
        await ctx.set_state(FLOW, "preview", data)
        post = _posted(None, ctx.lang, WishPosted(number=0, community="", text=data["text"], building="…",
                                                  due=tn(ctx.lang, "in {n} day", "in {n} days", num), photo=data.get("photo")).params())
        ctx.reply(post.text, photo=post.photo)
        ctx.reply(ctx.t("👆 The groups will see it like this, without a name."),
                  [[ctx.button(ctx.t("✅ Post"), P, "ok"), ctx.button(ctx.t("✖ Cancel"), P, "x")]])
    elif action == "ok":
        data = _data(ctx)
        if "days" not in data:
            raise Expired("wish")
        w = await wishes.post(ctx.uow, actor=ctx.actor, text=data["text"], photo=data.get("photo"),
                              days=int(data["days"]), now=ctx.now, for_member_id=data.get("for"))
        await ctx.clear_state()
        ctx.show(ctx.t("🌟 Wish no. {number} is posted. You will hear when someone claims it.", number=w.number))
    elif action == "c" and num is not None:
        w = await wishes.claim(ctx.uow, actor=ctx.actor, number=num, now=ctx.now)
        due = f"{wishes.due_day(ctx.actor.home(), w.due_at)}"
        ctx.toast(ctx.t("Claimed!"))
        ctx.reply(ctx.t("🙋 You claimed wish no. {number}. Please make it come true by {due}; then tap “✅ Fulfilled” "
                        "(or find it in /wishes mine).", number=w.number, due=h(due)),
                  [[ctx.button(ctx.t("✅ Fulfilled"), P, "f", w.number)]])
        await ask_consent(ctx)
    elif action == "f" and num is not None:
        w = await wishes.get(ctx.uow, actor=ctx.actor, number=num)
        if w.claimer_member_id != ctx.actor.registered().id or w.state != wishes.CLAIMED:
            raise Forbidden("wish:claimer")
        await ctx.set_state(FLOW, "fulfil", {"number": num})
        ctx.reply(ctx.t("Send a photo of it (with a caption if you like), or a short note of what was done."),
                  [[ctx.button(ctx.t("✖ Cancel"), P, "x")]])
    elif action in ("t", "n") and num is not None:
        w = await wishes.answer(ctx.uow, actor=ctx.actor, number=num, thanked=action == "t", now=ctx.now)
        ctx.edit_buttons([])
        ctx.reply(ctx.t("🙏 Thank you! Your thanks is passed on.") if action == "t" else
                  ctx.t("Sorry to hear that. Wish no. {number} is open again for someone to help.", number=w.number))
    else:
        raise Expired("wish")
