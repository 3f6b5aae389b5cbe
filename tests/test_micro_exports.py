"""`linli export spaces|loans|jobs|trainings` (#16, in the exports' format of #14): a space with a drill on loan,
an opening with an application, a training with its sign-ups and attendance, each list as CSV (and one as XLSX),
worded in the community's language; a grid worker may not export them."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from flows import exports, jobs, loans, membership, spaces
from flows.clock import FixedClock
from flows.errors import Forbidden
from flows.roles import Role
from storage.crypto import Sealer
from storage.db import Database
from storage.models import Community
from tests.flows.people import actor_of, enrol

ROOT = Path(__file__).resolve().parent.parent
SECRET = "export-secret-0123456789abcdef0123"


def _run(db_url: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, LINLI_DATABASE_URL=db_url, LINLI_SECRET_KEY=SECRET, PYTHONPATH=str(ROOT))
    env.pop("LINLI_BOT_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "linli_cli", "export", *args], capture_output=True, env=env,
                          cwd=ROOT, timeout=120)


async def _seed(db: Database, clock: FixedClock) -> int:
    now = clock.now()
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", slug="demo", now=now, buildings=["3"])
        await enrol(uow, community_id=community.id or 0, first_tg_id=900, now=now,
                    people={"admin": Role.ADMIN, "grid": Role.GRID_WORKER, "keeper": None, "r1": None})
        await uow.commit()
    admin, keeper, r1 = (await actor_of(db, 900), await actor_of(db, 902), await actor_of(db, 903))

    async def do(fn, **kw):  # type: ignore[no-untyped-def]
        async with db.uow(write=True) as uow:
            out = await fn(uow, **kw)
            await uow.commit()
            return out

    space = await do(spaces.register, actor=admin, now=now, draft=spaces.Draft(
        name="3号楼门岗微空间", place="=3号楼东侧门岗", hours=spaces.parse_hours("1-5 08:00-11:30"), services=("缝补",),
        keeper_member_id=keeper.registered().id or 0))
    tool = await do(spaces.add_tool, actor=keeper, number=space.number, name="电钻", now=now)
    loan = await do(loans.request, actor=r1, tool_number=tool.number, days=7, now=now)
    await do(loans.hand_over, actor=keeper, number=loan.number, now=now)
    job, _ = await do(jobs.post_job, actor=admin, now=now, draft=jobs.JobDraft(
        title="手工编织", employer="北辰编织合作社", pay="计件", place="党群服务中心", closes_on=now.date() + timedelta(days=9)))
    await do(jobs.apply, actor=r1, number=job.number, message="我想试试", now=now)
    training, _ = await do(jobs.post_training, actor=admin, now=now, draft=jobs.TrainingDraft(
        title="家政服务培训", place="党群服务中心", starts_at=now + timedelta(days=2), capacity=10))
    await do(jobs.sign_up, actor=r1, number=training.number, now=now)
    await do(jobs.sign_up, actor=keeper, number=training.number, now=now)
    async with db.uow() as uow:
        _, rows = await jobs.signups(uow, actor=admin, number=training.number)
    await do(jobs.mark, actor=admin, number=training.number, signup_id=rows[0][0].id or 0, attended=True,
             now=now + timedelta(days=3))
    return community.id or 0


def _csv(done: subprocess.CompletedProcess[bytes]) -> list[list[str]]:
    assert done.returncode == 0, done.stderr.decode()
    return list(csv.reader(io.StringIO(done.stdout.decode("utf-8-sig"))))


async def test_item_cli_exports_spaces_loans_jobs_trainings(db: Database, db_url: str, clock: FixedClock,
                                                            tmp_path: Path) -> None:
    await _seed(db, clock)
    rows = _csv(_run(db_url, "spaces", "--community", "demo", "-o", "-"))
    assert rows[0] == ["编号", "空间", "地点", "开放时间", "提供的服务", "空间管理员（成员编号）", "工具数", "在册", "创建时间"]
    assert rows[1][:5] == ["1", "3号楼门岗微空间", "'=3号楼东侧门岗", "1-5 08:00-11:30", "缝补"] and rows[1][6] == "1"
    rows = _csv(_run(db_url, "loans", "--community", "demo", "-o", "-"))
    assert rows[0][:6] == ["编号", "空间", "工具", "借用人（成员编号）", "状态", "归还日期"]
    assert rows[1][:5] == ["1", "3号楼门岗微空间", "电钻", "4", "out"] and rows[1][5] == "2027-03-08"
    rows = _csv(_run(db_url, "jobs", "--community", "demo", "--year", "2027", "-o", "-"))
    assert rows[0][0] == "年份" and rows[1][1:4] == ["1", "手工编织", "北辰编织合作社"] and rows[1][8] == "1"
    assert len(_csv(_run(db_url, "jobs", "--community", "demo", "--year", "2026", "-o", "-"))) == 1  # header only
    out = tmp_path / "trainings.xlsx"
    done = _run(db_url, "trainings", "--community", "demo", "--format", "xlsx", "-o", str(out))
    assert done.returncode == 0, done.stderr.decode()
    ws = load_workbook(out).active
    assert ws is not None
    assert [c.value for c in ws[2]] == [2027, 1, "家政服务培训", "党群服务中心", "2027-03-03 09:30", 10, 2, 1]


@pytest.mark.parametrize("kind", ["spaces", "loans", "jobs", "trainings"])
async def test_item_a_grid_worker_may_not_export_them(db: Database, clock: FixedClock, kind: str) -> None:
    cid = await _seed(db, clock)
    grid = await actor_of(db, 901)
    async with db.uow() as uow:
        community = await uow.session.get(Community, cid)
        assert community is not None
        with pytest.raises(Forbidden):
            await exports.export(uow, kind=kind, community=community, actor=grid, sealer=Sealer(b"0" * 32),
                                 now=clock.now())
