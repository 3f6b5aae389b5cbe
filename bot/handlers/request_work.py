"""The loop of a request (F-7.2–F-7.4): the committee's card, the handlers' work, the reporter's answer.

- The card of a new request (notice "request_filed", in the committee group) carries a button per
  organisation of the community (a routing rule's choice first, ⭐), "merge" and "reject"; only committee
  members and admins of the group's community may press (flows check; others get a toast). Merging and
  rejecting ask for the number or the reason in the presser's private chat.
- A handler of the organisation gets the request in private ("request_to_handle"): accept, then post progress
  (text or photo) and resolve it with a note (a hazard with an "after" photo), also in private.
- The reporter gets each step ("request_step") and, at the resolution ("request_resolved"), 满意 / 没解决;
  没解决 asks for the reason."""

from __future__ import annotations

from typing import Any

from bot.core.dispatch import Ctx, Router
from bot.core.i18n import N_, tn, tr
from bot.core.types import Keyboard, OutMessage
from bot.handlers.common import int_arg
from bot.handlers.requests import (
    KIND_ICONS,
    building_name,
    category_name,
    explain_requests,
    kind_name,
    org_name,
    state_name,
)
from bot.render import NoticeRenderer, h
from flows import conversation, request_work, requests
from flows.clock import local
from flows.conversation import State
from flows.errors import AlreadyDone, Invalid
from flows.request_clocks import RequestOverdue
from flows.request_work import RequestClosed, RequestResolved, RequestStep, RequestToHandle
from flows.requests import RequestFiled
from flows.roles import Perm

router = Router()
ASSESS, HANDLE, REOPEN = "rq_assess", "rq_handle", "rq_reopen"


# ---------------------------------------------------------------- the committee's card


def card_text(lang: str, p: dict[str, Any]) -> str:
    """The card of a request for the committee (and the handlers): what, where, what was said."""
    kind = p.get("request_kind", "")
    head = tr(lang, "{icon} <b>{code}</b> · {kind} · {category}", icon=KIND_ICONS.get(kind, "📮"),
              code=h(p.get("code", "")), kind=kind_name(lang, kind), category=category_name(lang, p.get("category", "")))
    lines = [head, tr(lang, "Where: {building}", building=building_name(lang, p.get("building")))]
    if p.get("text"):
        lines.append(h(p["text"]))
    extras = []
    if p.get("voice"):
        extras.append(tr(lang, "🎤 voice message"))
    if p.get("photos"):
        extras.append(tn(lang, "🖼 {n} photo", "🖼 {n} photos", int(p["photos"])))
    if p.get("located"):
        extras.append(tr(lang, "📍 location pin"))
    if extras:
        lines.append(" · ".join(extras))
    return "\n".join(lines)


def _assess_buttons(button: Any, lang: str, p: dict[str, Any]) -> Keyboard:
    rid = int(p.get("request_id") or 0)
    orgs = [o for o in p.get("orgs") or [] if isinstance(o, str)]
    suggested = p.get("suggested")
    if suggested in orgs:
        orgs = [suggested] + [o for o in orgs if o != suggested]
    assign = [button(("⭐ " if o == suggested else "➡ ") + org_name(lang, o), "ra", "a", rid, o) for o in orgs]
    rows: Keyboard = [assign[i:i + 2] for i in range(0, len(assign), 2)]
    rows.append([button(tr(lang, "🔗 Merge"), "ra", "m", rid), button(tr(lang, "✖ Not taken up"), "ra", "r", rid)])
    media = []
    if p.get("photos"):
        media.append(button(tr(lang, "🖼 Photos"), "ra", "ph", rid))
    if p.get("voice"):
        media.append(button(tr(lang, "🎤 Listen"), "ra", "vo", rid))
    if p.get("located"):
        media.append(button(tr(lang, "📍 Location"), "ra", "lo", rid))
    if media:
        rows.append(media)
    return rows


