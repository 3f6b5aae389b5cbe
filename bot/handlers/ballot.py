"""The representatives' ballot (居民代表点选, F-2): the admins' card and dialog, the voters' sheets, receipts.

/ballot (admins in private: the year's ballot with buttons by status; everyone else and groups: turnout
while open, the result once closed), /ballot new (dialog), /ballot open · close · withdraw N ·
receipt CODE. Ties are settled from the "ballot_tie" notice's buttons (decide among the tied, or a run-off).
A representative's own sheet (/vote) is `bot/handlers/voting.py`; the notices are worded in `ballot_notices.py`."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.dispatch import ANYWHERE, Ctx, Router
from bot.core.i18n import N_, tn
from bot.core.types import Keyboard
from bot.handlers import ballot_notices
from bot.handlers.ballot_notices import DEFAULT_TZ, _ranked, _when
from bot.handlers.common import MAX_ARGS, grid, int_arg
from bot.render import h
from flows import ballot
from flows.ballot import BallotView
from flows.clock import local
from flows.errors import AlreadyDone, FlowError, Forbidden, Invalid, NotFound, NotRegistered
from flows.roles import Perm

router = Router()
NEW, TIE = "ballot_new", "ballot_tie"
CLOSING_HOUR = time(18, 0)
STATUS_NAMES = {"draft": N_("draft"), "open": N_("open for voting"), "tie": N_("tie, waiting for a decision"),
                "closed": N_("closed")}


# ---------------------------------------------------------------- small helpers


def _tz(ctx: Ctx) -> str:
    return ctx.actor.community.timezone if ctx.actor.community is not None else DEFAULT_TZ


def _days_at_closing(ctx: Ctx, days: int) -> datetime:
    """`days` days from today (local), at 18:00 local, in UTC."""
    tz = ZoneInfo(_tz(ctx))
    day = local(ctx.now, _tz(ctx)).date() + timedelta(days=days)
    return datetime.combine(day, CLOSING_HOUR, tzinfo=tz).astimezone(UTC)


def parse_local_time(text: str, tz: str) -> datetime | None:
    """`2027-03-15 18:00` (or just the day, meaning 18:00; a full-width colon or ISO's T will do) in local
    time → UTC; None if not a time."""
    text = " ".join(text.replace("：", ":").replace("T", " ").split())[:40]
    for fmt, day_only in (("%Y-%m-%d %H:%M", False), ("%Y-%m-%d", True)):
        try:
            at = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if day_only:
            at = datetime.combine(at.date(), CLOSING_HOUR)
        return at.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
    return None


def _year(ctx: Ctx) -> int:
    assert ctx.actor.community is not None
    return local(ctx.now, ctx.actor.community.timezone).year


def _community_id(ctx: Ctx) -> int:
    if ctx.actor.member is None or ctx.actor.community is None:
        raise NotRegistered()
    return ctx.actor.community.id or 0


async def _current(ctx: Ctx) -> BallotView | None:
    row = await ballot.current(ctx.uow, community_id=_community_id(ctx), year=_year(ctx))
    if row is None:
        return None
    return await ballot.view(ctx.uow, ballot_id=row.id or 0, community_id=_community_id(ctx))


async def _candidate_count(ctx: Ctx) -> int:
    """This year's candidate projects (the dialog's summary)."""
    return await ballot.candidate_count(ctx.uow, community_id=_community_id(ctx), year=_year(ctx))


def _round(ctx: Ctx, b: BallotView) -> str:
    if b.round > 1:
        return ctx.t("<b>Representatives' ballot {year}</b> · run-off (round {round})", year=b.year, round=b.round)
    return ctx.t("<b>Representatives' ballot {year}</b>", year=b.year)


def _turnout(ctx: Ctx, b: BallotView) -> str:
    return tn(ctx.lang, "{voted}/{n} representative has voted", "{voted}/{n} representatives have voted", b.voters,
              voted=b.voted)


def _sheets(lang: str, n: int) -> str:
    return tn(lang, "{n} sheet", "{n} sheets", n)


async def _result_rows(ctx: Ctx, b: BallotView) -> list[tuple[str, int, bool]]:
    made = {p.need_number for p in await ballot.projects(ctx.uow, community_id=_community_id(ctx), year=b.year)}
    counted = [c for c in b.candidates if not c.withdrawn]
    counted.sort(key=lambda c: (-(c.votes or 0), c.position))
    return [(c.title, c.votes or 0, c.need_number in made) for c in counted]


def _tie_outcome(b: BallotView) -> ballot.Outcome:
    return ballot.rank([(c.id, c.position, c.votes or 0) for c in b.candidates if not c.withdrawn], b.seats)


# ---------------------------------------------------------------- errors


def explain_ballot(ctx: Ctx, err: FlowError) -> str | None:
    d = err.details
    if isinstance(err, Invalid):
        texts = {
            ("candidates", "too_few"): ctx.t("Too few candidate projects: there are {have}, the ballot needs at "
                                             "least {need}.", have=d.get("have"), need=d.get("need")),
            ("candidates", "too_many"): ctx.t("A ballot can have at most {limit} candidate projects.",
                                              limit=d.get("limit")),
            ("choose", "out_of_range"): ctx.t("The number to choose must be between 1 and {limit}.",
                                              limit=d.get("limit", ballot.MAX_CHOOSE)),
            ("minimum", "out_of_range"): ctx.t("The minimum must be between 1 and {choose}.", choose=d.get("choose")),
            ("closes_at", "past"): ctx.t("The closing time must be in the future and after the opening."),
            ("ballot", "not_draft"): ctx.t("This ballot is not a draft any more. /ballot shows its state."),
            ("ballot", "closed"): ctx.t("The ballot is closed: no more changes. /ballot shows the result."),
            ("ballot", "not_open"): ctx.t("The ballot is not open. /ballot shows its state."),
            ("voters", "none"): ctx.t("There are no residents' representatives yet. Give members the role first, "
                                      "e.g. /grant 12 居民代表."),
            ("candidate", "unknown"): ctx.t("That candidate is not on this ballot."),
            ("candidate", "withdrawn"): ctx.t("This candidate has been withdrawn and cannot be chosen."),
            ("choice", "too_many"): ctx.t("You can choose at most {choose}.", choose=d.get("choose")),
            ("choice", "too_few"): ctx.t("Please choose at least {minimum} before submitting.",
                                         minimum=d.get("minimum")),
            ("sheet", "stale"): ctx.t("Your ballot changed in the meantime. Please look again: /vote"),
            ("decision", "count"): ctx.t("Please pick exactly {seats}.", seats=d.get("seats")),
            ("decision", "unknown"): ctx.t("Please pick among the tied candidates only."),
        }
        text = texts.get((err.field, err.reason))
        if text is None and err.field == "ballot":
            text = ctx.t("The ballot cannot do that in its present state. /ballot shows it.")
        return text
    if isinstance(err, Forbidden) and err.permission == Perm.VOTE.value:
        return ctx.t("Only residents' representatives vote on the ballot (居民代表点选).")
    if isinstance(err, AlreadyDone) and err.what == "ballot":
        return ctx.t("This year already has a ballot. /ballot shows it.")
    if isinstance(err, AlreadyDone) and err.what == "withdrawn":
        return ctx.t("This candidate has been withdrawn already.")
    if isinstance(err, NotFound):
        if err.what == "ballot":
            return ctx.t("That ballot does not exist (any more). /ballot shows this year's.")
        if err.what == "receipt":
            return ctx.t("No ballot paper has this receipt code. Please check it (8 letters and digits, "
                         "e.g. ABCD-EFGH).")
    return None


# ---------------------------------------------------------------- /ballot: the card, subcommands


def _card_text(ctx: Ctx, b: BallotView) -> list[str]:
    tz = _tz(ctx)
    lines = [_round(ctx, b), ctx.t("Status: {status}", status=ctx.t(STATUS_NAMES.get(b.status, b.status))),
             tn(ctx.lang, "{n} candidate project · choose {minimum}–{choose}",
                "{n} candidate projects · choose {minimum}–{choose}", len(b.candidates), minimum=b.minimum,
                choose=b.choose)]
    if b.status == "draft":
        lines.append(ctx.t("Opens {opens} · closes {closes}", opens=_when(b.opens_at, tz), closes=_when(b.closes_at, tz)))
    else:
        lines.append(ctx.t("Closes {closes}", closes=_when(b.closes_at, tz)))
    return lines


async def _admin_card(ctx: Ctx) -> None:
    b = await _current(ctx)
    if b is None:
        ctx.show(ctx.t("<b>Representatives' ballot {year}</b>\nThere is no ballot this year yet.", year=_year(ctx)),
                 [[ctx.button(ctx.t("➕ Create the ballot"), "ba", "new")]])
        return
    lines = _card_text(ctx, b)
    buttons: Keyboard = []
    if b.status == "draft":
        buttons = [[ctx.button(ctx.t("▶ Open now"), "ba", "open", b.id), ctx.button(ctx.t("🗑 Discard"), "ba", "drop", b.id)]]
    elif b.status == "open":
        lines.append(_turnout(ctx, b))
        buttons = [[ctx.button(ctx.t("⏹ Close and count"), "ba", "close", b.id)],
                   [ctx.button(ctx.t("🚫 Withdraw a candidate"), "ba", "wd", b.id)]]
    elif b.status == "tie":
        lines.append(_turnout(ctx, b))
        await _tie_card(ctx, b, [], lines)
        return
    else:
        lines.append(_turnout(ctx, b))
        lines += _ranked(ctx.lang, await _result_rows(ctx, b))
    buttons.append([ctx.button(ctx.t("🔄 Refresh"), "ba", "card")])
    ctx.show("\n".join(lines), buttons)


async def _public_card(ctx: Ctx) -> None:
    """Groups and everyone but the admins: turnout while open (never names), the result once closed."""
    b = await _current(ctx)
    if b is None or b.status == "draft":
        ctx.reply(ctx.t("No representatives' ballot is open at the moment."))
        return
    lines = [_round(ctx, b)]
    if b.status == "open":
        lines += [tn(ctx.lang, "{n} candidate project · closes {closes}", "{n} candidate projects · closes {closes}",
                     len(b.candidates), closes=_when(b.closes_at, _tz(ctx))), ctx.t("Turnout: {turnout}", turnout=_turnout(ctx, b))]
    elif b.status == "tie":
        lines += [ctx.t("Counting is done; there is a tie at the cut-off. The community will decide and announce "
                        "the result."), _turnout(ctx, b)]
    else:
        lines += [_turnout(ctx, b)] + _ranked(ctx.lang, await _result_rows(ctx, b))
    ctx.reply("\n".join(lines))


USAGE = N_("Usage: /ballot · /ballot new · /ballot open · /ballot close · /ballot withdraw N · /ballot receipt CODE")


@router.command("ballot", where=ANYWHERE, description=N_("The representatives' ballot (居民代表点选)"))
async def ballot_command(ctx: Ctx) -> None:
    words = ctx.message.args[:MAX_ARGS].split()
    verb = words[0].lower() if words else ""
    chat = ctx.event.chat
    assert chat is not None
    if verb and not chat.is_private:
        ctx.reply(ctx.t("Please use this in a private chat with me."),
                  [[ctx.url_button(ctx.t("Open private chat"), ctx.deep_link("go"))]])
        return
    _community_id(ctx)
    if not verb:
        if chat.is_private and ctx.actor.can(Perm.BALLOT):
            await _admin_card(ctx)
        else:
            await _public_card(ctx)
    elif verb == "receipt" and len(words) <= 3:
        await _receipt(ctx, "".join(words[1:]))
    elif verb == "new" and len(words) == 1:
        await _start_new(ctx)
    elif verb in ("open", "close") and len(words) == 1:
        ctx.actor.require(Perm.BALLOT)
        b = await _current(ctx)
        if b is None:
            raise NotFound("ballot")
        if verb == "open":
            await _open(ctx, b.id)
        elif b.status == "open" and ctx.now < b.closes_at:  # early: the admin confirms first, or cancels
            await _confirm_close(ctx, b.id)
        else:
            await _close(ctx, b.id)
    elif verb == "withdraw" and len(words) == 2 and int_arg(words[1]) is not None:
        ctx.actor.require(Perm.BALLOT)
        b = await _current(ctx)
        if b is None:
            raise NotFound("ballot")
        cand = next((c for c in b.candidates if c.position == int_arg(words[1])), None)
        if cand is None:
            raise Invalid("candidate", "unknown")
        await _withdraw(ctx, b.id, cand.id)
    else:
        ctx.reply(ctx.t(USAGE))


async def _open(ctx: Ctx, ballot_id: int) -> None:
    row = await ballot.open_ballot(ctx.uow, ballot_id=ballot_id, now=ctx.now, actor=ctx.actor)
    voted, voters = await ballot.turnout(ctx.uow, ballot_id=row.id or 0)
    ctx.show(tn(ctx.lang, "✅ The ballot is open. {n} representative was sent their ballot in private; every linked "
                "group is told.", "✅ The ballot is open. {n} representatives were sent their ballot in private; "
                "every linked group is told.", voters),
             [[ctx.button(ctx.t("🔄 Refresh"), "ba", "card")]])


async def _confirm_close(ctx: Ctx, ballot_id: int) -> None:
    """Closing before the closing time is asked once more (from the card's button and from /ballot close)."""
    b = await ballot.view(ctx.uow, ballot_id=ballot_id, community_id=_community_id(ctx))
    ctx.show(tn(ctx.lang, "Close the ballot now and count the votes? {voted}/{n} representative has voted; nobody "
                "can vote or change afterwards.", "Close the ballot now and count the votes? {voted}/{n} "
                "representatives have voted; nobody can vote or change afterwards.", b.voters, voted=b.voted) + "\n"
             + ctx.t("It is due to close at {closes}.", closes=_when(b.closes_at, _tz(ctx))),
             [[ctx.button(ctx.t("✅ Yes, close and count"), "ba", "cy", ballot_id),
               ctx.button(ctx.t("✖ Cancel"), "ba", "card")]])


async def _close(ctx: Ctx, ballot_id: int) -> None:
    tally = await ballot.close(ctx.uow, ballot_id=ballot_id, now=ctx.now, actor=ctx.actor, secret=ctx.core.ballot_key)
    await _after_tally(ctx, tally)


async def _after_tally(ctx: Ctx, tally: ballot.Tally) -> None:
    b = tally.ballot
    if tally.outcome.tied:
        ctx.show(tn(ctx.lang, "The ballot is closed and counted ({sheets}). There is a tie at the cut-off: {tied} "
                    "candidates for {n} seat. The admins are sent buttons to decide or to hold a run-off.",
                    "The ballot is closed and counted ({sheets}). There is a tie at the cut-off: {tied} "
                    "candidates for {n} seats. The admins are sent buttons to decide or to hold a run-off.",
                    tally.outcome.seats_left, sheets=_sheets(ctx.lang, tally.sheets), tied=len(tally.outcome.tied)))
        return
    rows = await _result_rows(ctx, b)
    ctx.show("\n".join([tn(ctx.lang, "✅ Counted ({n} sheet). The result is posted to the groups.",
                           "✅ Counted ({n} sheets). The result is posted to the groups.", tally.sheets)] + _ranked(ctx.lang, rows)))


async def _withdraw(ctx: Ctx, ballot_id: int, candidate_id: int) -> None:
    await ballot.withdraw(ctx.uow, actor=ctx.actor, ballot_id=ballot_id, candidate_id=candidate_id, now=ctx.now)
    b = await ballot.view(ctx.uow, ballot_id=ballot_id, community_id=_community_id(ctx))
    cand = next(c for c in b.candidates if c.id == candidate_id)
    ctx.show(ctx.t("✅ Candidate {position}. {title} is withdrawn: it stays on the sheets greyed out and is not "
                   "counted.", position=cand.position, title=h(cand.title)),
             [[ctx.button(ctx.t("🔄 Refresh"), "ba", "card")]])


@router.callback("ba")
async def admin_press(ctx: Ctx) -> None:
    ctx.actor.require(Perm.BALLOT)
    action = ctx.args[0] if ctx.args else ""
    ids = [int_arg(a) for a in ctx.args[1:]]
    if any(i is None for i in ids):
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    bid = ids[0] if ids else 0
    if action == "card":
        await _admin_card(ctx)
    elif action == "new":
        await _start_new(ctx)
    elif action == "open" and bid:
        await _open(ctx, bid)
    elif action == "drop" and bid:
        await ballot.discard(ctx.uow, actor=ctx.actor, ballot_id=bid, now=ctx.now)
        ctx.edit(ctx.t("The draft ballot is discarded. /ballot new starts a new one."))
    elif action == "close" and bid:
        await _confirm_close(ctx, bid)
    elif action == "cy" and bid:
        await _close(ctx, bid)
    elif action == "wd" and bid:
        b = await ballot.view(ctx.uow, ballot_id=bid, community_id=_community_id(ctx))
        choices = [ctx.button(f"{c.position}. {c.title}", "ba", "wc", bid, c.id) for c in b.candidates
                   if not c.withdrawn]
        ctx.edit(ctx.t("Which candidate should be withdrawn?"),
                 grid(choices, 1) + [[ctx.button(ctx.t("◀ Back"), "ba", "card")]])
    elif action == "wc" and len(ids) == 2:
        b = await ballot.view(ctx.uow, ballot_id=bid, community_id=_community_id(ctx))
        cand = next((c for c in b.candidates if c.id == ids[1]), None)
        if cand is None:
            raise Invalid("candidate", "unknown")
        ctx.edit(ctx.t("Withdraw candidate {position}. {title}? Choices already made for it will not be counted.",
                       position=cand.position, title=h(cand.title)),
                 [[ctx.button(ctx.t("✅ Withdraw"), "ba", "wy", bid, cand.id), ctx.button(ctx.t("✖ Cancel"), "ba", "card")]])
    elif action == "wy" and len(ids) == 2:
        await _withdraw(ctx, bid, ids[1] or 0)
    else:
        ctx.toast(ctx.t("This button is not valid."), alert=True)


# ---------------------------------------------------------------- /ballot new: the dialog


async def _start_new(ctx: Ctx) -> None:
    ctx.actor.require(Perm.BALLOT)
    if await ballot.current(ctx.uow, community_id=_community_id(ctx), year=_year(ctx)) is not None:
        raise AlreadyDone("ballot")
    await _ask(ctx, "choose", {})


async def _ask(ctx: Ctx, step: str, data: dict[str, Any]) -> None:
    await ctx.set_state(NEW, step, data)
    cancel = [ctx.button(ctx.t("✖ Cancel"), "bn", "x")]
    if step == "choose":
        text = ctx.t("<b>New representatives' ballot</b>\nHow many projects should each representative choose at "
                     "most? Tap, or send a number from 1 to {limit} (default {default}).",
                     limit=ballot.MAX_CHOOSE, default=ballot.DEFAULT_CHOOSE)
        buttons = [[ctx.button(str(n), "bn", "c", n) for n in (5, 10, 15)], cancel]
    elif step == "minimum":
        text = ctx.t("And at least how many? Tap, or send a number from 1 to {choose}.", choose=data["choose"])
        buttons = [[ctx.button("1", "bn", "m", 1),
                    ctx.button(ctx.t("Same as the maximum ({choose})", choose=data["choose"]), "bn", "m", data["choose"])],
                   cancel]
    elif step == "closes":
        text = ctx.t("When does voting close? Tap, or send a local time like {example}.", example="2027-03-15 18:00")
        buttons = [[ctx.button(tn(ctx.lang, "In {n} day, 18:00", "In {n} days, 18:00", n), "bn", "d", n) for n in (3, 7, 14)], cancel]
    elif step == "opens":
        text = ctx.t("When does voting open? Tap “Now”, or send a later local time like {example}.",
                     example="2027-03-08 09:00")
        buttons = [[ctx.button(ctx.t("Now"), "bn", "o")], cancel]
    else:
        tz = _tz(ctx)
        opens = ctx.t("now") if data.get("opens") is None else _when(datetime.fromisoformat(data["opens"]), tz)
        text = "\n".join([
            ctx.t("<b>Please check the ballot</b>"),
            ctx.t("Candidate projects: {count}", count=await _candidate_count(ctx)),
            ctx.t("Each representative chooses {minimum}–{choose}", minimum=data["minimum"], choose=data["choose"]),
            ctx.t("Opens: {opens}", opens=opens),
            ctx.t("Closes: {closes}", closes=_when(datetime.fromisoformat(data["closes"]), tz))])
        buttons = [[ctx.button(ctx.t("✅ Confirm"), "bn", "ok"), cancel[0]]]
    ctx.show(text, buttons)


async def _set(ctx: Ctx, data: dict[str, Any], key: str, value: object) -> None:
    """Record an answer and ask the next question."""
    data = {**data, key: value}
    nxt = {"choose": "minimum", "minimum": "closes", "closes": "opens", "opens": "confirm"}[key]
    await _ask(ctx, nxt, data)


def _check_closes(ctx: Ctx, at: datetime) -> None:
    if at <= ctx.now:
        raise Invalid("closes_at", "past")


async def _finish(ctx: Ctx, data: dict[str, Any]) -> None:
    opens = datetime.fromisoformat(data["opens"]) if data.get("opens") else None
    row = await ballot.create(ctx.uow, actor=ctx.actor, now=ctx.now, closes_at=datetime.fromisoformat(data["closes"]),
                              opens_at=opens, choose=int(data["choose"]), minimum=int(data["minimum"]))
    await ctx.clear_state()
    if opens is None:
        await _open(ctx, row.id or 0)
    else:
        ctx.edit(ctx.t("✅ The ballot is saved as a draft. It opens by itself at {opens}; /ballot shows it.",
                       opens=_when(opens, _tz(ctx))))


@router.callback("bn")
async def new_press(ctx: Ctx) -> None:
    action = ctx.args[0] if ctx.args else ""
    number = int_arg(ctx.args[1]) if len(ctx.args) > 1 else None
    state = ctx.state
    if state is None or state.flow != NEW:
        ctx.toast(ctx.t("This dialog has ended. Send /ballot new to start again."), alert=True)
        return
    ctx.actor.require(Perm.BALLOT)
    data = dict(state.data)
    if action == "x":
        await ctx.clear_state()
        ctx.edit(ctx.t("Cancelled, nothing was saved."))
    elif action == "c" and state.step == "choose" and number:
        await _set(ctx, data, "choose", number)
    elif action == "m" and state.step == "minimum" and number:
        await _set(ctx, data, "minimum", number)
    elif action == "d" and state.step == "closes" and number:
        await _set(ctx, data, "closes", _days_at_closing(ctx, number).isoformat())
    elif action == "o" and state.step == "opens":
        await _set(ctx, data, "opens", None)
    elif action == "ok" and state.step == "confirm":
        await _finish(ctx, data)
    else:
        ctx.toast(ctx.t("This button belongs to an earlier step."), alert=True)


@router.flow(NEW)
async def new_text(ctx: Ctx) -> None:
    state = ctx.state
    assert state is not None
    ctx.actor.require(Perm.BALLOT)
    data = dict(state.data)
    text = ctx.message.text[:MAX_ARGS]
    number = int_arg(text)
    if state.step == "choose":
        if number is None or not 1 <= number <= ballot.MAX_CHOOSE:
            ctx.reply(ctx.t("Please send a number from 1 to {limit}, or tap a button above.", limit=ballot.MAX_CHOOSE))
            return
        await _set(ctx, data, "choose", number)
    elif state.step == "minimum":
        if number is None or not 1 <= number <= int(data["choose"]):
            ctx.reply(ctx.t("Please send a number from 1 to {limit}, or tap a button above.", limit=data["choose"]))
            return
        await _set(ctx, data, "minimum", number)
    elif state.step in ("closes", "opens"):
        at = parse_local_time(text, _tz(ctx))
        if at is None:
            ctx.reply(ctx.t("Please send a local time like {example}, or tap a button above.",
                            example="2027-03-15 18:00"))
            return
        if state.step == "closes":
            _check_closes(ctx, at)
            await _set(ctx, data, "closes", at.isoformat())
        else:
            if at <= ctx.now:
                ctx.reply(ctx.t("That time has passed. Send a later time, or tap “Now”."))
                return
            if at >= datetime.fromisoformat(data["closes"]):
                raise Invalid("closes_at", "past")
            await _set(ctx, data, "opens", at.isoformat())
    else:
        ctx.reply(ctx.t("Please tap one of the buttons above, or send /cancel to stop."))


# ---------------------------------------------------------------- receipts


async def _receipt(ctx: Ctx, code: str) -> None:
    if not code:
        ctx.reply(ctx.t("Usage: /ballot receipt CODE, e.g. /ballot receipt ABCD-EFGH"))
        return
    r = await ballot.check_receipt(ctx.uow, community_id=_community_id(ctx), code=code[:20],
                                   secret=ctx.core.ballot_key)
    plain = ballot.normalise_receipt(code)
    shown = "<code>" + h(plain[:4] + "-" + plain[4:]) + "</code>"
    still_open = r.ballot.status in ("open", "draft")
    # never the choices: whoever holds a code may ask (a coercer too); the voter sees them in /vote, in private
    said = (ctx.t("✅ This ballot paper was counted: it is included in the tally.") if r.counted else
            ctx.t("This ballot paper is submitted; it is counted when the ballot closes.") if still_open and r.submitted
            else ctx.t("Nothing has been submitted with this ballot paper yet.") if still_open
            else ctx.t("This ballot paper was not counted."))
    lines = [_round(ctx, r.ballot), ctx.t("Receipt code {code}", code=shown), said, ctx.t(
        "A receipt never shows the choices; the voter sees them on their own sheet (/vote in a private chat with "
        "the bot).")]
    ctx.reply("\n".join(lines))


# ---------------------------------------------------------------- ties


async def _tie_card(ctx: Ctx, b: BallotView, picked: list[int], head: list[str]) -> None:
    outcome = _tie_outcome(b)
    await ctx.set_state(TIE, "pick", {"bid": b.id, "picked": picked})
    by_id = {c.id: c for c in b.candidates}
    lines = head + [tn(ctx.lang, "⚖ Tie: {tied} candidates with the same votes for {n} seat left. Pick {n}, or hold a "
                       "run-off.", "⚖ Tie: {tied} candidates with the same votes for {n} seats left. Pick {n}, or "
                       "hold a run-off.", outcome.seats_left, tied=len(outcome.tied))]
    rows: Keyboard = [[ctx.button(f"{'✅' if cid in picked else '⬜'} {by_id[cid].title} ({by_id[cid].votes or 0})",
                                  "bt", "p", b.id, cid)] for cid in outcome.tied if cid in by_id]
    rows.append([ctx.button(ctx.t("✔ Decide ({picked}/{seats})", picked=len(picked), seats=outcome.seats_left),
                            "bt", "ok", b.id),
                 ctx.button(ctx.t("🔁 Run-off"), "bt", "r", b.id)])
    ctx.show("\n".join(lines), rows)


@router.callback("bt")
async def tie_press(ctx: Ctx) -> None:
    ctx.actor.require(Perm.BALLOT)
    action = ctx.args[0] if ctx.args else ""
    ids = [int_arg(a) for a in ctx.args[1:]]
    if not ids or any(i is None for i in ids):
        ctx.toast(ctx.t("This button is not valid."), alert=True)
        return
    bid = ids[0] or 0
    b = await ballot.view(ctx.uow, ballot_id=bid, community_id=_community_id(ctx))
    if b.status != "tie":
        raise Invalid("ballot", "not_tie")
    state = ctx.state
    picked: list[int] = list(state.data.get("picked", [])) if state and state.flow == TIE and \
        state.data.get("bid") == bid else []
    outcome = _tie_outcome(b)
    if action == "p" and len(ids) == 2 and ids[1] in outcome.tied:
        cid = ids[1] or 0
        picked = [p for p in picked if p != cid] if cid in picked else [*picked, cid]
        if len(picked) > outcome.seats_left:
            raise Invalid("decision", "count", seats=outcome.seats_left)
        await _tie_card(ctx, b, picked, [])
    elif action == "ok":
        tally = await ballot.decide(ctx.uow, actor=ctx.actor, ballot_id=bid, chosen=picked, now=ctx.now)
        await ctx.clear_state()
        await _after_tally(ctx, tally)
    elif action == "r":
        ctx.edit(tn(ctx.lang, "A run-off between the tied candidates for {n} seat, voting from now. When does it close?",
                    "A run-off between the tied candidates for {n} seats, voting from now. When does it close?",
                    outcome.seats_left),
                 [[ctx.button(tn(ctx.lang, "In {n} day, 18:00", "In {n} days, 18:00", n), "bt", "rd", bid, n) for n in (1, 3, 7)],
                  [ctx.button(ctx.t("◀ Back"), "bt", "back", bid)]])
    elif action == "rd" and len(ids) == 2 and ids[1] in (1, 3, 7):
        row = await ballot.runoff(ctx.uow, actor=ctx.actor, ballot_id=bid, closes_at=_days_at_closing(ctx, ids[1] or 1),
                                  now=ctx.now)
        await ctx.clear_state()
        _, voters = await ballot.turnout(ctx.uow, ballot_id=row.id or 0)
        ctx.edit(tn(ctx.lang, "✅ The run-off (round {round}) is open until {closes}; {n} representative was sent "
                    "their ballot.", "✅ The run-off (round {round}) is open until {closes}; {n} representatives "
                    "were sent their ballot.", voters, round=row.round, closes=_when(row.closes_at, _tz(ctx))))
    elif action == "back":
        await _tie_card(ctx, b, picked, [])
    else:
        raise Invalid("decision", "unknown")


#: The ballot's notices, worded in bot/handlers/ballot_notices.py.
NOTICES = ballot_notices.NOTICES

#: The ballot's own wording of its errors (bot/handlers/__init__.py: report_error asks it first).
EXPLAIN = explain_ballot
