"""`linli import key-persons FILE --community SLUG`: CSV and XLSX, a progress bar, a report of the
rejected rows with their line numbers and why, all or nothing per row, audited."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from openpyxl import Workbook
from sqlmodel import select

from bot.config import Settings
from flows import membership
from flows.clock import FixedClock
from flows.roles import Role
from storage.crypto import Sealer
from storage.db import Database
from storage.models import AuditEntry, KeyPerson

ROOT = Path(__file__).resolve().parent.parent
SECRET = "import-secret-0123456789abcdef0123"


async def _community(db: Database, clock: FixedClock) -> tuple[int, int]:
    now = clock.now()
    async with db.uow() as uow:
        community, _ = await membership.create_community(uow, name="北辰示范社区", slug="demo", now=now,
                                                         buildings=[str(i) for i in range(1, 7)])
        ids = []
        for tg_id in (1, 2):
            user = await membership.touch_user(uow, tg_id=tg_id, first_name=f"志愿{tg_id}", last_name=None,
                                               username=None, tg_language="zh-hans", now=now)
            done = await membership.register(uow, user=user, community_id=community.id, building_id=None, now=now)
            await membership.assign_role(uow, member=done.member, role=Role.VOLUNTEER, org=None, now=now)
            ids.append(done.member.id)
        await uow.commit()
    return ids[0], ids[1]


def _run(db_url: str, path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LINLI_DATABASE_URL=db_url, LINLI_SECRET_KEY=SECRET)
    env.pop("LINLI_BOT_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "linli_cli", "import", "key-persons", str(path), "--community",
                           "demo"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


async def test_import_csv_with_bad_rows_then_xlsx(db: Database, db_url: str, clock: FixedClock,
                                                  tmp_path: Path) -> None:
    vol, vol2 = await _community(db, clock)
    csv_file = tmp_path / "台账.csv"
    csv_file.write_text(
        "building,room,alias,name,groups,risk,services,contact,notes,primary,backup\n"
        f"3,2-401,3-2-401 李奶奶,李秀兰,\"独居,高龄\",红,助医,女儿 13812345678,,{vol},{vol2}\n"
        "3,1-102,3-1-102 王大爷,王建国,empty_nest,yellow,\"cleaning,mobility\",,,,\n"
        "4,1-101,4-1-101 张奶奶,张桂芳,空巢,绿,,,,,\n"
        "2,3-301,2-3-301 刘阿姨,刘芳,disabled,green,,,备注,,\n"
        f"1,1-1,1-1-1 赵爷爷,赵强,,黄,,,,{vol},\n"
        "3,1-103,,无名,独居,红,,,,,\n"
        "9,1-101,9-1-101 孙奶奶,孙丽,独居,红,,,,,\n"
        f"3,1-104,{'周' * 41},周敏,独居,purple,,,,,\n",
        encoding="utf-8")
    done = _run(db_url, csv_file)
    assert done.returncode == 1, done.stderr
    assert "5 imported, 3 rejected" in done.stdout
    assert "line 7: column alias: missing" in done.stdout
    assert "line 8: column building: no such building in this community" in done.stdout
    assert "line 9: column alias: too long (at most 40 characters)" in done.stdout
    assert "8/8" in done.stderr and "#" in done.stderr  # the progress bar
    assert "李秀兰" not in done.stdout + done.stderr
    async with db.uow() as uow:
        persons = (await uow.session.exec(select(KeyPerson).order_by(KeyPerson.id))).all()
        actions = [e.action for e in (await uow.session.exec(select(AuditEntry))).all()]
    assert [p.alias for p in persons] == ["3-2-401 李奶奶", "3-1-102 王大爷", "4-1-101 张奶奶", "2-3-301 刘阿姨",
                                          "1-1-1 赵爷爷"]
    assert actions.count("person.import") == 5 and actions.count("pair.set") == 2
    sealer = Sealer(Settings(_env_file=None, secret_key=SECRET).secret())  # type: ignore[call-arg]
    first = persons[0]
    assert "李秀兰" not in first.name_enc and sealer.open(first.name_enc) == "李秀兰"
    assert (first.primary_volunteer_id, first.backup_volunteer_id, first.risk, first.midday_check) == (
        vol, vol2, "red", True)

    book = Workbook()
    sheet = book.active
    sheet.append(["楼栋", "房号", "称呼", "姓名", "类别", "风险", "服务", "紧急联系人"])
    sheet.append([5, "1-201", "5-1-201 钱奶奶", "钱芳", "独居", "red", "助急", "儿子 139"])
    sheet.append([6, "2-202", "6-2-202 吴大爷", "吴刚", "高龄", "黄", None, None])
    xlsx = tmp_path / "persons.xlsx"
    book.save(xlsx)
    done = _run(db_url, xlsx)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 imported, 0 rejected" in done.stdout
    async with db.uow() as uow:
        assert len((await uow.session.exec(select(KeyPerson))).all()) == 7


def test_import_of_a_missing_file_says_so(tmp_path: Path) -> None:
    done = _run(f"sqlite+aiosqlite:///{tmp_path}/x.db", tmp_path / "nope.csv")
    assert done.returncode == 2


def _run_args(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LINLI_DATABASE_URL=db_url, LINLI_SECRET_KEY=SECRET)
    env.pop("LINLI_BOT_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "linli_cli", "import", *args, "--community", "demo"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


async def test_item_cli_residents_dry_run_then_apply_and_a_refused_file(db: Database, db_url: str,
                                                                       clock: FixedClock, tmp_path: Path) -> None:
    from storage.models_roster import Household

    await _community(db, clock)
    roster = tmp_path / "住户.csv"
    roster.write_bytes("楼栋,房号,人数,姓名,电话\n3号楼,2-401,3,李秀兰,13812345678\n3,1-102,,,\n9,1-1,1,,\n"
                       .encode("gbk"))
    dry = _run_args(db_url, "residents", str(roster), "--dry-run")
    assert dry.returncode == 1, dry.stderr
    assert "Dry run: nothing was written." in dry.stdout
    assert "Would create 2, update 0, leave 0 unchanged; 1 rejected." in dry.stdout
    assert "line 4: column building: no such building in this community" in dry.stdout
    assert "3/3" in dry.stderr and "李秀兰" not in dry.stdout + dry.stderr
    async with db.uow() as uow:
        assert (await uow.session.exec(select(Household))).all() == []
    done = _run_args(db_url, "residents", str(roster), "--create-buildings")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Created 3, updated 0, 0 unchanged; 0 rejected." in done.stdout
    again = _run_args(db_url, "residents", str(roster))
    assert "Created 0, updated 0, 3 unchanged; 0 rejected." in again.stdout and again.returncode == 0
    moved = tmp_path / "住户2027.csv"  # next year's roster: 1-102 moved away
    moved.write_text("楼栋,房号\n3号楼,2-401\n", encoding="utf-8")
    kept = _run_args(db_url, "residents", str(moved))
    assert "1 household of the file's buildings is not in it (Building 3: 1). They are kept unless you choose to " \
           "remove them." in kept.stdout and kept.returncode == 0, kept.stdout + kept.stderr
    removed = _run_args(db_url, "residents", str(moved), "--remove-absent")
    assert "Removed 1 household not in the file." in removed.stdout, removed.stdout + removed.stderr
    async with db.uow() as uow:
        rooms = sorted(h.room for h in (await uow.session.exec(select(Household))).all())
    assert rooms == ["1-1", "2-401"]  # building 9's household: not a building of the file, not touched
    complaints = tmp_path / "12345.csv"
    complaints.write_text("工单编号,来电时间,地址\nG1,2026/3/5 14:02,3号楼\n", encoding="utf-8-sig")
    refused = _run_args(db_url, "complaints", str(complaints))
    assert refused.returncode == 2
    assert 'no column "summary" (accepted names: 诉求内容, 问题描述, 来电内容, 反映内容, summary)' in refused.stderr
    async with db.uow() as uow:
        entries = (await uow.session.exec(select(AuditEntry).where(AuditEntry.action == "import"))).all()
    assert [(e.details["kind"], e.details["dry_run"], e.details["via"]) for e in entries] == [
        ("residents", True, "cli"), ("residents", False, "cli"), ("residents", False, "cli"),
        ("residents", False, "cli"), ("residents", False, "cli")]
