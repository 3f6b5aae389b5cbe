"""Quick opinion polls (F-2.5) in groups, as Telegram's native polls.

/poll 问题 | 选项1 | 选项2 | … (admins, in a linked group) puts a public (non-anonymous) poll to the
group: answers are recorded as they come. /poll results shows the latest poll's counts per option
and how many people answered — counts only, never names; /poll stop closes it and shows them.
The poll is sent after the update's commit and stored with Telegram's ids then: see flows/polls.py."""

from __future__ import annotations

from functools import partial

from bot.core.dispatch import GROUP, Ctx, Router
from bot.core.i18n import N_, tn, tr
from bot.core.types import PollAnswerEvent
from bot.render import h
from flows import polls
from flows.errors import AlreadyDone, FlowError, Forbidden, Invalid, NotFound
from flows.roles import Perm

router = Router()

RESULTS_WORDS, STOP_WORDS = ("results", "result", "结果"), ("stop", "close", "结束")
BAR = 10  # cells of a result bar


def explain_polls(ctx: Ctx, err: FlowError) -> str | None:
    example = ctx.t("/poll When shall the Saturday clean-up start? | 9 am | 3 pm")
    if isinstance(err, Invalid):
        limit, number = err.details.get("limit"), err.details.get("number")
        texts = {
            ("question", "empty"): ctx.t("The question cannot be empty. For example: {example}", example=example),
            ("question", "too_long"): ctx.t("The question is too long: at most {limit} characters.", limit=limit),
            ("option", "empty"): ctx.t("Option {number} is empty. Separate the options with “|” and leave none "
                                       "empty. For example: {example}", number=number, example=example),
            ("option", "too_long"): ctx.t("Option {number} is too long: at most {limit} characters.",
                                          number=number, limit=limit),
            ("option", "duplicate"): ctx.t("Option {number} (“{text}”) repeats an earlier one. Every option must "
                                           "be different.", number=number, text=h(err.details.get("text", ""))),
            ("options", "too_few"): ctx.t("A poll needs at least {limit} options, separated by “|”. For example: "
                                          "{example}", limit=limit, example=example),
            ("options", "too_many"): ctx.t("A poll can have at most {limit} options.", limit=limit),
        }
        return texts.get((err.field, err.reason))
    if isinstance(err, NotFound) and err.what == "link":
        return ctx.t("This group is not linked to a community yet, so it cannot have polls. An admin links it "
                     "with /link first.")
    if isinstance(err, NotFound) and err.what == "poll":
        return ctx.t("There is no poll in this group yet. Admins put one with {example}", example=example)
    if isinstance(err, AlreadyDone) and err.what == "poll_closed":
        return ctx.t("The latest poll is closed already. /poll results shows its results.")
    if isinstance(err, Forbidden) and err.permission == "poll:other_community":
        return ctx.t("This group belongs to another community: you cannot put polls to it.")
    return None


def _usage(ctx: Ctx) -> str:
    return ctx.t("<b>Quick poll</b>\n/poll Question | Option 1 | Option 2 | … — puts a poll to this group "
                 "(2 to {most} options). The poll is public: Telegram shows who chose what, and the bot records "
                 "the answers.\n/poll results — the latest poll's results\n/poll stop — close it and show the "
                 "results\n\nFor example: {example}", most=polls.MAX_OPTIONS,
                 example=ctx.t("/poll When shall the Saturday clean-up start? | 9 am | 3 pm"))


def results_text(res: polls.Results) -> str:
    """The results in the community's language (the whole group reads them): counts, never names."""
    head = N_("📊 <b>Poll results</b> (closed)") if res.closed else N_("📊 <b>Poll results</b> (still open)")
    lines = [tr(res.lang, head), h(res.question), ""]
    for option, count in zip(res.options, res.counts, strict=True):
        share = count / res.voters if res.voters else 0.0
        cells = round(share * BAR)
        lines.append(f"{h(option)}\n{'█' * cells}{'░' * (BAR - cells)} {count} · {round(share * 100)}%")
    lines += ["", tn(res.lang, "{n} person answered.", "{n} people answered.", res.voters)]
    return "\n".join(lines)


@router.command("poll", where=GROUP, description=N_("Put a quick poll to this group"), perm=Perm.POLL)
async def poll(ctx: Ctx) -> None:
    text = ctx.message.args.strip()
    if text.casefold() in RESULTS_WORDS:
        await _results(ctx)
    elif text.casefold() in STOP_WORDS:
        await _stop(ctx)
    elif not text:
        ctx.actor.require(Perm.POLL)
        ctx.reply(_usage(ctx))
    else:
        assert ctx.event.chat is not None
        draft = await polls.prepare(ctx.uow, actor=ctx.actor, tg_chat_id=ctx.chat_id, chat_type=ctx.event.chat.type,
                                    text=text)
        ctx.send_poll(draft.question, draft.options, record=partial(polls.create, draft=draft),
                      failed=ctx.t("Telegram did not accept the poll, so nothing was recorded. Please check that I "
                                   "may send polls in this group, then try again."))


async def _results(ctx: Ctx) -> None:
    """Anyone in the group may see the counts (Telegram shows them to everyone who answered anyway)."""
    ctx.reply(results_text(await polls.latest_results(ctx.uow, tg_chat_id=ctx.chat_id)))


async def _stop(ctx: Ctx) -> None:
    closed = await polls.close(ctx.uow, actor=ctx.actor, tg_chat_id=ctx.chat_id, now=ctx.now)
    if closed.message_id is not None:
        ctx.stop_poll(closed.message_id)
    ctx.reply(results_text(await polls.results(ctx.uow, poll=closed)))


@router.on_poll_answer
async def answered(ctx: Ctx) -> None:
    ev = ctx.event
    assert isinstance(ev, PollAnswerEvent)
    if ev.user is None or ev.user.is_bot:
        return  # an anonymous admin answering as the chat: nobody to record
    await polls.record_answer(ctx.uow, tg_poll_id=ev.poll_id, tg_user_id=ev.user.id, option_ids=ev.option_ids,
                              now=ctx.now)


EXPLAIN = explain_polls
