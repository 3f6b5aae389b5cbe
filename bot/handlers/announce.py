"""/announce (#14, F-11.4): community admins (and grid workers, for their own grid's buildings) announce to groups,
in a private chat with the bot: audience by buttons → text or a photo with caption → when (now, tomorrow 9:00, a
typed date and time) → a preview exactly as the groups will see it → ✅ send / 🚨 urgent / ✖ cancel. `/announce list`
edits or deletes a sent one everywhere; `/announce stats` counts today's bot messages per building group. The
posts themselves are outbox notices (flows/announce.py), rendered here (NOTICES)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tn, tr
from bot.core.types import Button, OutMessage
from bot.handlers.common import grid
from bot.render import NoticeRenderer, h
from flows import announce
from flows.announce import ALL, AT, BUILDINGS, GRID, NOW, TOMORROW, VOLUNTEERS, AnnouncementPosted, Draft
from flows.clock import local
from flows.errors import AlreadyDone, Expired, FlowError, Forbidden, Invalid, NotFound
from flows.roles import Perm

router = Router()
P = "an"  # button prefix
FLOW = "announce"

AUDIENCE_NAMES = {ALL: N_("All building groups"), GRID: N_("Building groups of grids…"),
                  VOLUNTEERS: N_("The volunteers' group"), BUILDINGS: N_("Chosen buildings…")}


# ---------------------------------------------------------------- errors


def explain_announce(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, Forbidden):
        return {
            "announce": ctx.t("Only community admins and grid workers send announcements."),
            "announce:community": ctx.t("Grid workers announce only to the building groups of their own grid."),
            "announce:grid": ctx.t("That grid or building is not yours: grid workers announce only to the building "
                                   "groups of their own grid."),
            "announce:others": ctx.t("Only an admin or its author changes that announcement."),
        }.get(err.permission)
    if isinstance(err, NotFound):
        if err.what == "announcement":
            return ctx.t("There is no announcement no. {key} to change. /announce list shows them.",
                         key=h(str(err.key)))
        if err.what in ("grid", "building"):
            return ctx.t("That grid or building is not in your community. Start again with /announce.")
    if isinstance(err, AlreadyDone) and err.what == "announcement":
        return ctx.t("Someone changed this announcement at the same moment. /announce list shows it as it is now.")
    if isinstance(err, Expired) and err.what == "announce":
        return ctx.t("This announcement draft has expired. Start again with /announce.")
    if isinstance(err, Invalid):
        if err.field == "text" and err.reason == "too_long":
            return ctx.t("Too long: {length} characters, at most {limit}. Please send a shorter text.",
                         length=err.details.get("length"), limit=err.details.get("limit"))
        if err.field == "text":
            return ctx.t("Please send the announcement's text, or a photo with a caption.")
        if err.field == "audience" and err.reason == "empty":
            return ctx.t("Please choose at least one, then tap “Next”.")
        if err.field == "audience":
            return ctx.t("None of the chosen groups is linked to me yet: nobody would receive it.")
        if err.field == "when" and err.reason == "past":
            return ctx.t("That time has passed. Please send a later one, e.g. 2027-03-05 18:30.")
        if err.field == "when":
            return ctx.t("Please send the date and time as YYYY-MM-DD HH:MM, e.g. 2027-03-05 18:30 (within a year).")
    return None


EXPLAIN = explain_announce


# ---------------------------------------------------------------- the post


def _post(lang: str, p: dict[str, Any]) -> OutMessage:
    head = (tr(lang, "🚨 <b>Urgent announcement</b> · {community}", community=h(p.get("community", "")))
            if p.get("urgent") else tr(lang, "📢 <b>Announcement</b> · {community}", community=h(p.get("community", ""))))
    text = head + ("\n\n" + h(p["text"]) if p.get("text") else "")
    return OutMessage(text=text, photo=p.get("photo"))


def _n_posted(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return _post(lang, p)


NOTICES = {AnnouncementPosted.kind: _n_posted}


# ---------------------------------------------------------------- the dialog


def _usage(ctx: Ctx) -> str:
    return ctx.t("/announce — a new announcement\n/announce list — edit or delete a sent one\n/announce stats — "
                 "today's bot messages per building group (admins)")


@router.command("announce", where=PRIVATE, description=N_("Announce to the community's groups"), perm=Perm.ANNOUNCE)
async def announce_cmd(ctx: Ctx) -> None:
    arg = ctx.message.args.strip().lower()
    if arg == "list":
        await _list(ctx)
    elif arg == "stats":
        await _stats(ctx)
    elif arg:
        ctx.reply(_usage(ctx))
    else:
        await _start(ctx)


async def _start(ctx: Ctx) -> None:
    s = await announce.scope(ctx.uow, actor=ctx.actor)
    audiences = (ALL, GRID, VOLUNTEERS, BUILDINGS) if s.grids is None else (GRID, BUILDINGS)
    await ctx.set_state(FLOW, "audience", {})
    ctx.reply(ctx.t("📢 <b>New announcement</b>\nWho should receive it?"),
              [[ctx.button(ctx.t(AUDIENCE_NAMES[a]), P, "au", a)] for a in audiences]
              + [[ctx.button(ctx.t("✖ Cancel"), P, "x")]])


def _data(ctx: Ctx) -> dict[str, Any]:
    if ctx.state is None or ctx.state.flow != FLOW:
        raise Expired("announce")
    return dict(ctx.state.data)


async def _choose(ctx: Ctx, data: dict[str, Any]) -> None:
    """The grids (or buildings) to tick, then “Next”."""
    s = await announce.scope(ctx.uow, actor=ctx.actor)
    chosen = set(data.get("targets") or [])
    if data["audience"] == GRID:
        items = [(g.id or 0, g.name) for g in await announce.grids_of(ctx.uow, s)]
        title = ctx.t("Which grids? Tap to choose, then “Next”.")
    else:
        items = [(b.id or 0, ctx.t("Building {label}", label=b.label)) for b in await announce.buildings_of(ctx.uow, s)]
        title = ctx.t("Which buildings? Tap to choose, then “Next”.")
    buttons: list[Button] = [ctx.button(("✅ " if i in chosen else "") + name, P, "t", i) for i, name in items]
    ctx.show(title, [*grid(buttons, 3), [ctx.button(ctx.t("Next ▶"), P, "n"), ctx.button(ctx.t("✖ Cancel"), P, "x")]])


def _ask_text(ctx: Ctx) -> None:
    ctx.show(ctx.t("Now send the announcement's text (at most {text} characters), or a photo with a caption (at "
                   "most {caption}).", text=announce.TEXT_MAX, caption=announce.CAPTION_MAX))


def _ask_when(ctx: Ctx) -> None:
    ctx.reply(ctx.t("When should it go out?"),
              [[ctx.button(ctx.t("Now"), P, "w", NOW), ctx.button(ctx.t("Tomorrow 9:00"), P, "w", TOMORROW)],
               [ctx.button(ctx.t("Another date and time…"), P, "w", AT)], [ctx.button(ctx.t("✖ Cancel"), P, "x")]])


def _when_text(ctx: Ctx, at: datetime) -> str:
    return f"{local(at, ctx.actor.home().timezone):%Y-%m-%d %H:%M}"


async def _preview(ctx: Ctx, data: dict[str, Any]) -> None:
    s = await announce.scope(ctx.uow, actor=ctx.actor)
    chats = await announce.audience_chats(ctx.uow, s=s, audience=data["audience"], targets=data.get("targets") or [])
    at = datetime.fromisoformat(data["at"])
    urgent = bool(data.get("urgent"))
    due = announce.due_at(s.community, send_at=at, urgent=urgent)
    post = _post(ctx.lang, AnnouncementPosted(number=0, community=s.community.name, text=data.get("text", ""),
                                              photo=data.get("photo"), urgent=urgent).params())
    ctx.reply(post.text, photo=post.photo)
    lines = [ctx.t("👆 The preview, exactly as the groups will see it."),
             tn(ctx.lang, "To {n} group: {names}", "To {n} groups: {names}", len(chats),
                names=h("、".join(c.title for c in chats)) or "—"),
             ctx.t("Goes out: {when}", when=_when_text(ctx, due))]
    if due != at:
        lines.append(ctx.t("(moved past the quiet hours; mark it urgent to send it at once)"))
    urgent_label = ctx.t("Not urgent") if urgent else ctx.t("🚨 Mark urgent")
    ctx.reply("\n".join(lines), [[ctx.button(ctx.t("✅ Send"), P, "ok"), ctx.button(ctx.t("✖ Cancel"), P, "x")],
                                 [ctx.button(urgent_label, P, "u")]])


@router.flow(FLOW)
async def dialog(ctx: Ctx) -> None:
    data = _data(ctx)
    step = ctx.state.step if ctx.state is not None else ""
    msg = ctx.message
    if step == "text":
        photo = msg.photo_file_id[:255] if msg.photo_file_id else None
        data.update(text=announce.check_text(msg.text, photo=photo), photo=photo)
        await ctx.set_state(FLOW, "when", data)
        _ask_when(ctx)
    elif step == "at":
        at = announce.send_time(ctx.actor.home(), choice=AT, now=ctx.now, typed=msg.text)
        data["at"] = at.isoformat()
        await ctx.set_state(FLOW, "preview", data)
        await _preview(ctx, data)
    elif step == "edit":
        done = await announce.edit(ctx.uow, actor=ctx.actor, number=int(data["number"]), text=msg.text, now=ctx.now)
        await ctx.clear_state()
        ctx.reply(tn(ctx.lang, "✏ Announcement no. {number} is corrected in {n} group.",
                     "✏ Announcement no. {number} is corrected in {n} groups.", done, number=data["number"]))
    else:
        ctx.reply(ctx.t("Please tap one of the buttons above, or send /cancel to stop."))


@router.callback(P)
async def pressed(ctx: Ctx) -> None:
    action = str(ctx.args[0])
    if action == "x":
        await ctx.clear_state()
        ctx.show(ctx.t("Cancelled: nothing was sent."))
        return
    if action in ("s", "e", "d", "dd"):
        await _manage(ctx, action, int(ctx.args[1]))
        return
    data = _data(ctx)
    if action == "au":
        data = {"audience": str(ctx.args[1]), "targets": []}
        await announce.scope(ctx.uow, actor=ctx.actor)
        if data["audience"] in (GRID, BUILDINGS):
            await ctx.set_state(FLOW, "targets", data)
            await _choose(ctx, data)
            return
        await announce.audience_chats(ctx.uow, s=await announce.scope(ctx.uow, actor=ctx.actor),
                                      audience=data["audience"], targets=[])
        await ctx.set_state(FLOW, "text", data)
        _ask_text(ctx)
    elif action == "t" and "audience" in data:
        chosen = set(data.get("targets") or []) ^ {int(ctx.args[1])}
        data["targets"] = sorted(chosen)
        await ctx.set_state(FLOW, "targets", data)
        await _choose(ctx, data)
    elif action == "n" and "audience" in data:
        s = await announce.scope(ctx.uow, actor=ctx.actor)
        await announce.audience_chats(ctx.uow, s=s, audience=data["audience"], targets=data.get("targets") or [])
        await ctx.set_state(FLOW, "text", data)
        _ask_text(ctx)
    elif action == "w" and "text" in data:
        choice = str(ctx.args[1])
        if choice == AT:
            await ctx.set_state(FLOW, "at", data)
            ctx.show(ctx.t("Send the date and time in the community's time ({zone}) as YYYY-MM-DD HH:MM, e.g. "
                           "2027-03-05 18:30.", zone=h(ctx.actor.home().timezone)))
            return
        data["at"] = announce.send_time(ctx.actor.home(), choice=choice, now=ctx.now).isoformat()
        await ctx.set_state(FLOW, "preview", data)
        ctx.show(ctx.t("When should it go out?") + " ✔")
        await _preview(ctx, data)
    elif action == "u" and "at" in data:
        data["urgent"] = not data.get("urgent")
        await ctx.set_state(FLOW, "preview", data)
        await _preview(ctx, data)
    elif action == "ok" and "at" in data:
        at = datetime.fromisoformat(data["at"])
        draft = Draft(audience=data["audience"], targets=tuple(data.get("targets") or []), text=data.get("text", ""),
                      photo=data.get("photo"), urgent=bool(data.get("urgent")))
        done = await announce.publish(ctx.uow, actor=ctx.actor, draft=draft, send_at=max(at, ctx.now), now=ctx.now)
        await ctx.clear_state()
        ctx.edit(tn(ctx.lang, "📢 Announcement no. {number} goes to {n} group at {when}.",
                    "📢 Announcement no. {number} goes to {n} groups at {when}.", done.groups,
                    number=done.announcement.number, when=_when_text(ctx, done.due)))
    else:
        raise Expired("announce")


# ---------------------------------------------------------------- list, edit, delete, stats


async def _list(ctx: Ctx) -> None:
    rows = await announce.listing(ctx.uow, actor=ctx.actor)
    if not rows:
        ctx.reply(ctx.t("No announcement to change. /announce sends a new one."))
        return
    tz = ctx.actor.home().timezone
    lines = [ctx.t("<b>Announcements</b> (the latest first; tap one to edit or delete it)")]
    lines += [f"{a.number}. {local(a.send_at, tz):%m-%d %H:%M} · {h(a.text[:40])}" for a in rows]
    ctx.reply("\n".join(lines), grid([ctx.button(str(a.number), P, "s", a.number) for a in rows], 5))


async def _manage(ctx: Ctx, action: str, number: int) -> None:
    a = await announce.get(ctx.uow, actor=ctx.actor, number=number)
    if action == "s":
        ctx.reply(ctx.t("Announcement no. {number}:", number=number) + "\n\n" + h(a.text),
                 [[ctx.button(ctx.t("✏ Edit text"), P, "e", number), ctx.button(ctx.t("🗑 Delete"), P, "d", number)]])
    elif action == "e":
        await ctx.set_state(FLOW, "edit", {"number": number})
        ctx.show(ctx.t("Send the new text of announcement no. {number}: it replaces the old one in every group.",
                       number=number))
    elif action == "d":
        ctx.show(ctx.t("Delete announcement no. {number} from every group?", number=number),
                 [[ctx.button(ctx.t("🗑 Yes, delete"), P, "dd", number), ctx.button(ctx.t("✖ Cancel"), P, "x")]])
    else:
        done = await announce.delete(ctx.uow, actor=ctx.actor, number=number, now=ctx.now)
        ctx.show(tn(ctx.lang, "🗑 Announcement no. {number} is deleted from {n} group.",
                    "🗑 Announcement no. {number} is deleted from {n} groups.", done, number=number))


async def _stats(ctx: Ctx) -> None:
    day = local(ctx.now, ctx.actor.home().timezone).date()
    rows = await announce.day_report(ctx.uow, actor=ctx.actor, day=day)
    lines = [ctx.t("<b>Bot messages per building group</b> on {day} (aim: at most {limit} a day)", day=f"{day}",
                   limit=announce.PER_DAY)]
    lines += [f"{'⚠️ ' if n > announce.PER_DAY else ''}{h(title)}: {n}" for title, n in rows]
    if not rows:
        lines.append(ctx.t("No building group is linked yet."))
    ctx.reply("\n".join(lines))
