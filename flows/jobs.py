"""Employment and income (就业增收, #16, F-9.5): job openings, applications in private, free trainings with
sign-up, a reminder and attendance, the office's income records, and the seed's totals.

- The office (community admins and grid workers, Perm.JOBS) posts an opening (title, employer, pay, place, closing
  date) or a training (title, place, start, capacity); each is posted once to the building groups
  (flows/micro_posts.py, within the quiet hours) with a link that answers in private. Applications and sign-ups
  never make a group post.
- A resident applies with a short message: it goes to the poster through the bot (the applicant's name and member
  number, never a phone number: runs of digits that look like one are masked in every text that passes through);
  the poster may answer through the bot the same way. One application per person and opening (unique).
- Training seats are taken atomically: one conditional UPDATE (`seats_taken < capacity`) decides, so twenty people
  pressing at once for five seats give exactly five sign-ups. A sign-up is one per person (unique).
- `due` (the scheduler) reminds the signed-up the day before a training (once each, never in the private quiet
  hours); the office marks attendance afterwards.
- `totals`: openings posted, people trained (attended, counted once per person a year) and income raised, per
  community and for the district (every community of the deployment)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, distinct, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from flows import audit, outbox
from flows.actors import Actor
from flows.clock import local
from flows.errors import AlreadyDone, Forbidden, Invalid, LimitReached, NotFound
from flows.micro_posts import in_private_quiet, post_to_groups, private_time, withdraw_from_groups
from flows.notices import Notice
from flows.numbering import next_number
from flows.roles import Perm
from flows.spaces import clean
from storage.db import UnitOfWork
from storage.models import Community, Member, OutboxMessage, User
from storage.models_spaces import IncomeRecord, Job, JobApplication, Training, TrainingSignup

TITLE_MAX, FIELD_MAX, PLACE_MAX, MESSAGE_MAX = 40, 40, 60, 300
CAPACITY_MAX = 500
AMOUNT_MAX_YUAN = 1_000_000
REMIND_BEFORE = timedelta(days=1)
_PHONE = re.compile(r"\+?\d[\d\s\-]{5,}\d")


def mask_phones(text: str) -> str:
    """Phone-like runs of digits (7 or more) become ***: contact goes through the bot."""
    return _PHONE.sub(lambda m: "***" if sum(c.isdigit() for c in m.group()) >= 7 else m.group(), text)


def _clean(field: str, text: str, limit: int) -> str:
    return mask_phones(clean(field, text, limit))


@dataclass(frozen=True)
class JobPosted(Notice, kind="job_posted"):
    community_id: int  # the link answers in this community (a person may belong to several)
    number: int
    community: str
    title: str
    employer: str
    pay: str
    place: str
    closes_on: str


@dataclass(frozen=True)
class TrainingPosted(Notice, kind="training_posted"):
    community_id: int
    number: int
    community: str
    title: str
    place: str
    starts: str  # local "YYYY-MM-DD HH:MM"
    capacity: int


@dataclass(frozen=True)
class JobApplied(Notice, kind="job_applied"):
    """To the poster: an application's message, through the bot (button: answer through the bot)."""

    job: int
    title: str
    application: int
    applicant: str
    member_no: int
    message: str


@dataclass(frozen=True)
class JobAnswered(Notice, kind="job_answered"):
    """To the applicant: the poster's answer, through the bot."""

    job: int
    title: str
    message: str


@dataclass(frozen=True)
class TrainingCancelled(Notice, kind="training_cancelled"):
    """To each person signed up: the training is off."""

    number: int
    title: str
    starts: str


@dataclass(frozen=True)
class TrainingRemind(Notice, kind="training_remind"):
    number: int
    title: str
    place: str
    starts: str


