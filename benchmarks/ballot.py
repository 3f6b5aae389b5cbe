"""The representatives' ballot (居民代表点选).

Tally: a community with 40 candidates and 10,000 submitted sheets of 10 choices each (bulk rows: a box
per candidate on every sheet, 400,000 in all, the chosen ones flagged; choices drawn at random with
uneven popularity, as real preferences are), then `ballot.close()` — the one GROUP BY over the chosen
boxes of the cast sheets, the votes stored on the candidates, the ten
projects made and the result queued — timed on SQLite, and on PostgreSQL when
LINLI_TEST_POSTGRES_URL or `--pg URL` names a server (a throw-away database is made on it).
Figures: seconds and sheets per second for close(), and for the GROUP BY alone.

Toggling: a community with 40 candidates and N representatives (FULL: 300, 50 at a time; --quick: 40,
10 at a time) and an open ballot; each representative opens the sheet (`/vote`), then taps toggle
buttons on it, one after the other. A toggle is timed from the tap until the bot's answerCallbackQuery,
which Linli sends after editing the sheet in place (bot/core/dispatch.py answers every press last), so it
includes the edit. In the same run, the bare aiogram bot's button press (benchmarks/echo.py, measured as
benchmarks/updates.py's PRESS workload) is the baseline; figures and ratios are printed.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, delete, func, insert, text, update
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from benchmarks import updates_load as updates
from benchmarks.common import (
    ECHO_TOKEN,
    ECHO_USERNAME,
    LINLI_TOKEN,
    LINLI_USERNAME,
    SECRET_KEY,
    Databases,
    Table,
    calm,
    linli_settings,
    ms,
    rate,
    ratio,
    say,
    timed,
)
from benchmarks.echo import EchoBot
from benchmarks.load import LoadResult, People, ReplyWatcher, run_load
from benchmarks.seed import add_standin_users, seed_members
from bot import heap
from bot.app import LinliApp
from bot.standin.client import StandInClient
from bot.standin.limits import RateLimits
from bot.standin.server import StandIn
from flows import ballot, ballot_sheets, membership
from flows.roles import Role
from storage.db import Database
from storage.migrate import sync_url, upgrade
from storage.models import (
    AuditEntry,
    Ballot,
    BallotCandidate,
    BallotEnvelope,
    BallotMark,
    BallotSheet,
    BallotVoter,
    Chat,
    Community,
    Member,
    Need,
    OutboxMessage,
    Project,
    RoleGrant,
    User,
)

PG_ENV = "LINLI_BENCH_PG_URL"  # set by `python -m benchmarks --pg URL`
CHUNK = 2_000
SECRET = SECRET_KEY.encode()


@dataclass(frozen=True)
class Scale:
    candidates: int
    sheets: int
    choose: int
    repeats: int


FULL = Scale(candidates=40, sheets=10_000, choose=10, repeats=3)
QUICK = Scale(candidates=40, sheets=1_000, choose=10, repeats=1)


@dataclass(frozen=True)
class ToggleScale:
    candidates: int
    reps: int
    concurrency: int
    rounds: int  # toggles per representative (each on a different candidate of the sheet's first page)


TOGGLE_FULL = ToggleScale(candidates=40, reps=300, concurrency=50, rounds=4)
TOGGLE_QUICK = ToggleScale(candidates=40, reps=40, concurrency=10, rounds=3)


def pg_server() -> str:
    return os.environ.get(PG_ENV) or os.environ.get("LINLI_TEST_POSTGRES_URL", "")


def _choices(rng: random.Random, weights: list[float], k: int) -> list[int]:
    """k distinct candidate indexes, the popular ones more likely."""
    picked: set[int] = set()
    while len(picked) < k:
        picked.update(rng.choices(range(len(weights)), weights=weights, k=k - len(picked)))
    return sorted(picked)


async def seed_tally(db: Database, scale: Scale, *, seed: int = 1) -> int:
    """An open ballot with `scale.sheets` voters who all submitted; its id."""
    now = datetime.now(UTC)
    rng = random.Random(seed)
    async with db.uow(write=True) as uow:
        c = Community(slug="bench-ballot", name="北辰示范社区", created_at=now)
        uow.session.add(c)
        await uow.session.flush()
        admin_user = User(tg_id=900_000_001, first_name="王书记", created_at=now)
        uow.session.add(admin_user)
        await uow.session.flush()
        admin = Member(community_id=c.id, user_id=admin_user.id, display_name="王书记", consent_at=now, joined_at=now)
        uow.session.add(admin)
        await uow.session.flush()
        uow.session.add(RoleGrant(community_id=c.id, member_id=admin.id, role="admin", granted_at=now))
        uow.session.add(Chat(tg_chat_id=-100900, type="supergroup", title="社区群", community_id=c.id,
                             purpose="community", bot_status="administrator", created_at=now))
        needs = [Need(community_id=c.id, year=now.year, number=i + 1, category="env", text=f"需求 {i + 1}",
                      author_member_id=admin.id, entered_by_member_id=admin.id, status="candidate",
                      candidate_title=f"候选项目{i + 1}", created_at=now, updated_at=now)
                 for i in range(scale.candidates)]
        uow.session.add_all(needs)
        await uow.session.flush()
        b = Ballot(community_id=c.id or 0, year=now.year, choose=scale.choose, seats=scale.choose, status="open",
                   opens_at=now, opened_at=now, closes_at=now + timedelta(days=7), created_by_member_id=admin.id or 0,
                   created_at=now)
        uow.session.add(b)
        await uow.session.flush()
        cands = [BallotCandidate(ballot_id=b.id or 0, need_id=n.id or 0, position=i + 1,
                                 title=n.candidate_title or "", category=n.category) for i, n in enumerate(needs)]
        uow.session.add_all(cands)
        await uow.session.flush()
        cand_ids = [x.id or 0 for x in cands]
        community_id, ballot_id = c.id or 0, b.id or 0
        await uow.commit()
    conn_rows = [{"tg_id": 910_000_000 + i, "first_name": f"代表{i}", "created_at": now} for i in range(scale.sheets)]
    async with db.uow(write=True) as uow:
        for i in range(0, len(conn_rows), CHUNK):
            await uow.session.execute(insert(User), conn_rows[i:i + CHUNK])
        user_ids = list((await uow.session.exec(select(User.id).where(col(User.tg_id) >= 910_000_000)
                                                .order_by(col(User.id)))).all())
        members = [{"community_id": community_id, "user_id": u, "display_name": "", "consent_at": now,
                    "privacy_version": 1, "joined_at": now} for u in user_ids]
        for i in range(0, len(members), CHUNK):
            await uow.session.execute(insert(Member), members[i:i + CHUNK])
        member_ids = list((await uow.session.exec(select(Member.id).where(
            Member.community_id == community_id, Member.id != admin.id).order_by(col(Member.id)))).all())
        grants = [{"community_id": community_id, "member_id": m, "role": "representative", "granted_at": now}
                  for m in member_ids]
        voters = [{"ballot_id": ballot_id, "member_id": m, "voted_at": now} for m in member_ids]
        weights = [1.0 / (i + 1) ** 0.6 for i in range(scale.candidates)]
        rng.shuffle(weights)
        drafts = [[cand_ids[j] for j in _choices(rng, weights, scale.choose)] for _ in member_ids]
        sheets = [{"ballot_id": ballot_id, "token": ballot.voter_token(SECRET, ballot_id, m or 0), "cast": True,
                   "receipt_hash": ballot.receipt_hash(ballot.receipt_code(SECRET, ballot_id, m or 0))}
                  for m in member_ids]
        chosen_by_token = {s["token"]: set(d) for s, d in zip(sheets, drafts, strict=True)}
        for rows, table in ((grants, RoleGrant), (voters, BallotVoter), (sheets, BallotSheet)):
            for i in range(0, len(rows), CHUNK):
                await uow.session.execute(insert(table), rows[i:i + CHUNK])
        sheet_ids = dict((await uow.session.exec(select(BallotSheet.token, BallotSheet.id).where(
            BallotSheet.ballot_id == ballot_id))).all())
        # every sheet has a box per candidate (made for all voters at once); the chosen ones are flagged
        marks = [{"sheet_id": sheet_ids[s["token"]], "candidate_id": cid, "chosen": cid in chosen_by_token[s["token"]]}
                 for s in sheets for cid in cand_ids]
        for i in range(0, len(marks), CHUNK * 5):
            await uow.session.execute(insert(BallotMark), marks[i:i + CHUNK * 5])
        await uow.commit()
    return ballot_id


async def _reopen(db: Database, ballot_id: int) -> None:
    """Undo a close, so it can be timed again."""
    async with db.uow(write=True) as uow:
        await uow.session.execute(update(Ballot).where(col(Ballot.id) == ballot_id)
                                  .values(status="open", closed_at=None))
        await uow.session.execute(update(BallotCandidate).where(col(BallotCandidate.ballot_id) == ballot_id)
                                  .values(votes=None))
        await uow.session.execute(delete(Project).where(col(Project.ballot_id) == ballot_id))
        await uow.session.execute(delete(OutboxMessage))
        await uow.session.execute(delete(AuditEntry).where(col(AuditEntry.action) == "ballot.close"))
        await uow.commit()


async def tally_bench(url: str, scale: Scale = FULL) -> dict[str, str]:
    """Seed a ballot of `scale` in the (migrated, empty) database at `url` and time its closing."""
    db = Database(url)
    try:
        with timed() as elapsed:
            ballot_id = await seed_tally(db, scale)
            seed_s = elapsed()
        group_by: list[float] = []
        closing: list[float] = []
        tally: ballot.Tally | None = None
        for n in range(scale.repeats):
            if n:
                await _reopen(db, ballot_id)
            async with db.uow() as uow:
                with timed() as elapsed:
                    totals = (await uow.session.exec(
                        select(BallotMark.candidate_id, func.count())
                        .join(BallotSheet, col(BallotSheet.id) == col(BallotMark.sheet_id))
                        .where(BallotSheet.ballot_id == ballot_id, col(BallotSheet.cast).is_(True),
                               col(BallotMark.chosen).is_(True))
                        .group_by(col(BallotMark.candidate_id)))).all()
                    group_by.append(elapsed())
            with timed() as elapsed:
                async with db.uow(write=True) as uow:
                    tally = await ballot.close(uow, ballot_id=ballot_id, now=datetime.now(UTC) + timedelta(days=8))
                    await uow.commit()
                closing.append(elapsed())
        assert tally is not None
        assert sum(c for _, c in totals) == scale.sheets * scale.choose
        assert tally.sheets == scale.sheets
        async with db.uow() as uow:
            made = (await uow.session.exec(select(func.count()).select_from(Project))).one()
        close_s, query_s = statistics.median(closing), statistics.median(group_by)
        return {
            "seeding (bulk rows)": f"{scale.sheets:,} sheets, {scale.sheets * scale.candidates:,} boxes ({scale.sheets * scale.choose:,} chosen) in {seed_s:.1f} s",
            "GROUP BY alone": f"{ms(query_s)} ({scale.sheets / query_s:,.0f} sheets/s)",
            "close(): tally, votes stored, projects, notices": f"{close_s:.3f} s ({scale.sheets / close_s:,.0f} sheets/s)",
            "outcome": (f"{tally.ballot.status}, {int(made)} projects" if not tally.outcome.tied else
                        f"tie: {len(tally.outcome.tied)} for {tally.outcome.seats_left} seats"),
            "timed runs (median)": str(scale.repeats),
        }
    finally:
        await db.dispose()


def _title(position: int) -> str:
    return f"候选项目{position}"


async def seed_toggle(url: str, scale: ToggleScale) -> list[int]:
    """`scale.reps` registered representatives (the first also an admin), `scale.candidates` candidate
    needs, and the ballot created and opened through the flows; the representatives' Telegram ids."""
    users = await seed_members(url, scale.reps)
    db = Database(url)
    try:
        now = datetime.now(UTC)
        async with db.uow(write=True) as uow:
            community = (await uow.session.exec(select(Community))).one()
            member_ids = list((await uow.session.exec(select(Member.id).order_by(col(Member.id)))).all())
            grants = [{"community_id": community.id, "member_id": m, "role": Role.REPRESENTATIVE.value,
                       "granted_at": now} for m in member_ids]
            grants.append({"community_id": community.id, "member_id": member_ids[0], "role": Role.ADMIN.value,
                           "granted_at": now})
            await uow.session.execute(insert(RoleGrant), grants)
            year = ballot.local_year(community, now)
            await uow.session.execute(insert(Need), [
                {"community_id": community.id, "year": year, "number": i, "category": "env", "text": f"需求 {i}",
                 "author_member_id": member_ids[0], "entered_by_member_id": member_ids[0], "status": "candidate",
                 "candidate_title": _title(i), "created_at": now, "updated_at": now}
                for i in range(1, scale.candidates + 1)])
            await uow.commit()
        async with db.uow(write=True) as uow:
            admin = (await uow.session.exec(select(User).where(User.tg_id == users[0]))).one()
            actor = await membership.load_actor(uow, admin)
            b = await ballot.create(uow, actor=actor, now=now, closes_at=now + timedelta(days=7))
            await ballot.open_ballot(uow, ballot_id=b.id or 0, now=now, actor=actor)
            # seeding, not measured: the "ballot is open" notices would only keep the sender busy
            await uow.session.execute(delete(OutboxMessage))
            await uow.commit()
        return users
    finally:
        await db.dispose()


