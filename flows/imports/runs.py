"""An import from the bot (/import): who may import what, and one run's life — started when the file arrives,
previewed (the dry run, on the downloaded file), then applied or cancelled, each step a compare-and-set on
`ImportRun.state` so two presses of ✅ import once. The file is not kept: Telegram keeps it under its file id,
and its digest proves that the file applied is the one previewed.

Admins import everything; a grid worker (who registers key persons) only key persons, and only into the
buildings of their grid; nobody else. The command line is the operator (linli_cli.py) and uses `importer`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from flows.actors import Actor
from flows.care.importing import KeyPersons
from flows.care.ledger import is_admin, manageable_buildings
from flows.errors import AlreadyDone, Expired, Forbidden, NotFound
from flows.imports import reader, run
from flows.imports.complaints import Complaints
from flows.imports.residents import Residents
from flows.roles import Perm
from storage.crypto import Sealer
from storage.db import Database, UnitOfWork
from storage.models import Community
from storage.models_roster import ImportRun

KINDS = ("residents", "key-persons", "complaints")
ALIASES = {"residents": Residents.aliases, "key-persons": KeyPersons.aliases, "complaints": Complaints.aliases}
PREVIEW_VALID = timedelta(hours=2)  # a dry run older than this is not applied: the data may have moved on


def importer(kind: str, community: Community, sealer: Sealer, *, create_buildings: bool = False,
             remove_absent: bool = False, buildings: set[int] | None = None, actor_user_id: int | None = None,
             member_id: int | None = None) -> run.Importer:
    if kind == "residents":
        return Residents(community, sealer, create_buildings=create_buildings, remove_absent=remove_absent)
    if kind == "complaints":
        return Complaints(community, sealer, member_id=member_id)
    if kind == "key-persons":
        return KeyPersons(community, sealer, buildings=buildings, actor_user_id=actor_user_id)
    raise NotFound("import", kind)


async def allowed_kinds(uow: UnitOfWork, *, actor: Actor) -> tuple[str, ...]:
    """What the actor may import into their community (Forbidden when nothing)."""
    if actor.member is None or not actor.can(Perm.PERSONS):
        raise Forbidden("import")
    if is_admin(actor):
        return KINDS
    if await manageable_buildings(uow, actor=actor):
        return ("key-persons",)
    raise Forbidden("import")


async def _scope(uow: UnitOfWork, actor: Actor, kind: str) -> list[int] | None:
    if kind not in await allowed_kinds(uow, actor=actor):
        raise Forbidden("import")
    if is_admin(actor):
        return None
    return [b.id for b in await manageable_buildings(uow, actor=actor) if b.id is not None]


async def start(uow: UnitOfWork, *, actor: Actor, kind: str, file_id: str, file_name: str,
                now: datetime) -> ImportRun:
    """A run for a file just sent (state fetching); the actor's buildings kept with it for a grid worker."""
    scope = await _scope(uow, actor, kind)
    me = actor.registered()
    row = ImportRun(community_id=me.community_id, member_id=me.id or 0, kind=kind, file_id=file_id[:200],
                    file_name=file_name[:200], counts={"scope": scope}, created_at=now)
    uow.session.add(row)
    await uow.session.flush()
    return row


async def _move(uow: UnitOfWork, run_id: int, old: str, new: str, *, member_id: int | None = None,
                **values: Any) -> bool:
    stmt = update(ImportRun).where(col(ImportRun.id) == run_id, col(ImportRun.state) == old)
    if member_id is not None:
        stmt = stmt.where(col(ImportRun.member_id) == member_id)
    result = await uow.session.exec(stmt.values(state=new, **values))  # type: ignore[call-overload]
    return bool(result.rowcount)


@dataclass(frozen=True)
class Outcome:
    run: ImportRun
    report: run.Report | None = None
    refused: reader.FileRefused | None = None
    changed: bool = False  # the file applied is not the one previewed


async def _read(db: Database, run_id: int) -> tuple[ImportRun, Community]:
    async with db.uow() as uow:
        row = await uow.session.get(ImportRun, run_id)
        if row is None:
            raise NotFound("import", run_id)
        community = await uow.session.get(Community, row.community_id)
        assert community is not None
        return row, community


def _importer_of(row: ImportRun, community: Community, sealer: Sealer, actor_user_id: int | None) -> run.Importer:
    scope = row.counts.get("scope")
    return importer(row.kind, community, sealer, create_buildings=creates_buildings(row),
                    remove_absent=removes_absent(row), buildings=set(scope) if scope is not None else None, actor_user_id=actor_user_id,
                    member_id=row.member_id)


def creates_buildings(row: ImportRun) -> bool:
    """Whether the run adds the buildings its rows name and the community lacks (chosen after a first dry run)."""
    return bool(row.counts.get(CREATE_BUILDINGS))


def may_create_buildings(row: ImportRun, report: run.Report) -> bool:
    """Whether a dry run can be done again adding the missing buildings: a roster with rows rejected for naming a
    building the community does not have, the buildings not chosen yet."""
    return (row.kind == "residents" and not creates_buildings(row)
            and any(r.reason == "unknown_building" for r in report.rejected))


def removes_absent(row: ImportRun) -> bool:
    """Whether the run removes the roster's households its file leaves out (chosen after a first dry run)."""
    return bool(row.counts.get(REMOVE_ABSENT))


def may_remove_absent(row: ImportRun, report: run.Report) -> bool:
    """Whether a dry run can be done again removing the households the file leaves out: a roster whose every row
    went through, leaving households out, the removal not chosen yet."""
    return row.kind == "residents" and not removes_absent(row) and not report.rejected and bool(report.absent)