def parse_date(text: str, *, community: Community, now: datetime) -> date:
    """A closing date YYYY-MM-DD, today or later, within a year."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid("date", "format") from None
    today = local(now, community.timezone).date()
    if day < today:
        raise Invalid("date", "past")
    if day > today + timedelta(days=366):
        raise Invalid("date", "too_far")
    return day


def parse_start(text: str, *, community: Community, now: datetime) -> datetime:
    """A training's start YYYY-MM-DD HH:MM in the community's time, in the future, within a year."""
    try:
        at = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(community.timezone))
    except ValueError:
        raise Invalid("when", "format") from None
    at = at.astimezone(UTC)
    if at <= now:
        raise Invalid("when", "past")
    if at > now + timedelta(days=366):
        raise Invalid("when", "too_far")
    return at


def parse_yuan(text: str) -> int:
    """An amount in yuan ("1200", "1200.50", "¥1,200") as fen."""
    raw = text.strip().lstrip("¥￥").replace(",", "").replace("，", "").removesuffix("元").strip()
    if not re.fullmatch(r"\d{1,7}(\.\d{1,2})?", raw):
        raise Invalid("amount", "format")
    yuan, _, cents = raw.partition(".")
    fen = int(yuan) * 100 + int((cents + "00")[:2])
    if fen <= 0 or fen > AMOUNT_MAX_YUAN * 100:
        raise Invalid("amount", "range", limit=AMOUNT_MAX_YUAN)
    return fen


def parse_month(text: str) -> str:
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", text.strip())
    if m is None or not 1 <= int(m.group(2)) <= 12 or not 2000 <= int(m.group(1)) <= 2100:
        raise Invalid("month", "format")
    return f"{int(m.group(1)):04d}-{int(m.group(2)):02d}"


def office(actor: Actor) -> Member:
    """The acting member, who must be of the office (Perm.JOBS: community admins and grid workers)."""
    me = actor.registered()
    if not actor.can(Perm.JOBS):
        raise Forbidden("jobs")
    return me


async def _next(uow: UnitOfWork, model: type[Job] | type[Training], community_id: int) -> int:
    return await next_number(uow, community_id=community_id, number=model.number, community_column=model.community_id)


def local_text(at: datetime, tz: str) -> str:
    """A time as the community reads it, e.g. 2027-03-05 14:30."""
    return local(at, tz).strftime("%Y-%m-%d %H:%M")


# ---------------------------------------------------------------- openings and applications


@dataclass(frozen=True)
class JobDraft:
    title: str
    employer: str
    pay: str
    place: str
    closes_on: date


async def post_job(uow: UnitOfWork, *, actor: Actor, draft: JobDraft, now: datetime) -> tuple[Job, int]:
    """Post an opening; returns it and the number of building groups it is posted to (once)."""
    me = office(actor)
    community = actor.home()
    job = Job(community_id=community.id or 0, number=await _next(uow, Job, community.id or 0),
              poster_member_id=me.id or 0, title=_clean("title", draft.title, TITLE_MAX),
              employer=_clean("employer", draft.employer, FIELD_MAX), pay=_clean("pay", draft.pay, FIELD_MAX),
              place=_clean("place", draft.place, PLACE_MAX), closes_on=draft.closes_on, created_at=now)
    uow.session.add(job)
    await uow.session.flush()
    groups = await post_to_groups(uow, community=community, key=f"job:{job.id}", now=now, notice=JobPosted(
        community_id=community.id or 0, number=job.number, community=community.name, title=job.title,
        employer=job.employer, pay=job.pay, place=job.place, closes_on=job.closes_on.isoformat()))
    return job, groups


def is_open(job: Job, community: Community, now: datetime) -> bool:
    return job.state == "open" and job.closes_on >= local(now, community.timezone).date()


async def get_job(uow: UnitOfWork, *, actor: Actor, number: int) -> Job:
    me = actor.registered()
    job = (await uow.session.exec(select(Job).where(Job.community_id == me.community_id, Job.number == number))).first()
    if job is None:
        raise NotFound("job", number)
    return job


async def open_jobs(uow: UnitOfWork, *, actor: Actor, now: datetime) -> list[Job]:
    community = actor.home()
    actor.registered()
    today = local(now, community.timezone).date()
    return list((await uow.session.exec(select(Job).where(
        Job.community_id == community.id, Job.state == "open", col(Job.closes_on) >= today)
        .order_by(col(Job.number).desc()))).all())


async def close_job(uow: UnitOfWork, *, actor: Actor, number: int) -> Job:
    me = office(actor)
    job = await get_job(uow, actor=actor, number=number)
    if job.poster_member_id != me.id and not actor.can(Perm.GRANT):
        raise Forbidden("jobs:others")
    result = await uow.session.execute(update(Job).where(col(Job.id) == job.id, col(Job.state) == "open")
                                       .values(state="closed").execution_options(synchronize_session=False))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise AlreadyDone("job")
    await uow.session.refresh(job)
    return job


async def _user_of(uow: UnitOfWork, member_id: int) -> User | None:
    return (await uow.session.exec(select(User).join(Member, col(Member.user_id) == col(User.id))
                                   .where(Member.id == member_id))).first()


async def apply(uow: UnitOfWork, *, actor: Actor, number: int, message: str, now: datetime) -> JobApplication:
    """Apply to an opening with a short message, which goes to the poster through the bot."""
    me = actor.registered()
    community = actor.home()
    job = await get_job(uow, actor=actor, number=number)
    if not is_open(job, community, now):
        raise Invalid("job", "closed")
    text = _clean("message", message, MESSAGE_MAX)
    seen = (await uow.session.exec(select(JobApplication.id).where(
        JobApplication.job_id == job.id, JobApplication.member_id == me.id))).first()
    if seen is not None:
        raise AlreadyDone("application")
    application = JobApplication(community_id=community.id or 0, job_id=job.id or 0, member_id=me.id or 0,
                                 message=text, created_at=now)
    uow.session.add(application)
    try:
        await uow.session.flush()
    except IntegrityError:
        raise AlreadyDone("application") from None
    poster = await _user_of(uow, job.poster_member_id)
    if poster is not None:
        row = outbox.notify(uow, tg_chat_id=poster.tg_id, lang=poster.language or community.locale, now=now,
                            community_id=community.id, recipient_user_id=poster.id, dedupe_key=f"job_apply:{application.id}",
                            notice=JobApplied(job=job.number, title=job.title, application=application.id or 0,
                                              applicant=me.display_name, member_no=me.id or 0, message=text))
        row.not_before = private_time(community, now)  # not in the night (21:00–08:00)
    return application


async def answer(uow: UnitOfWork, *, actor: Actor, application_id: int, message: str, now: datetime) -> Job:
    """The poster answers an application through the bot (several answers are fine: each is new)."""
    me = actor.registered()
    community = actor.home()
    application = await uow.session.get(JobApplication, application_id)
    if application is None or application.community_id != me.community_id:
        raise NotFound("application", application_id)
    job = await uow.session.get(Job, application.job_id)
    assert job is not None
    if job.poster_member_id != me.id:
        raise Forbidden("jobs:others")
    text = _clean("message", message, MESSAGE_MAX)
    user = await _user_of(uow, application.member_id)
    if user is not None:
        row = outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or community.locale, now=now,
                            community_id=community.id, recipient_user_id=user.id,
                            notice=JobAnswered(job=job.number, title=job.title, message=text))
        row.not_before = private_time(community, now)  # not in the night (21:00–08:00)
    return job


async def applications(uow: UnitOfWork, *, actor: Actor, number: int) -> list[tuple[JobApplication, str]]:
    """An opening's applications with the applicants' names (its poster and admins only)."""
    me = office(actor)
    job = await get_job(uow, actor=actor, number=number)
    if job.poster_member_id != me.id and not actor.can(Perm.GRANT):
        raise Forbidden("jobs:others")
    rows = (await uow.session.exec(select(JobApplication, Member.display_name)
                                   .join(Member, col(Member.id) == col(JobApplication.member_id))
                                   .where(JobApplication.job_id == job.id).order_by(col(JobApplication.id)))).all()
    return [(a, name) for a, name in rows]


# ---------------------------------------------------------------- trainings


@dataclass(frozen=True)
class TrainingDraft:
    title: str
    place: str
    starts_at: datetime
    capacity: int


async def post_training(uow: UnitOfWork, *, actor: Actor, draft: TrainingDraft, now: datetime) -> tuple[Training, int]:
    me = office(actor)
    community = actor.home()
    if not 1 <= draft.capacity <= CAPACITY_MAX:
        raise Invalid("capacity", "range", limit=CAPACITY_MAX)
    if draft.starts_at <= now:
        raise Invalid("when", "past")
    training = Training(community_id=community.id or 0, number=await _next(uow, Training, community.id or 0),
                        organiser_member_id=me.id or 0, title=_clean("title", draft.title, TITLE_MAX),
                        place=_clean("place", draft.place, PLACE_MAX), starts_at=draft.starts_at,
                        capacity=draft.capacity, created_at=now)
    uow.session.add(training)
    await uow.session.flush()
    groups = await post_to_groups(uow, community=community, key=f"training:{training.id}", now=now,
                                  notice=TrainingPosted(community_id=community.id or 0, number=training.number,
                                                        community=community.name, title=training.title,
                                                        place=training.place, capacity=training.capacity,
                                                        starts=local_text(training.starts_at, community.timezone)))
    return training, groups


async def get_training(uow: UnitOfWork, *, actor: Actor, number: int) -> Training:
    me = actor.registered()
    training = (await uow.session.exec(select(Training).where(
        Training.community_id == me.community_id, Training.number == number))).first()
    if training is None:
        raise NotFound("training", number)
    return training


async def upcoming(uow: UnitOfWork, *, actor: Actor, now: datetime) -> list[Training]:
    community = actor.home()
    actor.registered()
    return list((await uow.session.exec(select(Training).where(
        Training.community_id == community.id, Training.state == "open", col(Training.starts_at) > now)
        .order_by(col(Training.starts_at)))).all())


async def is_signed_up(uow: UnitOfWork, *, actor: Actor, training: Training) -> bool:
    me = actor.registered()
    return (await uow.session.exec(select(TrainingSignup.id).where(
        TrainingSignup.training_id == training.id, TrainingSignup.member_id == me.id))).first() is not None


async def sign_up(uow: UnitOfWork, *, actor: Actor, number: int, now: datetime) -> Training:
    """Take a seat: AlreadyDone("signup") twice, LimitReached("seats") when full — one conditional UPDATE decides."""
    me = actor.registered()
    training = await get_training(uow, actor=actor, number=number)
    if training.state != "open" or training.starts_at <= now:
        raise Invalid("training", "closed")
    if await is_signed_up(uow, actor=actor, training=training):
        raise AlreadyDone("signup")
    taken = await uow.session.execute(
        update(Training).where(col(Training.id) == training.id, col(Training.state) == "open",
                               col(Training.seats_taken) < col(Training.capacity))
        .values(seats_taken=col(Training.seats_taken) + 1).execution_options(synchronize_session=False))
    if not taken.rowcount:  # type: ignore[attr-defined]
        raise LimitReached("seats", training.capacity)
    uow.session.add(TrainingSignup(community_id=me.community_id, training_id=training.id or 0, member_id=me.id or 0,
                                   created_at=now))
    try:
        await uow.session.flush()
    except IntegrityError:  # the same person twice at once: the transaction (and its seat) is rolled back
        raise AlreadyDone("signup") from None
    await uow.session.refresh(training)
    return training


async def withdraw(uow: UnitOfWork, *, actor: Actor, number: int, now: datetime) -> Training:
    """Give one's seat back before the start."""
    me = actor.registered()
    training = await get_training(uow, actor=actor, number=number)
    if training.starts_at <= now:
        raise Invalid("training", "closed")
    row = (await uow.session.exec(select(TrainingSignup).where(
        TrainingSignup.training_id == training.id, TrainingSignup.member_id == me.id))).first()
    if row is None:
        raise NotFound("signup", number)
    await uow.session.delete(row)
    await uow.session.execute(update(Training).where(col(Training.id) == training.id, col(Training.seats_taken) > 0)
                              .values(seats_taken=col(Training.seats_taken) - 1)
                              .execution_options(synchronize_session=False))
    await uow.session.flush()
    await uow.session.refresh(training)
    return training


