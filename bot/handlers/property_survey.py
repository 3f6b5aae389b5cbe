"""The residents' satisfaction survey of their property project (#15, F-10): 5 questions, 1–5 by buttons, in a
private chat, once per household and month. The invitation (an outbox notice, after the quiet hours) carries the
first question; each press edits the message to the next one; `/survey` shows an unfinished one again (when the
invitation's buttons have expired). Before the first answer the resident gives their room once (the roster's rooms of
their building as buttons, paged, or typed), so the survey counts once per household (`flows/property/household.py`);
a family member of a household that has answered is told so kindly."""

from __future__ import annotations

from typing import Any

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tr
from bot.core.types import Button, OutMessage
from bot.render import NoticeRenderer, h
from flows.errors import AlreadyDone, Expired, FlowError, Forbidden, Invalid, NotFound
from flows.imports.residents import MAX_ROOM
from flows.property import household as hh
from flows.property import survey
from flows.property.notices import SurveyInvite

router = Router()
P = "psv"
R = "psr"  # the room picker: (survey id, "r", household id) | (sid, "p", page) | (sid, "t") | (sid, "x")
FLOW = "psv_room"
PAGE = 12  # rooms per page, 4 a row
QUESTIONS = (
    N_("How satisfied are you with the property company's service overall?"),
    N_("Cleaning and greenery of the estate?"),
    N_("Order and safety: the gate, parking, fire lanes?"),
    N_("Repairs of shared facilities (lifts, lights, drains): fast and good enough?"),
    N_("How well does the company answer residents' requests and complaints?"),
)


def explain_survey(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, AlreadyDone) and err.what == "survey_household":
        return ctx.t("Someone of your household has already answered this month's survey. Thank you all the same!")
    if isinstance(err, AlreadyDone):
        return ctx.t("That question is answered already. Thank you!")
    if isinstance(err, Invalid) and err.field == "room":
        if err.reason == "too_long":
            return ctx.t("That room is too long (at most {limit} characters). Please send it like 2-401.",
                         limit=MAX_ROOM)
        if err.reason == "no_building":
            return ctx.t("Your building is not known: please set it with /start first.")
        if err.reason == "needed":
            return ctx.t("Please tell us your room first: /survey")
        return ctx.t("Please send your room like 2-401 (building unit and room number).")
    if isinstance(err, Expired):
        return ctx.t("This survey's month is over. You will be asked again next month.")
    if isinstance(err, NotFound) and err.what == "room":
        return ctx.t("That room is not in your building's list. Please choose again, or type it: /survey")
    if isinstance(err, Forbidden | NotFound):
        return ctx.t("This survey is not (or no longer) yours: it is for the households of the buildings the "
                     "property project serves.")
    return None


EXPLAIN = explain_survey


def _question(lang: str, estate: str, month: str, step: int) -> str:
    return (tr(lang, "🏠 <b>Satisfaction with the property service</b> · {estate} · {month}", estate=h(estate),
               month=month)
            + "\n" + tr(lang, "Question {n} of {total}", n=step + 1, total=len(QUESTIONS))
            + "\n\n" + tr(lang, QUESTIONS[step])
            + "\n" + tr(lang, "1 = very dissatisfied … 5 = very satisfied. Your answer is counted for the building, "
                              "never shown with your name."))