async def _chosen(url: str, ballot_key: bytes) -> int:
    """How many choices the representatives' sealed envelopes hold (every toggle that went through adds one)."""
    db = Database(url)
    try:
        async with db.uow() as uow:
            sealed = (await uow.session.exec(select(BallotEnvelope.sealed))).all()
        return sum(len(ballot_sheets._unseal(ballot_key, s)[1].draft) for s in sealed)
    finally:
        await db.dispose()


ToggleFigures = dict[str, LoadResult]
SHEET, TOGGLE, PRESS = "opening the sheet (/vote → sheet)", "toggle on the sheet (tap → edited, answered)", \
    "bare aiogram: button press (tap → answered)"


async def _standin(users: list[int], token: str, username: str, name: str
                   ) -> tuple[StandIn, StandInClient, ReplyWatcher, People]:
    standin = StandIn(limits=RateLimits(enabled=False))
    await standin.start()
    client = StandInClient(standin.url)
    watcher = ReplyWatcher(standin.world)
    account = standin.create_bot(token, username, name)
    add_standin_users(standin, users)
    watcher.start()
    return standin, client, watcher, People(client, watcher, account)


async def _close(standin: StandIn, client: StandInClient, watcher: ReplyWatcher) -> None:
    await watcher.stop()
    await client.close()
    await standin.stop()


