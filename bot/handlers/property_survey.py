"""The residents' satisfaction survey of their property project (#15, F-10): 5 questions, 1–5 by buttons, in a
private chat, once per household and month. The invitation (an outbox notice, after the quiet hours) carries the
first question; each press edits the message to the next one; `/survey` shows an unfinished one again (when the
invitation's buttons have expired)."""

from __future__ import annotations

from typing import Any

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tr
from bot.core.types import Button, OutMessage
from bot.render import NoticeRenderer, h
from flows.errors import AlreadyDone, Expired, FlowError, Forbidden, NotFound
from flows.property import survey
from flows.property.notices import SurveyInvite

router = Router()
P = "psv"
QUESTIONS = (
    N_("How satisfied are you with the property company's service overall?"),
    N_("Cleaning and greenery of the estate?"),
    N_("Order and safety: the gate, parking, fire lanes?"),
    N_("Repairs of shared facilities (lifts, lights, drains): fast and good enough?"),
    N_("How well does the company answer residents' requests and complaints?"),
)


def explain_survey(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, AlreadyDone):
        return ctx.t("That question is answered already. Thank you!")
    if isinstance(err, Expired):
        return ctx.t("This survey's month is over. You will be asked again next month.")
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


@router.callback(P, stateless=True)
async def pressed(ctx: Ctx) -> None:
    sid, step, value = int(ctx.args[0]), int(ctx.args[1]), int(ctx.args[2])
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
    ctx.reply(_question(ctx.lang, state.estate, row.month, row.step), _buttons(ctx, row.id or 0, row.step))
