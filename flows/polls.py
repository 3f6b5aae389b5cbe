"""Quick opinion polls (F-2.5): an admin puts a native, non-anonymous Telegram poll to a linked
group; every answer is recorded (the latest one wins, an empty answer is a retraction); the
results are counts per option and the number of people who answered — never who chose what.

How a poll comes to exist: the poll's Telegram id is known only after it was sent, and the bot
sends only after the update's transaction committed. So `prepare` checks everything (permission,
linked group, the text) inside the update's transaction and returns a Draft without writing
anything; the poll is sent after the commit, and `create` then stores it with Telegram's ids in a
second short transaction (bot/core/delivery.py). If Telegram refuses the poll, nothing was written
and the admin is told; if storing fails, the poll is closed again at once. Nothing holds a
database transaction (on SQLite: the one write lock) while waiting for Telegram. An answer that
would arrive in the few milliseconds between sending and storing is ignored, like any answer to a
poll we do not know."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from flows import audit
from flows.errors import AlreadyDone, Forbidden, Invalid, NotFound
from flows.membership import Actor, membership
from flows.roles import Perm
from storage.db import UnitOfWork
from storage.models import Chat, Community, Poll, PollAnswer, User

QUESTION_MAX, OPTION_MAX = 300, 100  # Bot API: question 1-300, option 1-100 characters
MIN_OPTIONS, MAX_OPTIONS = 2, 12
SEPARATORS = ("|", "｜")  # the full-width bar is what Chinese input methods type


# ---------------------------------------------------------------- input


def _length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji may count twice)."""
    return len(text.encode("utf-16-le")) // 2


def clean(text: str) -> str:
    """One line of free text: no control or format characters, any whitespace run as one space."""
    kept = (" " if c.isspace() else c for c in text if c.isspace() or unicodedata.category(c) not in ("Cc", "Cf", "Cs"))
    return " ".join("".join(kept).split())


def parse(text: str) -> tuple[str, tuple[str, ...]]:
    """'问题 | 选项1 | 选项2' → (question, options), or Invalid naming the broken rule."""
    for sep in SEPARATORS[1:]:
        text = text.replace(sep, SEPARATORS[0])
    question, *rest = (clean(part) for part in text.split(SEPARATORS[0]))
    if not question:
        raise Invalid("question", "empty")
    if _length(question) > QUESTION_MAX:
        raise Invalid("question", "too_long", limit=QUESTION_MAX)
    if len(rest) > MAX_OPTIONS:
        raise Invalid("options", "too_many", limit=MAX_OPTIONS)
    seen: set[str] = set()
    for number, option in enumerate(rest, start=1):
        if not option:
            raise Invalid("option", "empty", number=number)
        if _length(option) > OPTION_MAX:
            raise Invalid("option", "too_long", number=number, limit=OPTION_MAX)
        if option.casefold() in seen:
            raise Invalid("option", "duplicate", number=number, text=option)
        seen.add(option.casefold())
    if len(rest) < MIN_OPTIONS:
        raise Invalid("options", "too_few", limit=MIN_OPTIONS)
    return question, tuple(rest)


# ---------------------------------------------------------------- creating


@dataclass(frozen=True)
class Draft:
    """A checked poll, not yet sent nor stored."""

    community_id: int
    tg_chat_id: int
    question: str
    options: tuple[str, ...]
    member_id: int
    user_id: int


async def _linked_chat(uow: UnitOfWork, *, actor: Actor, tg_chat_id: int) -> Chat:
    me = actor.require(Perm.POLL)
    chat = (await uow.session.exec(select(Chat).where(Chat.tg_chat_id == tg_chat_id))).first()
    if chat is None or chat.community_id is None or chat.purpose is None:
        raise NotFound("link", tg_chat_id)
    if chat.community_id != me.community_id:
        raise Forbidden("poll:other_community")
    return chat


async def prepare(uow: UnitOfWork, *, actor: Actor, tg_chat_id: int, chat_type: str, text: str) -> Draft:
    """Check a `/poll` of this actor in this chat; writes nothing (see the module's docstring)."""
    if chat_type not in ("group", "supergroup"):
        raise Invalid("chat", "not_group")
    chat = await _linked_chat(uow, actor=actor, tg_chat_id=tg_chat_id)
    question, options = parse(text)
    assert actor.member is not None and actor.member.id is not None and chat.community_id is not None
    assert actor.user.id is not None
    return Draft(community_id=chat.community_id, tg_chat_id=tg_chat_id, question=question, options=options,
                 member_id=actor.member.id, user_id=actor.user.id)


