"""`linli status`: what an operator checks first — the database, its schema, which process holds each role, the
outbox's backlog and when an update was last handled. Read-only; counts and times only (no personal data)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from storage.db import Database
from storage.leases import holders
from storage.models import OutboxMessage, ProcessedUpdate, RoleLease

STATUSES = ("pending", "sending", "sent", "failed", "dead")


@dataclass
class Status:
    database: str
    current: str | None
    head: str
    roles: dict[str, tuple[RoleLease | None, bool]] = field(default_factory=dict)
    outbox: dict[str, int] = field(default_factory=dict)
    oldest_pending: datetime | None = None
    last_update: datetime | None = None
    redis: str = ""  # LINLI_REDIS_URL shown without its password ("" when not set)
    redis_answer: str = ""  # "0.4 ms", or why it did not answer
    redis_ok: bool = False

    @property
    def schema_ok(self) -> bool:
        return self.current == self.head


async def gather(db: Database, *, current: str | None, head: str, now: datetime, redis_url: str = "") -> Status:
    status = Status(database=make_url(db.url).render_as_string(hide_password=True), current=current, head=head)
    if redis_url:
        await _ping(status, redis_url)
    if not status.schema_ok:
        return status
    status.roles = await holders(db, now)
    async with db.uow() as uow:
        counts = (await uow.session.exec(
            select(OutboxMessage.status, func.count()).group_by(col(OutboxMessage.status)))).all()
        status.outbox = dict.fromkeys(STATUSES, 0) | {name: int(n) for name, n in counts}
        status.oldest_pending = (await uow.session.exec(
            select(func.min(OutboxMessage.created_at)).where(col(OutboxMessage.status) == "pending"))).one()
        status.last_update = (await uow.session.exec(select(func.max(ProcessedUpdate.received_at)))).one()
    return status


async def _ping(status: Status, url: str) -> None:
    """Whether Redis answers, and how fast (the shared rate limits: bot/shared_throttle.py)."""
    from urllib.parse import urlsplit, urlunsplit

    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    parts = urlsplit(url)
    hidden = parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1] if "@" in parts.netloc else parts.netloc)
    status.redis = urlunsplit(hidden)
    client = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        started = time.perf_counter()
        await client.ping()
        status.redis_answer, status.redis_ok = f"{(time.perf_counter() - started) * 1000:.1f} ms", True
    except (RedisError, OSError) as exc:
        status.redis_answer = type(exc).__name__
    finally:
        await client.aclose()


def ago(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "never"
    seconds = int((now - then).total_seconds())
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


def render(status: Status, now: datetime) -> list[str]:
    lines = [f"database  {status.database}"]
    if not status.schema_ok:
        lines.append(f"schema    {status.current or 'empty'}, the code needs {status.head}: run `linli db upgrade`")
        return lines
    lines.append(f"schema    {status.current} (newest)")
    lines.append("roles")
    for role, (row, alive) in status.roles.items():
        if row is not None and alive:
            lines.append(f"  {role:<10} {row.holder}  since {_stamp(row.since)}  heartbeat {ago(row.heartbeat, now)}")
        elif row is not None:
            lines.append(f"  {role:<10} nobody (last {row.holder}, heartbeat {ago(row.heartbeat, now)})")
        else:
            lines.append(f"  {role:<10} nobody (never held)")
    lines.append("outbox    " + " · ".join(f"{name} {n}" for name, n in status.outbox.items())
                 + (f"; oldest pending queued {ago(status.oldest_pending, now)}" if status.oldest_pending else ""))
    lines.append(f"updates   last handled {ago(status.last_update, now)}"
                 + (f" ({_stamp(status.last_update)})" if status.last_update else ""))
    if not status.redis:
        lines.append("redis     not set: each process keeps its own rate limits")
    elif status.redis_ok:
        lines.append(f"redis     {status.redis} answers ({status.redis_answer}): rate limits shared by every process")
    else:
        lines.append(f"redis     {status.redis} does not answer ({status.redis_answer}): each process keeps its own "
                     "rate limits until it does")
    return lines