async def linli_toggles(url: str, users: list[int], scale: ToggleScale) -> tuple[ToggleFigures, bytes]:
    """Linli (aiogram runtime) over the stand-in: every representative opens the sheet, then toggles; the
    figures and the ballot key (to open the envelopes afterwards)."""
    standin, client, watcher, people = await _standin(users, LINLI_TOKEN, LINLI_USERNAME, "Linli")
    try:
        app = LinliApp(linli_settings(url, standin.url), run_scheduler=False)
        await app.start()
        heap.settle()  # as `linli run` does (bot/heap.py)
        try:
            sheets: dict[int, int] = {}

            async def open_sheet(tg_id: int, _round: int) -> float:
                latency, message_id = await people.write(tg_id, "/vote")
                sheets[tg_id] = message_id
                return latency

            async def toggle(tg_id: int, round_no: int) -> float:
                position = round_no + 1
                return await people.press(tg_id, sheets[tg_id], f"⬜ {position}. {_title(position)}")

            figures = {SHEET: await run_load("Linli: /vote", users, open_sheet, concurrency=scale.concurrency)}
            await calm(standin)
            figures[TOGGLE] = await run_load("Linli: toggles", [u for u in users if u in sheets], toggle,
                                             concurrency=scale.concurrency, rounds=scale.rounds)
            await calm(standin)
            return figures, app.core.ballot_key
        finally:
            await app.stop()
    finally:
        await _close(standin, client, watcher)


