"""The tables. Every row that belongs to a place carries its community; times are aware UTC.

Uniqueness lives in the schema: one membership per (community, user), one active grant per
(member, role), one conversation state per (chat, user), one processed update per update_id,
one outbox row per dedupe key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class Community(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=100)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    locale: str = Field(default="zh_CN", max_length=10)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts()


class Grid(SQLModel, table=True):
    """A grid (网格): a few buildings looked after by one grid worker."""

    __table_args__ = (UniqueConstraint("community_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    name: str = Field(max_length=60)
    # grid → member → building → grid is a cycle: this key is added after the tables (use_alter)
    worker_member_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("member.id", use_alter=True, name="fk_grid_worker_member_id_member"), nullable=True))


class Building(SQLModel, table=True):
    """A building (楼栋/楼门). `label` is what people say: "3" for 3号楼."""

    __table_args__ = (UniqueConstraint("community_id", "label"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    grid_id: int | None = Field(default=None, foreign_key="grid.id")
    label: str = Field(max_length=20)
    sort_key: int = Field(default=0)


class User(SQLModel, table=True):
    """A Telegram account that has talked to the bot."""

    id: int | None = Field(default=None, primary_key=True)
    tg_id: int = Field(sa_type=BigInteger, unique=True)
    first_name: str = Field(default="", max_length=128)
    last_name: str | None = Field(default=None, max_length=128)
    username: str | None = Field(default=None, max_length=64)
    tg_language: str | None = Field(default=None, max_length=16)
    language: str | None = Field(default=None, max_length=10)  # chosen with /lang
    active_community_id: int | None = Field(default=None, foreign_key="community.id")
    unreachable_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class Member(SQLModel, table=True):
    """A user's membership of one community (consent recorded at registration)."""

    __table_args__ = (UniqueConstraint("community_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    building_id: int | None = Field(default=None, foreign_key="building.id")
    display_name: str = Field(default="", max_length=128)
    consent_at: datetime = _ts()
    privacy_version: int = Field(default=1)
    joined_at: datetime = _ts()
    # moved away or removed (flows/leaving.py): not a member any more, the row stays for what it authored
    left_at: datetime | None = _ts(nullable=True)


class RoleGrant(SQLModel, table=True):
    """A role held by a member; revoking keeps the row (history) and sets revoked_at."""

    __table_args__ = (
        Index(
            "uq_role_grant_active",
            "member_id",
            "role",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    role: str = Field(max_length=32)
    organisation: str | None = Field(default=None, max_length=32)
    granted_by: int | None = Field(default=None, foreign_key="member.id")
    granted_at: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True)
    revoked_by: int | None = Field(default=None, foreign_key="member.id")


class Invite(SQLModel, table=True):
    """A one-time, expiring deep link that grants a role (and registers when needed)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    role: str = Field(max_length=32)
    organisation: str | None = Field(default=None, max_length=32)
    created_by: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = _ts()
    expires_at: datetime = _ts()
    used_at: datetime | None = _ts(nullable=True)
    used_by: int | None = Field(default=None, foreign_key="member.id")
    revoked_at: datetime | None = _ts(nullable=True)  # withdrawn (❌ in /invites, or its issuer lost the role)
    person_id: int | None = Field(default=None, foreign_key="keyperson.id")  # role "family": the one key person


class Chat(SQLModel, table=True):
    """A Telegram chat the bot is in, linked to a place and a purpose."""

    id: int | None = Field(default=None, primary_key=True)
    tg_chat_id: int = Field(sa_type=BigInteger, unique=True)
    type: str = Field(max_length=16)
    title: str = Field(default="", max_length=255)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    purpose: str | None = Field(default=None, max_length=16)
    building_id: int | None = Field(default=None, foreign_key="building.id")
    bot_status: str = Field(default="member", max_length=16)
    linked_by: int | None = Field(default=None, foreign_key="member.id")
    linked_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class ConversationState(SQLModel, table=True):
    """Where a person is in a dialog, per (chat, user); survives restarts and workers."""

    __table_args__ = (UniqueConstraint("tg_chat_id", "tg_user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    tg_chat_id: int = Field(sa_type=BigInteger)
    tg_user_id: int = Field(sa_type=BigInteger)
    flow: str = Field(max_length=32)
    step: str = Field(max_length=32)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    expires_at: datetime = _ts(index=True)
    updated_at: datetime = _ts()


class OutboxMessage(SQLModel, table=True):
    """A message the bot sends on its own, written in the same transaction as its cause — or a direct
    reply Telegram refused for now (its payload sealed, `priority` 0: sent before the chat's notices).
    Final rows are purged after the retention period; a row with a dedupe key stays, stripped of its
    payload (`purged_at`), so the key keeps blocking a second notice (flows/outbox.py)."""

    __table_args__ = (Index("ix_outbox_due", "status", "not_before"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    tg_chat_id: int = Field(sa_type=BigInteger, index=True)
    recipient_user_id: int | None = Field(default=None, foreign_key="user.id")
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    dedupe_key: str | None = Field(default=None, max_length=120, unique=True)
    status: str = Field(default="pending", max_length=12)  # pending|sending|sent|failed|dead
    attempts: int = Field(default=0)
    not_before: datetime = _ts()
    lease_until: datetime | None = _ts(nullable=True)
    claimed_by: str | None = Field(default=None, max_length=80)  # the sender of a `sending` row (bot/outbox.py)
    created_at: datetime = _ts()
    sent_at: datetime | None = _ts(nullable=True)
    tg_message_id: int | None = Field(default=None, sa_type=BigInteger)
    last_error: str | None = Field(default=None, max_length=500)
    priority: int = Field(default=1)  # 0: a deferred direct reply, 1: a notice
    purged_at: datetime | None = _ts(nullable=True)


class ProcessedUpdate(SQLModel, table=True):
    """Every Telegram update_id handled, so a redelivered update is skipped.

    `replies` holds the update's messages (sealed: they may show personal data) from its commit until they were
    sent: an update redelivered after a crash in between gets them sent then, instead of none."""

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    received_at: datetime = _ts(index=True)
    replies: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AuditEntry(SQLModel, table=True):
    """Who did what, when. `details` never holds key persons' personal data in clear.

    The actor is kept as they were at the time: their member number in the community and their name then
    (a later rename in Telegram does not rewrite the trail). Only actors' names: a key person is an id."""

    id: int | None = Field(default=None, primary_key=True)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    actor_user_id: int | None = Field(default=None, foreign_key="user.id")
    actor_member_id: int | None = Field(default=None)  # the member number then (no key: the trail outlives rows)
    actor_name: str | None = Field(default=None, max_length=128)  # the actor's name at the time
    action: str = Field(max_length=48)
    subject_type: str | None = Field(default=None, max_length=32)
    subject_id: int | None = Field(default=None, sa_type=BigInteger)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = _ts(index=True)


# ---------------------------------------------------------------- care ledger and check-ins (F-5, F-6)


class KeyPerson(SQLModel, table=True):
    """A key person of the care ledger (重点人员关爱台账).

    `alias` and the room are what paired volunteers see; name, contact and notes are Fernet
    tokens (encrypted with the settings' secret) and are only decrypted for the grid worker of
    the building and admins, with an audit entry for every read."""

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    building_id: int | None = Field(default=None, foreign_key="building.id")
    room: str = Field(default="", max_length=20)
    alias: str = Field(max_length=40)
    name_enc: str = Field(default="", max_length=1000)
    contact_enc: str = Field(default="", max_length=1000)
    notes_enc: str = Field(default="", max_length=4000)
    groups: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    risk: str = Field(default="yellow", max_length=8)  # red | yellow | green
    services: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    morning_time: str | None = Field(default=None, max_length=5)  # "HH:MM", overrides the community's
    evening_time: str | None = Field(default=None, max_length=5)
    midday_check: bool = Field(default=False)
    primary_volunteer_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    backup_volunteer_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    active: bool = Field(default=True)
    # taken off the ledger (moved away, into a care home, passed away): no more check-ins; reversible
    closed_at: datetime | None = _ts(nullable=True)
    closed_reason: str | None = Field(default=None, max_length=12)  # moved | care_home | deceased | other
    closed_by: int | None = Field(default=None, foreign_key="member.id")
    created_by: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class CheckinPrompt(SQLModel, table=True):
    """One check of one person in one slot of one local day; the ladder's state lives here."""

    __table_args__ = (
        UniqueConstraint("person_id", "local_date", "slot"),
        Index("ix_checkinprompt_due", "status", "next_action_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    person_id: int = Field(foreign_key="keyperson.id", index=True)
    local_date: str = Field(max_length=10)  # YYYY-MM-DD in the community's time zone
    slot: str = Field(max_length=8)  # morning | midday | evening
    due_at: datetime = _ts()
    status: str = Field(default="scheduled", max_length=12)  # scheduled|pending|answered|missed
    stage: int = Field(default=0)  # 0 primary asked · 1 reminded · 2 backup asked · 3 grid worker alerted
    assignee_member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    next_action_at: datetime | None = _ts(nullable=True)
    answer: str | None = Field(default=None, max_length=12)  # ok | not_ok | knocked | cannot
    answered_by: int | None = Field(default=None, foreign_key="member.id")
    answered_at: datetime | None = _ts(nullable=True)
    sent_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class Incident(SQLModel, table=True):
    """Something may be wrong with a key person: open until someone closes it with an outcome."""

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    person_id: int = Field(foreign_key="keyperson.id", index=True)
    prompt_id: int | None = Field(default=None, foreign_key="checkinprompt.id", unique=True)
    reason: str = Field(max_length=12)  # not_ok | no_answer
    status: str = Field(default="open", max_length=8)  # open | closed
    level: int = Field(default=0)  # how many times it was escalated
    taken_by: int | None = Field(default=None, foreign_key="member.id")
    outcome: str | None = Field(default=None, max_length=16)  # safe|slept_late|hospital|other|false_alarm
    note_enc: str = Field(default="", max_length=2000)
    opened_at: datetime = _ts()
    next_escalation_at: datetime | None = _ts(nullable=True, index=True)
    closed_at: datetime | None = _ts(nullable=True)
    closed_by: int | None = Field(default=None, foreign_key="member.id")


class Absence(SQLModel, table=True):
    """A volunteer away (`/away FROM TO`): their checks of those local days go to the backups."""

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    first_day: str = Field(max_length=10)
    last_day: str = Field(max_length=10)
    created_at: datetime = _ts()
    ended_notice_sent: bool = Field(default=False)


# ---------------------------------------------------------------- needs list (F-1)


class NeedPeriod(SQLModel, table=True):
    """The collection period of the needs list (需求清单) for one community and year."""

    __table_args__ = (UniqueConstraint("community_id", "year", name="uq_need_period_community_year"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    year: int
    opened_at: datetime = _ts()
    closes_at: datetime | None = _ts(nullable=True)
    closed_at: datetime | None = _ts(nullable=True)


class Need(SQLModel, table=True):
    """A resident's need, numbered per community and year ("需求 #12")."""

    __table_args__ = (UniqueConstraint("community_id", "year", "number", name="uq_need_community_year_number"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    year: int
    number: int
    category: str = Field(max_length=24)
    text: str = Field(max_length=500)
    photo_file_id: str | None = Field(default=None, max_length=255)
    # told by voice (old people need not type): `text` may then be empty; admins listen to it
    voice_file_id: str | None = Field(default=None, max_length=255)
    voice_seconds: int | None = Field(default=None)
    channel: str = Field(default="chat", max_length=16)  # chat|door_visit|meeting|rep_meeting
    author_member_id: int = Field(foreign_key="member.id", index=True)
    entered_by_member_id: int = Field(foreign_key="member.id")
    status: str = Field(default="open", max_length=12)  # open|merged|rejected|candidate
    merged_into_id: int | None = Field(default=None, foreign_key="need.id")
    reject_reason: str | None = Field(default=None, max_length=200)
    candidate_title: str | None = Field(default=None, max_length=30)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class NeedSupport(SQLModel, table=True):
    """"+1 我也需要": once per person and need (the schema says so)."""

    __table_args__ = (UniqueConstraint("need_id", "member_id", name="uq_need_support_need_member"),)
    id: int | None = Field(default=None, primary_key=True)
    need_id: int = Field(foreign_key="need.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    created_at: datetime = _ts()


class Ballot(SQLModel, table=True):
    """居民代表点选: one vote of a community's representatives on candidate projects.

    Round 1 is the year's ballot; a run-off between candidates tied at the cut-off is round 2, 3 …
    status: draft → open → closed (tally done, projects made) or tie (waiting for the admin) → closed."""

    __table_args__ = (UniqueConstraint("community_id", "year", "round", name="uq_ballot_community_year_round"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    year: int
    round: int = 1
    runoff_of_id: int | None = Field(default=None, foreign_key="ballot.id")
    choose: int = 10  # at most this many choices on a sheet
    minimum: int = 1  # at least this many to submit
    seats: int = 10  # how many projects this ballot fills (a run-off: the seats left at the tie)
    status: str = Field(default="draft", max_length=8, index=True)  # draft|open|tie|closed
    opens_at: datetime = _ts()
    closes_at: datetime = _ts(index=True)
    opened_at: datetime | None = _ts(nullable=True)
    closed_at: datetime | None = _ts(nullable=True)
    reminded_at: datetime | None = _ts(nullable=True)  # the day-before reminder went out
    created_by_member_id: int = Field(foreign_key="member.id")
    created_at: datetime = _ts()


class BallotCandidate(SQLModel, table=True):
    """A candidate project on a ballot, in the order shown; withdrawn ones are not counted."""

    __table_args__ = (UniqueConstraint("ballot_id", "need_id", name="uq_ballot_candidate_ballot_need"),
                      UniqueConstraint("ballot_id", "position", name="uq_ballot_candidate_ballot_position"))
    id: int | None = Field(default=None, primary_key=True)
    ballot_id: int = Field(foreign_key="ballot.id", index=True)
    need_id: int = Field(foreign_key="need.id")
    position: int
    title: str = Field(max_length=30)
    category: str = Field(max_length=24)
    withdrawn_at: datetime | None = _ts(nullable=True)
    votes: int | None = None  # set by the tally


class BallotVoter(SQLModel, table=True):
    """A representative entitled to vote on a ballot: who voted (turnout, reminders), never what."""

    __table_args__ = (UniqueConstraint("ballot_id", "member_id", name="uq_ballot_voter_ballot_member"),)
    id: int | None = Field(default=None, primary_key=True)
    ballot_id: int = Field(foreign_key="ballot.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    voted_at: datetime | None = _ts(nullable=True)  # first submission
    reminded_at: datetime | None = _ts(nullable=True)


class BallotSheet(SQLModel, table=True):
    """A ballot paper as counted, keyed by a keyed hash of (ballot, member) — no member id, no time.

    Its `BallotMark` boxes hold the choices the tally counts. Sheets are made for all of a ballot's voters at
    once and written only by the scheduler's batches and by closing (flows.ballot_sheets), never in a voter's
    own transaction: what the voter's screen shows lives sealed in their `BallotEnvelope`.
    One sheet per voter: (ballot_id, token) is unique and the token is a function of the voter."""

    __table_args__ = (UniqueConstraint("ballot_id", "token", name="uq_ballot_sheet_ballot_token"),
                      UniqueConstraint("receipt_hash", name="uq_ballot_sheet_receipt_hash"))
    id: int | None = Field(default=None, primary_key=True)
    ballot_id: int = Field(foreign_key="ballot.id", index=True)
    token: str = Field(max_length=64)
    cast: bool = False
    receipt_hash: str | None = Field(default=None, max_length=64)


class BallotEnvelope(SQLModel, table=True):
    """A voter's own paper, sealed with the ballot key: the draft the toggles show, the choices last
    submitted, which sheet they go to and a press counter, padded to one length (nothing about the choices
    in the clear: the compare-and-set of presses is on the sealed text). Written only in the voter's transactions;
    `queued_at` is set while submitted choices wait to be applied to the sheet (flows.ballot_sheets), so a
    changed mind before that replaces them. Found by `slot`, a keyed hash of the voter's receipt code that
    nothing else stores: the row cannot be matched to a sheet without the key."""

    __table_args__ = (UniqueConstraint("ballot_id", "slot", name="uq_ballot_envelope_ballot_slot"),)
    id: int | None = Field(default=None, primary_key=True)
    ballot_id: int = Field(foreign_key="ballot.id", index=True)
    slot: str = Field(max_length=64)
    sealed: str = Field(sa_column=Column(Text, nullable=False))
    queued_at: datetime | None = _ts(nullable=True)


class BallotMark(SQLModel, table=True):
    """One candidate's box on a sheet; `chosen` ones of cast sheets are what the tally counts.

    Every box is made with the sheet (for all voters at once), and applying submissions only flips
    `chosen` in place: rows inserted at submission would carry ids in the order people voted, which
    the audit's "ballot.vote" entries (who, when) could be lined up with."""

    __table_args__ = (UniqueConstraint("sheet_id", "candidate_id", name="uq_ballot_mark_sheet_candidate"),)
    id: int | None = Field(default=None, primary_key=True)
    sheet_id: int = Field(foreign_key="ballotsheet.id", index=True)
    candidate_id: int = Field(foreign_key="ballotcandidate.id", index=True)
    chosen: bool = False


class OpenDay(SQLModel, table=True):
    """实事开放日: residents visit a project at a time and place; experience officers sign up."""

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    starts_at: datetime = _ts(index=True)
    place: str = Field(max_length=60)
    created_by_member_id: int = Field(foreign_key="member.id")
    created_at: datetime = _ts()
    cancelled_at: datetime | None = _ts(nullable=True)


class OpenDaySignup(SQLModel, table=True):
    """A resident experience officer (居民体验官) signed up for an open day, with their feedback after it."""

    __table_args__ = (UniqueConstraint("open_day_id", "member_id", name="uq_open_day_signup_day_member"),)
    id: int | None = Field(default=None, primary_key=True)
    open_day_id: int = Field(foreign_key="openday.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    created_at: datetime = _ts()
    reminded_at: datetime | None = _ts(nullable=True)
    asked_at: datetime | None = _ts(nullable=True)
    stars: int | None = None
    feedback: str | None = Field(default=None, max_length=300)


class Poll(SQLModel, table=True):
    """A quick opinion poll put to a group as a native Telegram poll (non-anonymous)."""

    __table_args__ = (UniqueConstraint("tg_poll_id", name="uq_poll_tg_poll_id"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    tg_chat_id: int = Field(sa_type=BigInteger, index=True)
    tg_poll_id: str = Field(max_length=64)
    message_id: int | None = Field(default=None, sa_type=BigInteger)
    question: str = Field(max_length=300)
    options: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by_member_id: int = Field(foreign_key="member.id")
    created_at: datetime = _ts()
    closed_at: datetime | None = _ts(nullable=True)


class PollAnswer(SQLModel, table=True):
    """A person's answer to a poll (the latest one; an empty list means the vote was retracted)."""

    __table_args__ = (UniqueConstraint("poll_id", "tg_user_id", name="uq_poll_answer_poll_user"),)
    id: int | None = Field(default=None, primary_key=True)
    poll_id: int = Field(foreign_key="poll.id", index=True)
    tg_user_id: int = Field(sa_type=BigInteger)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    option_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    answered_at: datetime = _ts()


class RoleLease(SQLModel, table=True):
    """Who holds a role only one process may hold ("scheduler", "sender"): storage/leases.py. On SQLite this row
    is the lock (taken by compare-and-set, renewed, replaced once `expires_at` lapsed); on PostgreSQL an advisory
    lock is the truth and this row only tells `linli status` who holds it and since when."""

    role: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=200)  # host/pid/tag of the process
    since: datetime = _ts()
    heartbeat: datetime = _ts()
    expires_at: datetime = _ts()


# announcements (F-11.4) and the deadline ladder: their own modules (this one is long enough); importing registers them
from storage.models_announce import Announcement, AnnouncementPost  # noqa: E402, F401
from storage.models_complaints import HotlineComplaint  # noqa: E402, F401  (12345 hotline, F-11.3/F-10)
from storage.models_family import FamilyLink as FamilyLink  # noqa: E402

# ---------------------------------------------------------------- households in the property survey (#15)
from storage.models_household import MemberRoom as MemberRoom  # noqa: E402
from storage.models_household import PropertySurveyHousehold as PropertySurveyHousehold  # noqa: E402
from storage.models_ladder import LadderAlert  # noqa: E402, F401

# ---------------------------------------------------------------- the weekly meeting (F-8): its own module
from storage.models_meeting import Meeting as Meeting  # noqa: E402
from storage.models_meeting import MeetingAttendance as MeetingAttendance  # noqa: E402
from storage.models_meeting import MeetingCall as MeetingCall  # noqa: E402
from storage.models_meeting import MeetingItem as MeetingItem  # noqa: E402

# ---------------------------------------------------------------- micro-governance (F-9.1, F-9.2, F-9.4)
from storage.models_micro import DigestItem as DigestItem  # noqa: E402
from storage.models_micro import MicroConsent as MicroConsent  # noqa: E402
from storage.models_micro import MicroPost as MicroPost  # noqa: E402
from storage.models_micro import Team as Team  # noqa: E402
from storage.models_micro import TeamMember as TeamMember  # noqa: E402
from storage.models_micro import TeamPairing as TeamPairing  # noqa: E402
from storage.models_micro import Wish as Wish  # noqa: E402

# ---------------------------------------------------------------- the year's projects (F-3, F-4): their own module
from storage.models_projects import Project as Project  # noqa: E402
from storage.models_projects import ProjectLike as ProjectLike  # noqa: E402
from storage.models_projects import ProjectMilestone as ProjectMilestone  # noqa: E402
from storage.models_projects import ProjectPhoto as ProjectPhoto  # noqa: E402
from storage.models_projects import ProjectPost as ProjectPost  # noqa: E402
from storage.models_projects import ProjectRating as ProjectRating  # noqa: E402
from storage.models_projects import ProjectReport as ProjectReport  # noqa: E402

# ---------------------------------------------------------------- property evaluation (F-10): its own module
from storage.models_property import PropertyBuilding as PropertyBuilding  # noqa: E402
from storage.models_property import PropertyEvaluation as PropertyEvaluation  # noqa: E402
from storage.models_property import PropertyItemScore as PropertyItemScore  # noqa: E402
from storage.models_property import PropertyProject as PropertyProject  # noqa: E402
from storage.models_property import PropertyResult as PropertyResult  # noqa: E402
from storage.models_property import PropertyStaff as PropertyStaff  # noqa: E402
from storage.models_property import PropertySurvey as PropertySurvey  # noqa: E402

# ---------------------------------------------------------------- closed-loop requests (F-7): their own module
from storage.models_requests import Request as Request  # noqa: E402
from storage.models_requests import RequestEvent as RequestEvent  # noqa: E402
from storage.models_requests import RequestNumber as RequestNumber  # noqa: E402
from storage.models_requests import RequestReporter as RequestReporter  # noqa: E402
from storage.models_roster import Household, ImportRun  # noqa: E402, F401  (household roster and imports, F-11.3)
from storage.models_spaces import (  # noqa: E402, F401  (micro spaces, tool lending, employment: F-9.3, F-9.5)
    IncomeRecord,
    Job,
    JobApplication,
    Loan,
    ServiceRecord,
    Space,
    Tool,
    Training,
    TrainingSignup,
)

# ---------------------------------------------------------------- visits and services (F-5.3, F-5.4): their own module
from storage.models_visits import ServiceOffer as ServiceOffer  # noqa: E402
from storage.models_visits import ServiceRequest as ServiceRequest  # noqa: E402
from storage.models_visits import Visit as Visit  # noqa: E402
from storage.models_visits import VisitPlan as VisitPlan  # noqa: E402
