"""`linli keys rotate`: a new secret, and every sealed value of the database sealed again with it.

With a key file (the default), the new secret goes first into the file and the old ones stay after it, so
that whatever happens halfway, every value still opens; once all are re-sealed, only the secret just
replaced is kept (buttons signed with it work until they expire). With LINLI_SECRET_KEY in the environment
the operator sets the new secret there and the old one in LINLI_SECRET_KEY_PREVIOUS; the command re-seals.

Refused while a ballot is open: the ballot key comes from the secret and finds a voter's sheet until the
ballot closes. Stop the bot first and start it again afterwards: a running bot holds the old keys."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Table, and_, func, select, update
from sqlmodel import SQLModel

from bot.config import SecretError, Settings, create_key_file, read_key_file
from storage.crypto import Sealer
from storage.db import Database

#: Values re-sealed per transaction
BATCH = 200


class BallotOpen(RuntimeError):
    """A ballot is open: its voter tokens depend on the secret."""


def sealed_columns() -> list[tuple[Table, list[str]]]:
    """Every table with sealed columns (named `…_enc`, the convention of storage/models.py)."""
    import storage.models  # noqa: F401 (the tables are registered on import)

    out = []
    for table in SQLModel.metadata.sorted_tables:
        names = [c.name for c in table.columns if c.name.endswith("_enc")]
        if names:
            out.append((table, names))
    return out


@dataclass
class Report:
    values: int = 0  # non-empty sealed values seen
    resealed: int = 0
    unopenable: list[str] = field(default_factory=list)  # "table.column #id" only, never a value


async def _open_ballots(db: Database) -> int:
    from storage.models import Ballot

    async with db.uow() as uow:
        return int((await uow.session.execute(
            select(func.count()).select_from(Ballot).where(Ballot.status == "open"))).scalar_one())


async def reseal_all(db: Database, sealer: Sealer, *, dry_run: bool = False,
                     progress: Callable[[int, int], None] | None = None) -> Report:
    """Seal every sealed value again with the sealer's current key (those it already sealed are left alone).
    Compare-and-set per value: a value changed meanwhile is not overwritten (and is counted again next run)."""
    report = Report()
    work: list[tuple[Table, str, int, str]] = []
    async with db.uow() as uow:
        for table, names in sealed_columns():
            pk = table.primary_key.columns.values()[0]
            rows = (await uow.session.execute(select(pk, *(table.c[n] for n in names)).order_by(pk))).all()
            for row in rows:
                for name, value in zip(names, row[1:], strict=True):
                    if value:
                        report.values += 1
                        if not sealer.is_current(value):
                            work.append((table, name, row[0], value))
    total = len(work)
    for start in range(0, total, BATCH):
        batch = work[start:start + BATCH]
        async with db.uow(write=True) as uow:
            for table, name, key, value in batch:
                try:
                    fresh = sealer.reseal(value)
                except ValueError:
                    report.unopenable.append(f"{table.name}.{name} #{key}")
                    continue
                if not dry_run:
                    pk = table.primary_key.columns.values()[0]
                    await uow.session.execute(update(table).where(and_(pk == key, table.c[name] == value))
                                              .values({name: fresh}))
                report.resealed += 1
            if not dry_run:
                await uow.commit()
        if progress is not None:
            progress(min(start + BATCH, total), total)
    if progress is not None and total == 0:
        progress(0, 0)
    return report


async def rotate(settings: Settings, *, dry_run: bool = False,
                 progress: Callable[[int, int], None] | None = None) -> tuple[Report, str]:
    """Rotate the secret (key file) or re-seal under the one the environment names; returns the report and what
    was done to the secret, in one line."""
    db = Database(settings.database_url)
    try:
        if await _open_ballots(db):
            raise BallotOpen("a ballot is open: its voters' sheets are found with a key made from the secret. "
                             "Rotate after it closes")
        if settings.secret_key:
            previous = settings.previous_secrets()
            if not previous:
                raise SecretError("LINLI_SECRET_KEY is set in the environment, so `linli keys rotate` cannot replace "
                                  "it: put the new secret in LINLI_SECRET_KEY and the old one in "
                                  "LINLI_SECRET_KEY_PREVIOUS, then run it again to re-seal")
            sealer = Sealer(settings.secret(), previous)
            return await reseal_all(db, sealer, dry_run=dry_run, progress=progress), \
                "re-sealed with LINLI_SECRET_KEY (keep LINLI_SECRET_KEY_PREVIOUS until the buttons expire)"
        path = Path(settings.secret_key_file)
        held = read_key_file(path, create=False)
        if dry_run:  # what a new secret would have to re-seal: everything
            new = secrets.token_urlsafe(32).encode()
            return await reseal_all(db, Sealer(new, held), dry_run=True, progress=progress), "nothing changed"
        new = secrets.token_urlsafe(32).encode()
        create_key_file(path, [s.decode() for s in (new, *held)])  # first: every value opens, whatever happens
        report = await reseal_all(db, Sealer(new, held), progress=progress)
        if not report.unopenable:
            create_key_file(path, [new.decode(), held[0].decode()])  # the one just replaced, for buttons in flight
        return report, f"new secret in {path}; the one it replaced is kept there until the next rotation"
    finally:
        await db.dispose()
