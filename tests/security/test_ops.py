"""Issue #10, items 6, 8, 11 and 12 (the operator's side): the sandbox keeps off production databases, debug
logs hold no token and no sealed field, secrets are kept and rotated safely, and `linli import` never echoes a
cell of the care ledger."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flows.clock import FixedClock
from storage.db import Database
from tests.test_import import _community

ROOT = Path(__file__).resolve().parent.parent.parent
SECRET = "ops-secret-0123456789abcdef0123456789"


def _cli(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", "linli_cli", *args], capture_output=True, text=True, env=base,
                          cwd=cwd, timeout=timeout)


# ---------------------------------------------------------------------------------------------- item 12


async def test_item12_import_report_names_column_and_line_never_the_value(db: Database, db_url: str,
                                                                          clock: FixedClock, tmp_path: Path) -> None:
    vol, _ = await _community(db, clock)
    csv_file = tmp_path / "台账.csv"
    csv_file.write_text(
        "building,room,alias,name,groups,risk,services,contact,notes,primary,backup\n"
        f"3,2-401,3-2-401 李奶奶,李秀兰,独居,红,,,,{vol},\n"
        "3,1-102,3-1-102 王大爷,王建国,empty_nest,马秀英13812345678,,,,,\n"  # risk holds a name and a phone
        "张桂芳13900001111,1-101,4-1-101 张奶奶,张桂芳,空巢,绿,,,,,\n"  # building holds a name and a phone
        "3,1-103,3-1-103 刘阿姨,刘芳,独居,红,,,,13700002222,\n"  # primary holds a phone
        "3,1-104,3-1-104 周阿姨,周敏,独居,红,,,,孙丽 137-0000-3333,\n"  # primary holds a name and a phone
        "3,1-105,3-1-105 吴大爷,吴刚,独居,红,,,,888888,\n",  # no such member
        encoding="utf-8")
    done = _cli("import", "key-persons", str(csv_file), "--community", "demo",
                env={"LINLI_DATABASE_URL": db_url, "LINLI_SECRET_KEY": SECRET})
    assert done.returncode == 1, done.stderr
    assert "1 imported, 5 rejected" in done.stdout
    assert "line 3: column risk: not one of the known values" in done.stdout
    assert "line 4: column building: no such building in this community" in done.stdout
    assert "line 5: column primary: not a member number" in done.stdout
    assert "line 6: column primary: not a member number" in done.stdout
    assert "line 7: column primary or backup: no such member in this community" in done.stdout
    for value in ("马秀英", "138123", "张桂芳", "139000", "137000", "孙丽", "3333"):
        assert value not in done.stdout + done.stderr, value
