"""Role election: this process does a role's work ("scheduler", "sender") only while it holds the role.

Every `every` seconds the elector asks the database for the roles this process may take (storage/leases.py);
a role won starts its work, a role lost stops it, and a standby keeps asking. So any number of processes can
run the same `linli run` and exactly one runs the scheduler and one the sender (one rate budget). The first
round runs inside `LinliApp.start()`, so a lone process holds its roles before it answers anybody."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from storage.leases import RoleLocks

log = logging.getLogger("linli.roles")


def wall_clock() -> datetime:
    """Leases are kept in real time, whatever clock the app's rules run on (tests move that one)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Role:
    name: str
    start: Callable[[], Awaitable[None]]
    stop: Callable[[], Awaitable[None]]


class Elector:
    def __init__(self, locks: RoleLocks, roles: list[Role], *, every: float = 5.0,
                 now: Callable[[], datetime] = wall_clock) -> None:
        self.locks = locks
        self.roles = {role.name: role for role in roles}
        self.every = every
        self.now = now
        self.held: set[str] = set()  # the roles whose work runs in this process now
        self._lock = asyncio.Lock()

    async def step(self) -> set[str]:
        """One round: renew what we hold, take what is free, start and stop the work to match."""
        async with self._lock:
            if not self.roles:
                return set()
            holding = await self.locks.hold(list(self.roles), self.now())
            for name in sorted(self.held - holding):
                log.warning("gave up the %s role: another process may take it", name)
                await self._stop(name)
            for name in sorted(holding - self.held):
                log.info("holding the %s role", name)
                try:
                    await self.roles[name].start()
                except Exception:  # its work could not start: give the role back for another process
                    log.exception("the %s role's work did not start", name)
                    await self.locks.release([name], self.now())
                    continue
                self.held.add(name)
            return set(self.held)

    async def _stop(self, name: str) -> None:
        self.held.discard(name)
        try:
            await self.roles[name].stop()
        except Exception:
            log.exception("the %s role's work did not stop cleanly", name)

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the roles until `stop` is set, then stop their work and give them back."""
        try:
            while not stop.is_set():
                try:
                    await asyncio.wait_for(stop.wait(), self.every)
                except TimeoutError:
                    pass
                if stop.is_set():
                    break
                try:
                    await self.step()
                except Exception:  # the next round tries again; never let the election die silently
                    log.exception("role election round failed")
        finally:
            await self.resign()

    async def resign(self) -> None:
        """Stop every role's work, then give the roles back (a standby takes them on its next round)."""
        async with self._lock:
            held = sorted(self.held)
            for name in held:
                await self._stop(name)
            try:
                await self.locks.release(held, self.now())
            finally:
                await self.locks.close()
