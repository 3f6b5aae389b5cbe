"""Ballot papers (F-2.3 secrecy): the voters' sealed envelopes and the sheets the tally counts.

A voter's transaction may write only their turnout row, the audit entry and their envelope
(BallotEnvelope): the draft the toggles show and the choices last submitted, sealed with the ballot key and
padded to one length, found by a keyed hash of the receipt code. The sheets (BallotSheet, keyed by a keyed
hash of ballot and member) and their boxes (BallotMark) are made for all of a ballot's voters at once, in
token order, and are written only here, by `apply_pending`: the scheduler applies the envelopes waiting
since a submission in batches — several per transaction, a few statements per table in sheet order, only
once at least `BATCH_MIN` wait or the oldest has waited `BATCH_WAIT` — and closing applies every one left before the
tally, under the close's lock (a submission in flight is then either applied and counted or refused).

What a reader of the database (PostgreSQL's xmin/xmax/ctid, row ids, timestamps) can learn: who voted and
when (turnout, audit), that a voter's envelope changed (not what is in it), and which sheets were applied
together in one batch — so a voter's choices are hidden among those of everyone applied in the same batch,
never fewer than BATCH_MIN unless the oldest waited BATCH_WAIT (then the batch holds whoever waited: a batch
of one would tie that one sheet to the voter whose envelope it cleared, so the wait is long, and the closing
batch holds everyone not yet applied). A reader who copies the database between two batches learns the
same: the sheets that changed together. Without the key nobody can open an envelope or match it to a sheet."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select

from storage.crypto import Sealer
from storage.db import UnitOfWork, insert_ignoring
from storage.models import Ballot, BallotCandidate, BallotEnvelope, BallotMark, BallotSheet, BallotVoter

RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
RECEIPT_LENGTH = 8  # shown as XXXX-XXXX
BATCH_MIN = 5  # the scheduler applies envelopes only when at least this many wait …
BATCH_WAIT = timedelta(hours=6)  # … or the oldest has waited this long
SEALED_SIZE = 2048  # every envelope's plain text is padded to a multiple of this (in practice exactly this)
CHUNK = 2000  # rows (or ids) per statement
MAX_BOXES = 60  # candidates on a ballot at most (flows.ballot.MAX_CANDIDATES): boxes per sheet


# ---------------------------------------------------------------- keys and codes


def voter_token(secret: bytes, ballot_id: int, member_id: int) -> str:
    """The sheet key of a voter: HMAC-SHA256 of (ballot, member) under the deployment's secret."""
    return hmac.new(secret, f"linli-ballot:{ballot_id}:{member_id}".encode(), hashlib.sha256).hexdigest()


def receipt_code(secret: bytes, ballot_id: int, member_id: int) -> str:
    """The voter's receipt code, derived (not stored): "XXXX-XXXX" over RECEIPT_ALPHABET."""
    digest = hmac.new(secret, f"linli-receipt:{ballot_id}:{member_id}".encode(), hashlib.sha256).digest()
    n = int.from_bytes(digest, "big")
    chars = []
    for _ in range(RECEIPT_LENGTH):
        n, r = divmod(n, len(RECEIPT_ALPHABET))
        chars.append(RECEIPT_ALPHABET[r])
    half = RECEIPT_LENGTH // 2
    return "".join(chars[:half]) + "-" + "".join(chars[half:])


def normalise_receipt(code: str) -> str:
    """What a person typed as a receipt code, upper case, without dashes and spaces."""
    return "".join(c for c in code.upper() if c not in "- \t\u2010\u2011\u2012\u2013\u2014\uff0d")


def receipt_hash(code: str) -> str:
    """What the sheet stores of the receipt: sha256 of the normalised code (upper case, no dash/space)."""
    return hashlib.sha256(normalise_receipt(code).encode()).hexdigest()


def envelope_slot(secret: bytes, code: str) -> str:
    """The envelope's key: HMAC of the receipt code (a reader cannot match it to the sheet's receipt hash)."""
    return hmac.new(secret, f"linli-envelope:{normalise_receipt(code)}".encode(), hashlib.sha256).hexdigest()


def _sealer(secret: bytes) -> Sealer:
    """The one place the envelopes' sealing key is chosen: a Fernet key derived from the ballot key."""
    return Sealer(secret)


# ---------------------------------------------------------------- envelopes


@dataclass(frozen=True)
class Paper:
    """What a voter's own screen shows."""

    draft: frozenset[int]  # candidate ids ticked
    cast: frozenset[int] | None  # the choices last submitted (None: never submitted)
    version: int  # counts the voter's presses (inside the seal: a stale screen cannot apply twice)
    sealed: str | None = None  # the envelope as read (None: not made yet): the compare-and-set's old value


