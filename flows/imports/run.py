"""Running an import (F-11.3): a dry run that says, row by row, what would be created, updated, left unchanged
or rejected and writes nothing; or the import itself, all or nothing per row (each row its own transaction).

An importer checks a row without writing (`check` → a Plan, or a FlowError naming the column and the rule) and
writes a checked row (`write`). The dry run only checks, so nothing can be half-written by it. A row that names
the same thing as an earlier row of the file (the same household, the same work order) is rejected with that
line's number. The report holds line numbers, columns and reason codes only — never a cell's value: the bot and
the command line word them in the reader's language (bot/imports.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.exc import SQLAlchemyError

from flows import audit
from flows.errors import FlowError, Forbidden, Invalid, NotFound
from flows.imports.reader import Row, Sheet
from storage.db import Database, UnitOfWork

CREATED, UPDATED, UNCHANGED, REJECTED = "created", "updated", "unchanged", "rejected"
OUTCOMES = (CREATED, UPDATED, UNCHANGED, REJECTED)


@dataclass(frozen=True)
class Plan:
    """What a checked row would do: `outcome` created/updated/unchanged, `key` what it names (for duplicates)."""

    outcome: str
    key: Hashable
    data: Any = None
    notes: tuple[str, ...] = ()  # e.g. "new_building": said in the report, not a rejection


@dataclass(frozen=True)
class RowResult:
    line: int
    outcome: str
    column: str = ""
    reason: str = ""  # a rule's code (empty, too_long, unknown_building, date, duplicate, …)
    details: dict[str, int | str] = field(default_factory=dict)  # numbers and column names only
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Absent:
    """What a roster's file leaves out (flows/imports/residents.py): the households' ids, and their count by
    building label for the report (labels and counts only, never a room)."""

    ids: list[int] = field(default_factory=list)
    by_building: dict[str, int] = field(default_factory=dict)


@dataclass
class Report:
    kind: str
    dry_run: bool
    rows: list[RowResult] = field(default_factory=list)
    absent: dict[str, int] = field(default_factory=dict)  # households not in the file, by building (rosters)
    removing: bool = False  # the import removes them (chosen), when every row went through
    removed: int = 0  # households removed by this import

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(r.outcome for r in self.rows)
        return {o: c.get(o, 0) for o in OUTCOMES}

    @property
    def rejected(self) -> list[RowResult]:
        return [r for r in self.rows if r.outcome == REJECTED]


class Importer(Protocol):
    kind: str
    aliases: dict[str, tuple[str, ...]]
    required: tuple[str, ...]

    async def check(self, uow: UnitOfWork, row: Row) -> Plan: ...

    async def write(self, uow: UnitOfWork, plan: Plan, now: datetime) -> None: ...


@runtime_checkable
class Roster(Importer, Protocol):
    """An importer of a whole list (the household roster), which can tell what the file leaves out and remove it."""

    remove_absent: bool

    async def absent(self, uow: UnitOfWork, named: set[Any]) -> Absent: ...

    async def remove(self, uow: UnitOfWork, ids: list[int], *, now: datetime, actor_user_id: int | None,
                     via: str) -> int: ...


def rejection(line: int, err: Exception) -> RowResult:
    """A row's error as a report line: the column and the rule, never the value."""
    if isinstance(err, Invalid):
        details = {k: v for k, v in err.details.items() if isinstance(v, int) and not isinstance(v, bool)}
        return RowResult(line, REJECTED, err.field, err.reason, details)
    if isinstance(err, NotFound):
        column = "primary or backup" if err.what == "member" else err.what
        return RowResult(line, REJECTED, column, f"unknown_{err.what}")
    if isinstance(err, Forbidden):
        return RowResult(line, REJECTED, err.permission.partition(":")[2], "forbidden")
    if isinstance(err, SQLAlchemyError):
        return RowResult(line, REJECTED, "", "database", {"error": type(err).__name__})
    return RowResult(line, REJECTED, "", err.__class__.__name__.lower())


async def _let_others_in() -> None:
    """Between two rows, the event loop serves everything else: on SQLite a statement runs at once, without a
    pause (storage/sqlite.py), so a bot's import of 1,000 rows held every other update up to a second at a time."""
    await asyncio.sleep(0)


async def run(db: Database, importer: Importer, sheet: Sheet, *, dry_run: bool, now: datetime,
              community_id: int, actor_user_id: int | None = None, via: str = "cli",
              progress: Callable[[int, int], None] | None = None) -> Report:
    """Check (dry run) or import every row of the sheet, then audit the run with its counts."""
    report = Report(importer.kind, dry_run)
    seen: dict[Hashable, int] = {}  # what the rows name (every row that went through), and their line
    total = len(sheet.rows)

    async def one(uow: UnitOfWork, row: Row) -> RowResult:
        plan = await importer.check(uow, row)
        if plan.key in seen:
            return RowResult(row.line, REJECTED, "", "duplicate", {"line": seen[plan.key]})
        if not dry_run and plan.outcome in (CREATED, UPDATED):
            await importer.write(uow, plan, now)
            await uow.commit()
        seen[plan.key] = row.line
        return RowResult(row.line, plan.outcome, notes=plan.notes)

    if dry_run:
        async with db.uow() as uow:  # read only, and rolled back on leaving
            for i, row in enumerate(sheet.rows, start=1):
                try:
                    report.rows.append(await one(uow, row))
                except FlowError as err:
                    report.rows.append(rejection(row.line, err))
                if progress:
                    progress(i, total)
                await _let_others_in()
    else:
        async with db.uow() as first:  # a first look: a row left unchanged or rejected needs no write transaction
            for i, row in enumerate(sheet.rows, start=1):
                try:
                    plan = await importer.check(first, row)
                    if plan.outcome == UNCHANGED and plan.key not in seen:
                        seen[plan.key] = row.line
                        report.rows.append(RowResult(row.line, UNCHANGED, notes=plan.notes))
                    else:
                        async with db.uow(write=True) as uow:  # checked again there, all or nothing per row
                            report.rows.append(await one(uow, row))
                except (FlowError, SQLAlchemyError) as err:  # a database's message quotes values: the kind only
                    report.rows.append(rejection(row.line, err))
                if progress:
                    progress(i, total)
                await _let_others_in()
    async with db.uow(write=True) as uow:
        if isinstance(importer, Roster):
            await _absent(uow, importer, report, set(seen), now=now, actor_user_id=actor_user_id, via=via)
        audit.record(uow, action="import", now=now, community_id=community_id, actor_user_id=actor_user_id,
                     kind=importer.kind, dry_run=dry_run, via=via, **report.counts,
                     absent=sum(report.absent.values()), removed=report.removed)
        await uow.commit()
    return report


async def _absent(uow: UnitOfWork, roster: Roster, report: Report, named: set[Any], *, now: datetime,
                  actor_user_id: int | None, via: str) -> None:
    """What the file leaves out, in the report; removed (in the transaction of the run's audit) when the import is
    asked to and every row went through — a rejected row may name a household still there."""
    absent = await roster.absent(uow, named)
    report.absent = absent.by_building
    report.removing = roster.remove_absent and not report.rejected and bool(absent.ids)
    if report.removing and not report.dry_run:
        report.removed = await roster.remove(uow, absent.ids, now=now, actor_user_id=actor_user_id, via=via)
