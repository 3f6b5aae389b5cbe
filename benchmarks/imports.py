"""Imports (flows/imports; issue #14 F-11.3): a district office's files through the shared reader, the dry run and
the import.

A household roster of 5,000 rows (GBK CSV, 50 buildings × 100 rooms, name and phone sealed) and 5,000 12345 work
orders (XLSX). Figures: reading the file, the dry run (every row checked, nothing written), the import (a
transaction per row), and importing the same file again (every row unchanged).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from openpyxl import Workbook

from benchmarks.common import SECRET_KEY, Databases, Table, ms, rate, say, timed
from flows import membership
from flows.imports import reader
from flows.imports import run as import_run
from flows.imports.complaints import Complaints
from flows.imports.residents import Residents
from storage.crypto import Sealer
from storage.db import Database

SEALER = Sealer(SECRET_KEY.encode())
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def _roster(n: int) -> bytes:
    lines = ["楼栋,房号,人数,户主姓名,联系电话"]
    lines += [f"{i // 100 + 1}号楼,{(i % 100) // 10 + 1}-{i % 10 + 101},{i % 5 + 1},住户{i},138{i:08d}"
              for i in range(n)]
    return "\n".join(lines).encode("gbk")


def _complaints(n: int) -> bytes:
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["工单编号", "来电时间", "来电人", "诉求内容", "诉求类别", "小区名称", "诉求地址", "办结时间", "满意度"])
    for i in range(n):
        ws.append([f"2026{i:08d}", f"2026/3/{i % 28 + 1} 14:02", "不读取", f"{i % 50 + 1}号楼电梯坏了，第{i}次反映",
                   "电梯", "北辰花园", f"北辰路1号{i % 50 + 1}号楼", f"2026-04-{i % 28 + 1} 10:00:00", "满意"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def run_suite(db: Database, table: Table, importer: import_run.Importer, data: bytes, name: str) -> None:
    with timed() as elapsed:
        sheet = reader.read(data, name, importer.aliases, importer.required)
        took = elapsed()
    n = len(sheet.rows)
    table.add(f"{importer.kind}: read {name} ({len(data) / 1024:,.0f} KiB)", f"{n:,}", ms(took), rate(n / took))
    for label, dry in (("dry run", True), ("import", False), ("again (unchanged)", False)):
        with timed() as elapsed:
            report = await import_run.run(db, importer, sheet, dry_run=dry, now=NOW, community_id=1, via="bench")
            took = elapsed()
        c = report.counts
        table.add(f"{importer.kind}: {label}", f"{n:,}", ms(took),
                  f"{rate(n / took)} · {c['created']} new, {c['unchanged']} unchanged, {c['rejected']} rejected")


async def run(root: Path, quick: bool) -> None:
    databases = Databases(root)
    n = 1_000 if quick else 5_000
    say(f"\n== imports: {n:,} households and {n:,} work orders, {databases.backend} ==")
    db = Database(databases.fresh("imports"))
    table = Table(f"imports ({databases.backend})", ["", "rows", "time", "rate"])
    try:
        async with db.uow(write=True) as uow:
            community, _ = await membership.create_community(uow, name="北辰示范社区", slug="bench", now=NOW,
                                                             buildings=[str(i) for i in range(1, 51)])
            await uow.commit()
        await run_suite(db, table, Residents(community, SEALER), _roster(n), "住户.csv")
        await run_suite(db, table, Complaints(community, SEALER), _complaints(n), "12345.xlsx")
    finally:
        await db.dispose()
    table.print()
