"""Issue #10, items 6, 8, 11 and 12 (the operator's side): the sandbox keeps off production databases, debug
logs hold no token and no sealed field, secrets are kept and rotated safely, and `linli import` never echoes a
cell of the care ledger."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from flows.clock import FixedClock
from storage.db import Database
from tests.bot.conftest import TOKEN, Harness, linli, runtime, standin, tg  # noqa: F401 (fixtures)
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


# ---------------------------------------------------------------------------------------------- item 6


def _production(tmp_path: Path) -> tuple[str, Path]:
    """A 'production' SQLite file with a real community in it (and its first admin invite)."""
    import asyncio

    from flows import membership
    from storage.migrate import upgrade

    path = tmp_path / "prod" / "linli.db"
    path.parent.mkdir()
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)

    async def create() -> None:
        db = Database(url)
        async with db.uow(write=True) as uow:
            await membership.create_community(uow, name="真实社区", slug="real", now=datetime(2027, 3, 1, tzinfo=UTC),
                                              buildings=["1", "2"])
            await uow.commit()
        await db.dispose()

    asyncio.run(create())
    return url, path


def _rows(path: Path) -> dict[str, int]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # noqa: S608


def _sandbox_cli(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`linli sandbox --start-only` in a directory of its own (its ./data/ is the sandbox's)."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return _cli("sandbox", "--start-only", "--port", "0", *args, env={"PYTHONPATH": str(ROOT), **env}, cwd=work)


def test_item6_sandbox_ignores_a_production_database_url(tmp_path: Path) -> None:
    url, path = _production(tmp_path)
    before, raw = _rows(path), path.read_bytes()
    assert before["community"] == 1 and before["outboxmessage"] == 0
    done = _sandbox_cli(tmp_path, env={"LINLI_DATABASE_URL": url, "LINLI_SECRET_KEY": SECRET})
    assert done.returncode == 0, done.stderr
    assert "LINLI_DATABASE_URL, LINLI_SECRET_KEY ignored" in done.stderr  # one line says so
    assert "started at http://127.0.0.1:" in done.stdout
    assert _rows(path) == before and path.read_bytes() == raw  # production untouched: no demo, no outbox
    sandbox_db = tmp_path / "work" / "data" / "sandbox.db"
    sandbox_rows = _rows(sandbox_db)
    assert sandbox_rows["community"] == 1 and sandbox_rows["keyperson"] == 3  # the demo went to its own database
    key = tmp_path / "work" / "data" / "sandbox-secret.key"
    assert key.is_file() and SECRET not in key.read_text()  # and it seals with its own secret


def test_item6_sandbox_refuses_a_database_that_is_not_a_sandbox(tmp_path: Path) -> None:
    url, path = _production(tmp_path)
    before, raw = _rows(path), path.read_bytes()
    done = _sandbox_cli(tmp_path, "--database", url, env={})
    assert done.returncode == 2
    assert "holds 1 community and is not a sandbox database" in done.stderr
    assert _rows(path) == before and path.read_bytes() == raw
    # the sandbox's own database, once marked, is taken again (and so is a fresh one)
    own = f"sqlite+aiosqlite:///{tmp_path}/own.db"
    for _ in range(2):
        assert _sandbox_cli(tmp_path, "--database", own, env={}).returncode == 0


# ---------------------------------------------------------------------------------------------- item 8


class _NotTheStandIn(logging.Filter):
    """The stand-in (Telegram's side, in this process only for the test) logs what it receives: not the bot's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("bot.standin")


async def test_item8_debug_log_holds_no_token_and_no_sealed_field(linli: Harness) -> None:  # noqa: F811
    from bot.logs import LIBRARIES, setup_logging
    from tests.bot.test_care import ADMIN, _add_person, _setup

    root = logging.getLogger()
    saved = root.level, {name: logging.getLogger(name).level for name in LIBRARIES}
    stream = io.StringIO()
    settings = linli.app.settings.model_copy(update={"log_level": "DEBUG"})
    handler = setup_logging(settings, stream)
    handler.addFilter(_NotTheStandIn())
    try:
        await _setup(linli)
        person = await _add_person(linli)  # the grid worker types the name and the contact
        shown = (await linli.say(ADMIN, f"/person show {person}"))[-1]["text"]
        assert "李秀兰" in shown and "13812345678" in shown  # the admin sees them in the chat
        logging.getLogger("linli.test").debug("a token in a message: %s", TOKEN)
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        for name, level in saved[1].items():
            logging.getLogger(name).setLevel(level)
    log = stream.getvalue()
    assert "DEBUG linli.test" in log  # a debug run
    for secret in ("李秀兰", "13812345678", "女儿", TOKEN.split(":")[1]):
        assert secret not in log, secret
    assert "a token in a message: «secret»" in log  # and the filter masks a token whoever logs it


def test_item8_libraries_stay_quiet_and_tracebacks_are_masked() -> None:
    from bot.config import Settings
    from bot.logs import setup_logging

    root = logging.getLogger()
    saved = root.level, logging.getLogger("telegram").level, logging.getLogger("aiosqlite").level
    stream = io.StringIO()
    settings = Settings(_env_file=None, bot_token=TOKEN, log_level="DEBUG")  # type: ignore[call-arg]
    handler = setup_logging(settings, stream)
    try:
        logging.getLogger("telegram.ext.ExtBot").debug("Calling Bot API endpoint with parameters 李秀兰")
        logging.getLogger("aiosqlite").debug("executing with parameters 13812345678")
        try:
            raise ConnectionError(f"POST https://api.telegram.org/bot{TOKEN}/sendMessage failed")
        except ConnectionError:
            logging.getLogger("linli.outbox").exception("sending failed")
        assert logging.getLogger("telegram").level == logging.WARNING
        loud = setup_logging(settings.model_copy(update={"log_libraries": "debug"}), stream)  # for a test machine
        assert logging.getLogger("telegram.ext").getEffectiveLevel() == logging.DEBUG
        root.removeHandler(loud)
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        logging.getLogger("telegram").setLevel(saved[1])
        logging.getLogger("aiosqlite").setLevel(saved[2])
    log = stream.getvalue()
    assert "sending failed" in log and "ConnectionError: POST https://api.telegram.org/bot«secret»/sendMessage" in log
    assert TOKEN.split(":")[1] not in log and "李秀兰" not in log and "13812345678" not in log
