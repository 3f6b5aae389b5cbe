"""Peak RSS of a Linli bot process with 10,000 members, before and after ~2,000 updates.

The bot runs in its own process (`benchmarks.bot_process`); this process runs the stand-in
and the load, and reads the bot's VmHWM (peak resident set) and VmRSS from /proc.
"""

from __future__ import annotations

import asyncio
import random
import sys
from asyncio.subprocess import PIPE, Process
from dataclasses import dataclass
from pathlib import Path

from benchmarks.bot_process import READY
from benchmarks.common import LINLI_TOKEN, LINLI_USERNAME, Databases, Table, calm, mib, ms, rate, say, timed
from benchmarks.load import Action, LoadResult, People, ReplyWatcher, run_load
from benchmarks.seed import add_standin_users, seed_members
from bot.standin.client import StandInClient
from bot.standin.limits import RateLimits
from bot.standin.server import StandIn

PROJECT_ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("/help", "/me")  # each person in the sample sends both, in this order
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
BASELINES = ("aiogram", "bot.app")  # for comparison: what importing the libraries alone costs


@dataclass(frozen=True)
class Scale:
    members: int
    talkers: int  # members who write (each sends every command once)
    concurrency: int


FULL = Scale(members=10_000, talkers=1_000, concurrency=50)
QUICK = Scale(members=2_000, talkers=200, concurrency=20)


@dataclass(frozen=True)
class Memory:
    peak: int  # VmHWM, bytes
    current: int  # VmRSS, bytes


def memory_of(pid: int) -> Memory:
    """Peak and current resident set of a process (Linux /proc)."""
    fields: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()

    def size(key: str) -> int:
        number, unit = fields[key].split()
        assert unit == "kB", f"unexpected unit in /proc/{pid}/status: {unit}"
        return int(number) * 1024

    return Memory(peak=size("VmHWM"), current=size("VmRSS"))


async def start_process(*args: str) -> Process:
    """A Python process that prints READY when it is up and exits when its stdin closes."""
    proc = await asyncio.create_subprocess_exec(sys.executable, *args, stdin=PIPE, stdout=PIPE, cwd=PROJECT_ROOT)
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT)
    if line.decode().strip() != READY:
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"process {args} did not start (said {line!r}, exit code {proc.returncode})")
    return proc


async def stop_process(proc: Process) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
    except TimeoutError:
        say(f"    process {proc.pid} did not stop in {STOP_TIMEOUT:.0f} s; killing it")
        proc.kill()
        await proc.wait()


async def import_footprint(module: str) -> Memory:
    """Memory of a process that only imports `module` (what the libraries cost before any work)."""
    code = f"import sys, {module}; print({READY!r}, flush=True); sys.stdin.read()"
    proc = await start_process("-c", code)
    try:
        return memory_of(proc.pid)
    finally:
        await stop_process(proc)


def command_action(people: People) -> Action:
    async def act(tg_id: int, round_no: int) -> float:
        latency, _ = await people.write(tg_id, COMMANDS[round_no])
        return latency

    return act


async def drive(standin: StandIn, users: list[int], scale: Scale, proc: Process) -> tuple[Memory, LoadResult, Memory]:
    """(memory before, the load, memory after) for the running bot process."""
    client = StandInClient(standin.url)
    watcher = ReplyWatcher(standin.world)
    watcher.start()
    try:
        people = People(client, watcher, standin.world.bot())
        before = memory_of(proc.pid)
        talkers = random.Random(20270301).sample(users, scale.talkers)
        load = await run_load("bot process: /help and /me", talkers, command_action(people),
                              concurrency=scale.concurrency, rounds=len(COMMANDS))
        await calm(standin, quiet_ms=200)
        return before, load, memory_of(proc.pid)
    finally:
        await watcher.stop()
        await client.close()


async def run(root: Path, quick: bool) -> None:
    scale = QUICK if quick else FULL
    if not Path("/proc/self/status").exists():
        say("\n== memory: skipped (reads VmHWM from /proc, Linux only) ==")
        return
    databases = Databases(root)
    say(f"\n== memory: a bot process with {scale.members:,} members, {scale.talkers * len(COMMANDS):,} updates, "
        f"{databases.backend} ==")
    database_url = databases.fresh("memory")
    with timed() as elapsed:
        users = await seed_members(database_url, scale.members)
        seeded_in = elapsed()
    standin = StandIn(limits=RateLimits(enabled=False))
    await standin.start()
    try:
        standin.create_bot(LINLI_TOKEN, LINLI_USERNAME, "邻里助手")
        add_standin_users(standin, users)
        proc = await start_process("-m", "benchmarks.bot_process", database_url, standin.url)
        try:
            before, load, after = await drive(standin, users, scale, proc)
        finally:
            await stop_process(proc)
    finally:
        await standin.stop()
    imports = {module: await import_footprint(module) for module in BASELINES}
    report(scale, seeded_in, imports, before, load, after)


def report(scale: Scale, seeded_in: float, imports: dict[str, Memory], before: Memory, load: LoadResult,
           after: Memory) -> None:
    table = Table(f"memory — Linli bot process, {scale.members:,} members", ["", "value"])
    table.add("members seeded (bulk rows)", f"{scale.members:,} in {seeded_in:.2f} s")
    for module, memory in imports.items():
        table.add(f"peak RSS of a process importing {module} only", mib(memory.peak))
    table.add("peak RSS (VmHWM) after start", mib(before.peak))
    table.add(f"updates handled ({', '.join(COMMANDS)})", f"{load.done:,} ({len(load.errors)} errors)")
    table.add("peak RSS (VmHWM) after the load", mib(after.peak))
    table.add("growth of the peak", mib(after.peak - before.peak))
    table.add("RSS now (VmRSS) after the load", mib(after.current))
    table.add("updates/s (bot in its own process)", rate(load.per_second))
    table.add("latency p50 / p99", f"{ms(load.p50)} / {ms(load.p99)}")
    table.notes.append(f"{scale.talkers:,} members picked at random, {scale.concurrency} at a time")
    if load.errors:
        table.notes.append(f"first error: {load.errors[0]}")
    table.print()
