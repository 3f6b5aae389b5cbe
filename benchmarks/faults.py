"""Delivery under faults: real `linli run` processes against the stand-in, counting what was lost or sent twice.

Every run queues outbox notices (each with a unique marker in its text) to a set of private chats while other
people write `/help` to the bot, then waits until everything arrived (or a timeout) and counts from the
transcript (benchmarks/tally.py): a notice is lost if its marker never appears and duplicated for every extra
copy; a message someone wrote is lost if it got no answer, duplicated for every extra answer. The rule: lost 0,
and duplicates only for calls Telegram accepted whose answer the bot did not get (the stand-in counts those it
caused, `accepted_then_failed`; after a kill -9 they are the notices already in the transcript whose rows were not
yet recorded as sent — counted from the database at the moment of the kill).

Runs: injected Bot API faults; kill -9 of the process at three points (updates in flight, the sender mid-batch,
calls accepted but not yet answered) and a restart; with PostgreSQL (--pg or LINLI_TEST_POSTGRES_URL) also a
database cut through a TCP proxy, and two and three processes on one database.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from benchmarks.ballot import ThrowAwayPostgres, pg_server
from benchmarks.common import LINLI_TOKEN, LINLI_USERNAME, Databases, Table, linli_settings, say
from benchmarks.linli_process import LinliProcess
from benchmarks.outbox import FAULTY, open_private_chats
from benchmarks.proxy import Proxy
from benchmarks.seed import tg_ids
from benchmarks.tally import MARKER, Expected, Tally, Transcript, marker, tally
from bot.standin.client import StandInClient
from bot.standin.limits import Faults, RateLimits
from bot.standin.server import StandIn
from flows import outbox
from flows.clock import SystemClock
from storage.crypto import Sealer
from storage.db import Database
from storage.models import OutboxMessage, ProcessedUpdate

#: 10 % 429, 5 % 5xx, 2 % resets before the call takes effect, 1 % reset after it did (accepted-then-failed)
FAULT_RATES = {"429": 0.10, "5xx": 0.05, "reset": 0.02, "accepted_reset": 0.01}
SEED = 20261206
ROLES = ("poller", "scheduler", "sender")
HELD = 3.0  # seconds the stand-in holds the answer of an accepted call in the "accepted" kill run


@dataclass(frozen=True)
class Scale:
    notices: int
    chats: int  # notices go round-robin to this many private chats
    people: int  # each writes /help once
    timeout: float  # seconds to wait for everything to arrive
    cut: float  # seconds the database is away
    #: LINLI_* settings of every process: --quick shortens the roles' rounds (on SQLite a restarted process waits
    #: for its dead predecessor's role lease, 20 s by default)
    settings: tuple[tuple[str, float], ...] = ()


FULL = Scale(notices=600, chats=200, people=100, timeout=120.0, cut=10.0)
QUICK = Scale(notices=120, chats=40, people=30, timeout=25.0, cut=4.0,
              settings=(("role_check_seconds", 1.0), ("role_lease_seconds", 3.0)))


@dataclass
class Result:
    run: str
    tally: Tally
    accepted_then_failed: int  # by the stand-in's count
    unrecorded_at_kill: int = 0  # notices already shown whose rows were not recorded sent when the process died
    rejected_429: int = 0
    injected_429: int = 0  # of rejected_429: injected on purpose (the rest: the stand-in's rate limits)
    finished: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if self.tally.lost:
            return "LOST"
        if self.tally.duplicated > self.accepted_then_failed + self.unrecorded_at_kill:
            return "DUPLICATED"
        return "ok"


class Bench:
    """One run's world: a fresh database, a stand-in with Telegram's limits ×10, the chats notices go to, the
    people who write, a transcript of everything the bot posts and what was expected of it."""

    def __init__(self, name: str, database_url: str, logs: Path, scale: Scale, faults: Faults | None = None,
                 bot_url: str = "") -> None:
        self.name = name
        self.database_url = database_url
        self.bot_url = bot_url or database_url  # what the bot processes use (the proxy's URL in the cut run)
        self.logs = logs
        self.scale = scale
        self.standin = StandIn(limits=RateLimits(scale=FAULTY.scale), faults=faults)
        self.transcript = Transcript(self.standin.world)
        self.expected = Expected()
        self.db = Database(database_url)
        ids = tg_ids(scale.chats + scale.people)
        self.chats, self.people = ids[:scale.chats], ids[scale.chats:]
        self.processes: list[LinliProcess] = []
        self._notices = 0
        self._written: set[int] = set()
        self.client: StandInClient | None = None

    async def __aenter__(self) -> Bench:
        await self.standin.start()
        account = self.standin.create_bot(LINLI_TOKEN, LINLI_USERNAME, "邻里助手")
        open_private_chats(self.standin, account, self.chats + self.people)
        self.client = StandInClient(self.standin.url)
        self.transcript.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for proc in self.processes:
            await proc.stop()
        await self.transcript.stop()
        assert self.client is not None
        await self.client.close()
        await self.db.dispose()
        await self.standin.stop()

    def process(self, **settings: Any) -> LinliProcess:
        """A `linli run` of this run (not started), with the sender's limits matched to the stand-in's."""
        settings = {"outbox_rate": FAULTY.limits.overall, "outbox_per_chat": FAULTY.limits.per_chat,
                    "outbox_per_group_minute": FAULTY.limits.per_group_minute, "run_scheduler": False,
                    **dict(self.scale.settings), **settings}
        log = self.logs / f"{self.name.replace(' ', '-')}-{len(self.processes)}.log"
        proc = LinliProcess(self.bot_url, self.standin.url, log, **settings)
        self.processes.append(proc)
        return proc

    async def queue(self, count: int) -> None:
        """`count` more notices, one transaction, round-robin over the chats; each with its own marker."""
        now = SystemClock().now()
        async with self.db.uow() as uow:
            for _ in range(count):
                self._notices += 1
                mark = marker(self._notices)
                outbox.notify(uow, tg_chat_id=self.chats[self._notices % len(self.chats)], notice="role_granted",
                              lang="en", now=now, role="volunteer", community=mark)
            await uow.commit()
        at = time.monotonic()
        for n in range(self._notices - count + 1, self._notices + 1):
            self.expected.queue(marker(n), at)

    async def write(self, people: list[int] | None = None, text: str = "/help") -> None:
        """Each person writes `text` once (all at once through the control API)."""
        assert self.client is not None
        client = self.client

        async def one(tg_id: int) -> None:
            self.expected.ask(tg_id, time.monotonic())
            await client.send(tg_id, text, bot=LINLI_USERNAME)

        await asyncio.gather(*(one(p) for p in (people if people is not None else self.people)))

    def count(self) -> Tally:
        self.transcript.scan()
        return tally(self.expected, self.transcript.seen)

    async def arrived(self, timeout: float | None = None, quiet: float = 1.5) -> bool:
        """Until nothing is missing and the bot has been quiet for `quiet` seconds (late copies show up), or the
        timeout; whether nothing is missing."""
        deadline = time.monotonic() + (self.scale.timeout if timeout is None else timeout)
        while time.monotonic() < deadline:
            if self.count().lost == 0 and await self.standin.settle(quiet_ms=quiet * 1000, timeout=quiet * 4):
                return self.count().lost == 0
            await asyncio.sleep(0.1)
        return False

    async def until(self, condition: Callable[[], bool], timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.transcript.scan()
            if condition():
                return True
            await asyncio.sleep(0.005)
        return False

    async def unrecorded(self) -> int:
        """What the transcript shows but the database does not record as done (right after a kill: calls Telegram
        answered or took whose outcome the dead process had not written): notices whose rows are not `sent`, and
        answers still kept with their update's mark (flows/updates.py `keep_replies`) in chats that already got one."""
        self.transcript.scan()
        shown = self.transcript.markers()
        answered = {s.chat for s in self.transcript.seen if s.chat in self.expected.asked}
        async with self.db.uow() as uow:
            rows = (await uow.session.exec(
                select(OutboxMessage.payload).where(col(OutboxMessage.status) != "sent"))).all()
            kept = (await uow.session.exec(
                select(ProcessedUpdate.replies).where(col(ProcessedUpdate.replies).is_not(None)))).all()
        notices = sum(1 for payload in rows for m in MARKER.findall(str(payload)) if m in shown)
        sealer = Sealer(linli_settings(self.database_url, self.standin.url).secret())
        chats = [int(r["chat_id"]) for sealed in kept if sealed for r in json.loads(sealer.open(sealed))]
        return notices + sum(1 for chat in chats if chat in answered)

    def result(self, run: str, finished: bool, unrecorded: int = 0) -> Result:
        stats = self.standin.stats
        return Result(run, self.count(), stats.accepted_then_failed, unrecorded, stats.rejected_429,
                      stats.faults_by_kind["429"], finished)