def _n_filed(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = tr(lang, "📥 <b>New request to assess</b>") + "\n" + card_text(lang, p) + "\n\n" + tr(
        lang, "Assign it to an organisation, merge it into another, or reject it with a reason.")
    return OutMessage(text=text, buttons=_assess_buttons(r.button, lang, p))


async def _view(ctx: Ctx, request_id: int, actor: Any = None) -> request_work.Timeline:
    return await request_work.timeline(ctx.uow, actor=actor or ctx.actor, request_id=request_id)


def _params(t: request_work.Timeline) -> dict[str, Any]:
    row = t.request
    return {"request_id": row.id, "code": requests.code(row.year, row.number), "request_kind": row.kind,
            "category": row.category, "building": t.building, "text": row.text, "voice": bool(row.voice_file_id),
            "photos": len(row.photos), "located": row.latitude is not None}


@router.callback("ra")
async def assess_press(ctx: Ctx) -> None:
    action = ctx.args[0] if ctx.args else ""
    rid = int_arg(ctx.args[1]) if len(ctx.args) > 1 else None
    if rid is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    ctx.actor.require(Perm.REQUESTS_ASSESS)
    if action == "a" and len(ctx.args) > 2:
        done = await request_work.assign(ctx.uow, actor=ctx.actor, request_id=rid, org=ctx.args[2], now=ctx.now)
        t = await _view(ctx, rid)
        note = ctx.t("➡ Assigned to {org} by {name}.", org=org_name(ctx.lang, ctx.args[2]),
                     name=h(ctx.actor.user.first_name))
        if not done.handlers:
            note += "\n" + ctx.t("⚠ {org} has no request handler yet: an admin can give the role with /grant "
                                 "MEMBER_NO handler {code}.", org=org_name(ctx.lang, ctx.args[2]), code=ctx.args[2])
        ctx.edit(card_text(ctx.lang, _params(t)) + "\n\n" + note)
    elif action in ("m", "r"):
        t = await _view(ctx, rid)
        if t.request.state != "new":
            raise AlreadyDone("request_state")
        code = requests.code(t.request.year, t.request.number)
        state = State(ASSESS, action, {"id": rid, "cid": t.request.community_id})
        await conversation.put(ctx.uow, chat_id=ctx.user_id, user_id=ctx.user_id, state=state, now=ctx.now)
        ask = (ctx.t("Merge {code} into which request? Send its number, e.g. R-2027-0012 or 12.", code=code)
               if action == "m" else
               ctx.t("Why is {code} not taken up? Send the reason (at most {limit} characters); the reporter is "
                     "told.", code=code, limit=requests.LIMITS["reason"]))
        ctx.reply(ask + "\n" + ctx.t("(or /cancel)"), chat_id=ctx.user_id)
        if not (ctx.event.chat and ctx.event.chat.is_private):
            ctx.toast(ctx.t("Please go on in your private chat with me."))
    elif action == "ph":
        t = await _view(ctx, rid)
        for i, photo in enumerate(t.request.photos, 1):
            ctx.reply(ctx.t("{code} · photo {n}", code=requests.code(t.request.year, t.request.number), n=i),
                      photo=photo)
    elif action == "vo":
        t = await _view(ctx, rid)
        if t.request.voice_file_id:
            ctx.reply(requests.code(t.request.year, t.request.number), voice=t.request.voice_file_id)
    elif action == "lo":
        t = await _view(ctx, rid)
        lat, lon = t.request.latitude, t.request.longitude
        if lat is not None and lon is not None:
            url = f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=18/{lat:.6f}/{lon:.6f}"
            ctx.reply(ctx.t("{code} · 📍 {lat}, {lon}", code=requests.code(t.request.year, t.request.number),
                            lat=f"{lat:.6f}", lon=f"{lon:.6f}"), [[ctx.url_button(ctx.t("🗺 Map"), url)]])
    else:
        ctx.toast(ctx.t("This button is not valid."), alert=True)


@router.flow(ASSESS)
async def assess_text(ctx: Ctx) -> None:
    state = ctx.state
    assert state is not None
    actor = await requests.actor_for(ctx.uow, actor=ctx.actor, community_id=state.data.get("cid"))
    rid = int(state.data.get("id") or 0)
    if state.step == "m":
        row = await request_work.merge(ctx.uow, actor=actor, request_id=rid, into=ctx.message.text, now=ctx.now)
        target = await requests.get(ctx.uow, community_id=row.community_id, request_id=row.merged_into_id or 0)
        done = ctx.t("✅ {code} is merged into {into}; its reporters follow {into} now and are told.",
                     code=requests.code(row.year, row.number), into=requests.code(target.year, target.number))
    else:
        row = await request_work.reject(ctx.uow, actor=actor, request_id=rid, reason=ctx.message.text, now=ctx.now)
        done = ctx.t("✅ {code} is not taken up. The reporter is told the reason.",
                     code=requests.code(row.year, row.number))
    await ctx.clear_state()
    ctx.reply(done)


# ---------------------------------------------------------------- the handlers


def _handle_buttons(button: Any, lang: str, rid: int) -> Keyboard:
    return [[button(tr(lang, "📝 Progress"), "rh", "p", rid), button(tr(lang, "✅ Resolved"), "rh", "d", rid)]]


def _n_to_handle(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    if p.get("reopened"):
        head = tr(lang, "🔁 <b>Reopened</b>: the reporter says it is not solved. Reason: {reason}",
                  reason=h(p.get("reason") or ""))
    else:
        head = tr(lang, "📋 <b>A request for your organisation</b>")
    text = "\n".join([head, card_text(lang, p), tr(lang, "Reported by {name}.", name=h(p.get("reporter", "")))])
    return OutMessage(text=text, buttons=[[r.button(tr(lang, "✅ Accept"), "rh", "a", int(p.get("request_id") or 0))]])


@router.callback("rh")
async def handle_press(ctx: Ctx) -> None:
    action = ctx.args[0] if ctx.args else ""
    rid = int_arg(ctx.args[1]) if len(ctx.args) > 1 else None
    if rid is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    if action == "a":
        row = await request_work.accept(ctx.uow, actor=ctx.actor, request_id=rid, now=ctx.now)
        t = await _view(ctx, rid)
        ctx.edit(card_text(ctx.lang, _params(t)) + "\n\n" + ctx.t(
            "✅ You accepted {code}; the reporter is told. Post progress as you go, and “Resolved” with a note "
            "when it is done{photo}.", code=requests.code(row.year, row.number),
            photo=ctx.t(" and an “after” photo") if row.kind == "hazard" else ""),
            _handle_buttons(ctx.button, ctx.lang, rid))
    elif action in ("p", "d"):
        t = await _view(ctx, rid)
        row = t.request
        if row.state != "accepted":
            raise Invalid("request", "not_accepted")
        # the note or photo comes in the private chat (a group's plain messages are not read)
        await conversation.put(ctx.uow, chat_id=ctx.user_id, user_id=ctx.user_id, now=ctx.now,
                               state=State(HANDLE, action, {"id": rid, "cid": row.community_id}))
        code = requests.code(row.year, row.number)
        if action == "p":
            ask = ctx.t("Progress on {code}: send a note or a photo (a caption becomes its note).", code=code)
        elif row.kind == "hazard":
            ask = ctx.t("Resolving {code}: send the “after” photo with the result as its caption (or the result "
                        "first, then the photo).", code=code)
        else:
            ask = ctx.t("Resolving {code}: send the result in a few words (a photo with a caption is welcome).",
                        code=code)
        ctx.reply(ask + "\n" + ctx.t("(or /cancel)"), chat_id=ctx.user_id)
        if not (ctx.event.chat and ctx.event.chat.is_private):
            ctx.toast(ctx.t("Please go on in your private chat with me."))
    else:
        ctx.toast(ctx.t("This button is not valid."), alert=True)


@router.flow(HANDLE)
async def handle_message(ctx: Ctx) -> None:
    state = ctx.state
    assert state is not None
    data = dict(state.data)
    actor = await requests.actor_for(ctx.uow, actor=ctx.actor, community_id=data.get("cid"))
    rid, msg = int(data.get("id") or 0), ctx.message
    photo = msg.photo_file_id[:255] if msg.photo_file_id else None
    if not msg.text and not photo:
        ctx.reply(ctx.t("Please send a note or a photo, or /cancel."))
        return
    if state.step == "p":
        row = await request_work.progress(ctx.uow, actor=actor, request_id=rid, note=msg.text, photo=photo,
                                          now=ctx.now)
        await ctx.clear_state()
        ctx.reply(ctx.t("✅ Progress on {code} posted; the reporter sees it.", code=requests.code(row.year, row.number)),
                  _handle_buttons(ctx.button, ctx.lang, rid))
        return
    note = (msg.text or data.get("note") or "").strip()
    photo = photo or data.get("photo")
    t = await _view(ctx, rid, actor)
    if t.request.kind == "hazard" and not (note and photo):  # both are needed: keep what came, ask for the rest
        if note:
            data["note"] = requests.clean("note", note)
        if photo:
            data["photo"] = photo
        await ctx.set_state(HANDLE, "d", data)
        ctx.reply(ctx.t("Now the “after” photo, please.") if note else ctx.t("Now the result in a few words, please."))
        return
    row = await request_work.resolve(ctx.uow, actor=actor, request_id=rid, note=note, photo=photo, now=ctx.now)
    await ctx.clear_state()
    ctx.reply(ctx.t("✅ {code} is marked resolved. The reporter is asked to confirm; without an answer in 3 days it "
                    "closes as satisfied.", code=requests.code(row.year, row.number)))


def _n_closed(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    if p.get("how") == "confirmed":
        return OutMessage(text=tr(lang, "😊 The reporter confirmed {code} is solved. Thank you!",
                                  code=h(p.get("code", ""))))
    return OutMessage(text=tr(lang, "{code} is closed: the reporter did not answer in 3 days (taken as satisfied).",
                              code=h(p.get("code", ""))))


# ---------------------------------------------------------------- the reporter


STEPS = {
    "assigned": N_("📨 Your request {code} was assessed and assigned to {org}. They will take it up."),
    "accepted": N_("🛠 {org} accepted your request {code} and is working on it."),
    "progress": N_("📝 Progress on your request {code} ({org}): {note}"),
    "rejected": N_("Your request {code} is not taken up. Reason: {note}"),
    "merged": N_("Your request {code} was merged into {into}, which is about the same. You will be told about {into}."),
    "closed_default": N_("{code} is closed as solved: we did not hear from you within 3 days. Thank you!"),
}


def _n_step(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    msgid = STEPS.get(p.get("step", ""), STEPS["assigned"])
    text = tr(lang, msgid, code=h(p.get("code", "")), org=org_name(lang, p.get("org")),
              note=h(p.get("note") or "🖼"), into=h(p.get("into") or ""))
    return OutMessage(text=text, photo=p.get("photo") or None)


def _n_resolved(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    rid = int(p.get("request_id") or 0)
    text = tr(lang, "✅ {org} reports your request {code} resolved: {note}\nIs it solved?",
              org=org_name(lang, p.get("org")), code=h(p.get("code", "")), note=h(p.get("note", "")))
    buttons = [[r.button(tr(lang, "😊 Satisfied"), "rc", "ok", rid), r.button(tr(lang, "😞 Not solved"), "rc", "no", rid)]]
    return OutMessage(text=text, buttons=buttons, photo=p.get("photo") or None)


@router.callback("rc")
async def confirm_press(ctx: Ctx) -> None:
    action = ctx.args[0] if ctx.args else ""
    rid = int_arg(ctx.args[1]) if len(ctx.args) > 1 else None
    if rid is None or action not in ("ok", "no"):
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    if action == "ok":
        row = await request_work.confirm(ctx.uow, actor=ctx.actor, request_id=rid, now=ctx.now)
        ctx.edit_buttons([])
        ctx.reply(ctx.t("😊 Thank you for confirming: {code} is closed as solved.",
                        code=requests.code(row.year, row.number)))
        return
    _, row = await request_work.own(ctx.uow, actor=ctx.actor, request_id=rid)
    if row.state != "resolved":
        raise AlreadyDone("request_state")
    await ctx.set_state(REOPEN, "why", {"id": rid})
    ctx.reply(ctx.t("What is not solved about {code}? Tell us in a few words (at most {limit} characters); it goes "
                    "back to {org}.", code=requests.code(row.year, row.number), limit=requests.LIMITS["reason"],
                    org=org_name(ctx.lang, row.organisation)) + "\n" + ctx.t("(or /cancel)"))


@router.flow(REOPEN)
async def reopen_text(ctx: Ctx) -> None:
    state = ctx.state
    assert state is not None
    row = await request_work.reopen(ctx.uow, actor=ctx.actor, request_id=int(state.data.get("id") or 0),
                                    reason=ctx.message.text, now=ctx.now)
    await ctx.clear_state()
    ctx.reply(ctx.t("🔁 {code} is reopened and goes back to {org}. I will tell you what happens.",
                    code=requests.code(row.year, row.number), org=org_name(ctx.lang, row.organisation)))


# ---------------------------------------------------------------- views: mine, to assess, to handle (from /requests)


TIMELINE_MAX, NOTE_SHOWN = 12, 80  # a request's view stays one message (4,096 characters) however long its history

ACTION_NAMES = {"report": N_("reported"), "assign": N_("assigned"), "merge": N_("merged into"),
                "merged_in": N_("merged in"), "reject": N_("declined"), "accept": N_("accepted"),
                "progress": N_("progress"), "resolve": N_("resolved"), "confirm": N_("confirmed: satisfied"),
                "reopen": N_("not solved: reopened"), "close_default": N_("closed: no answer")}


def _timeline(ctx: Ctx, t: request_work.Timeline) -> str:
    """The steps of a request, one a line: the first and the latest ones when there are many, notes shortened."""
    tz = ctx.actor.home().timezone
    shown = t.events if len(t.events) <= TIMELINE_MAX else [t.events[0], *t.events[-(TIMELINE_MAX - 1):]]
    lines = []
    for e in shown:
        line = f"{local(e.at, tz):%m-%d %H:%M} · {ctx.t(ACTION_NAMES.get(e.action, e.action))}"
        if e.action in ("assign", "accept", "resolve") and e.organisation:
            line += f" · {org_name(ctx.lang, e.organisation)}"
        if e.note:
            line += f" · {h(e.note if len(e.note) <= NOTE_SHOWN else e.note[:NOTE_SHOWN] + '…')}"
        if e.photo_file_id:
            line += " · 🖼"
        lines.append(line)
    if len(shown) < len(t.events):
        lines.insert(1, "…")
    return "\n".join(lines)


def _status(ctx: Ctx, row: Any) -> str:
    text = ctx.t("State: {state}", state=state_name(ctx.lang, row.state))
    if row.organisation:
        text += f" · {org_name(ctx.lang, row.organisation)}"
    return text


def _line(ctx: Ctx, row: Any) -> str:
    return (f"{KIND_ICONS.get(row.kind, '')} <b>{requests.code(row.year, row.number)}</b> · "
            f"{category_name(ctx.lang, row.category)} · {state_name(ctx.lang, row.state)}")


@router.callback("rv")
async def view_press(ctx: Ctx) -> None:
    action = ctx.args[0] if ctx.args else ""
    rid = int_arg(ctx.args[1]) if len(ctx.args) > 1 else None
    back = [ctx.button(ctx.t("◀ Requests"), "rl", 1)]
    if action == "m":
        rows = await request_work.mine(ctx.uow, actor=ctx.actor)
        text = "\n".join([ctx.t("<b>Your requests</b>")] + [_line(ctx, r) for r in rows]) if rows else ctx.t(
            "You have not reported anything yet. /report reports a problem.")
        picks = [ctx.button(requests.code(r.year, r.number), "rv", "o", r.id or 0) for r in rows]
        ctx.show(text, [picks[i:i + 3] for i in range(0, len(picks), 3)] + [back])
    elif action == "o" and rid is not None:  # a reporter's own request
        _, row = await request_work.own(ctx.uow, actor=ctx.actor, request_id=rid)
        text = _line(ctx, row) + "\n" + (h(row.text) if row.text else ctx.t("🎤 voice message")) + "\n" + _status(ctx, row)
        if row.state == "merged":
            target = await requests.get(ctx.uow, community_id=row.community_id, request_id=row.merged_into_id or 0)
            text += "\n" + ctx.t("Merged into {code}.", code=requests.code(target.year, target.number))
        if row.reject_reason:
            text += "\n" + ctx.t("Reason: {reason}", reason=h(row.reject_reason))
        buttons: Keyboard = []
        if row.state == "resolved":
            buttons.append([ctx.button(ctx.t("😊 Satisfied"), "rc", "ok", rid), ctx.button(ctx.t("😞 Not solved"), "rc", "no", rid)])
        ctx.show(text, buttons + [[ctx.button(ctx.t("◀ Your requests"), "rv", "m")]])
    elif action in ("a", "w"):
        rows = (await request_work.to_assess(ctx.uow, actor=ctx.actor) if action == "a"
                else await request_work.worklist(ctx.uow, actor=ctx.actor))
        head = ctx.t("<b>To assess</b>") if action == "a" else ctx.t("<b>Your organisation's requests</b>")
        text = "\n".join([head] + [_line(ctx, r) for r in rows]) if rows else ctx.t("Nothing waiting. 👍")
        picks = [ctx.button(requests.code(r.year, r.number), "rv", "s", r.id or 0) for r in rows]
        ctx.show(text, [picks[i:i + 3] for i in range(0, len(picks), 3)] + [back])
    elif action == "s" and rid is not None:  # the staff's view: the card, the timeline, what can be done now
        t = await _view(ctx, rid)
        row = t.request
        text = card_text(ctx.lang, _params(t)) + "\n" + _status(ctx, row) + "\n\n" + _timeline(ctx, t)
        buttons = []
        if row.state == "new" and ctx.actor.can(Perm.REQUESTS_ASSESS):
            community = ctx.actor.home()
            buttons = _assess_buttons(ctx.button, ctx.lang, {**_params(t), "orgs": list(requests.organisations(
                community)), "suggested": requests.suggested_org(community, row.category)})
        elif row.state in ("assigned", "reopened") and ctx.actor.can(Perm.REQUESTS_HANDLE):
            buttons = [[ctx.button(ctx.t("✅ Accept"), "rh", "a", rid)]]
        elif row.state == "accepted" and ctx.actor.can(Perm.REQUESTS_HANDLE):
            buttons = _handle_buttons(ctx.button, ctx.lang, rid)
        ctx.show(text, buttons + [back])
    else:
        ctx.toast(ctx.t("This button is not valid."), alert=True)


OVERDUE_WHO = {"committee": N_("Please assess it."), "handlers": N_("Please resolve it, or post progress."),
               "org_head": N_("You are told as the organisation's member of the committee."),
               "admins": N_("Escalated to the community admins."), "district": N_("Escalated to the district.")}


def _n_overdue(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    names = {"code": h(p.get("code", "")), "kind": kind_name(lang, p.get("request_kind", "")),
             "category": category_name(lang, p.get("category", "")), "community": h(p.get("community", "")),
             "org": org_name(lang, p.get("org"))}
    if p.get("stage") == "assess":
        text = tr(lang, "⏰ {code} ({kind} · {category}, {community}) is waiting for assessment past its time "
                        "limit.", **names)
    else:
        text = tr(lang, "⏰ {code} ({kind} · {category}, {community}), assigned to {org}, is not resolved within its "
                        "time limit.", **names)
    who = p.get("audience", "")
    if who in OVERDUE_WHO:
        text += "\n" + tr(lang, OVERDUE_WHO[who])
    buttons = None
    if who != "district":
        buttons = [[r.button(tr(lang, "🔎 Open"), "rv", "s", int(p.get("request_id") or 0))]]
    return OutMessage(text=text, buttons=buttons)


NOTICES = {RequestOverdue.kind: _n_overdue, RequestFiled.kind: _n_filed, RequestToHandle.kind: _n_to_handle, RequestStep.kind: _n_step,
           RequestResolved.kind: _n_resolved, RequestClosed.kind: _n_closed}

EXPLAIN = explain_requests