def choices(row: ImportRun) -> int:
    """What a dry run was made with, as its ✅ carries it: 1 the missing buildings added, 2 the absent households
    removed (`claim` takes only the ✅ of the latest dry run)."""
    return int(creates_buildings(row)) | (2 if removes_absent(row) else 0)


CREATE_BUILDINGS = "create_buildings"  # the run's choices, kept in `counts` beside the scope
REMOVE_ABSENT = "remove_absent"


async def preview(db: Database, *, run_id: int, data: bytes, sealer: Sealer, now: datetime,
                  actor_user_id: int | None, progress: Callable[[int, int], None] | None = None) -> Outcome:
    """The dry run of a downloaded file; the run becomes `previewed` (or `cancelled` when the file is refused)."""
    row, community = await _read(db, run_id)
    imp = _importer_of(row, community, sealer, actor_user_id)
    try:
        if len(data) > reader.MAX_BYTES:
            raise reader.FileRefused("size", limit=reader.MAX_BYTES // (1024 * 1024))
        sheet = reader.read(data, row.file_name, imp.aliases, imp.required)
    except reader.FileRefused as err:
        async with db.uow(write=True) as uow:
            await _move(uow, run_id, "fetching", "cancelled", finished_at=now)
            await uow.commit()
        return Outcome(row, refused=err)
    report = await run.run(db, imp, sheet, dry_run=True, now=now, community_id=community.id or 0,
                           actor_user_id=actor_user_id, via="bot", progress=progress)
    async with db.uow(write=True) as uow:
        counts = dict(row.counts, **report.counts)
        await _move(uow, run_id, "fetching", "previewed", digest=hashlib.sha256(data).hexdigest(), counts=counts)
        await uow.commit()
    return Outcome(row, report=report)


async def claim(uow: UnitOfWork, *, actor: Actor, run_id: int, now: datetime, chosen: int = 0) -> ImportRun:
    """✅ pressed: previewed → applying, once, by the one who started it and may still import that. `chosen`: what
    the dry run under that ✅ was made with (`choices`) — the ✅ of an earlier dry run is spent."""
    row = await _previewed(uow, actor, run_id, now)
    if choices(row) != chosen or not await _move(uow, run_id, "previewed", "applying"):
        raise AlreadyDone("import")
    return row


async def with_buildings(uow: UnitOfWork, *, actor: Actor, run_id: int, now: datetime) -> ImportRun:
    """🏢 pressed under a roster's dry run: previewed → fetching again, the run now adding the buildings its rows
    name and the community lacks; the caller downloads the file and previews it again (nothing written yet)."""
    return await _choose(uow, actor, run_id, now, CREATE_BUILDINGS)


async def with_removal(uow: UnitOfWork, *, actor: Actor, run_id: int, now: datetime) -> ImportRun:
    """🗑 pressed under a roster's dry run: previewed → fetching again, the run now removing the households its file
    leaves out; the caller downloads the file and previews it again (nothing written yet)."""
    return await _choose(uow, actor, run_id, now, REMOVE_ABSENT)


async def _choose(uow: UnitOfWork, actor: Actor, run_id: int, now: datetime, choice: str) -> ImportRun:
    """A roster run's choice made (kept in `counts`), once: previewed → fetching, for a second dry run."""
    row = await _previewed(uow, actor, run_id, now)
    if row.kind != "residents":
        raise NotFound("import", run_id)
    if row.counts.get(choice) or not await _move(uow, run_id, "previewed", "fetching",
                                                 counts=dict(row.counts, **{choice: True})):
        raise AlreadyDone("import")
    return row


async def _previewed(uow: UnitOfWork, actor: Actor, run_id: int, now: datetime) -> ImportRun:
    """The actor's own previewed run, still theirs to import and not too old (an old one is cancelled)."""
    row = await uow.session.get(ImportRun, run_id)
    me = actor.registered()
    if row is None or row.member_id != me.id or row.community_id != me.community_id:
        raise NotFound("import", run_id)
    await _scope(uow, actor, row.kind)  # access taken away since: refused
    if row.state != "previewed":
        raise AlreadyDone("import")
    if now - row.created_at > PREVIEW_VALID:
        await _move(uow, run_id, "previewed", "cancelled", finished_at=now)
        raise Expired("import")
    return row


async def cancel(uow: UnitOfWork, *, actor: Actor, run_id: int, now: datetime) -> None:
    row = await uow.session.get(ImportRun, run_id)
    me = actor.registered()
    if row is None or row.member_id != me.id:
        raise NotFound("import", run_id)
    if not await _move(uow, run_id, "previewed", "cancelled", member_id=me.id, finished_at=now):
        raise AlreadyDone("import")


async def apply(db: Database, *, run_id: int, data: bytes, sealer: Sealer, now: datetime,
                actor_user_id: int | None, progress: Callable[[int, int], None] | None = None) -> Outcome:
    """The import of a claimed run's file, if it is the file previewed; the run becomes `applied`."""
    row, community = await _read(db, run_id)
    if hashlib.sha256(data).hexdigest() != row.digest:
        async with db.uow(write=True) as uow:
            await _move(uow, run_id, "applying", "cancelled", finished_at=now)
            await uow.commit()
        return Outcome(row, changed=True)
    imp = _importer_of(row, community, sealer, actor_user_id)
    sheet = reader.read(data, row.file_name, imp.aliases, imp.required)
    report = await run.run(db, imp, sheet, dry_run=False, now=now, community_id=community.id or 0,
                           actor_user_id=actor_user_id, via="bot", progress=progress)
    async with db.uow(write=True) as uow:
        await _move(uow, run_id, "applying", "applied", finished_at=now, counts=dict(row.counts, **report.counts))
        await uow.commit()
    return Outcome(row, report=report)