def _n_invite(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    sid = int(p.get("survey_id", 0))
    return OutMessage(text=_question(lang, p.get("estate", ""), p.get("month", ""), 0),
                      buttons=[[r.button(str(v), P, sid, 0, v) for v in range(1, 6)]])


NOTICES = {SurveyInvite.kind: _n_invite}


def _buttons(ctx: Ctx, sid: int, step: int) -> list[list[Button]]:
    return [[ctx.button(str(v), P, sid, step, v) for v in range(1, 6)]]


async def _ask_room(ctx: Ctx, sid: int, page: int = 0, *, edit: bool = True) -> None:
    """The room picker: the roster's rooms of the member's building, paged, and "not listed"; without a roster the
    member types it."""
    show = ctx.edit if edit else ctx.reply
    rooms = await hh.roster_rooms(ctx.uow, actor=ctx.actor)
    intro = ctx.t("🏠 Before the survey: which room do you live in? One answer counts per household and month; "
                  "your room is never shown to others.")
    if not rooms:
        await ctx.set_state(FLOW, "room", {"sid": sid})
        show(intro + "\n" + ctx.t("Please send your room, like 2-401."), [[ctx.button("✖", R, sid, "x")]])
        return
    pages = (len(rooms) + PAGE - 1) // PAGE
    page = max(0, min(page, pages - 1))
    chunk = rooms[page * PAGE:(page + 1) * PAGE]
    keys: list[list[Button]] = [[ctx.button(room, R, sid, "r", hid) for hid, room in chunk[i:i + 4]]
                                for i in range(0, len(chunk), 4)]
    nav = ([ctx.button("◀", R, sid, "p", page - 1)] if page > 0 else []) + \
        ([ctx.button("▶", R, sid, "p", page + 1)] if page < pages - 1 else [])
    if nav:
        keys.append(nav)
    keys.append([ctx.button(ctx.t("My room is not listed"), R, sid, "t"), ctx.button("✖", R, sid, "x")])
    show(intro + "\n" + ctx.t("Page {page} of {pages}", page=page + 1, pages=pages), keys)


async def _resume(ctx: Ctx, sid: int, room: str, *, edit: bool) -> None:
    show = ctx.edit if edit else ctx.reply
    try:
        state = await survey.current(ctx.uow, actor=ctx.actor, survey_id=sid, now=ctx.now)
    except AlreadyDone as err:  # a family member has answered: the room is kept, the survey closes kindly
        show(explain_survey(ctx, err) or "")
        return
    text = ctx.t("✅ Room {room} noted.", room=h(room)) + "\n\n" + _question(
        ctx.lang, state.estate, state.survey.month, state.survey.step)
    show(text, _buttons(ctx, sid, state.survey.step))


@router.callback(R, stateless=True)
async def room_pressed(ctx: Ctx) -> None:
    sid, action = int(ctx.args[0]), str(ctx.args[1])
    await survey.current(ctx.uow, actor=ctx.actor, survey_id=sid, now=ctx.now)  # still theirs, still open
    if action == "r":
        room = await hh.pick_room(ctx.uow, actor=ctx.actor, household_id=int(ctx.args[2]), now=ctx.now)
        await ctx.clear_state()
        await _resume(ctx, sid, room, edit=True)
    elif action == "p":
        await _ask_room(ctx, sid, int(ctx.args[2]))
    elif action == "t":
        await ctx.set_state(FLOW, "room", {"sid": sid})
        ctx.edit(ctx.t("Please send your room, like 2-401."), [[ctx.button("✖", R, sid, "x")]])
    elif action == "x":
        await ctx.clear_state()
        ctx.edit(ctx.t("Cancelled. Send /survey when you want to answer."))
    else:
        raise Expired("survey")


@router.flow(FLOW)
async def typed_room(ctx: Ctx) -> None:
    if ctx.state is None or ctx.state.step != "room":
        raise Expired("survey")
    sid = int(ctx.state.data["sid"])
    await survey.current(ctx.uow, actor=ctx.actor, survey_id=sid, now=ctx.now)
    room = await hh.set_room(ctx.uow, actor=ctx.actor, text=ctx.message.text or "", now=ctx.now)
    await ctx.clear_state()
    await _resume(ctx, sid, room, edit=False)


@router.callback(P, stateless=True)
async def pressed(ctx: Ctx) -> None:
    sid, step, value = int(ctx.args[0]), int(ctx.args[1]), int(ctx.args[2])
    state = await survey.current(ctx.uow, actor=ctx.actor, survey_id=sid, now=ctx.now)
    if state.room is None:
        await _ask_room(ctx, sid)  # the household first; the question is asked again after
        return
    done = await survey.answer(ctx.uow, actor=ctx.actor, survey_id=sid, question=step, value=value, now=ctx.now)
    if done.done:
        ctx.edit(ctx.t("🙏 Thank you! Your answers for {estate} ({month}) are in. The monthly ranking is published "
                       "in the groups.", estate=h(done.estate), month=done.survey.month))
    else:
        ctx.edit(_question(ctx.lang, done.estate, done.survey.month, done.survey.step),
                 _buttons(ctx, sid, done.survey.step))
    ctx.toast(ctx.t("Noted: {value}", value=value))


@router.command("survey", where=PRIVATE, description=N_("This month's survey of your property company"))
async def survey_cmd(ctx: Ctx) -> None:
    state = await survey.waiting(ctx.uow, actor=ctx.actor, now=ctx.now)
    if state is None:
        ctx.reply(ctx.t("No survey is waiting for you this month."))
        return
    row = state.survey
    if state.room is None:
        await _ask_room(ctx, row.id or 0, edit=False)
        return
    ctx.reply(_question(ctx.lang, state.estate, row.month, row.step), _buttons(ctx, row.id or 0, row.step))
