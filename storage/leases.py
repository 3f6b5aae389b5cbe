"""Roles only one process may hold at a time ("scheduler", "sender", "poller"): the database mechanics.

Any number of processes may run `linli run` on one database; each asks, every few seconds, for the roles it may
take, and does a role's work only while it holds it (bot/election.py starts and stops the work).

- PostgreSQL (`AdvisoryLocks`): `pg_try_advisory_lock(key)` on one connection of its own (no pool: a connection
  given back to a pool would keep the lock), kept open outside every unit of work, for as long as the process
  holds a role. The lock is the truth. A process that dies ends its session and so frees the lock at once; a
  host that vanishes is noticed by the server's TCP keepalives (~25 s). The holder checks its connection on
  every round (`SELECT 1` with a timeout) and gives its roles up when it broke (the server may already have
  freed the locks), then tries again on a new connection. The `rolelease` row is written for `linli status`.
- SQLite (`TableLocks`): the `rolelease` row is the lock: taken by compare-and-set when it is free or its lease
  lapsed, renewed every round (`expires_at` moves on), given back on a clean stop. A holder that stops renewing
  is replaced once its lease lapsed, or at once when it was a process of this host that has ended (a restart
  after a kill -9); one that cannot renew (the database locked) gives the role up itself while a third of its
  lease is left, before anybody else may take it.

Times are the wall clock passed in (`now`); leases compare times of one machine (SQLite) or are not timed at all
(PostgreSQL)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import col, select

from storage.db import Database, insert_ignoring, is_sqlite
from storage.models import RoleLease

log = logging.getLogger("linli.roles")

#: The roles, in the order `linli status` shows them.
ROLES = ("scheduler", "sender", "poller")

#: How the lock connection shows in pg_stat_activity.
APPLICATION = {"application_name": "linli roles"}
#: PostgreSQL drops a connection whose peer stopped answering after about idle + interval × count seconds.
KEEPALIVES = {"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"}


#: The lease holders alive in this process: a row naming this host and pid but none of them is a previous life's
#: (the same pid after a restart, as a container's pid 1 always is)
_LIVE_HOLDERS: set[str] = set()


def process_ended(pid: int) -> bool:
    """Whether process `pid` of this machine has ended (signal 0 only asks whether it exists)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: alive
        return False
    return False


def holder_gone(holder: str) -> bool:
    """Whether the lease holder `holder` (as `holder_name` makes it) is known to be gone: a process of this host
    that ended, or of this very process but not one of its live holders. Another host's is never known gone."""
    host, _, rest = holder.partition("/")
    pid_text = rest.partition("/")[0]
    if host != socket.gethostname()[:120] or not pid_text.isdigit() or int(pid_text) <= 0:
        return False
    if int(pid_text) == os.getpid():
        return holder not in _LIVE_HOLDERS
    return process_ended(int(pid_text))


def holder_name(tag: str = "") -> str:
    """This process as `linli status` shows it: host/pid (and a tag when one process runs several apps)."""
    name = f"{socket.gethostname()[:120]}/{os.getpid()}"
    return f"{name}/{tag}" if tag else name