def _seal(secret: bytes, token: str, draft: Sequence[int], cast: Sequence[int] | None, version: int) -> str:
    plain = json.dumps({"t": token, "d": sorted(draft), "c": None if cast is None else sorted(cast),
                        "v": version}, separators=(",", ":"))
    size = -(-max(len(plain), 1) // SEALED_SIZE) * SEALED_SIZE
    return _sealer(secret).seal(plain.ljust(size))


def _unseal(secret: bytes, sealed: str) -> tuple[str, Paper]:
    """(sheet token, paper) of an envelope."""
    data = json.loads(_sealer(secret).open(sealed))
    cast = data["c"]
    return str(data["t"]), Paper(draft=frozenset(int(c) for c in data["d"]),
                                 cast=None if cast is None else frozenset(int(c) for c in cast),
                                 version=int(data["v"]), sealed=sealed)


async def _envelope(uow: UnitOfWork, ballot_id: int, slot: str) -> BallotEnvelope | None:
    return (await uow.session.exec(select(BallotEnvelope).where(
        BallotEnvelope.ballot_id == ballot_id, BallotEnvelope.slot == slot)
        .execution_options(populate_existing=True))).first()


async def read(uow: UnitOfWork, *, secret: bytes, ballot_id: int, member_id: int) -> Paper:
    """The voter's paper, without writing or locking anything. Before their first press it is empty, or —
    for a ballot open when this version came in — what their sheet holds."""
    row = await _envelope(uow, ballot_id, envelope_slot(secret, receipt_code(secret, ballot_id, member_id)))
    if row is not None:
        return _unseal(secret, row.sealed)[1]
    sheet = (await uow.session.exec(select(BallotSheet).where(
        BallotSheet.ballot_id == ballot_id, BallotSheet.token == voter_token(secret, ballot_id, member_id)))).first()
    if sheet is None or not sheet.cast:
        return Paper(draft=frozenset(), cast=None, version=0)
    chosen = frozenset(int(c) for c in (await uow.session.exec(select(BallotMark.candidate_id).where(
        BallotMark.sheet_id == sheet.id, col(BallotMark.chosen).is_(True)))).all())
    return Paper(draft=chosen, cast=chosen, version=0)


async def write(uow: UnitOfWork, *, secret: bytes, ballot_id: int, member_id: int, paper: Paper,
                draft: Sequence[int], cast: Sequence[int] | None, queued_at: datetime | None) -> Paper | None:
    """Replace the voter's envelope (compare-and-set on the sealed text as `paper` read it; None when another
    press came first). `queued_at`, when given, queues the submitted choices for the next batch (replacing
    any still waiting); otherwise the queue state is left as it is. No counter or length in the clear."""
    slot = envelope_slot(secret, receipt_code(secret, ballot_id, member_id))
    version = paper.version + 1
    sealed = _seal(secret, voter_token(secret, ballot_id, member_id), draft, cast, version)
    if paper.sealed is None:  # the first press makes the envelope (its own row: no sheet is touched)
        done = await uow.session.execute(insert_ignoring(uow, BallotEnvelope, ["ballot_id", "slot"]).values(
            ballot_id=ballot_id, slot=slot, sealed=sealed, queued_at=queued_at))
    else:
        values: dict[str, object] = {"sealed": sealed}
        if queued_at is not None:
            values["queued_at"] = queued_at
        done = await uow.session.execute(update(BallotEnvelope).where(
            col(BallotEnvelope.ballot_id) == ballot_id, col(BallotEnvelope.slot) == slot,
            col(BallotEnvelope.sealed) == paper.sealed).values(**values))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return Paper(draft=frozenset(draft), cast=None if cast is None else frozenset(cast), version=version,
                 sealed=sealed)


async def submitted(uow: UnitOfWork, *, secret: bytes, ballot_id: int | None, code: str) -> tuple[int, bool] | None:
    """(ballot id, whether choices were submitted) of the envelope of a receipt code, or None."""
    stmt = select(BallotEnvelope).where(BallotEnvelope.slot == envelope_slot(secret, code))
    if ballot_id is not None:
        stmt = stmt.where(BallotEnvelope.ballot_id == ballot_id)
    row = (await uow.session.exec(stmt)).first()
    if row is None:
        return None
    return row.ballot_id, _unseal(secret, row.sealed)[1].cast is not None


# ---------------------------------------------------------------- sheets and batches


async def ensure_sheets(uow: UnitOfWork, ballot: Ballot, secret: bytes) -> int:
    """Make the missing sheets of the ballot's voters with all their boxes, all at once and in token order
    (an order nobody can compute without the key). Returns how many were made."""
    assert ballot.id is not None
    members = (await uow.session.exec(select(BallotVoter.member_id).where(BallotVoter.ballot_id == ballot.id))).all()
    have = dict((await uow.session.exec(select(BallotSheet.token, BallotSheet.receipt_hash).where(
        BallotSheet.ballot_id == ballot.id))).all())
    every = sorted((voter_token(secret, ballot.id, m), receipt_hash(receipt_code(secret, ballot.id, m)))
                   for m in members)
    for token, receipt in every:  # sheets made at a first look before this version: their receipt too
        if token in have and have[token] is None:
            await uow.session.execute(update(BallotSheet).where(
                col(BallotSheet.ballot_id) == ballot.id, col(BallotSheet.token) == token).values(receipt_hash=receipt))
    missing = [(token, receipt) for token, receipt in every if token not in have]
    if not missing:
        return 0
    sheets = [{"ballot_id": ballot.id, "token": token, "cast": False, "receipt_hash": receipt}
              for token, receipt in missing]
    for i in range(0, len(sheets), CHUNK):  # (statements stay under the databases' limits on parameters)
        await uow.session.execute(insert_ignoring(uow, BallotSheet, ["ballot_id", "token"]).values(sheets[i:i + CHUNK]))
    made = {t for t, _ in missing}
    ids = [int(i) for i, t in (await uow.session.exec(select(BallotSheet.id, BallotSheet.token).where(
        BallotSheet.ballot_id == ballot.id).order_by(col(BallotSheet.id)))).all() if t in made]
    candidates = (await uow.session.exec(select(BallotCandidate.id).where(BallotCandidate.ballot_id == ballot.id)
                                         .order_by(col(BallotCandidate.position)))).all()
    boxes = [{"sheet_id": s, "candidate_id": c, "chosen": False} for s in ids for c in candidates]
    for i in range(0, len(boxes), CHUNK):
        await uow.session.execute(insert_ignoring(uow, BallotMark, ["sheet_id", "candidate_id"]).values(
            boxes[i:i + CHUNK]))
    return len(missing)


async def apply_pending(uow: UnitOfWork, *, secret: bytes | None, now: datetime, ballot_id: int | None = None,
                        everything: bool = False, batch_min: int = BATCH_MIN, wait: timedelta = BATCH_WAIT) -> int:
    """Apply the submitted choices waiting in envelopes to their sheets, one batch per ballot: of open
    ballots, when at least `batch_min` wait or the oldest waited `wait` (the scheduler); of `ballot_id`,
    all of them when `everything` (closing). Returns how many sheets were written.

    The batch's boxes and sheets are written in sheet id order (for sheets made here, token order), a few
    statements per table, so no row order follows the order of the envelopes or of the voting; the
    envelopes are taken in a shuffled order all the same. RuntimeError when something waits and the
    process has no ballot key (it cannot open the envelopes)."""
    stmt = select(BallotEnvelope).where(col(BallotEnvelope.queued_at).is_not(None))
    if ballot_id is not None:
        stmt = stmt.where(BallotEnvelope.ballot_id == ballot_id)
    else:
        stmt = stmt.join(Ballot, col(Ballot.id) == col(BallotEnvelope.ballot_id)).where(Ballot.status == "open")
    waiting = (await uow.session.exec(stmt.order_by(col(BallotEnvelope.id)).with_for_update(of=BallotEnvelope)
                                      .execution_options(populate_existing=True))).all()
    by_ballot: dict[int, list[BallotEnvelope]] = defaultdict(list)
    for row in waiting:
        by_ballot[row.ballot_id].append(row)
    written = 0
    for bid, rows in sorted(by_ballot.items()):
        oldest = min(r.queued_at for r in rows if r.queued_at is not None)
        if not everything and len(rows) < batch_min and oldest > now - wait:
            continue
        if secret is None:
            raise RuntimeError("the ballot key is needed to apply submitted ballot papers")
        ballot = await uow.session.get(Ballot, bid)
        assert ballot is not None
        await ensure_sheets(uow, ballot, secret)
        rows = list(rows)
        random.SystemRandom().shuffle(rows)
        choices: dict[str, frozenset[int]] = {}
        for row in rows:
            token, paper = _unseal(secret, row.sealed)
            if paper.cast is not None:
                choices[token] = paper.cast
        sheets = {t: int(i) for t, i in (await uow.session.exec(select(BallotSheet.token, BallotSheet.id).where(
            BallotSheet.ballot_id == bid))).all() if t in choices}
        chosen_by_sheet = {sheets[t]: c for t, c in choices.items() if t in sheets}
        sheet_ids = sorted(chosen_by_sheet)
        for i in range(0, len(sheet_ids), CHUNK // MAX_BOXES):  # in sheet id order, never the envelopes'
            part = sheet_ids[i:i + CHUNK // MAX_BOXES]
            boxes = (await uow.session.exec(select(BallotMark.id, BallotMark.sheet_id, BallotMark.candidate_id)
                                            .where(col(BallotMark.sheet_id).in_(part)))).all()
            chosen = sorted(int(m) for m, s, c in boxes if c in chosen_by_sheet[int(s)])
            await uow.session.execute(update(BallotMark).where(col(BallotMark.sheet_id).in_(part))
                                      .values(chosen=col(BallotMark.id).in_(chosen)))
            await uow.session.execute(update(BallotSheet).where(col(BallotSheet.id).in_(part)).values(cast=True))
        envelope_ids = sorted(r.id or 0 for r in rows)
        for i in range(0, len(envelope_ids), CHUNK):
            await uow.session.execute(update(BallotEnvelope).where(col(BallotEnvelope.id).in_(
                envelope_ids[i:i + CHUNK])).values(queued_at=None))
        written += len(sheet_ids)
    return written
