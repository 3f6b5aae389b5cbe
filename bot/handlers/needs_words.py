"""The needs list's words, shared by its handlers (needs, needs_review, myneeds, freetext) and the web board:
category names and the short references buttons carry, how a need is shown in a list, and the wording of the
needs flows' errors."""

from __future__ import annotations

from bot.core.dispatch import Ctx
from bot.core.i18n import N_, tn, tr
from bot.handlers.common import int_arg
from bot.render import h
from flows import needs
from flows.errors import AlreadyDone, FlowError, Invalid, LimitReached, NotFound
from flows.needs import NeedLine

CATEGORY_NAMES = {"env": N_("Environment"), "facility": N_("Facilities"), "elderly": N_("Elderly care"),
                  "culture": N_("Culture and sports"), "safety": N_("Safety"), "traffic": N_("Parking and traffic"),
                  "green": N_("Greening"), "convenience": N_("Convenience services"), "child": N_("Children"),
                  "property": N_("Property management")}
STATUS_NAMES = {"open": N_("open"), "merged": N_("merged"), "rejected": N_("not taken up"),
                "candidate": N_("candidate project")}
FIELD_NAMES = {"text": N_("need"), "reason": N_("reason"), "title": N_("title"), "category": N_("category name")}


def cat_name(lang: str, code: str) -> str:
    """A category's name as plain text (escape it with h() in HTML): translated for the ten
    defaults, as the community wrote it for its own ("x:<name>")."""
    if code in CATEGORY_NAMES:
        return tr(lang, CATEGORY_NAMES[code])
    return code[len(needs.OWN):] if code.startswith(needs.OWN) else code


def cat_ref(ctx: Ctx, code: str) -> str:
    """A category in button data (no ':' allowed there, 64 bytes): a default's code, or "x<n>" for the
    community's n-th own category (own categories are never removed, so n stays the same)."""
    if code in needs.CATEGORIES:
        return code
    own = [c for c in needs.all_categories(ctx.actor.community) if c not in needs.CATEGORIES]
    return f"x{own.index(code)}" if code in own else "?"


def cat_of(ctx: Ctx, ref: str) -> str | None:
    """The category a button names, or None."""
    if ref in needs.CATEGORIES:
        return ref
    own = [c for c in needs.all_categories(ctx.actor.community) if c not in needs.CATEGORIES]
    index = int_arg(ref[1:]) if ref.startswith("x") else None
    return own[index] if index is not None and index < len(own) else None


# ---------------------------------------------------------------- errors


def explain_needs(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, LimitReached) and err.what == "needs":
        return tn(ctx.lang, "You have submitted {n} need in this collection, the most one person may. You can "
                    "still support your neighbours' needs with “+1” (/needs).",
                    "You have submitted {n} needs in this collection, the most one person may. You can "
                    "still support your neighbours' needs with “+1” (/needs).", err.limit)
    if isinstance(err, Invalid):
        if err.reason == "too_long" and err.field in FIELD_NAMES:
            return ctx.t("Too long: the {field} can have at most {limit} characters. Please send a shorter one.",
                         field=ctx.t(FIELD_NAMES[err.field]), limit=err.details.get("limit"))
        if err.reason == "empty" and err.field in FIELD_NAMES:
            return ctx.t("The {field} cannot be empty. Please send it again.", field=ctx.t(FIELD_NAMES[err.field]))
        if err.field == "voice" and err.reason == "too_long":
            return ctx.t("That voice message is too long: at most {minutes} minutes, please.",
                         minutes=int(err.details.get("limit") or needs.VOICE_SECONDS) // 60)
        if err.field == "voice":
            return ctx.t("That voice message could not be used. Please send it again, or type the need.")
        if err.field == "period":
            return ctx.t("The needs list is not collecting at the moment. The community will announce the next "
                         "collection in the groups.")
        if err.field == "closes_on":
            return ctx.t("The closing date must be later this year, e.g. /needs open {year}-12-31",
                         year=err.details.get("year"))
        if err.field == "merge" and err.reason == "same":
            return ctx.t("A need cannot be merged into itself. Send the number of another need.")
        if err.field == "merge":
            return ctx.t("Need #{number} is no longer open. Send the number of an open need.",
                         number=err.details.get("number"))
        if err.field == "need":
            return ctx.t("This need has been reviewed already.")
        if err.field == "channel":
            return ctx.t("You cannot record needs from that channel.")
        if err.field == "category" and err.reason == "duplicate":
            return ctx.t("There is already a category “{name}”. Send another name, or switch that one on in "
                         "the list.", name=h(err.details.get("name", "")))
        if err.field == "category":
            return ctx.t("Please choose one of the categories.")
        if err.field == "categories" and err.reason == "last":
            return ctx.t("At least one category must stay in use. Switch another one on first.")
        if err.field == "categories" and err.reason == "too_many":
            return ctx.t("At most {limit} categories can be in use. Switch one off first.",
                         limit=err.details.get("limit"))
        if err.field == "categories":
            return ctx.t("A community can add at most {limit} categories of its own. Switch an existing one on "
                         "instead.", limit=err.details.get("limit"))
    if isinstance(err, AlreadyDone):
        if err.what == "support":
            return ctx.t("You already support this need.")
        if err.what == "period":
            return ctx.t("The needs collection is already open.")
        if err.what == "period_closed":
            return ctx.t("The needs collection is already closed.")
    if isinstance(err, NotFound):
        if err.what == "need_number":
            return ctx.t("There is no need #{key} this year. Send the number of another need.", key=h(err.key))
        if err.what == "need":
            return ctx.t("That need does not exist (any more).")
        if err.what == "period":
            return ctx.t("The needs collection of {year} has not been opened. /needs open opens it.", year=err.key)
    return None


def voice_label(ctx: Ctx, seconds: int | None) -> str:
    s = seconds or 0
    return ctx.t("🎤 voice message ({length})", length=f"{s // 60}:{s % 60:02d}")


def need_line(ctx: Ctx, n: NeedLine, *, full: bool = False) -> str:
    text = n.text if full or len(n.text) <= 80 else n.text[:80] + "…"
    head = ctx.t("<b>Need #{number}</b> · {category}", number=n.number, category=h(cat_name(ctx.lang, n.category)))
    told = " ".join(x for x in (h(text), voice_label(ctx, n.voice_seconds) if n.voice_file_id else "") if x)
    out = f"{head}\n{told}\n" + tn(ctx.lang, "👍 {n} supporter", "👍 {n} supporters", n.supporters)
    if n.status != "open":
        out += " · " + ctx.t(STATUS_NAMES.get(n.status, n.status))
    if n.status == "merged" and n.merged_into:
        out += " " + ctx.t("(into need #{number})", number=n.merged_into)
    if n.status == "rejected" and n.reject_reason:
        out += "\n" + ctx.t("Reason: {reason}", reason=h(n.reject_reason))
    if n.status == "candidate" and n.candidate_title:
        out += "\n" + ctx.t("Candidate project: {title}", title=h(n.candidate_title))
    return out