async def bare_presses(users: list[int], scale: ToggleScale) -> LoadResult:
    """The baseline: the bare aiogram bot's button press, as benchmarks/updates.py measures it."""
    standin, client, watcher, people = await _standin(users, ECHO_TOKEN, ECHO_USERNAME, "bare aiogram")
    try:
        bot = EchoBot(ECHO_TOKEN, standin.url)
        await bot.start()
        try:
            like = updates.Scale(users=len(users), rounds=scale.rounds, concurrency=scale.concurrency, warmup=0,
                                 alone=0)
            menus = await updates.open_menus(people, users, like, "bare aiogram")
            await calm(standin)
            result = await run_load("bare aiogram: presses", users, updates.press_action(people, menus),
                                    concurrency=scale.concurrency, rounds=scale.rounds)
            await calm(standin)
            return result
        finally:
            await bot.stop()
    finally:
        await _close(standin, client, watcher)


async def toggle_bench(url: str, scale: ToggleScale = TOGGLE_FULL) -> tuple[ToggleFigures, int]:
    """Seed the (migrated, empty) database at `url`, run Linli's toggles and the bare baseline; the
    figures and the choices stored afterwards."""
    users = await seed_toggle(url, scale)
    figures, ballot_key = await linli_toggles(url, users, scale)
    figures[PRESS] = await bare_presses(users, scale)
    return figures, await _chosen(url, ballot_key)


