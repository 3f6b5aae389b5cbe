"""Acceptance of finished projects (验收单): the before/after post's 👍 and ⭐ 评价.

The comparison post (queued by flows/acceptance.py when a project is completed) carries two buttons:
👍 (a like, once per person; a 👍 reaction on the post counts the same) and ⭐ 评价, a link to the
private chat, where the resident taps 1–5 stars, then sends a comment or skips it. Rating again
shows the current rating and changes it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.core import callbacks
from bot.core.dispatch import Ctx, Router
from bot.core.i18n import N_, tn, tr
from bot.core.types import Button, Keyboard, OutMessage, ReactionEvent
from bot.handlers.common import int_arg
from bot.render import NoticeRenderer, h
from flows import acceptance
from flows.errors import AlreadyDone, FlowError, Invalid, NotFound
from storage.models import Project, ProjectRating

router = Router()
FLOW = "accept"
LASTING = timedelta(days=400)  # the post's 👍 stays pressable while people look at it
LINK = "rate_"  # /start rate_<project id>: the group's ⭐ link
BEFORE, AFTER = N_("before the works"), N_("after the works")


def lasting_button(r: NoticeRenderer, text: str, *fields: str | int) -> Button:
    """A button of a group post that stays valid for a long time (not the usual 72 hours)."""
    return Button(text=text, data=callbacks.pack(r.secret, list(fields), now=r.clock.now(), ttl=LASTING))


def explain_acceptance(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, Invalid):
        if err.field == "project" and err.reason == "not_finished":
            return ctx.t("This project is not finished yet: 👍 and ratings open when it is complete.")
        if err.field == "stars":
            return ctx.t("A rating is 1 to 5 stars. Please tap one of the buttons, or send a number from 1 to 5.")
        if err.field == "comment" and err.reason == "too_long":
            return ctx.t("Too long: a comment can have at most {limit} characters. Please send a shorter one.",
                         limit=err.details.get("limit"))
        if err.field == "comment":
            return ctx.t("The comment cannot be empty. Send a few words, or tap Skip.")
    if isinstance(err, AlreadyDone) and err.what == "like":
        return ctx.t("You already gave this project a 👍 — it counts once per person. Thank you!")
    if isinstance(err, NotFound) and err.what == "project":
        return ctx.t("That project does not exist (any more).")
    if isinstance(err, NotFound) and err.what == "rating":
        return ctx.t("Please choose the stars first.")
    return None


def _stars(n: int) -> str:
    return "⭐" * n


def _name(ctx: Ctx, project: Project) -> str:
    return ctx.t("project {number} “{title}”", number=project.number, title=h(project.title))


async def _totals(ctx: Ctx, project_id: int) -> str:
    s = (await acceptance.summary(ctx.uow, [project_id]))[project_id]
    if s.average is None:
        return ctx.t("So far: 👍 {likes}, no ratings yet.", likes=s.likes)
    return tn(ctx.lang, "So far: 👍 {likes} · ⭐ {average} on average from {n} rating.",
              "So far: 👍 {likes} · ⭐ {average} on average from {n} ratings.", s.ratings, likes=s.likes,
              average=f"{s.average:.1f}")


# ---------------------------------------------------------------- 👍


@router.callback("al")
async def like_press(ctx: Ctx) -> None:
    project_id = int_arg(ctx.args[0]) if ctx.args else None
    if project_id is None:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    count = await acceptance.like(ctx.uow, actor=ctx.actor, project_id=project_id, now=ctx.now)
    ctx.toast(tn(ctx.lang, "👍 Thank you! {n} person likes this project now.",
                 "👍 Thank you! {n} people like this project now.", count))
    if ctx.event.chat is not None and ctx.event.chat.is_group:  # the post shows the count to the group,
        rate = tr(ctx.actor.home().locale, "⭐ Rate")  # in the group's language like the post itself
        ctx.edit_buttons([[ctx.button(f"👍 {count}", "al", project_id, ttl=LASTING),
                           ctx.url_button(rate, ctx.deep_link(f"{LINK}{project_id}"))]])


@router.on_reaction
async def reaction(ctx: Ctx) -> None:
    """A 👍 reaction on a comparison post counts as a like; taking it back removes that like."""
    ev = ctx.event
    if not isinstance(ev, ReactionEvent) or ev.chat is None or not ev.chat.is_group:
        return
    await acceptance.reaction(ctx.uow, actor=ctx.actor, tg_chat_id=ev.chat.id, message_id=ev.message_id,
                              emoji=ev.emoji, now=ctx.now)


# ---------------------------------------------------------------- ⭐ (in private)


def _star_buttons(ctx: Ctx, project_id: int) -> Keyboard:
    return [[ctx.button(f"{n}⭐", "ar", project_id, n) for n in acceptance.STARS]]


def _said(ctx: Ctx, rating: ProjectRating) -> str:
    """The rating's comment as the rater sees it ("" without one)."""
    if rating.comment_voice_file_id:
        return ctx.t("🎤 your voice message")
    return h(rating.comment or "")


def _current(ctx: Ctx, rating: ProjectRating | None) -> str:
    if rating is None:
        return ""
    text = "\n\n" + ctx.t("Your current rating: {stars}. Tap a number to change it.", stars=_stars(rating.stars))
    if _said(ctx, rating):
        text += "\n" + ctx.t("Your comment: {comment}", comment=_said(ctx, rating))
    return text