# ---------------------------------------------------------------------- the runs


async def injected_faults(bench: Bench) -> Result:
    proc = bench.process()
    await proc.start()
    await bench.queue(bench.scale.notices)
    await bench.write()
    finished = await bench.arrived()
    result = bench.result("injected faults", finished)
    injected = dict(bench.standin.stats.faults_by_kind)
    result.notes.append(f"injected {injected}")
    return result


async def kill_updates_in_flight(bench: Bench) -> Result:
    proc = bench.process()
    await proc.start()
    await bench.queue(bench.scale.notices)
    await bench.write()
    third = bench.scale.people // 3
    await bench.until(lambda: bench.scale.people - bench.count().updates_lost >= third)
    await proc.kill()
    answered = bench.scale.people - bench.count().updates_lost
    unrecorded = await bench.unrecorded()
    await bench.process().start()
    result = bench.result("kill -9, updates in flight", await bench.arrived(), unrecorded)
    result.notes.append(f"killed after {answered} of {bench.scale.people} answers")
    return result


async def kill_sender_mid_batch(bench: Bench) -> Result:
    proc = bench.process()
    await proc.start()
    await bench.queue(bench.scale.notices)
    await bench.until(lambda: len(bench.transcript.markers()) >= bench.scale.notices // 3)
    await proc.kill()
    shown = len(bench.transcript.markers())
    unrecorded = await bench.unrecorded()
    await bench.process().start()
    await bench.write()
    result = bench.result("kill -9, sender mid-batch", await bench.arrived(), unrecorded)
    result.notes.append(f"killed after {shown} of {bench.scale.notices} notices")
    return result


async def kill_after_accepted(bench: Bench) -> Result:
    """Every send is taken at once but answered only after HELD seconds: the process dies with calls Telegram
    accepted under way (their answers never reach it)."""
    bench.standin.faults.configure(Faults(rates={"accepted_delay": 1.0}, delay=HELD, seed=SEED))
    proc = bench.process()
    await proc.start()
    await bench.queue(bench.scale.notices)
    await bench.until(lambda: len(bench.transcript.markers()) >= 8 and bench.standin.stats.in_flight >= 8)
    await proc.kill()
    in_flight = bench.standin.stats.in_flight
    bench.standin.faults.configure(Faults())
    unrecorded = await bench.unrecorded()
    await bench.process().start()
    await bench.write()
    result = bench.result("kill -9, calls accepted", await bench.arrived(), unrecorded)
    result.notes.append(f"{in_flight} calls held by the stand-in at the kill")
    return result


async def database_cut(bench: Bench, proxy: Proxy) -> Result:
    proc = bench.process()
    await proc.start()
    await bench.queue(bench.scale.notices)
    await bench.until(lambda: len(bench.transcript.markers()) >= bench.scale.notices // 10)
    proxy.cut()
    cut_at = time.monotonic()
    await bench.write()
    await asyncio.sleep(max(0.0, bench.scale.cut - (time.monotonic() - cut_at)))
    proxy.restore()
    result = bench.result(f"database cut {bench.scale.cut:g} s", await bench.arrived())
    result.notes.append(f"{'alive' if proc.alive else 'EXITED'} after the cut")
    return result


async def several_processes(bench: Bench, count: int) -> Result:
    """`count` processes on one database (the same command each, scheduler and sender on): which hold the roles
    (their logs say so), duplicates and 429s; then the sender's holder is killed -9 and the time until another
    process holds the role and until a notice goes out again is measured."""
    procs = [bench.process(run_scheduler=True) for _ in range(count)]
    for proc in procs:
        await proc.start()
    await bench.queue(bench.scale.notices)
    await bench.write()
    finished = await bench.arrived()
    holders = {role: [p for p in procs if p.logged(f"holding the {role} role")] for role in ROLES}
    notes = ["role holders: " + ", ".join(f"{role} {len(held)} of {count}" for role, held in holders.items())]
    victim = holders["sender"][0] if holders["sender"] else procs[0]
    if not holders["sender"]:
        notes.append("no process logged holding the sender role (no election): killing the first")
    await victim.kill()
    killed_at = time.monotonic()
    unrecorded = await bench.unrecorded()
    before = len(bench.transcript.markers())
    await bench.queue(bench.scale.chats)
    newcomers = [p for p in procs if p is not victim and p not in holders["sender"]]
    took: dict[str, float] = {}

    def replaced() -> bool:
        now = time.monotonic() - killed_at
        if "role" not in took and any(p.logged("holding the sender role") for p in newcomers):
            took["role"] = now
        if "notice" not in took and len(bench.transcript.markers()) > before:
            took["notice"] = now
        return "notice" in took and ("role" in took or not holders["sender"])

    await bench.until(replaced, timeout=90.0)
    finished = await bench.arrived() and finished
    result = bench.result(f"{count} processes on one database", finished, unrecorded)
    role = (f"another process held the role {took['role']:.1f} s later" if "role" in took
            else "role NOT taken within 90 s" if holders["sender"] else "")
    notice = f"a notice went out again {took['notice']:.1f} s later" if "notice" in took else "NO notice within 90 s"
    notes.append(f"sender's holder (pid {victim.pid}) killed -9: " + ", ".join(x for x in (role, notice) if x))
    result.notes.extend(notes)
    return result


# ---------------------------------------------------------------------- running and reporting

Run = Callable[[Bench], Awaitable[Result]]
SIMPLE: list[tuple[str, Run, Faults | None]] = [
    ("faults", injected_faults, Faults(rates=FAULT_RATES, seed=SEED)),
    ("kill-updates", kill_updates_in_flight, None),
    ("kill-sender", kill_sender_mid_batch, None),
    ("kill-accepted", kill_after_accepted, None),
]


async def on_backend(backend: str, fresh: Callable[[str], str], root: Path, scale: Scale,
                     postgres: bool, simple: bool = True) -> list[Result]:
    results: list[Result] = []
    for name, run, faults in SIMPLE if simple else []:
        results.append(await one(name, run, fresh(name), root, scale, faults, backend))
    if not postgres:
        say(f"  ({backend}: the database cut and several processes need PostgreSQL: pass --pg URL or set "
            f"LINLI_TEST_POSTGRES_URL)")
        return results
    url = fresh("cut")
    proxy, through = await Proxy.before(url)
    try:

        async def cut(bench: Bench) -> Result:
            return await database_cut(bench, proxy)

        results.append(await one("cut", cut, url, root, scale, None, backend, bot_url=through))
    finally:
        await proxy.stop()
    for count in (2, 3):
        async def several(bench: Bench, n: int = count) -> Result:
            return await several_processes(bench, n)

        results.append(await one(f"procs{count}", several, fresh(f"procs{count}"), root, scale, None, backend))
    return results


async def one(name: str, run: Run, url: str, root: Path, scale: Scale, faults: Faults | None, backend: str,
              bot_url: str = "") -> Result:
    started = time.monotonic()
    async with Bench(name, url, root, scale, faults, bot_url=bot_url) as bench:
        result = await run(bench)
    say(f"    … {backend} {result.run}: {result.verdict} ({time.monotonic() - started:.0f} s)")
    return result


async def run(root: Path, quick: bool) -> None:
    scale = QUICK if quick else FULL
    databases = Databases(root)
    server = pg_server()
    say(f"\n== faults: {scale.notices} notices to {scale.chats} chats and {scale.people} people writing /help, "
        f"`linli run` processes against the stand-in (Telegram's limits ×{FAULTY.scale:g}), {databases.backend}"
        f"{' and PostgreSQL' if server else ''}"
        + "".join(f", LINLI_{k.upper()}={v:g}" for k, v in scale.settings) + " ==")
    report(databases.backend, await on_backend(databases.backend, databases.fresh, root, scale,
                                               postgres=not databases.backend == "SQLite"))
    if server:
        with ThrowAwayPostgres(server, "faults") as url:
            postgres = Databases(root)
            postgres.override = url  # emptied and migrated again for each run
            # --quick: the runs above once, on PostgreSQL only the ones that need it
            report("PostgreSQL", await on_backend("PostgreSQL", postgres.fresh, root, scale, postgres=True,
                                                  simple=not quick))


def report(backend: str, results: list[Result]) -> None:
    table = Table(f"faults — {backend}", ["run", "notices", "answers", "lost", "duplicated", "accepted-then-failed",
                                          "unrecorded at kill", "max delay", "429s", ""])
    for r in results:
        t = r.tally
        table.add(r.run, t.notices, t.updates, f"{t.notices_lost}+{t.updates_lost}",
                  f"{t.notices_duplicated}+{t.updates_duplicated}", r.accepted_then_failed, r.unrecorded_at_kill,
                  f"{t.max_delay:.1f} s", f"{r.rejected_429} ({r.rejected_429 - r.injected_429} limit)", r.verdict if r.finished else f"{r.verdict} (timed out)")
    table.notes.append("lost and duplicated: notices+answers; a duplicate is allowed only for a call Telegram "
                       "accepted whose answer was lost (the stand-in's accepted-then-failed, or unrecorded at kill)")
    table.notes.append("429s: all the stand-in sent (of them, from its rate limits rather than injected); max delay: "
                       "from queueing a notice or writing a message until it appeared")
    for r in results:
        table.notes.extend(f"{r.run}: {note}" for note in r.notes)
    table.print()
