"""The progress list's wording (进度清单): the names of colours, funding sources, fields and photo kinds, why a
project has its colour, the errors in words (EXPLAIN of bot/handlers/projects.py), and the projects' notices
(NOTICES, re-exported by bot/handlers/projects.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.core.dispatch import Ctx
from bot.core.i18n import N_, tn, tr
from bot.core.types import OutMessage
from bot.render import NoticeRenderer, h
from flows.errors import AlreadyDone, FlowError, Forbidden, Invalid, NotFound
from flows.project_colour import Colour, Verdict, today
from flows.project_notices import ProjectLateOwners, ProjectOwner, ProjectReportRemind

COLOUR_NAMES = {Colour.GREEN: N_("🟢 done (已完成)"), Colour.YELLOW: N_("🟡 in progress (推进中)"),
                Colour.RED: N_("🔴 behind (滞后)")}
FUNDING_NAMES = {"finance": N_("public finance (财政资金)"), "welfare": N_("community welfare fund (社区公益金)"),
                 "partner": N_("partner units (共建单位)"), "property": N_("property management (物业)"),
                 "other": N_("other")}
FIELD_NAMES = {"title": N_("milestone title"), "note": N_("note"), "reason": N_("reason"),
               "funding": N_("funding source")}
KIND_NAMES = {"before": N_("before photos (整改前)"), "after": N_("after photos (整改后)")}


def funding_name(lang: str, funding: str | None) -> str:
    """A funding source as plain text (escape it with h() in HTML)."""
    if funding is None:
        return tr(lang, "not set")
    return tr(lang, FUNDING_NAMES[funding]) if funding in FUNDING_NAMES else funding


def reasons_text(lang: str, verdict: Verdict, override_reason: str | None = None) -> str:
    """Why a project has its colour, in words (HTML-escaped)."""
    words = []
    for code in verdict.reasons:
        if code == "override":
            words.append(tr(lang, "marked by an admin: {reason}", reason=h(override_reason or "")))
        elif code == "done":
            words.append(tr(lang, "complete, with after photos"))
        elif code == "after_photo_missing":
            words.append(tr(lang, "marked complete, but the after photo (整改后) is missing"))
        elif code == "milestone_overdue":
            words.append(tn(lang, "{n} milestone overdue", "{n} milestones overdue", verdict.overdue_milestones))
        elif code == "deadline_passed":
            words.append(tr(lang, "the deadline has passed"))
        elif code == "no_report":
            words.append(tn(lang, "no progress report for {n} day", "no progress report for {n} days", verdict.days_without_report))
    return "; ".join(words)


def example_day(ctx: Ctx) -> str:
    """A date 30 days ahead in the community, for "e.g." in the questions."""
    return (today(ctx.actor.community, ctx.now) + timedelta(days=30)).isoformat() \
        if ctx.actor.community else "2027-12-31"


def explain_projects(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, Invalid):
        field, reason, limit = err.field, err.reason, err.details.get("limit")
        if reason == "too_long" and field in FIELD_NAMES:
            return ctx.t("Too long: the {field} can have at most {limit} characters. Please send a shorter one.",
                         field=ctx.t(FIELD_NAMES[field]), limit=limit)
        if reason == "empty" and field in FIELD_NAMES:
            return ctx.t("The {field} cannot be empty. Please send it again.", field=ctx.t(FIELD_NAMES[field]))
        if field == "percent":
            return ctx.t("The percent must be a whole number from 0 to 100, e.g. 60.")
        if field in ("deadline", "due_on", "done_on") and reason == "format":
            return ctx.t("Please send the date as YYYY-MM-DD, e.g. {example}.", example=example_day(ctx))
        if field == "deadline" and reason == "past":
            return ctx.t("The deadline cannot be in the past. Send a date from today on, e.g. {example}.",
                         example=example_day(ctx))
        if field == "due_on" and reason == "past":
            return ctx.t("A milestone cannot be due in the past. Send a date from today on, e.g. {example}.",
                         example=example_day(ctx))
        if field == "done_on" and reason == "future":
            return ctx.t("The day it was done cannot be in the future. Send today's date or an earlier one.")
        if field == "done_on" and reason == "before_start":
            return ctx.t("That is before the project started ({start}). Send a later date.",
                         start=err.details.get("start"))
        if field == "budget" and reason == "empty":
            return ctx.t("Send an amount, or choose a funding source.")
        if field == "budget":
            return ctx.t("Please send the budget in whole yuan, from 0 to 10000000000, e.g. 120000 or 12万.")
        if field == "photos" and reason == "too_many" and err.details.get("have") is not None:
            return ctx.t("At most {limit} photos of each kind: this project has {have} already. Nothing was saved; "
                         "tap “Done” with fewer photos.", limit=limit, have=err.details["have"])
        if field == "photos" and reason == "too_many":
            return ctx.t("At most {limit} photos at a time. Tap “Done” to go on with the photos you sent.",
                         limit=limit)
        if field == "photos":
            return ctx.t("No photos yet: send at least one photo, then tap “Done”.")
        if field == "photo":
            return ctx.t("That photo could not be read. Please send it again.")
        if field == "milestones":
            return ctx.t("A project can have at most {limit} milestones.", limit=limit)
        if field in ("colour", "kind", "funding"):
            return ctx.t("Please tap one of the buttons.")
    if isinstance(err, Forbidden) and err.permission == "project_owner":
        return ctx.t("Only the project's owner (责任人) or an admin can do that.")
    if isinstance(err, AlreadyDone):
        return {"project_owner": ctx.t("This member is the owner already."),
                "project_complete": ctx.t("This project is already marked complete."),
                "milestone": ctx.t("This milestone is ticked off already."),
                "override_cleared": ctx.t("This project has no colour mark.")}.get(err.what)
    if isinstance(err, NotFound) and err.what in ("project", "milestone"):
        return ctx.t("That project or milestone does not exist (any more).")
    return None


# ---------------------------------------------------------------- notices


def _project_list(lang: str, items: list[dict[str, Any]]) -> str:
    return "; ".join(tr(lang, "#{number} {title}", number=p.get("number"), title=h(p.get("title", "")))
                     for p in items)


def _n_owner(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = tr(lang, "📋 You are now responsible (责任人) for project #{number} “{title}” ({year}) of {community}. "
                    "Report its progress with /progress — at least once a month, with photos.",
              number=p.get("number"), title=h(p.get("title", "")), year=p.get("year"),
              community=h(p.get("community", "")))
    if p.get("deadline"):
        text += "\n" + tr(lang, "Deadline: {day}", day=p["deadline"])
    return OutMessage(text=text)


def _n_remind(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "⏰ Monthly progress report: there was no report for {month} on {projects}. "
                                    "Please report with /progress (percent, a note and photos).",
                              month=p.get("month", ""), projects=_project_list(lang, p.get("projects", []))))


def _n_late(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    lines = [tr(lang, "⏰ Owners without a progress report for {month} (they have been reminded):",
                month=p.get("month", ""))]
    for owner in p.get("owners", []):
        lines.append(tr(lang, "• {name} (member no. {member}): {projects}", name=h(owner.get("name", "")),
                        member=owner.get("member"), projects=_project_list(lang, owner.get("projects", []))))
    return OutMessage(text="\n".join(lines))


NOTICES = {ProjectOwner.kind: _n_owner, ProjectReportRemind.kind: _n_remind, ProjectLateOwners.kind: _n_late}