async def cancel_training(uow: UnitOfWork, *, actor: Actor, number: int, now: datetime) -> tuple[Training, int]:
    """Call a training off before it starts (compare-and-set on `state`: twice, or after the start, is refused). What
    it fed stops: sign-ups close, each person signed up is told once, their reminders not yet sent are dropped and
    the group posts not yet out are taken back. Returns the training and how many were told."""
    office(actor)
    community = actor.home()
    training = await get_training(uow, actor=actor, number=number)
    if training.state != "open":
        raise AlreadyDone("training")
    if training.starts_at <= now:
        raise Invalid("training", "started")
    took = await uow.session.execute(update(Training).where(
        col(Training.id) == training.id, col(Training.state) == "open", col(Training.starts_at) > now)
        .values(state="cancelled").execution_options(synchronize_session=False))
    if not took.rowcount:  # type: ignore[attr-defined]
        raise AlreadyDone("training")
    people = (await uow.session.exec(
        select(TrainingSignup, User).join(Member, col(Member.id) == col(TrainingSignup.member_id))
        .join(User, col(User.id) == col(Member.user_id)).where(TrainingSignup.training_id == training.id)
        .order_by(col(TrainingSignup.id)))).all()
    reminders = [key for signup, _ in people for key in remind_keys(signup.id, training.starts_at)]
    if reminders:
        await uow.session.execute(delete(OutboxMessage).where(
            col(OutboxMessage.dedupe_key).in_(reminders), col(OutboxMessage.status) == "pending")
            .execution_options(synchronize_session=False))
    notice = TrainingCancelled(number=training.number, title=training.title,
                               starts=local_text(training.starts_at, community.timezone))
    for signup, user in people:
        outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or community.locale, now=now,
                      community_id=community.id, recipient_user_id=user.id,
                      dedupe_key=f"training_cancelled:{signup.id}", notice=notice)
    withdrawn = await withdraw_from_groups(uow, key=f"training:{training.id}")
    audit.record(uow, action="training.cancel", now=now, community_id=community.id, actor_user_id=actor.user.id,
                 subject_type="training", subject_id=training.id, told=len(people), posts_withdrawn=withdrawn,
                 actor=actor)
    await uow.session.flush()
    await uow.session.refresh(training)
    return training, len(people)


