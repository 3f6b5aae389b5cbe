"""Open days (实事开放日): admins announce them, residents sign up as experience officers (居民体验官).

/openday (admins, private): project → time (2027-06-01 09:30, local) → place → preview → confirm;
the open day is posted to every group with “🙋 Sign up” and “Cancel sign-up”. /opendays lists the
coming open days with their sign-up counts and, per open day, the names (in private only). The
scheduler reminds the experience officers the day before and asks for their feedback after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tn, tr
from bot.core.types import Keyboard, OutMessage
from bot.handlers.acceptance import lasting_button
from bot.handlers.common import grid, int_arg
from bot.render import NoticeRenderer, h
from flows import opendays
from flows.clock import local
from flows.errors import AlreadyDone, FlowError, Invalid, NotFound
from flows.opendays import OpenDayAnnounce, OpenDayFeedback, OpenDayRemind
from flows.roles import Perm

router = Router()
FLOW, FEEDBACK = "openday", "openday_fb"


def explain_opendays(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, Invalid):
        limit = err.details.get("limit")
        texts = {
            ("starts_at", "format"): ctx.t("Please send the date and time like this: 2027-06-01 09:30"),
            ("starts_at", "past"): ctx.t("That time has passed. Please send a time in the future, like "
                                         "2027-06-01 09:30"),
            ("place", "empty"): ctx.t("The place cannot be empty. Where do the visitors meet?"),
            ("place", "too_long"): ctx.t("Too long: the place can have at most {limit} characters.", limit=limit),
            ("open_day", "cancelled"): ctx.t("This open day has been cancelled."),
            ("open_day", "started"): ctx.t("This open day has already begun: sign-ups are closed."),
            ("open_day", "not_yet"): ctx.t("The open day has not taken place yet: feedback opens after it."),
            ("stars", "range"): ctx.t("Feedback is 1 to 5 stars. Please tap one of the buttons."),
            ("feedback", "too_long"): ctx.t("Too long: feedback can have at most {limit} characters. Please send "
                                            "a shorter one.", limit=limit),
            ("feedback", "empty"): ctx.t("The feedback cannot be empty. Send a few words, or tap Skip."),
        }
        return texts.get((err.field, err.reason))
    if isinstance(err, AlreadyDone) and err.what == "signup":
        return ctx.t("You are already signed up for this open day. Changed your mind? Tap “Cancel sign-up”.")
    if isinstance(err, NotFound) and err.what == "signup":
        return ctx.t("You are not signed up for this open day.")
    if isinstance(err, NotFound) and err.what == "open_day":
        return ctx.t("That open day does not exist (any more).")
    if isinstance(err, NotFound) and err.what == "project":
        return ctx.t("That project does not exist (any more).")
    return None


def _when(ctx: Ctx, at: datetime) -> str:
    tz = ctx.actor.community.timezone if ctx.actor.community else "Asia/Shanghai"
    return local(at, tz).strftime(opendays.TIME_FORMAT)


# ---------------------------------------------------------------- announcing (admins)


@router.command("openday", where=PRIVATE, description=N_("Announce an open day of a project"), perm=Perm.PROJECTS,
                member_only=True)
async def openday(ctx: Ctx) -> None:
    projects = await opendays.projects(ctx.uow, actor=ctx.actor)
    if not projects:
        ctx.reply(ctx.t("There are no projects yet: they come from the representatives' vote."))
        return
    await ctx.clear_state()
    buttons = grid([ctx.button(f"{p.year}·{p.number} {p.title}", "od", "p", p.id or 0) for p in projects], 1)
    ctx.reply(ctx.t("🏗 <b>Open day (实事开放日)</b>: residents visit a project as experience officers "
                    "(居民体验官). Which project?"), buttons)


@router.callback("od")
async def openday_press(ctx: Ctx) -> None:
    ctx.actor.require(Perm.PROJECTS)
    action = ctx.args[0] if ctx.args else ""
    number = int_arg(ctx.args[1]) if len(ctx.args) > 1 else None
    if action == "p" and number is not None:
        project = await opendays.check_project(ctx.uow, actor=ctx.actor, project_id=number)
        await ctx.set_state(FLOW, "time", {"pid": project.id})
        ctx.edit(ctx.t("Open day of project {number} “{title}”. When does it start? Send the local date and time, "
                       "e.g. 2027-06-01 09:30 (or /cancel)", number=project.number, title=h(project.title)))
    elif action == "ok":
        await _announce(ctx)
    elif action == "x":
        await ctx.clear_state()
        ctx.edit(ctx.t("Cancelled, nothing was saved."))
    elif action == "l" and number is not None:
        await _signups(ctx, number)
    else:
        ctx.toast(ctx.t("This button is not valid."), alert=True)


@router.flow(FLOW)
async def openday_text(ctx: Ctx) -> None:
    state = ctx.state
    assert state is not None
    data = dict(state.data)
    text = ctx.message.text
    community = ctx.actor.community
    if community is None or state.step == "confirm":
        ctx.reply(ctx.t("Please tap one of the buttons above, or send /cancel to stop."))
        return
    if state.step == "time":
        at = opendays.parse_start(text, timezone=community.timezone, now=ctx.now)
        data["at"] = at.isoformat()
        await ctx.set_state(FLOW, "place", data)
        ctx.reply(ctx.t("Where do the visitors meet? Send the place (at most {limit} characters).",
                        limit=opendays.MAX_PLACE))
        return
    data["place"] = opendays.clean_place(text)
    await ctx.set_state(FLOW, "confirm", data)
    project = await opendays.check_project(ctx.uow, actor=ctx.actor, project_id=int(data["pid"]))
    ctx.reply(ctx.t("Please check the open day:\nProject {number} “{title}”\nTime: {when}\nPlace: {place}\n"
                    "It will be posted to every group of the community with a sign-up button.",
                    number=project.number, title=h(project.title),
                    when=_when(ctx, datetime.fromisoformat(data["at"])), place=h(data["place"])),
              [[ctx.button(ctx.t("✅ Announce"), "od", "ok"), ctx.button(ctx.t("✖ Cancel"), "od", "x")]])


async def _announce(ctx: Ctx) -> None:
    state = ctx.state
    if state is None or state.flow != FLOW or state.step != "confirm":
        ctx.toast(ctx.t("This dialog has ended. Send /openday to start again."), alert=True)
        return
    day, groups = await opendays.announce(ctx.uow, actor=ctx.actor, project_id=int(state.data["pid"]),
                                          starts_at=datetime.fromisoformat(state.data["at"]),
                                          place=state.data["place"], now=ctx.now)
    await ctx.clear_state()
    ctx.edit(tn(ctx.lang, "✅ The open day is announced in {n} group. /opendays shows who signed up.",
                "✅ The open day is announced in {n} groups. /opendays shows who signed up.", groups),
             [[ctx.button(ctx.t("👥 Sign-ups"), "od", "l", day.id or 0)]])


@router.command("opendays", where=PRIVATE, description=N_("Open days and their sign-ups"), perm=Perm.PROJECTS,
                member_only=True)
async def opendays_list(ctx: Ctx) -> None:
    days = await opendays.upcoming(ctx.uow, actor=ctx.actor, now=ctx.now)
    if not days:
        ctx.reply(ctx.t("No open days are coming up. /openday announces one."))
        return
    lines = [ctx.t("<b>Open days</b>")]
    buttons: Keyboard = []
    for v in days:
        lines.append(ctx.t("{when} · project {number} “{title}” · {place} · {count} signed up",
                           when=_when(ctx, v.day.starts_at), number=v.project.number, title=h(v.project.title),
                           place=h(v.day.place), count=v.signups))
        buttons.append([ctx.button(ctx.t("👥 {when} project {number}", when=_when(ctx, v.day.starts_at),
                                         number=v.project.number), "od", "l", v.day.id or 0)])
    ctx.reply("\n".join(lines), buttons)


async def _signups(ctx: Ctx, open_day_id: int) -> None:
    view, names = await opendays.signups(ctx.uow, actor=ctx.actor, open_day_id=open_day_id)
    head = ctx.t("Open day of project {number} “{title}”, {when}: {count} signed up.", number=view.project.number,
                 title=h(view.project.title), when=_when(ctx, view.day.starts_at), count=view.signups)
    if ctx.event.chat is None or not ctx.event.chat.is_private:
        ctx.toast(head, alert=True)  # names only in private
        return
    ctx.reply(head + ("\n" + "\n".join(f"{i}. {h(n)}" for i, n in enumerate(names, 1)) if names else ""))


# ---------------------------------------------------------------- residents


@router.callback("os")
async def sign_up_press(ctx: Ctx) -> None:
    open_day_id = int_arg(ctx.args[0]) if ctx.args else None
    if open_day_id is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    count = await opendays.sign_up(ctx.uow, actor=ctx.actor, open_day_id=open_day_id, now=ctx.now)
    day, _ = await opendays.title_of(ctx.uow, actor=ctx.actor, open_day_id=open_day_id)
    ctx.toast(ctx.t("✅ You are signed up as an experience officer (居民体验官): {when}, {place}. We will remind you "
                    "the day before. {count} signed up so far.", when=_when(ctx, day.starts_at), place=day.place,
                    count=count), alert=True)


@router.callback("oc")
async def cancel_press(ctx: Ctx) -> None:
    open_day_id = int_arg(ctx.args[0]) if ctx.args else None
    if open_day_id is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    await opendays.cancel(ctx.uow, actor=ctx.actor, open_day_id=open_day_id, now=ctx.now)
    ctx.toast(ctx.t("Your sign-up is withdrawn."), alert=True)


@router.callback("of")
async def feedback_press(ctx: Ctx) -> None:
    open_day_id = int_arg(ctx.args[0]) if ctx.args else None
    choice = ctx.args[1] if len(ctx.args) > 1 else ""
    if open_day_id is None or not choice:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    if choice == "s":
        await ctx.clear_state()
        ctx.edit(ctx.t("✅ Thank you for your feedback!"))
        return
    stars = int_arg(choice)
    if stars is None:
        raise Invalid("stars", "range")
    row = await opendays.feedback(ctx.uow, actor=ctx.actor, open_day_id=open_day_id, stars=stars, now=ctx.now)
    await ctx.set_state(FEEDBACK, "comment", {"id": open_day_id})
    ctx.edit(ctx.t("Thank you: {stars}. Anything you would like to tell the community about the project? Send it "
                   "(at most {limit} characters), or tap Skip.", stars="⭐" * (row.stars or 0),
                   limit=opendays.MAX_FEEDBACK),
             [[ctx.button(ctx.t("Skip ▶"), "of", open_day_id, "s")]])


@router.flow(FEEDBACK)
async def feedback_text(ctx: Ctx) -> None:
    state = ctx.state
    assert state is not None
    await opendays.feedback(ctx.uow, actor=ctx.actor, open_day_id=int(state.data.get("id", 0)),
                            text=ctx.message.text, now=ctx.now)
    await ctx.clear_state()
    ctx.reply(ctx.t("✅ Thank you for your feedback!"))


# ---------------------------------------------------------------- notices


def _n_announce(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = tr(lang, "🏗 <b>Open day (实事开放日)</b> of project {number} “{title}”\nTime: {when}\nPlace: {place}\n"
                    "Come and see the work as an experience officer (居民体验官): sign up with the button below.",
              number=p.get("number", ""), title=h(p.get("title", "")), when=p.get("starts", ""),
              place=h(p.get("place", "")))
    day = p.get("open_day_id", 0)
    return OutMessage(text=text, buttons=[[lasting_button(r, tr(lang, "🙋 Sign up as experience officer"), "os", day),
                                           lasting_button(r, tr(lang, "Cancel sign-up"), "oc", day)]])


def _n_remind(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "⏰ Reminder: the open day of project {number} “{title}” is at {when}, place: "
                                    "{place}. See you there, experience officer!",
                              number=p.get("number", ""), title=h(p.get("title", "")), when=p.get("starts", ""),
                              place=h(p.get("place", ""))))


def _n_feedback(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    day = p.get("open_day_id", 0)
    text = tr(lang, "Thank you for visiting project {number} “{title}” on the open day! How was it? Tap 1 (poor) to "
                    "5 (very good); you can add a comment after.", number=p.get("number", ""),
              title=h(p.get("title", "")))
    return OutMessage(text=text, buttons=[[lasting_button(r, f"{n}⭐", "of", day, n) for n in opendays.STARS]])


NOTICES = {OpenDayAnnounce.kind: _n_announce, OpenDayRemind.kind: _n_remind, OpenDayFeedback.kind: _n_feedback}

#: The open days' own wording of their errors (bot/handlers/__init__.py: report_error asks it first).
EXPLAIN = explain_opendays
