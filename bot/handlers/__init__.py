"""Handlers per feature, framework-free: each parses, calls a flow, and words the result."""

from __future__ import annotations

from types import ModuleType

from bot.core.dispatch import Ctx, Router
from bot.handlers import (
    acceptance,
    announce,
    ballot,
    board,
    care,
    care_pairing,
    checkins,
    common,
    exports,
    freetext,
    groups,
    imports,
    jobs,
    leaving,
    loans,
    meeting,
    microposts,
    myneeds,
    needs,
    needs_review,
    opendays,
    polls,
    projects,
    property,
    property_reply,
    property_survey,
    request_work,
    requests,
    roles,
    settings,
    spaces,
    start,
    teams,
    visits,
    visits_family,
    voting,
    wishes,
)
from bot.handlers.common import explain, report
from bot.render import NoticeFn
from flows.errors import FlowError, NotRegistered

__all__ = ["FALLBACKS", "build_notices", "build_router", "report_error"]

FEATURES: tuple[ModuleType, ...] = (start, roles, leaving, groups, care, care_pairing, checkins, visits, visits_family,
                                    needs, needs_review, myneeds, ballot, voting, polls, projects, board, acceptance,
                                    opendays, requests, request_work, meeting, announce, exports, imports, teams,
                                    wishes, microposts, spaces, loans, jobs, property, property_reply, property_survey,
                                    settings, freetext)
#: What the dispatcher calls for the unexpected; a free message in private is offered a way on (freetext)
FALLBACKS = {**common.FALLBACKS, "no_conversation": freetext.free_text}


def build_router() -> Router:
    router = Router()
    for feature in FEATURES:
        router.include(feature.router)
    return router


def build_notices() -> dict[str, NoticeFn]:
    """Every feature's outbox notices (a module-level NOTICES dict, where a feature has one)."""
    notices: dict[str, NoticeFn] = {}
    for feature in FEATURES:
        notices.update(getattr(feature, "NOTICES", {}))
    return notices


def report_error(ctx: Ctx, err: FlowError) -> None:
    """The dispatcher's error reply: the wording of the feature whose handler failed (its module-level
    EXPLAIN), else the common one."""
    feature = next((f for f in FEATURES if f.__name__ == ctx.origin), None)
    if isinstance(err, NotRegistered) and ctx.actor.outsider:
        feature = None  # in another community's group: one answer, whatever the feature
    text = getattr(feature, "EXPLAIN", lambda _ctx, _err: None)(ctx, err) if feature else None
    report(ctx, err, text if text is not None else explain(ctx, err))