async def signups(uow: UnitOfWork, *, actor: Actor, number: int) -> tuple[Training, list[tuple[TrainingSignup, str]]]:
    office(actor)
    training = await get_training(uow, actor=actor, number=number)
    rows = (await uow.session.exec(select(TrainingSignup, Member.display_name)
                                   .join(Member, col(Member.id) == col(TrainingSignup.member_id))
                                   .where(TrainingSignup.training_id == training.id)
                                   .order_by(col(TrainingSignup.id)))).all()
    return training, [(s, name) for s, name in rows]


async def mark(uow: UnitOfWork, *, actor: Actor, number: int, signup_id: int, attended: bool, now: datetime) -> None:
    """The office marks a sign-up present or absent (after the training has started)."""
    office(actor)
    training = await get_training(uow, actor=actor, number=number)
    if training.starts_at > now:
        raise Invalid("training", "not_yet")
    row = await uow.session.get(TrainingSignup, signup_id)
    if row is None or row.training_id != training.id:
        raise NotFound("signup", signup_id)
    row.attended = attended
    uow.session.add(row)
    await uow.session.flush()


# ---------------------------------------------------------------- income and totals


async def record_income(uow: UnitOfWork, *, actor: Actor, amount: str, month: str, member_no: int | None,
                        now: datetime) -> IncomeRecord:
    me = office(actor)
    fen = parse_yuan(amount)
    ym = parse_month(month)
    if member_no is not None:
        member = await uow.session.get(Member, member_no)
        if member is None or member.community_id != me.community_id:
            raise NotFound("member", member_no)
    row = IncomeRecord(community_id=me.community_id, member_id=member_no, amount_fen=fen, month=ym,
                       recorded_by=me.id or 0, created_at=now)
    uow.session.add(row)
    await uow.session.flush()
    return row