def toggle_report(backend: str, figures: ToggleFigures, chosen: int, scale: ToggleScale) -> None:
    table = Table(f"ballot — toggling over the stand-in, {backend}, {scale.reps} representatives, "
                  f"{scale.concurrency} at a time, {scale.rounds} toggles each, {scale.candidates} candidates",
                  ["workload", "done", "errors", "per s", "p50", "p99", "max"])
    for label, r in figures.items():
        table.add(label, r.done, len(r.errors), rate(r.per_second), ms(r.p50), ms(r.p99),
                  ms(max(r.latencies, default=0.0)))
    toggles, base = figures[TOGGLE], figures[PRESS]
    table.notes.append(f"Linli toggle / bare aiogram press: throughput {ratio(toggles.per_second, base.per_second)}, "
                       f"p50 {ratio(toggles.p50, base.p50)}, p99 {ratio(toggles.p99, base.p99)}")
    table.notes.append(f"choices held by the sealed drafts afterwards: {chosen:,} (toggles that went through: "
                       f"{toggles.done:,})")
    for label, r in figures.items():
        if r.errors:
            table.notes.append(f"{label}: first error: {r.errors[0]}")
    table.print()


class ThrowAwayPostgres:
    """A database of this run's own on a PostgreSQL server, dropped afterwards."""

    def __init__(self, server_url: str, label: str = "ballot") -> None:
        self.server = make_url(sync_url(server_url))
        self.name = f"linli_bench_{label}_{os.getpid()}"
        self.url = make_url(server_url).set(database=self.name).render_as_string(hide_password=False)

    def __enter__(self) -> str:
        admin = create_engine(self.server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}"'))
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        admin.dispose()
        upgrade(self.url)
        return self.url

    def __exit__(self, *exc: object) -> None:
        admin = create_engine(self.server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()


async def run(root: Path, quick: bool) -> None:
    scale = QUICK if quick else FULL
    databases = Databases(root)
    server = pg_server()
    backends = [databases.backend] + (["PostgreSQL"] if server else [])
    say(f"\n== ballot: tally of {scale.sheets:,} sheets × {scale.choose} choices of {scale.candidates} candidates, "
        f"{' and '.join(backends)} ==")
    started = time.monotonic()
    results = {databases.backend: await tally_bench(databases.fresh("ballot-tally"), scale)}
    if server:
        with ThrowAwayPostgres(server) as url:
            results["PostgreSQL"] = await tally_bench(url, scale)
    table = Table("ballot — closing and tallying", ["", *results])
    for key in next(iter(results.values())):
        table.add(key, *(r[key] for r in results.values()))
    table.notes.append(f"total {time.monotonic() - started:.0f} s")
    table.print()

    toggling = TOGGLE_QUICK if quick else TOGGLE_FULL
    say(f"\n== ballot: toggling, {toggling.reps} representatives ({toggling.concurrency} at a time), "
        f"{toggling.candidates} candidates, {' and '.join(backends)}, with the bare aiogram baseline ==")
    figures, chosen = await toggle_bench(databases.fresh("ballot-toggle"), toggling)
    toggle_report(databases.backend, figures, chosen, toggling)
    if server:
        with ThrowAwayPostgres(server) as url:
            figures, chosen = await toggle_bench(url, toggling)
        toggle_report("PostgreSQL", figures, chosen, toggling)
