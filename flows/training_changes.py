"""Changing a training after it is posted (F-9.5): its place or its start, by the office, before it starts.

Compare-and-set on the row as the office saw it (open, not begun, the same place and start): two changes at once,
or a change after a call-off, act once. What the training fed follows it:
- everyone signed up is told the new place and start (in private, once per change);
- a reminder not yet sent is dropped (it holds the old place or time); for a new start, everyone is reminded again
  the day before it — at once counts as that when the new start is within a day (the change's message says it);
- the group posts not yet out (queued, or held for the evening's digest) show the new place and start; those that
  went out stay as they were, their link opening the training as it is now.
Audited as "training.change" with the fields changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import col, select

from flows import audit, jobs, outbox
from flows.actors import Actor
from flows.errors import AlreadyDone, Invalid
from flows.micro_posts import revise_in_groups
from flows.notices import Notice
from storage.db import UnitOfWork
from storage.models import Member, OutboxMessage, User
from storage.models_spaces import Training, TrainingSignup


@dataclass(frozen=True)
class TrainingChanged(Notice, kind="training_changed"):
    """To each person signed up: the training's place or start changed; the ones it has now."""

    number: int
    title: str
    place: str
    starts: str


async def change(uow: UnitOfWork, *, actor: Actor, number: int, now: datetime, place: str | None = None,
                 starts_at: datetime | None = None) -> tuple[Training, int]:
    """The training with its new `place` and/or `starts_at`, and how many signed up were told (see the module).
    Invalid "same" when nothing would change, "past" for a start not in the future, "begun" once it began;
    AlreadyDone "training" once called off, "training:changed" when changed or called off meanwhile."""
    jobs.office(actor)
    community = actor.home()
    training = await jobs.get_training(uow, actor=actor, number=number)
    if training.state != "open":
        raise AlreadyDone("training")
    if training.starts_at <= now:
        raise Invalid("training", "begun")
    values: dict[str, object] = {}
    if place is not None and (place := jobs.mask_phones(jobs.clean("place", place, jobs.PLACE_MAX))) != training.place:
        values["place"] = place
    if starts_at is not None and starts_at != training.starts_at:
        if starts_at <= now:
            raise Invalid("when", "past")
        values["starts_at"] = starts_at
    if not values:
        raise Invalid("training", "same")
    old_start = training.starts_at
    took = await uow.session.execute(update(Training).where(
        col(Training.id) == training.id, col(Training.state) == "open", col(Training.starts_at) == old_start,
        col(Training.place) == training.place).values(**values).execution_options(synchronize_session=False))
    if not took.rowcount:  # type: ignore[attr-defined]
        raise AlreadyDone("training:changed")  # changed or called off meanwhile
    await uow.session.refresh(training)
    people = (await uow.session.exec(
        select(TrainingSignup, User).join(Member, col(Member.id) == col(TrainingSignup.member_id))
        .join(User, col(User.id) == col(Member.user_id)).where(TrainingSignup.training_id == training.id)
        .order_by(col(TrainingSignup.id)))).all()
    stale = [key for signup, _ in people for key in jobs.remind_keys(signup.id, old_start)]
    if stale:  # reminders not yet sent hold the old place or time
        await uow.session.execute(delete(OutboxMessage).where(
            col(OutboxMessage.dedupe_key).in_(stale), col(OutboxMessage.status) == "pending")
            .execution_options(synchronize_session=False))
    if "starts_at" in values:  # reminded again the day before the new start; within a day, this message is it
        soon = training.starts_at <= now + jobs.REMIND_BEFORE
        await uow.session.execute(update(TrainingSignup).where(col(TrainingSignup.training_id) == training.id)
                                  .values(reminded_at=now if soon else None)
                                  .execution_options(synchronize_session=False))
    starts = jobs.local_text(training.starts_at, community.timezone)
    notice = TrainingChanged(number=training.number, title=training.title, place=training.place, starts=starts)
    stamp = f"{now:%Y%m%d%H%M%S%f}:{int(training.starts_at.timestamp())}"  # once per change
    for signup, user in people:
        outbox.notify(uow, tg_chat_id=user.tg_id, lang=user.language or community.locale, now=now,
                      community_id=community.id, recipient_user_id=user.id,
                      dedupe_key=f"training_changed:{signup.id}:{stamp}", notice=notice)
    revised = await revise_in_groups(uow, key=f"training:{training.id}", notice=jobs.TrainingPosted(
        community_id=community.id or 0, number=training.number, community=community.name, title=training.title,
        place=training.place, capacity=training.capacity, starts=starts))
    audit.record(uow, action="training.change", now=now, community_id=community.id, actor_user_id=actor.user.id,
                 subject_type="training", subject_id=training.id, fields=sorted(values), told=len(people),
                 posts_revised=revised, actor=actor)
    return training, len(people)
