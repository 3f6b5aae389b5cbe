"""Tool loans' buttons and notices (#16, F-9.3): the keeper's ✅ handed over / ✖ decline on a request, ↩ returned,
the borrower's withdraw; the reminders the scheduler queues (flows/loans.py), worded politely."""

from __future__ import annotations

from typing import Any

from bot.core.dispatch import Ctx, Router
from bot.core.i18n import tn, tr
from bot.core.types import OutMessage
from bot.handlers.spaces import explain_spaces
from bot.render import NoticeRenderer, h
from flows import loans
from flows.errors import Expired
from flows.loans import LoanAnswered, LoanDueSoon, LoanOverdue, LoanOverdueKeeper, LoanRequested

router = Router()
P = "ln"
EXPLAIN = explain_spaces


@router.callback(P, stateless=True)
async def pressed(ctx: Ctx) -> None:
    action, number = str(ctx.args[0]), int(ctx.args[1])
    if action == "h":
        loan = await loans.hand_over(ctx.uow, actor=ctx.actor, number=number, now=ctx.now)
        ctx.show(ctx.t("✅ Loan no. {loan} handed over; back by {due}. The borrower is told.", loan=loan.number,
                       due=loan.due_on.isoformat()),
                 [[ctx.button(ctx.t("↩ Returned"), P, "r", loan.number)]])
    elif action == "f":
        loan = await loans.refuse(ctx.uow, actor=ctx.actor, number=number, now=ctx.now)
        ctx.show(ctx.t("Loan no. {loan} declined; the borrower is told kindly.", loan=loan.number))
    elif action == "r":
        loan = await loans.give_back(ctx.uow, actor=ctx.actor, number=number, now=ctx.now)
        ctx.show(ctx.t("↩ Loan no. {loan} is returned. Thank you!", loan=loan.number))
    elif action == "c":
        loan = await loans.cancel(ctx.uow, actor=ctx.actor, number=number, now=ctx.now)
        ctx.show(ctx.t("Your request no. {loan} is withdrawn.", loan=loan.number))
    else:
        raise Expired("spaces")


# ---------------------------------------------------------------- notices


def _requested(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = tr(lang, "🔧 {name} would like to borrow the {tool} of {space} until {due} (loan no. {loan}). Tap when "
                    "you hand it over.", name=h(p["borrower"]), tool=h(p["tool"]), space=h(p["space"]),
              due=p["due_on"], loan=p["loan"])
    return OutMessage(text=text, buttons=[[r.button(tr(lang, "✅ Handed over"), P, "h", p["loan"]),
                                           r.button(tr(lang, "✖ Decline"), P, "f", p["loan"])]])


def _answered(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    if p["state"] == "out":
        text = tr(lang, "🔧 You have the {tool} of {space} (loan no. {loan}). Please bring it back to {place} by "
                        "{due}. Thank you!", tool=h(p["tool"]), space=h(p["space"]), loan=p["loan"],
                  place=h(p["place"]), due=p["due_on"])
    elif p["state"] == "returned":
        text = tr(lang, "↩ The {tool} is back at {space}. Thank you for returning it!", tool=h(p["tool"]),
                  space=h(p["space"]))
    else:
        text = tr(lang, "Sorry, the keeper of {space} cannot lend the {tool} just now (loan no. {loan}). Please "
                        "ask again another day.", space=h(p["space"]), tool=h(p["tool"]), loan=p["loan"])
    return OutMessage(text=text)


def _due_soon(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "🔔 A friendly reminder: the {tool} of {space} is due back on {due}. Thank you!",
                              tool=h(p["tool"]), space=h(p["space"]), due=p["due_on"]))


def _overdue(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "🔔 Hello! The {tool} of {space} was due back on {due}. When it suits you, "
                                    "please bring it back — your neighbours may need it too. Thank you!",
                              tool=h(p["tool"]), space=h(p["space"]), due=p["due_on"]))


def _overdue_keeper(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = tn(lang, "🔧 The {tool} (loan no. {loan}) was due back on {due}; {name} (member no. {member}) had {n} "
                    "reminder and I will not send more. Perhaps a word in person helps.",
              "🔧 The {tool} (loan no. {loan}) was due back on {due}; {name} (member no. {member}) had {n} "
              "reminders and I will not send more. Perhaps a word in person helps.", int(p["reminders"]),
              tool=h(p["tool"]), loan=p["loan"], due=p["due_on"], name=h(p["borrower"]), member=p["member_no"])
    return OutMessage(text=text, buttons=[[r.button(tr(lang, "↩ Returned"), P, "r", p["loan"])]])


NOTICES = {LoanRequested.kind: _requested, LoanAnswered.kind: _answered, LoanDueSoon.kind: _due_soon,
           LoanOverdue.kind: _overdue, LoanOverdueKeeper.kind: _overdue_keeper}