async def create(uow: UnitOfWork, *, draft: Draft, tg_poll_id: str, message_id: int, now: datetime) -> Poll:
    """Store a poll Telegram has accepted (with the ids it gave)."""
    poll = Poll(community_id=draft.community_id, tg_chat_id=draft.tg_chat_id, tg_poll_id=tg_poll_id,
                message_id=message_id, question=draft.question, options=list(draft.options),
                created_by_member_id=draft.member_id, created_at=now)
    uow.session.add(poll)
    await uow.session.flush()
    audit.record(uow, action="poll.create", now=now, community_id=draft.community_id, actor_user_id=draft.user_id,
                 subject_type="poll", subject_id=poll.id, chat=draft.tg_chat_id, options=len(draft.options))
    return poll


# ---------------------------------------------------------------- answers


async def record_answer(uow: UnitOfWork, *, tg_poll_id: str, tg_user_id: int, option_ids: tuple[int, ...] | list[int],
                        now: datetime) -> PollAnswer | None:
    """Someone answered (or retracted, with no options): keep their latest answer. Answers to polls
    we do not know (or closed already) are ignored: returns None."""
    poll = (await uow.session.exec(select(Poll).where(Poll.tg_poll_id == tg_poll_id))).first()
    if poll is None or poll.closed_at is not None:
        return None
    assert poll.id is not None
    chosen = sorted({i for i in option_ids if 0 <= i < len(poll.options)})
    user = (await uow.session.exec(select(User).where(User.tg_id == tg_user_id))).first()
    member = await membership(uow, user=user, community_id=poll.community_id) if user is not None else None
    answer = (await uow.session.exec(select(PollAnswer).where(
        PollAnswer.poll_id == poll.id, PollAnswer.tg_user_id == tg_user_id))).first()
    if answer is None:
        answer = PollAnswer(poll_id=poll.id, tg_user_id=tg_user_id, answered_at=now)
    answer.option_ids, answer.answered_at = chosen, now
    answer.member_id = member.id if member is not None else None
    uow.session.add(answer)
    await uow.session.flush()
    return answer


# ---------------------------------------------------------------- results and closing


@dataclass(frozen=True)
class Results:
    question: str
    options: tuple[str, ...]
    counts: tuple[int, ...]  # people per option
    voters: int  # people with an answer standing (retracted answers do not count)
    closed: bool
    lang: str  # the community's language: results are shown to the whole group


async def results(uow: UnitOfWork, *, poll: Poll) -> Results:
    answers = (await uow.session.exec(select(PollAnswer).where(PollAnswer.poll_id == poll.id))).all()
    counts = [0] * len(poll.options)
    voters = 0
    for answer in answers:
        chosen = [i for i in answer.option_ids if 0 <= i < len(counts)]
        voters += bool(chosen)
        for i in chosen:
            counts[i] += 1
    community = await uow.session.get(Community, poll.community_id)
    return Results(question=poll.question, options=tuple(poll.options), counts=tuple(counts), voters=voters,
                   closed=poll.closed_at is not None, lang=community.locale if community else "zh_CN")


async def latest(uow: UnitOfWork, *, tg_chat_id: int) -> Poll | None:
    """The chat's most recent poll."""
    return (await uow.session.exec(select(Poll).where(Poll.tg_chat_id == tg_chat_id)
                                   .order_by(col(Poll.created_at).desc(), col(Poll.id).desc()).limit(1))).first()


async def latest_results(uow: UnitOfWork, *, tg_chat_id: int) -> Results:
    poll = await latest(uow, tg_chat_id=tg_chat_id)
    if poll is None:
        raise NotFound("poll", tg_chat_id)
    return await results(uow, poll=poll)


async def close(uow: UnitOfWork, *, actor: Actor, tg_chat_id: int, now: datetime) -> Poll:
    """Close the chat's latest poll; answers after this are not counted. The caller stops the
    Telegram poll (its message_id) after the commit."""
    await _linked_chat(uow, actor=actor, tg_chat_id=tg_chat_id)
    poll = await latest(uow, tg_chat_id=tg_chat_id)
    if poll is None:
        raise NotFound("poll", tg_chat_id)
    if poll.closed_at is not None:
        raise AlreadyDone("poll_closed")
    poll.closed_at = now
    uow.session.add(poll)
    audit.record(uow, action="poll.close", now=now, community_id=poll.community_id, actor_user_id=actor.user.id,
                 subject_type="poll", subject_id=poll.id)
    return poll
