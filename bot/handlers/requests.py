"""Closed-loop requests (闭环诉求, F-7): reporting and the public list.

/report in private is a dialog: kind → category → text or voice → photos (up to 5, "done") → building (the
reporter's own first) → an optional location pin → anonymity → confirm. `/report 文字` in a linked group keeps
the text for the private chat (the group's community, never the presser's) and answers with a link there —
nothing of the report is said in the group. /requests lists the community's open and recently closed requests
without personal data, in groups and in private. The newcomer's seam: `start_report(ctx, text)`.
The rest of the loop (assessment, handling, the reporter's answer) is bot/handlers/request_work.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.core.dispatch import ANYWHERE, Ctx, Router
from bot.core.i18n import N_, tn, tr
from bot.core.types import Keyboard
from bot.handlers.common import MAX_ARGS, grid, int_arg, pager
from bot.render import ORG_NAMES, h
from flows import conversation, membership, request_stats, requests
from flows.conversation import State
from flows.errors import AlreadyDone, FlowError, Forbidden, Invalid, NotFound
from flows.roles import Perm, parse_org

router = Router()
FLOW = "report"

KIND_NAMES = {"request": N_("Request"), "dispute": N_("Dispute"), "hazard": N_("Safety hazard")}
KIND_ICONS = {"request": "📮", "dispute": "🤝", "hazard": "⚠️"}
CATEGORY_NAMES = {"env": N_("Environment and sanitation"), "repair": N_("Repairs"),
                  "property": N_("Property services"), "parking": N_("Parking and traffic"), "noise": N_("Noise"),
                  "neighbour": N_("Neighbour relations"), "fire": N_("Fire safety"),
                  "electric": N_("Electricity and gas"), "falling": N_("Falling objects and structures"),
                  "other": N_("Other")}
STATE_NAMES = {"new": N_("awaiting assessment"), "assigned": N_("assigned"), "accepted": N_("being handled"),
               "resolved": N_("awaiting confirmation"), "reopened": N_("reopened"),
               "confirmed": N_("solved (confirmed)"), "closed_default": N_("solved (no answer, taken as satisfied)"),
               "rejected": N_("declined"), "merged": N_("merged")}
FIELD_NAMES = {"text": N_("description"), "reason": N_("reason"), "note": N_("note")}


def kind_name(lang: str, kind: str) -> str:
    return tr(lang, KIND_NAMES[kind]) if kind in KIND_NAMES else kind


def category_name(lang: str, category: str) -> str:
    return tr(lang, CATEGORY_NAMES[category]) if category in CATEGORY_NAMES else category


def org_name(lang: str, org: str | None) -> str:
    return tr(lang, ORG_NAMES[org]) if org in ORG_NAMES else (org or "")


def state_name(lang: str, state: str) -> str:
    return tr(lang, STATE_NAMES[state]) if state in STATE_NAMES else state


def building_name(lang: str, label: str | None) -> str:
    return tr(lang, "Building {label}", label=h(label)) if label else tr(lang, "no particular building")


# ---------------------------------------------------------------- errors


def explain_requests(ctx: Ctx, err: FlowError) -> str | None:
    """The requests' own wording of their errors (both handler modules use it)."""
    if isinstance(err, AlreadyDone) and err.what == "request_state":
        return ctx.t("This request has moved on already: someone else acted on it first.")
    if isinstance(err, Forbidden) and err.permission == "requests_handle:org":
        return ctx.t("This request is assigned to another organisation.")
    if isinstance(err, NotFound):
        if err.what == "request":
            return ctx.t("That request does not exist (any more).")
        if err.what == "request_number":
            return ctx.t("There is no request {key}. Send the number of another one, e.g. R-2027-0012 or 12.",
                         key=h(err.key))
        if err.what == "link":
            return ctx.t("This group is not linked to a community yet, so requests cannot be reported here.")
    if isinstance(err, Invalid):
        if err.field in FIELD_NAMES and err.reason == "too_long":
            return ctx.t("Too long: the {field} can have at most {limit} characters. Please send a shorter one.",
                         field=ctx.t(FIELD_NAMES[err.field]), limit=err.details.get("limit"))
        if err.field in FIELD_NAMES and err.reason == "empty":
            return ctx.t("The {field} cannot be empty. Please send it again.", field=ctx.t(FIELD_NAMES[err.field]))
        if err.field == "voice":
            return ctx.t("That voice message is too long: at most {minutes} minutes, please.",
                         minutes=requests.VOICE_SECONDS // 60)
        if err.field == "photo" and err.reason == "required":
            return ctx.t("A safety hazard is resolved with an “after” photo: please send one.")
        if err.field == "request_number":
            return ctx.t("Please send a request number, e.g. R-2027-0012 or 12.")
        if err.field == "merge" and err.reason == "same":
            return ctx.t("A request cannot be merged into itself. Send the number of another one.")
        if err.field == "merge":
            return ctx.t("Request {number} is closed already. Send the number of an open one.",
                         number=h(err.details.get("number", "")))
        if err.field == "request" and err.reason == "not_accepted":
            return ctx.t("Accept the request first; progress is posted while it is being handled.")
        if err.field == "organisation":
            return ctx.t("That organisation does not take requests in this community.")
        if err.field in ("kind", "category", "photos", "location"):
            return ctx.t("This step has changed. Please send /report to start again.")
    return None


# ---------------------------------------------------------------- /report


def _cancel(ctx: Ctx) -> Any:
    return ctx.button(ctx.t("✖ Cancel"), "rp", "x")


async def start_report(ctx: Ctx, text: str | None = None, *, community_id: int | None = None,
                       voice: tuple[str, int] | None = None) -> None:
    """Begin the report dialog in the private chat (the seam for other features: free text offering "提交诉求"
    calls this with the text or the voice message, which then needs no typing again). Asks for the kind first."""
    data: dict[str, Any] = {"p": []}
    if text:
        data["t"] = requests.clean("text", text)
    elif voice is not None:
        if voice[1] > requests.VOICE_SECONDS:
            raise Invalid("voice", "too_long")
        data.update(t="", v=voice[0][:255], vs=voice[1] or 1)
    if community_id is not None:
        data["cid"] = community_id
    await requests.actor_for(ctx.uow, actor=ctx.actor, community_id=community_id)  # registered there
    await _ask(ctx, "kind", data, new_message=True)


async def from_link(ctx: Ctx) -> None:
    """/start report (the group's link): continue the report begun with `/report 文字` there, or begin one."""
    state = await ctx.load_state()
    if state is not None and state.flow == FLOW:
        await _ask(ctx, state.step, dict(state.data), new_message=True)
    else:
        await start_report(ctx)


@router.command("report", where=ANYWHERE, description=N_("Report a problem, dispute or safety hazard (诉求)"))
async def report(ctx: Ctx) -> None:
    chat = ctx.event.chat
    assert chat is not None
    text = ctx.message.args.strip()
    if chat.is_private:
        await start_report(ctx, text or None)
        return
    _, community, _ = await membership.chat_info(ctx.uow, tg_chat_id=chat.id)
    if community is None:
        raise NotFound("link")
    me = ctx.actor.registered()  # the group's community: a member there, or told to register
    body = requests.clean("text", text) if text else None
    state = State(FLOW, "kind", {"p": [], "cid": me.community_id, **({"t": body} if body else {})})
    await conversation.put(ctx.uow, chat_id=ctx.user_id, user_id=ctx.user_id, state=state, now=ctx.now)
    ctx.reply(ctx.t("Thank you! Please go on in a private chat with me: what you report there is seen only by the "
                    "committee and whoever handles it."),
              [[ctx.url_button(ctx.t("Continue in private chat"), ctx.deep_link("report"))]])


def _summary(ctx: Ctx, data: dict[str, Any], building: str | None) -> str:
    told = h(data["t"]) if data.get("t") else ctx.t("🎤 voice message ({seconds} s)", seconds=data.get("vs", 0))
    lines = [ctx.t("<b>Please check your report</b>"),
             ctx.t("Kind: {kind}", kind=kind_name(ctx.lang, data.get("k", ""))),
             ctx.t("Category: {category}", category=category_name(ctx.lang, data.get("c", ""))),
             told,
             ctx.t("Photos: {count}", count=len(data.get("p") or [])),
             ctx.t("Where: {building}", building=building_name(ctx.lang, building)),
             ctx.t("Location pin: {pin}", pin=ctx.t("yes") if data.get("loc") else ctx.t("none")),
             ctx.t("In the public disclosure: {how}",
                   how=ctx.t("anonymous") if data.get("a") else ctx.t("may be named"))]
    return "\n".join(lines)


async def _label(ctx: Ctx, data: dict[str, Any]) -> str | None:
    actor = await requests.actor_for(ctx.uow, actor=ctx.actor, community_id=data.get("cid"))
    building = await requests.building_of(ctx.uow, community_id=actor.registered().community_id,
                                          building_id=data.get("b") or None)
    return building.label if building else None


async def _building_buttons(ctx: Ctx, data: dict[str, Any], page: int) -> Keyboard:
    actor = await requests.actor_for(ctx.uow, actor=ctx.actor, community_id=data.get("cid"))
    me = actor.registered()
    shown = await membership.list_buildings(ctx.uow, community_id=me.community_id, page=page, size=12)
    own = [ctx.button(ctx.t("🏠 Building {label} (yours)", label=b.label), "rp", "b", b.id or 0)
           for b in shown.items if b.id == me.building_id]
    if me.building_id and not own and page == 1:
        mine = await requests.building_of(ctx.uow, community_id=me.community_id, building_id=me.building_id)
        own = [ctx.button(ctx.t("🏠 Building {label} (yours)", label=mine.label), "rp", "b", mine.id or 0)] if mine else []
    rows: Keyboard = [own] if own else []
    rows += grid([ctx.button(ctx.t("Building {label}", label=b.label), "rp", "b", b.id or 0)
                  for b in shown.items if b.id != me.building_id], 4)
    nav = pager(ctx, shown.page, shown.pages, "rp", "bp")
    if nav:
        rows.append(nav)
    rows.append([ctx.button(ctx.t("No particular building"), "rp", "b", 0), _cancel(ctx)])
    return rows


async def _ask(ctx: Ctx, step: str, data: dict[str, Any], *, new_message: bool = False, page: int = 1) -> None:
    """Store the step and show its question (editing the pressed message when a button led here)."""
    await conversation.put(ctx.uow, chat_id=ctx.user_id, user_id=ctx.user_id, state=State(FLOW, step, data),
                           now=ctx.now)
    ctx.state = State(FLOW, step, data)
    buttons: Keyboard
    if step == "kind":
        text = ctx.t("<b>New report</b> (closed-loop requests, 闭环诉求)\nWhat is it?")
        buttons = [[ctx.button(f"{KIND_ICONS[k]} {kind_name(ctx.lang, k)}", "rp", "k", k)] for k in requests.KINDS]
        buttons.append([_cancel(ctx)])
    elif step == "category":
        text = ctx.t("{kind}: which category?", kind=kind_name(ctx.lang, data["k"]))
        buttons = grid([ctx.button(category_name(ctx.lang, c), "rp", "c", c) for c in requests.CATEGORIES], 2)
        buttons.append([_cancel(ctx)])
    elif step == "text":
        text = ctx.t("Describe it in a few sentences (at most {limit} characters), or send a voice message 🎤.",
                     limit=requests.LIMITS["text"])
        buttons = [[_cancel(ctx)]]
    elif step == "photos":
        count = len(data.get("p") or [])
        text = ctx.t("Photos help. Send up to {limit} now, then tap “Done” (or “Skip”). {count} received so far.",
                     limit=requests.MAX_PHOTOS, count=count)
        buttons = [[ctx.button(ctx.t("✅ Done") if count else ctx.t("Skip ▶"), "rp", "pd"), _cancel(ctx)]]
    elif step == "building":
        text = ctx.t("Where is it? Choose the building.")
        buttons = await _building_buttons(ctx, data, page)
    elif step == "location":
        text = ctx.t("You can send a location pin 📍 (attach → location) to show the exact place, or skip this.")
        buttons = [[ctx.button(ctx.t("Skip ▶"), "rp", "ls"), _cancel(ctx)]]
    elif step == "anon":
        text = ctx.t("Closed requests are disclosed publicly, never with what you wrote. Should your name stay out "
                     "of any disclosure too?")
        buttons = [[ctx.button(ctx.t("🙈 Keep me anonymous"), "rp", "a", 1),
                    ctx.button(ctx.t("👤 I may be named"), "rp", "a", 0)], [_cancel(ctx)]]
    else:
        text = _summary(ctx, data, await _label(ctx, data))
        buttons = [[ctx.button(ctx.t("✅ Submit"), "rp", "ok"), _cancel(ctx)]]
    if new_message or not ctx.is_press:
        ctx.reply(text, buttons)
    else:
        ctx.edit(text, buttons)


def _after_category(data: dict[str, Any]) -> str:
    return "photos" if data.get("t") or data.get("v") else "text"


@router.callback("rp")
async def dialog_press(ctx: Ctx) -> None:
    action = ctx.args[0] if ctx.args else ""
    arg = ctx.args[1] if len(ctx.args) > 1 else ""
    state = ctx.state
    if state is None or state.flow != FLOW:
        ctx.toast(ctx.t("This dialog has ended. Send /report to start again."), alert=True)
        return
    data, step = dict(state.data), state.step
    if action == "x":
        await ctx.clear_state()
        ctx.edit(ctx.t("Cancelled, nothing was saved."))
    elif action == "k" and step == "kind" and arg in requests.KINDS:
        data["k"] = arg
        await _ask(ctx, "category", data)
    elif action == "c" and step == "category" and arg in requests.CATEGORIES:
        data["c"] = arg
        await _ask(ctx, _after_category(data), data)
    elif action == "pd" and step == "photos":
        await _ask(ctx, "building", data)
    elif action == "bp" and step == "building":
        await _ask(ctx, "building", data, page=int_arg(arg) or 1)
    elif action == "b" and step == "building" and int_arg(arg) is not None:
        data["b"] = int_arg(arg) or 0
        await _label(ctx, data)  # a building of the community, or NotFound
        await _ask(ctx, "location", data)
    elif action == "ls" and step == "location":
        await _ask(ctx, "anon", data)
    elif action == "a" and step == "anon" and arg in ("0", "1"):
        data["a"] = arg == "1"
        await _ask(ctx, "confirm", data)
    elif action == "ok" and step == "confirm":
        await _submit(ctx, data)
    else:
        ctx.toast(ctx.t("This button belongs to an earlier step."), alert=True)


async def _submit(ctx: Ctx, data: dict[str, Any]) -> None:
    actor = await requests.actor_for(ctx.uow, actor=ctx.actor, community_id=data.get("cid"))
    loc = data.get("loc")
    row = await requests.submit(ctx.uow, actor=actor, kind=data["k"], category=data["c"], text=data.get("t") or "",
                                now=ctx.now, voice_file_id=data.get("v"), voice_seconds=data.get("vs"),
                                photos=list(data.get("p") or []), building_id=data.get("b") or None,
                                location=(float(loc[0]), float(loc[1])) if loc else None, anonymous=bool(data.get("a")))
    await ctx.clear_state()
    ctx.edit(ctx.t("✅ Thank you! Your report is recorded as <b>{code}</b>. The committees assess it together and "
                   "I will tell you at every step: who handles it, progress, the result. /requests shows the "
                   "public list.", code=requests.code(row.year, row.number)))


@router.flow(FLOW)
async def dialog_message(ctx: Ctx) -> None:
    state = ctx.state
    assert state is not None
    data, step, msg = dict(state.data), state.step, ctx.message
    if step == "text" and msg.voice_file_id:
        if (msg.voice_seconds or 0) > requests.VOICE_SECONDS:
            raise Invalid("voice", "too_long")
        data.update(t="", v=msg.voice_file_id[:255], vs=msg.voice_seconds or 1)
        await _ask(ctx, "photos", data)
    elif step == "text" and msg.text:
        data["t"] = requests.clean("text", msg.text)
        await _ask(ctx, "photos", data)
    elif step == "photos" and msg.photo_file_id:
        photos = list(data.get("p") or [])
        if len(photos) >= requests.MAX_PHOTOS:
            ctx.reply(ctx.t("That is {limit} photos already, the most a report takes. Tap “Done”.",
                            limit=requests.MAX_PHOTOS))
            return
        photos.append(msg.photo_file_id[:255])
        data["p"] = photos
        await _ask(ctx, "building" if len(photos) >= requests.MAX_PHOTOS else "photos", data)
    elif step == "location" and msg.location:
        data["loc"] = [msg.location[0], msg.location[1]]
        await _ask(ctx, "anon", data)
    elif step == "photos":
        ctx.reply(ctx.t("Please send a photo, or tap “Done”."))
    elif step == "location":
        ctx.reply(ctx.t("Please send a location pin, or tap “Skip”."))
    else:
        ctx.reply(ctx.t("Please tap one of the buttons above, or send /cancel to stop."))


# ---------------------------------------------------------------- /requests: the public list


def age_text(ctx: Ctx, age: timedelta) -> str:
    days = age.days
    if days >= 1:
        return tn(ctx.lang, "{n} day", "{n} days", days)
    hours = max(1, age.seconds // 3600)
    return tn(ctx.lang, "{n} hour", "{n} hours", hours)


async def _list_page(ctx: Ctx, page: int) -> None:
    chat = ctx.event.chat
    if chat is not None and chat.is_group:
        _, community, _ = await membership.chat_info(ctx.uow, tg_chat_id=chat.id)
        if community is None:
            raise NotFound("link")
    shown = await requests.public_list(ctx.uow, actor=ctx.actor, now=ctx.now, page=page)
    staff = _staff_buttons(ctx)
    if not shown.items:
        ctx.show(ctx.t("No open or recently closed requests. /report reports one."), staff or None)
        return
    lines = [ctx.t("<b>Requests of {community}</b> · open and closed in the last 30 days ({total})",
                   community=h(ctx.actor.home().name), total=shown.total)]
    for r in shown.items:
        where = building_name(ctx.lang, r.building)
        state = state_name(ctx.lang, r.state)
        if r.organisation and r.state in ("assigned", "accepted", "resolved", "reopened"):
            state += f" · {org_name(ctx.lang, r.organisation)}"
        line = (f"{KIND_ICONS.get(r.kind, '')} <b>{r.code}</b> · {kind_name(ctx.lang, r.kind)} · "
                f"{category_name(ctx.lang, r.category)} · {where}\n{state} · {age_text(ctx, r.age)}")
        if r.reopened:
            line += " · " + tn(ctx.lang, "reopened {n} time", "reopened {n} times", r.reopened)
        lines.append(line)
    nav = pager(ctx, shown.page, shown.pages, "rl")
    ctx.show("\n\n".join(lines), ([nav] if nav else []) + staff or None)


def _staff_buttons(ctx: Ctx) -> Keyboard:
    """In private: the person's own requests, and for the staff what waits for them (bot/handlers/request_work.py)."""
    if not (ctx.event.chat and ctx.event.chat.is_private) or ctx.actor.member is None:
        return []
    row = [ctx.button(ctx.t("📌 Your requests"), "rv", "m")]
    if ctx.actor.can(Perm.REQUESTS_ASSESS):
        row.append(ctx.button(ctx.t("🗂 To assess"), "rv", "a"))
    if ctx.actor.can(Perm.REQUESTS_HANDLE):
        row.append(ctx.button(ctx.t("📋 To handle"), "rv", "w"))
    return [row]


@router.command("requests", where=ANYWHERE, description=N_("Requests of the community and their state (公示)"))
async def requests_command(ctx: Ctx) -> None:
    words = ctx.message.args[:MAX_ARGS].split()
    verb = words[0].lower() if words else ""
    if verb == "stats" and len(words) <= 2:
        await _stats(ctx, district=len(words) == 2 and words[1].lower() in ("district", "区", "全区"))
    elif verb in ("route", "orgs"):
        if not (ctx.event.chat and ctx.event.chat.is_private):
            ctx.reply(ctx.t("Please use this in a private chat with me."))
            return
        await _setup(ctx, verb, words[1:])
    elif not words:
        await _list_page(ctx, 1)
    else:
        ctx.reply(ctx.t("Usage: /requests · /requests stats · admins: /requests orgs ORG ORG … · /requests route "
                        "CATEGORY ORG (or - to remove the rule)"))


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


async def _stats(ctx: Ctx, *, district: bool) -> None:
    """F-7.5: what the loop achieved this year, without personal data (groups too; the district's: its admins)."""
    chat = ctx.event.chat
    if chat is not None and chat.is_group:
        _, community, _ = await membership.chat_info(ctx.uow, tg_chat_id=chat.id)
        if community is None:
            raise NotFound("link")
    if district:
        st = await request_stats.of_district(ctx.uow, actor=ctx.actor, now=ctx.now)
        head = ctx.t("<b>Requests of the district in {year}</b>", year=st.year) + " " + tn(
            ctx.lang, "({n} community)", "({n} communities)", st.communities)
    else:
        st = await request_stats.of_community(ctx.uow, actor=ctx.actor, now=ctx.now)
        head = ctx.t("<b>Requests of {community} in {year}</b>", community=h(ctx.actor.home().name), year=st.year)

    def took(value: timedelta | None) -> str:
        return "—" if value is None else age_text(ctx, value)

    lines = [head,
             ctx.t("Reported: {reported} · still open: {open}", reported=st.reported, open=st.open),
             ctx.t("Solved: {requests} requests · {disputes} disputes mediated · {hazards} hazards fixed",
                   requests=st.solved.get("request", 0), disputes=st.solved.get("dispute", 0),
                   hazards=st.solved.get("hazard", 0)),
             ctx.t("Of them closed without the reporter's answer (默认满意): {n}", n=st.by_default),
             ctx.t("Declined: {declined} · merged: {merged}", declined=st.declined, merged=st.merged),
             ctx.t("Reopened: {reopen} of those resolved · satisfied: {satisfied} of the answers",
                   reopen=_share(st.reopen_rate), satisfied=_share(st.satisfaction)),
             ctx.t("Median time — assessing: {assess} · resolving: {resolve} · confirming: {confirm}",
                   assess=took(st.median.get("assess")), resolve=took(st.median.get("resolve")),
                   confirm=took(st.median.get("confirm")))]
    ctx.reply("\n".join(lines))


def _category_of(text: str) -> str | None:
    value = text.strip().casefold()
    for code in requests.CATEGORIES:
        if value in (code, *(category_name(lang, code).casefold() for lang in ("zh_CN", "en"))):
            return code
    return None


async def _setup(ctx: Ctx, verb: str, words: list[str]) -> None:
    """Admins: the organisations requests go to, and routing rules by category (category → organisation)."""
    ctx.actor.require(Perm.REQUESTS_SETUP)
    if verb == "orgs" and words:
        orgs = [parse_org(w) for w in words]
        if any(o is None for o in orgs):
            raise Invalid("organisation", "unknown")
        await requests.set_organisations(ctx.uow, actor=ctx.actor, orgs=[o.value for o in orgs if o], now=ctx.now)
    elif verb == "route" and len(words) == 2:
        category, org = _category_of(words[0]), parse_org(words[1])
        if category is None:
            ctx.reply(ctx.t("Unknown category. Categories: {names}", names="、".join(
                category_name(ctx.lang, c) for c in requests.CATEGORIES)))
            return
        if org is None and words[1] not in ("-", "无", "none"):
            raise Invalid("organisation", "unknown")
        await requests.set_route(ctx.uow, actor=ctx.actor, category=category, org=org.value if org else None,
                                 now=ctx.now)
    elif words:
        ctx.reply(ctx.t("Usage: /requests orgs ORG ORG … · /requests route CATEGORY ORG (or - to remove the rule)"))
        return
    community = ctx.actor.home()
    lines = [ctx.t("<b>Requests: organisations and routing</b>"),
             ctx.t("Organisations on the card: {orgs}", orgs="、".join(
                 org_name(ctx.lang, o) for o in requests.organisations(community)))]
    routes = requests.routing(community)
    lines += [f"{category_name(ctx.lang, c)} → ⭐ {org_name(ctx.lang, o)}" for c, o in routes.items()] or [
        ctx.t("No routing rules: the committee chooses every time.")]
    lines.append(ctx.t("Change: /requests orgs ORG ORG … · /requests route CATEGORY ORG (or - to remove the rule)"))
    ctx.reply("\n".join(lines))


@router.callback("rl")
async def list_press(ctx: Ctx) -> None:
    await _list_page(ctx, (int_arg(ctx.args[0]) if ctx.args else None) or 1)


EXPLAIN = explain_requests