async def rate_screen(ctx: Ctx, project_id: int) -> None:
    """The 1–5 question for one finished project (from the group's ⭐ link: /start rate_<id>)."""
    project = await acceptance.finished_project(ctx.uow, actor=ctx.actor, project_id=project_id)
    mine = await acceptance.my_rating(ctx.uow, actor=ctx.actor, project_id=project_id)
    await ctx.set_state(FLOW, "stars", {"pid": project_id})
    text = ctx.t("⭐ <b>Acceptance (验收单)</b> of {project}: how well was it done? Tap 1 (poor) to 5 (very good), "
                 "or send the number.", project=_name(ctx, project)) + _current(ctx, mine)
    ctx.show(text, _star_buttons(ctx, project_id))


async def from_link(ctx: Ctx, payload: str) -> None:
    """/start rate_<project id> (the ⭐ button of the comparison post)."""
    project_id = int_arg(payload[len(LINK):])
    if project_id is None:
        raise NotFound("project", payload)
    await rate_screen(ctx, project_id)


async def _stars_chosen(ctx: Ctx, project_id: int, stars: int) -> None:
    row = await acceptance.rate(ctx.uow, actor=ctx.actor, project_id=project_id, stars=stars, now=ctx.now,
                                keep_comment=True)
    await ctx.set_state(FLOW, "comment", {"pid": project_id})
    text = ctx.t("Thank you: {stars}. Would you like to add a comment (at most {limit} characters, or a voice "
                 "message 🎤)? Send it, or tap Skip. Whoever answers for the project reads it.",
                 stars=_stars(row.stars), limit=acceptance.MAX_COMMENT)
    if _said(ctx, row):
        text += "\n" + ctx.t("Your comment so far: {comment}", comment=_said(ctx, row))
    ctx.show(text, [[ctx.button(ctx.t("Skip ▶"), "ar", project_id, "s")]])


@router.callback("ar")
async def rate_press(ctx: Ctx) -> None:
    project_id = int_arg(ctx.args[0]) if ctx.args else None
    choice = ctx.args[1] if len(ctx.args) > 1 else ""
    if project_id is None or not choice:
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    if choice == "s":
        await ctx.clear_state()
        mine = await acceptance.my_rating(ctx.uow, actor=ctx.actor, project_id=project_id)
        if mine is None:
            raise NotFound("rating", project_id)
        ctx.edit(ctx.t("✅ Thank you! Your rating: {stars}.", stars=_stars(mine.stars)) + "\n"
                 + await _totals(ctx, project_id))
        return
    stars = int_arg(choice)
    if stars is None:
        raise Invalid("stars", "range")
    await _stars_chosen(ctx, project_id, stars)


@router.flow(FLOW)
async def rate_text(ctx: Ctx) -> None:
    state = ctx.state
    assert state is not None
    project_id = int(state.data.get("pid", 0))
    text = ctx.message.text.strip()
    if state.step == "stars":
        stars = int_arg(text)
        if stars is None:
            ctx.reply(ctx.t("Please tap one of the buttons, or send a number from 1 to 5 (or /cancel)."))
            return
        await _stars_chosen(ctx, project_id, stars)
        return
    voice = ctx.message.voice_file_id
    row = await acceptance.comment(ctx.uow, actor=ctx.actor, project_id=project_id, text="" if voice else text,
                                   now=ctx.now, voice_file_id=voice[:255] if voice else None)
    await ctx.clear_state()
    ctx.reply(ctx.t("✅ Thank you! Your rating: {stars}, with your comment: {comment}", stars=_stars(row.stars),
                    comment=_said(ctx, row)) + "\n" + await _totals(ctx, project_id))


# ---------------------------------------------------------------- notices


def _n_comparison(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = tr(lang, "✅ <b>Project {number} “{title}” is finished</b> ({day}).",
              number=p.get("number", ""), title=h(p.get("title", "")), day=p.get("completed_on", ""))
    if p.get("before") and p.get("after"):
        text += "\n" + tr(lang, "The picture shows it before and after the works.")
    elif p.get("before") or p.get("after"):
        text += "\n" + tr(lang, "The picture shows it {which}; there is no photo from {other}.",
                          which=tr(lang, BEFORE if p.get("before") else AFTER),
                          other=tr(lang, AFTER if p.get("before") else BEFORE))
    text += "\n" + tr(lang, "Is it done well? Tap 👍 (or react with 👍), and give it stars in the acceptance "
                            "form (验收单).")
    pid = p.get("project_id", 0)
    buttons = [[lasting_button(r, "👍", "al", pid),
                Button(text=tr(lang, "⭐ Rate"), url=r.deep_link(f"{LINK}{pid}"))]]
    return OutMessage(text=text, buttons=buttons)


def _n_comment(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    head = tr(lang, "💬 A resident's feedback on project {number} “{title}”: {stars}", number=p.get("number", ""),
              title=h(p.get("title", "")), stars=_stars(int(p.get("stars") or 0)))
    if p.get("voice"):  # the voice itself, with the head as its caption
        return OutMessage(text=head, voice=p["voice"])
    return OutMessage(text=f"{head}\n{h(p.get('comment') or '')}")


NOTICES = {acceptance.ProjectComparison.kind: _n_comparison, acceptance.ProjectComment.kind: _n_comment}

#: The acceptance's own wording of its errors (bot/handlers/__init__.py: report_error asks it first).
EXPLAIN = explain_acceptance