def advisory_key(role: str) -> int:
    """A stable 64-bit key for `pg_try_advisory_lock`, the same in every process and release."""
    digest = hashlib.sha256(f"linli:role:{role}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class RoleLocks(Protocol):
    async def hold(self, roles: Sequence[str], now: datetime) -> set[str]:
        """Take or keep each of `roles` that is free or already ours; return those this process holds now."""
        ...

    async def release(self, roles: Iterable[str], now: datetime) -> None:
        """Give the roles up (a clean stop), so a standby takes them on its next round."""
        ...

    async def close(self) -> None: ...


async def _record(db: Database, role: str, holder: str, *, since: datetime, now: datetime,
                  expires: datetime) -> None:
    """The informative row on PostgreSQL: who holds the role, since when, last heartbeat."""
    async with db.uow(write=True) as uow:
        done = await uow.session.exec(
            update(RoleLease).where(col(RoleLease.role) == role)
            .values(holder=holder, since=since, heartbeat=now, expires_at=expires))
        if not done.rowcount:
            await uow.session.exec(insert_ignoring(uow, RoleLease.__table__, ["role"]).values(
                role=role, holder=holder, since=since, heartbeat=now, expires_at=expires))
        await uow.commit()


class TableLocks:
    """A lock row per role with a lease (SQLite; works on any database).

    A holder that cannot renew gives the role up while a third of its lease is still left: it only learns at its
    next round that time has run out, and a standby may take the role the moment the lease lapses, so keeping it
    "until the lease lapses" would let both hold it for up to a round (and longer on a busy event loop). The
    elector's rounds are at most a third of the lease apart (bot/app.py), so this is at least a round early."""

    def __init__(self, db: Database, holder: str, *, lease: timedelta = timedelta(seconds=20)) -> None:
        self.db = db
        self.holder = holder
        self.lease = lease
        self.margin = lease.total_seconds() / 3
        _LIVE_HOLDERS.add(holder)
        self._valid_until: dict[str, float] = {}  # role → monotonic time our lease lapses

    async def hold(self, roles: Sequence[str], now: datetime) -> set[str]:
        held: set[str] = set()
        for role in roles:
            started = time.monotonic()
            try:
                ours = await self._take(role, now)
            except (SQLAlchemyError, OSError) as exc:
                # cannot tell: keep the role while our own lease lasts for more than a round (nobody else may
                # take it before it lapses; giving it up early leaves the standby a margin)
                ours = time.monotonic() + self.margin < self._valid_until.get(role, 0.0)
                log.warning("could not renew the %s role (%s)%s", role, type(exc).__name__,
                            "" if ours else ": giving it up")
            else:
                if ours:
                    self._valid_until[role] = started + self.lease.total_seconds()
            if ours:
                held.add(role)
            else:
                self._valid_until.pop(role, None)
        return held

    async def _take(self, role: str, now: datetime) -> bool:
        expires = now + self.lease
        async with self.db.uow(write=True) as uow:
            # renew our own lease while it runs …
            done = await uow.session.exec(
                update(RoleLease).where(col(RoleLease.role) == role, col(RoleLease.holder) == self.holder,
                                        col(RoleLease.expires_at) > now)
                .values(heartbeat=now, expires_at=expires))
            if not done.rowcount:  # … or take one that lapsed (ours or another's) …
                done = await uow.session.exec(
                    update(RoleLease).where(col(RoleLease.role) == role, col(RoleLease.expires_at) <= now)
                    .values(holder=self.holder, since=now, heartbeat=now, expires_at=expires))
            if not done.rowcount:  # … or one whose holder, a process of this host, has ended (a restart after
                # a kill -9 does not wait for its previous life's lease) …
                holder = (await uow.session.exec(select(RoleLease.holder).where(RoleLease.role == role))).first()
                if holder is not None and holder != self.holder and holder_gone(holder):
                    done = await uow.session.exec(
                        update(RoleLease).where(col(RoleLease.role) == role, col(RoleLease.holder) == holder)
                        .values(holder=self.holder, since=now, heartbeat=now, expires_at=expires))
                    if done.rowcount:
                        log.warning("took the %s role at once from %s: that process of this host has ended", role,
                                    holder)
                elif holder is None:  # … or the first one ever
                    done = await uow.session.exec(insert_ignoring(uow, RoleLease.__table__, ["role"]).values(
                        role=role, holder=self.holder, since=now, heartbeat=now, expires_at=expires))
            await uow.commit()
        return bool(done.rowcount)

    async def release(self, roles: Iterable[str], now: datetime) -> None:
        for role in roles:
            self._valid_until.pop(role, None)
            try:
                async with self.db.uow(write=True) as uow:
                    await uow.session.exec(
                        update(RoleLease).where(col(RoleLease.role) == role, col(RoleLease.holder) == self.holder)
                        .values(expires_at=now))
                    await uow.commit()
            except (SQLAlchemyError, OSError) as exc:  # the lease lapses by itself
                log.warning("could not give the %s role back (%s); it lapses by itself", role, type(exc).__name__)

    async def close(self) -> None:
        _LIVE_HOLDERS.discard(self.holder)


class AdvisoryLocks:
    """PostgreSQL session-level advisory locks on one dedicated connection (see the module's docstring)."""

    def __init__(self, db: Database, holder: str, *, check_timeout: float = 5.0,
                 lease: timedelta = timedelta(seconds=20)) -> None:
        self.db = db
        self.holder = holder
        self.check_timeout = check_timeout
        self.lease = lease  # only shown (the row's expires_at): the lock has no lease
        self._engine: AsyncEngine = create_async_engine(
            db.url, poolclass=NullPool,
            connect_args={"server_settings": {**APPLICATION, **KEEPALIVES}, "timeout": check_timeout})
        self._conn: AsyncConnection | None = None
        self._since: dict[str, datetime] = {}  # the roles whose lock this connection holds

    @property
    def connection(self) -> AsyncConnection | None:
        """The dedicated connection (tests close it to play a holder that died)."""
        return self._conn

    async def _connect(self) -> AsyncConnection:
        if self._conn is None:
            conn = await asyncio.wait_for(self._engine.connect(), self.check_timeout)
            self._conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    async def _drop(self) -> None:
        """Forget the connection and with it every lock (the server frees them when the session ends)."""
        conn, self._conn = self._conn, None
        if self._since:
            log.warning("lost the database connection holding the %s role(s): giving them up",
                        ", ".join(sorted(self._since)))
        self._since.clear()
        if conn is not None:
            try:
                await conn.invalidate()
                await conn.close()
            except (SQLAlchemyError, OSError, RuntimeError) as exc:
                log.debug("closing the lock connection: %s", type(exc).__name__)

    async def hold(self, roles: Sequence[str], now: datetime) -> set[str]:
        try:
            conn = await self._connect()
            if self._since:  # alive? the locks live as long as the session
                await asyncio.wait_for(conn.execute(text("SELECT 1")), self.check_timeout)
            for role in roles:
                if role in self._since:
                    continue
                got = await asyncio.wait_for(
                    conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": advisory_key(role)}),
                    self.check_timeout)
                if got.scalar():
                    self._since[role] = now
        except (SQLAlchemyError, OSError, TimeoutError, ConnectionError) as exc:
            log.warning("role locks: the database did not answer (%s)", type(exc).__name__)
            await self._drop()
            return set()
        for role, since in self._since.items():
            try:
                await _record(self.db, role, self.holder, since=since, now=now, expires=now + self.lease)
            except (SQLAlchemyError, OSError) as exc:  # informative only: the lock still holds
                log.warning("could not record the %s role's heartbeat (%s)", role, type(exc).__name__)
        return set(self._since)

    async def release(self, roles: Iterable[str], now: datetime) -> None:
        for role in list(roles):
            if role not in self._since or self._conn is None:
                continue
            try:
                await asyncio.wait_for(self._conn.execute(text("SELECT pg_advisory_unlock(:key)"),
                                                          {"key": advisory_key(role)}), self.check_timeout)
                del self._since[role]
                async with self.db.uow(write=True) as uow:
                    await uow.session.exec(
                        update(RoleLease).where(col(RoleLease.role) == role, col(RoleLease.holder) == self.holder)
                        .values(expires_at=now))
                    await uow.commit()
            except (SQLAlchemyError, OSError, TimeoutError, ConnectionError) as exc:
                log.warning("could not give the %s role back (%s): closing its connection frees it",
                            role, type(exc).__name__)
                await self._drop()

    async def close(self) -> None:
        await self._drop()
        await self._engine.dispose()


def role_locks(db: Database, holder: str, *, lease: timedelta = timedelta(seconds=20),
               check_timeout: float = 5.0) -> RoleLocks:
    """Advisory locks on PostgreSQL, lease rows elsewhere (SQLite)."""
    if is_sqlite(db.url):
        return TableLocks(db, holder, lease=lease)
    return AdvisoryLocks(db, holder, lease=lease, check_timeout=check_timeout)


async def holders(db: Database, now: datetime) -> dict[str, tuple[RoleLease | None, bool]]:
    """Each role's row (the last holder, or None when no process ever held it) and whether it is held now (for
    `linli status`). On PostgreSQL a role is held only while its advisory lock is (pg_locks), whatever the row
    says; on SQLite while the row's lease runs."""
    async with db.uow() as uow:
        rows = {r.role: r for r in (await uow.session.exec(select(RoleLease))).all()}
        out: dict[str, tuple[RoleLease | None, bool]] = {}
        for role in ROLES:
            row = rows.get(role)
            if is_sqlite(db.url):
                alive = row is not None and row.expires_at > now
            else:
                key = advisory_key(role)
                locked = (await uow.session.execute(text(
                    # pg_locks is the whole server's: only this database's lock is this deployment's role
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                    "AND classid = :hi AND objid = :lo AND objsubid = 1"),
                    {"hi": (key >> 32) & 0xFFFFFFFF, "lo": key & 0xFFFFFFFF})).scalar()
                alive = bool(locked)
            out[role] = (row, alive)
    return out
