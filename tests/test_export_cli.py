"""`linli export LIST --community SLUG --format csv|xlsx [--year Y] [-o FILE]` (#14, F-11.3): the operator's
export, the care ledger opened only into the file, audited (via cli), nothing personal on the terminal."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

from openpyxl import load_workbook
from sqlmodel import select

from bot.config import Settings
from flows import membership
from flows.clock import FixedClock
from storage.crypto import Sealer
from storage.db import Database
from storage.models import AuditEntry, KeyPerson

ROOT = Path(__file__).resolve().parent.parent
SECRET = "export-secret-0123456789abcdef0123"


def _run(db_url: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, LINLI_DATABASE_URL=db_url, LINLI_SECRET_KEY=SECRET, PYTHONPATH=str(ROOT))
    env.pop("LINLI_BOT_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "linli_cli", "export", *args], capture_output=True, env=env,
                          cwd=ROOT, timeout=120)


async def test_item_cli_exports_the_ledger_as_xlsx_and_needs_as_csv(db: Database, db_url: str, clock: FixedClock,
                                                                    tmp_path: Path) -> None:
    sealer = Sealer(Settings(_env_file=None, secret_key=SECRET).secret())  # type: ignore[call-arg]
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", slug="demo", now=clock.now(),
                                                         buildings=["3"])
        b3 = await membership.building_by_label(uow, community_id=community.id, label="3")
        uow.session.add(KeyPerson(community_id=community.id, building_id=b3.id, room="2-401", alias="=3-2-401",
                                  name_enc=sealer.seal("李秀兰"), contact_enc=sealer.seal("13800000000"),
                                  created_at=clock.now(), updated_at=clock.now()))
        await uow.commit()
    out = tmp_path / "台账.xlsx"
    done = _run(db_url, "ledger", "--community", "demo", "--format", "xlsx", "-o", str(out))
    assert done.returncode == 0, done.stderr.decode()
    ws = load_workbook(out).active
    assert ws is not None
    assert [c.value for c in ws[1]][:4] == ["楼栋", "房号", "代称", "姓名"]
    assert [c.value for c in ws[2]][:4] == ["3", "2-401", "'=3-2-401", "李秀兰"]
    assert ws.freeze_panes == "A2"
    assert "李秀兰" not in (done.stdout + done.stderr).decode() and b"rows read: 1" in done.stderr  # the progress
    async with db.uow() as uow:
        entries = (await uow.session.exec(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert [(e.action, e.details.get("via")) for e in entries][-2:] == [("export", "cli"), ("person.read", "export")]

    needs = _run(db_url, "needs", "--community", "demo", "--format", "csv", "--year", "2027", "-o", "-")
    assert needs.returncode == 0, needs.stderr.decode()
    rows = list(csv.reader(io.StringIO(needs.stdout.decode("utf-8-sig"))))
    assert rows[0][:3] == ["年份", "编号", "类别"] and rows[1:] == []

    unknown = _run(db_url, "needs", "--community", "nowhere", "--format", "csv")
    assert unknown.returncode == 2 and b"no community" in unknown.stderr


async def test_item16_cli_exports_the_wishes_and_the_micro_posts(db: Database, db_url: str, clock: FixedClock) -> None:
    """`linli export wishes|posts` (#16): the lists in the exports' format, no resident's name, the claimer by number."""
    from flows import microposts, wishes
    from flows.roles import Org, Role
    from tests.flows.people import actor_of, enrol

    async with db.uow(write=True) as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", slug="demo", now=clock.now(),
                                                         buildings=["3"])
        people = await enrol(uow, community_id=community.id or 0, first_tg_id=880, now=clock.now(),
                             people={"赵阿姨": None, "刘志愿": Role.VOLUNTEER, "委员": (Role.COMMITTEE, Org.UNIT)})
        await uow.commit()
    resident, volunteer, committee = [await actor_of(db, 880 + i) for i in range(3)]
    async with db.uow(write=True) as uow:
        await wishes.post(uow, actor=resident, text="=想要一副老花镜", photo=None, days=7, now=clock.now())
        await wishes.claim(uow, actor=volunteer, number=1, now=clock.now())
        await microposts.post(uow, actor=committee, kind="deed", title="楼道堆物清理", text="", now=clock.now())
        await uow.commit()
    done = _run(db_url, "wishes", "--community", "demo", "--format", "csv", "-o", "-")
    assert done.returncode == 0, done.stderr.decode()
    rows = list(csv.reader(io.StringIO(done.stdout.decode("utf-8-sig"))))
    assert rows[0][:6] == ["编号", "楼栋", "内容", "状态", "认领人（成员编号）", "认领身份"]
    assert rows[1][:6] == ["1", "", "'=想要一副老花镜", "claimed", str(people["刘志愿"]), "volunteer"]
    assert "赵阿姨" not in done.stdout.decode("utf-8-sig")
    posts = _run(db_url, "posts", "--community", "demo", "--format", "xlsx", "-o", "-")
    assert posts.returncode == 0, posts.stderr.decode()
    ws = load_workbook(io.BytesIO(posts.stdout)).active
    assert ws is not None
    assert [c.value for c in ws[2]][:4] == [1, "deed", "楼道堆物清理", "open"]
