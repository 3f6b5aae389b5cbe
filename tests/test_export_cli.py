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