@dataclass(frozen=True)
class Totals:
    openings: int
    trained: int
    income_fen: int


async def totals(uow: UnitOfWork, *, community_id: int | None, year: int) -> Totals:
    """The year's openings posted, people trained (present at least once) and income raised; `community_id`
    None for the district (every community)."""
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    jobs = select(func.count()).select_from(Job).where(col(Job.created_at) >= start, col(Job.created_at) < end)
    trained = (select(func.count(distinct(TrainingSignup.member_id)))
               .join(Training, col(Training.id) == col(TrainingSignup.training_id))
               .where(col(TrainingSignup.attended).is_(True), col(Training.starts_at) >= start,
                      col(Training.starts_at) < end))
    income = select(func.coalesce(func.sum(IncomeRecord.amount_fen), 0)).where(
        col(IncomeRecord.month).startswith(f"{year:04d}-"))
    if community_id is not None:
        jobs = jobs.where(Job.community_id == community_id)
        trained = trained.where(Training.community_id == community_id)
        income = income.where(IncomeRecord.community_id == community_id)
    return Totals(openings=int((await uow.session.exec(jobs)).one()),
                  trained=int((await uow.session.exec(trained)).one()),
                  income_fen=int((await uow.session.exec(income)).one()))


async def changed_at(uow: UnitOfWork, *, community_id: int, now: datetime) -> datetime | None:
    """When the totals last changed, as far as the rows tell (an opening posted, an income entered, a training
    begun; the public board's Last-Modified — an attendance mark carries no time and may show a little later)."""
    stamps = [(await uow.session.exec(select(func.max(model_at)).where(where, model_at <= now))).one()
              for model_at, where in ((col(Job.created_at), Job.community_id == community_id),
                                      (col(IncomeRecord.created_at), IncomeRecord.community_id == community_id),
                                      (col(Training.starts_at), Training.community_id == community_id))]
    found = [s for s in stamps if s is not None]
    return max(found) if found else None


