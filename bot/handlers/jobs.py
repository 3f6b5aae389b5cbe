"""/jobs (就业增收, #16, F-9.5), in a private chat, by buttons: the open job openings and the coming free trainings;
applying with a short message that goes to the poster through the bot (and the poster's answer back the same way);
signing up for a training (atomic seats); the office (admins, grid workers) posts openings and trainings, marks
attendance and enters income records; `/jobs stats` shows the year's totals for the community and the district.
The group posts carry links that answer in private (`/start job_N`, `/start training_N`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.dispatch import PRIVATE, Ctx, Router
from bot.core.i18n import N_, tn, tr
from bot.core.types import Button, Keyboard, OutMessage
from bot.handlers.common import grid, int_arg
from bot.render import NoticeRenderer, h
from flows import jobs, membership, training_changes
from flows.clock import local
from flows.errors import AlreadyDone, Expired, FlowError, Forbidden, Invalid, LimitReached, NotFound
from flows.jobs import JobAnswered, JobApplied, JobPosted, TrainingCancelled, TrainingPosted, TrainingRemind
from flows.roles import Perm
from flows.training_changes import TrainingChanged
from storage.models import Community

router = Router()
P = "jb"
FLOW = "jobs"
JOB_LINK, TRAINING_LINK = "job_", "training_"


def explain_jobs(ctx: Ctx, err: FlowError) -> str | None:
    if isinstance(err, Forbidden):
        return {
            "jobs": ctx.t("Only the community office (admins and grid workers) does that."),
            "jobs:others": ctx.t("Only the person who posted this opening (or an admin) does that."),
        }.get(err.permission)
    if isinstance(err, NotFound) and err.what in ("job", "training", "application", "signup"):
        return ctx.t("That no longer exists. Send /jobs to see the openings and trainings as they are now.")
    if isinstance(err, AlreadyDone):
        return {
            "application": ctx.t("You have applied to this opening already; the poster has your message."),
            "signup": ctx.t("You are signed up already. See you there!"),
            "job": ctx.t("This opening is closed already."),
            "training": ctx.t("This training is called off already."),
            "training:changed": ctx.t("Someone changed or called off this training just now. Send /jobs to see it "
                                      "as it is now."),
        }.get(err.what)
    if isinstance(err, LimitReached) and err.what == "seats":
        return tn(ctx.lang, "Sorry, the only seat is taken. Watch the groups for the next training.",
                  "Sorry, all {limit} seats are taken. Watch the groups for the next training.", err.limit,
                  limit=err.limit)
    if isinstance(err, Expired):
        return ctx.t("This form has expired. Send /jobs to start again.")
    if isinstance(err, Invalid):
        limit = err.details.get("limit")
        if err.reason == "too_long":
            return ctx.t("Too long: at most {limit} characters. Please send a shorter one.", limit=limit)
        if err.reason == "empty":
            return ctx.t("That cannot be empty. Please send it again.")
        return {
            ("date", "format"): ctx.t("Please send the date as YYYY-MM-DD, e.g. 2027-03-31."),
            ("date", "past"): ctx.t("That day has passed. Please send today or a later day."),
            ("date", "too_far"): ctx.t("At most a year ahead, please."),
            ("when", "format"): ctx.t("Please send the date and time as YYYY-MM-DD HH:MM, e.g. 2027-03-05 14:30."),
            ("when", "past"): ctx.t("That time has passed. Please send a later one."),
            ("when", "too_far"): ctx.t("At most a year ahead, please."),
            ("capacity", "range"): ctx.t("Seats: a whole number from 1 to {limit}.", limit=limit),
            ("capacity", "format"): ctx.t("Seats: a whole number from 1 to {limit}.", limit=jobs.CAPACITY_MAX),
            ("amount", "format"): ctx.t("Please send the amount in yuan, e.g. 1200 or 1200.50."),
            ("amount", "range"): ctx.t("The amount must be more than 0 and at most {limit} yuan.", limit=limit),
            ("month", "format"): ctx.t("Please send the month as YYYY-MM, e.g. 2027-03."),
            ("member", "format"): ctx.t("Please send a member number (/members shows them), or tap Skip."),
            ("job", "closed"): ctx.t("This opening is closed: applications are over."),
            ("training", "closed"): ctx.t("This training has begun or was cancelled: sign-ups are over."),
            ("training", "not_yet"): ctx.t("Attendance is marked once the training has begun."),
            ("training", "started"): ctx.t("This training has begun: it can no longer be called off."),
            ("training", "begun"): ctx.t("This training has begun: it can no longer be changed."),
            ("training", "same"): ctx.t("That is what the training has already: nothing to change."),
        }.get((err.field, err.reason))
    return None


EXPLAIN = explain_jobs


def _tz(ctx: Ctx) -> str:
    return ctx.actor.home().timezone


def _at(ctx: Ctx, at: datetime) -> str:
    return f"{local(at, _tz(ctx)):%Y-%m-%d %H:%M}"


def yuan(fen: int) -> str:
    return f"{fen // 100:,}" + (f".{fen % 100:02d}" if fen % 100 else "")


def _office(ctx: Ctx) -> bool:
    return ctx.actor.can(Perm.JOBS)


# ---------------------------------------------------------------- the list


@router.command("jobs", where=PRIVATE, description=N_("Jobs and free trainings"), member_only=True)
async def jobs_cmd(ctx: Ctx) -> None:
    await ctx.clear_state()
    if ctx.message.args.strip().lower() == "stats":
        await _stats(ctx)
    else:
        await _list(ctx)


async def _list(ctx: Ctx) -> None:
    openings = await jobs.open_jobs(ctx.uow, actor=ctx.actor, now=ctx.now)
    trainings = await jobs.upcoming(ctx.uow, actor=ctx.actor, now=ctx.now)
    lines = [ctx.t("💼 <b>Jobs and trainings</b> (就业增收)")]
    lines += [ctx.t("💼 {n}. {title} · {employer} · {pay} (until {closes})", n=j.number, title=h(j.title),
                    employer=h(j.employer), pay=h(j.pay), closes=j.closes_on.isoformat()) for j in openings[:10]]
    lines += [tn(ctx.lang, "🎓 {number}. {title} · {when} · {n} seat left", "🎓 {number}. {title} · {when} · {n} seats left",
                 t.capacity - t.seats_taken, number=t.number, title=h(t.title), when=_at(ctx, t.starts_at))
              for t in trainings[:10]]
    if not openings and not trainings:
        lines.append(ctx.t("No opening and no training right now."))
    buttons: Keyboard = grid([ctx.button(f"💼 {j.number}. {j.title}", P, "j", j.number) for j in openings[:10]]
                             + [ctx.button(f"🎓 {t.number}. {t.title}", P, "t", t.number) for t in trainings[:10]], 2)
    if _office(ctx):
        buttons.append([ctx.button(ctx.t("➕ Opening"), P, "nj"), ctx.button(ctx.t("➕ Training"), P, "nt")])
        buttons.append([ctx.button(ctx.t("💰 Income record"), P, "ni"), ctx.button(ctx.t("📊 Totals"), P, "st")])
    ctx.show("\n".join(lines), buttons)


async def show_job(ctx: Ctx, number: int) -> None:
    job = await jobs.get_job(ctx.uow, actor=ctx.actor, number=number)
    me = ctx.actor.registered()
    lines = [f"💼 <b>{h(job.title)}</b> (#{job.number})", ctx.t("🏢 Employer: {v}", v=h(job.employer)),
             ctx.t("💴 Pay: {v}", v=h(job.pay)), ctx.t("📍 Place: {v}", v=h(job.place)),
             ctx.t("📅 Applications until {v}", v=job.closes_on.isoformat())]
    buttons: Keyboard = []
    mine = job.poster_member_id == me.id or ctx.actor.can(Perm.GRANT)
    if jobs.is_open(job, ctx.actor.home(), ctx.now):
        if job.poster_member_id != me.id:
            buttons.append([ctx.button(ctx.t("✉ Apply through Linli"), P, "a", number)])
    else:
        lines.append(ctx.t("(closed)"))
    if mine and _office(ctx):
        buttons.append([ctx.button(ctx.t("📋 Applications"), P, "al", number),
                        ctx.button(ctx.t("⏹ Close"), P, "cl", number)])
    buttons.append([ctx.button(ctx.t("◀ Jobs"), P, "l")])
    ctx.show("\n".join(lines), buttons)


async def show_training(ctx: Ctx, number: int) -> None:
    t = await jobs.get_training(ctx.uow, actor=ctx.actor, number=number)
    signed = await jobs.is_signed_up(ctx.uow, actor=ctx.actor, training=t)
    lines = [f"🎓 <b>{h(t.title)}</b> (#{t.number})", ctx.t("📍 Place: {v}", v=h(t.place)),
             ctx.t("🕘 {v}", v=_at(ctx, t.starts_at)),
             ctx.t("🪑 Seats taken: {taken} of {capacity} · free of charge", taken=t.seats_taken, capacity=t.capacity)]
    if t.state == "cancelled":
        lines.append(ctx.t("✖ Called off."))
    elif signed:
        lines.append(ctx.t("✅ You are signed up."))
    buttons: Keyboard = []
    upcoming = t.starts_at > ctx.now and t.state == "open"
    if upcoming:
        buttons.append([ctx.button(ctx.t("Withdraw"), P, "wd", number) if signed
                        else ctx.button(ctx.t("🙋 Sign up"), P, "su", number)])
    if _office(ctx):
        row = [ctx.button(ctx.t("📋 Sign-ups and attendance"), P, "at", number)]
        if upcoming:
            row.append(ctx.button(ctx.t("✖ Call off"), P, "tc", number))
        buttons.append(row)
        if upcoming:
            buttons.append([ctx.button(ctx.t("✏ Change the place"), P, "ce", number, 0),
                            ctx.button(ctx.t("✏ Change the time"), P, "ce", number, 1)])
    buttons.append([ctx.button(ctx.t("◀ Jobs"), P, "l")])
    ctx.show("\n".join(lines), buttons)


async def from_link(ctx: Ctx, payload: str) -> None:
    """A group post's link: /start job_C_N or /start training_C_N (C the community, N its number there). Someone
    working in another of their communities is offered the switch first."""
    parts = [int_arg(x) for x in payload.split("_")[1:]]
    if len(parts) != 2 or parts[0] is None or parts[1] is None:
        await _list(ctx)
        return
    community_id, number = parts
    if community_id != ctx.actor.home().id:
        community = await ctx.uow.session.get(Community, community_id)
        mine = community is not None and await membership.membership(
            ctx.uow, user=ctx.actor.user, community_id=community_id) is not None
        if community is None or not mine:
            raise NotFound("job", number)
        ctx.reply(ctx.t("This post is from {community}; you are working in {other} now.", community=h(community.name),
                        other=h(ctx.actor.home().name)),
                  [[ctx.button(ctx.t("Switch to {community}", community=community.name), "sw", community_id)]])
        return
    if payload.startswith(JOB_LINK):
        await show_job(ctx, number)
    else:
        await show_training(ctx, number)


# ---------------------------------------------------------------- applications, attendance


async def _applications(ctx: Ctx, number: int) -> None:
    rows = await jobs.applications(ctx.uow, actor=ctx.actor, number=number)
    lines = [ctx.t("📋 <b>Applications</b> · opening no. {n}", n=number)]
    lines += [f"{i}. {h(name)}: {h(a.message)}" for i, (a, name) in enumerate(rows, 1)]
    if not rows:
        lines.append(ctx.t("No application yet."))
    buttons = [ctx.button(ctx.t("↩ Answer {name}", name=name), P, "an", a.id or 0) for a, name in rows[:20]]
    ctx.show("\n".join(lines), [*grid(buttons, 2), [ctx.button(ctx.t("◀ Back"), P, "j", number)]])


async def _attendance(ctx: Ctx, number: int) -> None:
    t, rows = await jobs.signups(ctx.uow, actor=ctx.actor, number=number)
    marks = {True: "✅", False: "❌", None: "—"}
    lines = [ctx.t("📋 <b>{title}</b>: {n} signed up", title=h(t.title), n=len(rows))]
    lines += [f"{i}. {h(name)} {marks[s.attended]}" for i, (s, name) in enumerate(rows, 1)]
    buttons: list[Button] = []
    if t.starts_at <= ctx.now:
        lines.append(ctx.t("Tap a name to mark them present (✅) or absent (❌)."))
        buttons = [ctx.button(f"{marks[not s.attended]} {name}", P, "mk", number, s.id or 0, int(not s.attended))
                   for s, name in rows[:30]]
    ctx.show("\n".join(lines), [*grid(buttons, 2), [ctx.button(ctx.t("◀ Back"), P, "t", number)]])


async def _confirm_call_off(ctx: Ctx, number: int) -> None:
    if not _office(ctx):
        raise Forbidden("jobs")
    training, rows = await jobs.signups(ctx.uow, actor=ctx.actor, number=number)
    if training.state != "open" or training.starts_at <= ctx.now:
        raise Invalid("training", "closed")
    text = tn(ctx.lang, "Call off “{title}” at {when}? The {n} person signed up will be told.",
              "Call off “{title}” at {when}? The {n} people signed up will be told.", len(rows),
              title=h(training.title), when=_at(ctx, training.starts_at))
    ctx.show(text, [[ctx.button(ctx.t("✖ Call it off"), P, "tcy", number), ctx.button(ctx.t("◀ Back"), P, "t", number)]])


async def _ask_change(ctx: Ctx, number: int, time: bool) -> None:
    training, _ = await jobs.signups(ctx.uow, actor=ctx.actor, number=number)
    if training.state != "open" or training.starts_at <= ctx.now:
        raise Invalid("training", "closed")
    step = "c_start" if time else "c_place"
    await ctx.set_state(FLOW, step, {"training": number})
    ctx.show(ctx.t(ASK[CHANGE_STEPS[step]]), [_cancel(ctx)])


async def _confirm_change(ctx: Ctx, number: int, step: str, value: Any) -> None:
    training, rows = await jobs.signups(ctx.uow, actor=ctx.actor, number=number)
    new = h(value) if step == "c_place" else _at(ctx, datetime.fromisoformat(value))
    text = tn(ctx.lang, "“{title}”: change {what} to {new}? The {n} person signed up will be told.",
              "“{title}”: change {what} to {new}? The {n} people signed up will be told.", len(rows),
              title=h(training.title), new=new,
              what=ctx.t("the place") if step == "c_place" else ctx.t("the time"))
    ctx.reply(text, [[ctx.button(ctx.t("✅ Change"), P, "cy", number), ctx.button(ctx.t("✖ Cancel"), P, "x")]])


async def _change(ctx: Ctx, number: int) -> None:
    state = ctx.state
    if state is None or state.flow != FLOW or state.step != "change" or int(state.data["training"]) != number:
        raise Expired("jobs")
    value = str(state.data["value"])
    if state.data.get("field") == "c_start":
        training, told = await training_changes.change(ctx.uow, actor=ctx.actor, number=number, now=ctx.now,
                                                       starts_at=datetime.fromisoformat(value))
    else:
        training, told = await training_changes.change(ctx.uow, actor=ctx.actor, number=number, now=ctx.now,
                                                       place=value)
    await ctx.clear_state()
    ctx.show(tn(ctx.lang, "✏ Training no. {number} is changed; the {n} person signed up is told.",
                "✏ Training no. {number} is changed; the {n} people signed up are told.", told,
                number=training.number), [[ctx.button(ctx.t("◀ Back"), P, "t", number)]])


async def _stats(ctx: Ctx) -> None:
    year = local(ctx.now, _tz(ctx)).year
    community = ctx.actor.home()
    mine = await jobs.totals(ctx.uow, community_id=community.id, year=year)
    district = await jobs.totals(ctx.uow, community_id=None, year=year)

    def line(name: str, t: jobs.Totals) -> str:
        return ctx.t("{name}: {openings} openings posted · {trained} people trained · ¥{income} income raised",
                     name=name, openings=t.openings, trained=t.trained, income=yuan(t.income_fen))

    ctx.show("\n".join([ctx.t("📊 <b>Jobs and income, {year}</b>", year=year), line(h(community.name), mine),
                        line(ctx.t("District"), district)]))


# ---------------------------------------------------------------- the dialogs (office: post, income; all: apply)


ASK = {
    "title": N_("The opening's title (at most 40 characters), e.g. 手工编织."),
    "employer": N_("The employer (at most 40 characters)."),
    "pay": N_("The pay (at most 40 characters), e.g. 计件 每件 8 元."),
    "place": N_("Where is the work? (at most 60 characters)"),
    "closes": N_("Applications until which day? YYYY-MM-DD, e.g. 2027-03-31."),
    "t_title": N_("The training's title (at most 40 characters), e.g. 家政服务培训."),
    "t_place": N_("Where is it? (at most 60 characters)"),
    "t_start": N_("When does it start? YYYY-MM-DD HH:MM in the community's time, e.g. 2027-03-05 14:30."),
    "t_capacity": N_("How many seats? (a whole number)"),
    "amount": N_("The income in yuan, e.g. 1200 or 1200.50."),
    "month": N_("Which month? YYYY-MM, e.g. 2027-03."),
    "member": N_("For whom? Send the member number, or tap Skip (a group's income)."),
    "apply": N_("Your message to the employer (at most 300 characters): who you are and why you would like the "
                "work. It goes through Linli; please leave out phone numbers."),
    "answer": N_("Your answer (at most 300 characters). It goes through Linli."),
}
JOB_STEPS = ("title", "employer", "pay", "place", "closes")
TRAINING_STEPS = ("t_title", "t_place", "t_start", "t_capacity")
CHANGE_STEPS = {"c_place": "t_place", "c_start": "t_start"}  # changing a posted training: asked as when posting


def _cancel(ctx: Ctx) -> list[Button]:
    return [ctx.button(ctx.t("✖ Cancel"), P, "x")]


async def _ask(ctx: Ctx, step: str, data: dict[str, Any]) -> None:
    await ctx.set_state(FLOW, step, data)
    rows: Keyboard = [_cancel(ctx)]
    if step == "member":
        rows = [[ctx.button(ctx.t("Skip ▶"), P, "sk")], _cancel(ctx)]
    ctx.show(ctx.t(ASK[step]), rows)


def _check(ctx: Ctx, step: str, text: str) -> Any:
    community = ctx.actor.home()
    limits = {"title": jobs.TITLE_MAX, "employer": jobs.FIELD_MAX, "pay": jobs.FIELD_MAX, "place": jobs.PLACE_MAX,
              "t_title": jobs.TITLE_MAX, "t_place": jobs.PLACE_MAX}
    if step in limits:
        return jobs.mask_phones(jobs.clean(step.removeprefix("t_"), text, limits[step]))
    if step == "closes":
        return jobs.parse_date(text, community=community, now=ctx.now).isoformat()
    if step == "t_start":
        return jobs.parse_start(text, community=community, now=ctx.now).isoformat()
    if step == "t_capacity":
        n = int_arg(text.strip())
        if n is None or not 1 <= n <= jobs.CAPACITY_MAX:
            raise Invalid("capacity", "format")
        return n
    if step == "amount":
        jobs.parse_yuan(text)
        return text.strip()
    if step == "month":
        return jobs.parse_month(text)
    n = int_arg(text.strip().lstrip("#"))
    if n is None:
        raise Invalid("member", "format")
    return n


@router.flow(FLOW)
async def dialog(ctx: Ctx) -> None:
    if ctx.state is None:
        raise Expired("jobs")
    data, step, text = dict(ctx.state.data), ctx.state.step, ctx.message.text
    if step == "apply":
        await jobs.apply(ctx.uow, actor=ctx.actor, number=int(data["job"]), message=text, now=ctx.now)
        await ctx.clear_state()
        ctx.reply(ctx.t("✅ Sent to the employer through Linli. Their answer will come here."))
    elif step == "answer":
        job = await jobs.answer(ctx.uow, actor=ctx.actor, application_id=int(data["application"]), message=text,
                                now=ctx.now)
        await ctx.clear_state()
        ctx.reply(ctx.t("✅ Your answer about “{title}” is sent.", title=h(job.title)))
    elif step in CHANGE_STEPS:
        value = _check(ctx, "t_place" if step == "c_place" else "t_start", text)
        await ctx.set_state(FLOW, "change", {**data, "field": step, "value": value})
        await _confirm_change(ctx, int(data["training"]), step, value)
    elif step in JOB_STEPS or step in TRAINING_STEPS or step in ("amount", "month", "member"):
        data[step] = _check(ctx, step, text)
        if step == "member":
            await _income(ctx, data)
            return
        steps = JOB_STEPS if step in JOB_STEPS else TRAINING_STEPS if step in TRAINING_STEPS else ("amount", "month",
                                                                                                   "member")
        if step != steps[-1]:
            await _ask(ctx, steps[steps.index(step) + 1], data)
            return
        await ctx.set_state(FLOW, "confirm", data)
        ctx.reply(_preview(ctx, data), [[ctx.button(ctx.t("✅ Post"), P, "ok"), ctx.button(ctx.t("✖ Cancel"), P,
                                                                                           "x")]])
    else:
        ctx.reply(ctx.t("Please tap one of the buttons above, or send /cancel to stop."))


def _preview(ctx: Ctx, d: dict[str, Any]) -> str:
    if "title" in d:
        post = _job_post(ctx.lang, {"number": "…", "community_id": 0, "community": ctx.actor.home().name, "title": d["title"],
                                    "employer": d["employer"], "pay": d["pay"], "place": d["place"],
                                    "closes_on": d["closes"]}, None)
    else:
        post = _training_post(ctx.lang, {"number": "…", "community_id": 0, "community": ctx.actor.home().name, "title": d["t_title"],
                                         "place": d["t_place"], "starts": _at(ctx, datetime.fromisoformat(
                                             d["t_start"])), "capacity": d["t_capacity"]}, None)
    return post.text + "\n\n" + ctx.t("👆 This goes once to every building group (never in the quiet hours). Post it?")


async def _post(ctx: Ctx) -> None:
    if ctx.state is None or ctx.state.flow != FLOW or ctx.state.step != "confirm":
        raise Expired("jobs")
    d = ctx.state.data
    if "title" in d:
        job, groups = await jobs.post_job(ctx.uow, actor=ctx.actor, now=ctx.now, draft=jobs.JobDraft(
            title=d["title"], employer=d["employer"], pay=d["pay"], place=d["place"],
            closes_on=datetime.fromisoformat(d["closes"]).date()))
        text = tn(ctx.lang, "💼 Opening no. {number} is posted to {n} group.",
                  "💼 Opening no. {number} is posted to {n} groups.", groups, number=job.number)
    else:
        training, groups = await jobs.post_training(ctx.uow, actor=ctx.actor, now=ctx.now, draft=jobs.TrainingDraft(
            title=d["t_title"], place=d["t_place"], starts_at=datetime.fromisoformat(d["t_start"]),
            capacity=int(d["t_capacity"])))
        text = tn(ctx.lang, "🎓 Training no. {number} is posted to {n} group.",
                  "🎓 Training no. {number} is posted to {n} groups.", groups, number=training.number)
    await ctx.clear_state()
    ctx.edit(text)


async def _income(ctx: Ctx, d: dict[str, Any]) -> None:
    row = await jobs.record_income(ctx.uow, actor=ctx.actor, amount=d["amount"], month=d["month"],
                                   member_no=d.get("member"), now=ctx.now)
    await ctx.clear_state()
    ctx.show(ctx.t("💰 Recorded: ¥{amount} for {month}.", amount=yuan(row.amount_fen), month=row.month))


@router.callback(P)
async def pressed(ctx: Ctx) -> None:
    action = str(ctx.args[0])
    nums = [int(a) for a in ctx.args[1:]]
    if action == "x":
        await ctx.clear_state()
        ctx.show(ctx.t("Cancelled."))
    elif action == "l":
        await _list(ctx)
    elif action == "j":
        await show_job(ctx, nums[0])
    elif action == "t":
        await show_training(ctx, nums[0])
    elif action == "a":
        job = await jobs.get_job(ctx.uow, actor=ctx.actor, number=nums[0])
        if not jobs.is_open(job, ctx.actor.home(), ctx.now):
            raise Invalid("job", "closed")
        await _ask(ctx, "apply", {"job": nums[0]})
    elif action == "an":
        await _ask(ctx, "answer", {"application": nums[0]})
    elif action == "al":
        await _applications(ctx, nums[0])
    elif action == "cl":
        job = await jobs.close_job(ctx.uow, actor=ctx.actor, number=nums[0])
        ctx.show(ctx.t("⏹ Opening no. {number} is closed.", number=job.number))
    elif action == "su":
        t = await jobs.sign_up(ctx.uow, actor=ctx.actor, number=nums[0], now=ctx.now)
        ctx.toast(tn(ctx.lang, "✅ Signed up: {n} seat left.", "✅ Signed up: {n} seats left.",
                     t.capacity - t.seats_taken))
        await show_training(ctx, nums[0])
    elif action == "wd":
        await jobs.withdraw(ctx.uow, actor=ctx.actor, number=nums[0], now=ctx.now)
        await show_training(ctx, nums[0])
    elif action == "at":
        await _attendance(ctx, nums[0])
    elif action == "tc":
        await _confirm_call_off(ctx, nums[0])
    elif action == "tcy":
        off, told = await jobs.cancel_training(ctx.uow, actor=ctx.actor, number=nums[0], now=ctx.now)
        ctx.show(tn(ctx.lang, "✖ Training no. {number} is called off; the {n} person signed up is told.",
                    "✖ Training no. {number} is called off; the {n} people signed up are told.", told,
                    number=off.number), [[ctx.button(ctx.t("◀ Jobs"), P, "l")]])
    elif action == "ce":
        await _ask_change(ctx, nums[0], bool(nums[1]))
    elif action == "cy":
        await _change(ctx, nums[0])
    elif action == "mk":
        await jobs.mark(ctx.uow, actor=ctx.actor, number=nums[0], signup_id=nums[1], attended=bool(nums[2]),
                        now=ctx.now)
        await _attendance(ctx, nums[0])
    elif action == "st":
        await _stats(ctx)
    elif action in ("nj", "nt", "ni"):
        if not _office(ctx):
            raise Forbidden("jobs")
        await _ask(ctx, {"nj": "title", "nt": "t_title", "ni": "amount"}[action], {})
    elif action == "sk" and ctx.state is not None and ctx.state.step == "member":
        await _income(ctx, dict(ctx.state.data))
    elif action == "ok":
        await _post(ctx)
    else:
        raise Expired("jobs")


# ---------------------------------------------------------------- notices


def _job_post(lang: str, p: dict[str, Any], r: NoticeRenderer | None) -> OutMessage:
    text = "\n".join([tr(lang, "💼 <b>Job opening</b> · {community}", community=h(p["community"])),
                      f"<b>{h(p['title'])}</b>", tr(lang, "🏢 Employer: {v}", v=h(p["employer"])),
                      tr(lang, "💴 Pay: {v}", v=h(p["pay"])), tr(lang, "📍 Place: {v}", v=h(p["place"])),
                      tr(lang, "📅 Applications until {v}", v=p["closes_on"]),
                      tr(lang, "Apply in a private chat with me: your message goes to the employer, no phone number "
                               "needed.")])
    buttons = [[Button(text=tr(lang, "💼 See and apply"), url=r.deep_link(f"{JOB_LINK}{p['community_id']}_{p['number']}"))]] if r else None
    return OutMessage(text=text, buttons=buttons)


def _training_post(lang: str, p: dict[str, Any], r: NoticeRenderer | None) -> OutMessage:
    text = "\n".join([tr(lang, "🎓 <b>Free training</b> · {community}", community=h(p["community"])),
                      f"<b>{h(p['title'])}</b>", tr(lang, "📍 Place: {v}", v=h(p["place"])),
                      tr(lang, "🕘 {v}", v=p["starts"]), tn(lang, "🪑 {n} seat", "🪑 {n} seats", int(p["capacity"]))])
    buttons = [[Button(text=tr(lang, "🙋 Sign up"), url=r.deep_link(f"{TRAINING_LINK}{p['community_id']}_{p['number']}"))]] \
        if r else None
    return OutMessage(text=text, buttons=buttons)


def _applied(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    text = tr(lang, "✉ An application for “{title}” (opening no. {job}) from {name} (member no. {member}):\n\n{message}",
              title=h(p["title"]), job=p["job"], name=h(p["applicant"]), member=p["member_no"],
              message=h(p["message"]))
    return OutMessage(text=text, buttons=[[r.button(tr(lang, "↩ Answer through Linli"), P, "an", p["application"])]])


def _answered(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "✉ The employer's answer about “{title}” (opening no. {job}):\n\n{message}",
                              title=h(p["title"]), job=p["job"], message=h(p["message"])))


def _remind(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "🔔 A reminder: the free training “{title}” is at {when}, {place}. See you there!",
                              title=h(p["title"]), when=p["starts"], place=h(p["place"])))


def _changed(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "✏ The free training “{title}” you signed up for has changed: it is now at {when}, "
                                    "{place}.", title=h(p["title"]), when=p["starts"], place=h(p["place"])))


def _called_off(r: NoticeRenderer, lang: str, p: dict[str, Any]) -> OutMessage:
    return OutMessage(text=tr(lang, "✖ The free training “{title}” at {when} is called off. Sorry: watch the groups "
                                    "for the next one.", title=h(p["title"]), when=p["starts"]))


NOTICES = {JobPosted.kind: lambda r, lang, p: _job_post(lang, p, r),
           TrainingPosted.kind: lambda r, lang, p: _training_post(lang, p, r),
           JobApplied.kind: _applied, JobAnswered.kind: _answered, TrainingRemind.kind: _remind,
           TrainingCancelled.kind: _called_off, TrainingChanged.kind: _changed}