# ---------------------------------------------------------------- the scheduler


def remind_keys(signup_id: int | None, starts_at: datetime) -> list[str]:
    """The outbox keys of a sign-up's reminder for a training starting at `starts_at`: the one used now (a moved
    training is reminded again for its new start) and the one of the reminders queued before that."""
    return [f"training_remind:{signup_id}:{int(starts_at.timestamp())}", f"training_remind:{signup_id}"]



async def due(uow: UnitOfWork, *, now: datetime) -> int:
    """Remind the signed-up the day before a training (once each; never in the private quiet hours)."""
    rows = (await uow.session.exec(
        select(TrainingSignup, Training, Community, User)
        .join(Training, col(Training.id) == col(TrainingSignup.training_id))
        .join(Community, col(Community.id) == col(Training.community_id))
        .join(Member, col(Member.id) == col(TrainingSignup.member_id)).join(User, col(User.id) == col(Member.user_id))
        .where(Training.state == "open", col(TrainingSignup.reminded_at).is_(None), col(Training.starts_at) > now,
               col(Training.starts_at) <= now + REMIND_BEFORE)
        .order_by(col(TrainingSignup.id)).limit(500))).all()
    sent = 0
    for signup, training, community, user in rows:
        if in_private_quiet(community, now):
            continue
        claim = await uow.session.execute(update(TrainingSignup).where(
            col(TrainingSignup.id) == signup.id, col(TrainingSignup.reminded_at).is_(None))
            .values(reminded_at=now).execution_options(synchronize_session=False))
        if not claim.rowcount:  # type: ignore[attr-defined]
            continue
        outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or community.locale, now=now,
                      community_id=community.id, recipient_user_id=user.id,
                      dedupe_key=remind_keys(signup.id, training.starts_at)[0],
                      notice=TrainingRemind(number=training.number, title=training.title, place=training.place,
                                            starts=local_text(training.starts_at, community.timezone)))
        sent += 1
    await uow.session.flush()
    return sent
