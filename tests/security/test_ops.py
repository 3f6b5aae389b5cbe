"""Issue #10, items 6, 8, 11 and 12 (the operator's side): the sandbox keeps off production databases, debug
logs hold no token and no sealed field, secrets are kept and rotated safely, and `linli import` never echoes a
cell of the care ledger."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings
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


async def _make_production(tmp_path: Path) -> tuple[str, Path]:
    """A 'production' SQLite file with a real community in it (and its first admin invite)."""
    from flows import membership
    from storage.migrate import upgrade

    path = tmp_path / "prod" / "linli.db"
    path.parent.mkdir()
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    db = Database(url)
    async with db.uow(write=True) as uow:
        await membership.create_community(uow, name="真实社区", slug="real", now=datetime(2027, 3, 1, tzinfo=UTC),
                                          buildings=["1", "2"])
        await uow.commit()
    await db.dispose()
    return url, path


def _production(tmp_path: Path) -> tuple[str, Path]:
    import asyncio

    return asyncio.run(_make_production(tmp_path))


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
    for secret in ("李秀兰", "13812345678", "女儿", "2-401", "李奶奶", TOKEN.split(":")[1]):
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


# ---------------------------------------------------------------------------------------------- item 11


def test_item11_key_file_is_born_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Made with mode 600 from the start: with a permissive umask and no chmod after (the moment between writing
    and chmod-ing), nobody else could have read it."""
    from bot.config import Settings

    monkeypatch.setattr(Path, "chmod", lambda self, mode: None)
    old = os.umask(0)
    try:
        settings = Settings(_env_file=None, secret_key_file=str(tmp_path / "data" / "secret.key"))  # type: ignore[call-arg]
        secret = settings.secret()
    finally:
        os.umask(old)
    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(secret) >= 32 and settings.secret() == secret  # made once, then read


def test_item11_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    from bot.config import SecretError, Settings

    path = tmp_path / "secret.key"
    path.write_text("k" * 43 + "\n")
    path.chmod(0o644)
    settings = Settings(_env_file=None, secret_key_file=str(path))  # type: ignore[call-arg]
    with pytest.raises(SecretError, match="can be read by other users .*chmod 600"):
        settings.secret()
    path.chmod(0o640)
    with pytest.raises(SecretError, match="chmod 600"):
        settings.secret()
    done = _cli("run", env={"LINLI_SECRET_KEY_FILE": str(path), "LINLI_BOT_TOKEN": TOKEN,
                            "LINLI_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"})
    assert done.returncode == 2 and "can be read by other users" in done.stderr, done.stderr
    path.chmod(0o600)
    assert settings.secret() == b"k" * 43


def test_item11_short_secret_is_refused(tmp_path: Path) -> None:
    from bot.config import SecretError, Settings

    with pytest.raises(SecretError, match="LINLI_SECRET_KEY is 9 bytes long; at least 32"):
        Settings(_env_file=None, secret_key="too-short").secret()  # type: ignore[call-arg]
    path = tmp_path / "secret.key"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.write(fd, b"short\n")
    os.close(fd)
    with pytest.raises(SecretError, match="at least 32"):
        Settings(_env_file=None, secret_key_file=str(path)).secret()  # type: ignore[call-arg]
    done = _cli("db", "current", env={"LINLI_SECRET_KEY": "too-short"})  # no secret needed: runs
    assert done.returncode == 0


def test_item11_keys_differ_per_purpose_and_sealed_text_names_its_key() -> None:
    import hashlib
    import hmac

    from bot.core import callbacks
    from storage.crypto import PURPOSES, Sealer, derive_key, key_id

    secret = SECRET.encode()
    keys = {p: derive_key(secret, p) for p in PURPOSES}
    assert len(set(keys.values())) == 3 and secret not in keys.values()
    assert derive_key(b"another-secret-0123456789abcdef0123", "ledger") != keys["ledger"]
    data = callbacks.pack(secret, ["x", 1], now=datetime(2027, 3, 1, tzinfo=UTC), ttl=timedelta(hours=1))
    body, sig = data.rsplit("~", 1)
    raw = base64.urlsafe_b64encode(hmac.new(secret, body.encode(), hashlib.sha256).digest()[:6]).decode()
    assert sig != raw  # buttons are not signed with the secret itself
    sealed = Sealer(secret).seal("李秀兰")
    assert sealed.startswith(key_id(secret) + ":") and "李秀兰" not in sealed
    assert Sealer(secret).open(sealed) == "李秀兰"
    with pytest.raises(ValueError, match="sealed with key"):
        Sealer(b"another-secret-0123456789abcdef0123").open(sealed)


def test_item11_buttons_in_flight_survive_a_rotation() -> None:
    from bot.core import callbacks

    old, new = SECRET.encode(), b"the-new-secret-0123456789abcdef0123"
    now = datetime(2027, 3, 1, tzinfo=UTC)
    data = callbacks.pack(old, ["reg", "b", 12], now=now, ttl=timedelta(hours=72))
    assert callbacks.unpack(new, data, now=now, previous=[old]) == ["reg", "b", "12"]
    with pytest.raises(callbacks.BadButton):
        callbacks.unpack(new, data, now=now)


async def _sealed_people(db: Database, clock: FixedClock, old: bytes) -> None:
    """Three key persons sealed with `old`: one as versions before key ids did (a bare Fernet token)."""
    from cryptography.fernet import Fernet
    from sqlmodel import select

    from flows import care, membership
    from storage.crypto import Sealer
    from storage.models import KeyPerson

    await _community(db, clock)
    sealer = Sealer(old)
    async with db.uow(write=True) as uow:
        community = await membership.community_by_slug(uow, "demo")
        for room, name in (("2-401", "李秀兰"), ("1-102", "王建国"), ("3-301", "刘芳")):
            await care.import_row(uow, community=community, sealer=sealer, now=clock.now(), notify=False,
                                  row={"building": "3", "room": room, "alias": f"3-{room}", "name": name,
                                       "contact": f"{name}的女儿 13812345678", "risk": "red", "groups": "独居"})
        await uow.commit()
    async with db.uow(write=True) as uow:
        first = (await uow.session.exec(select(KeyPerson).order_by(KeyPerson.id))).first()
        assert first is not None
        legacy = Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"linli-ledger:" + old).digest()))
        first.notes_enc = legacy.encrypt("旧备注".encode()).decode()
        await uow.commit()


async def _ledger(db: Database) -> list[tuple[str, str, str]]:
    from sqlmodel import select

    from storage.models import KeyPerson

    async with db.uow() as uow:
        rows = (await uow.session.exec(select(KeyPerson).order_by(KeyPerson.id))).all()
    return [(p.name_enc, p.contact_enc, p.notes_enc) for p in rows]


async def test_item11_rotate_reseals_the_ledger_and_old_data_still_opens(db: Database, db_url: str,
                                                                         clock: FixedClock, tmp_path: Path) -> None:
    from storage.crypto import Sealer, key_id

    path = tmp_path / "keys" / "secret.key"
    old = Settings(_env_file=None, secret_key_file=str(path)).secret()  # type: ignore[call-arg]
    await _sealed_people(db, clock, old)
    before = await _ledger(db)
    env = {"LINLI_DATABASE_URL": db_url, "LINLI_SECRET_KEY_FILE": str(path)}

    dry = _cli("keys", "rotate", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "7 of 7 sealed values would be re-sealed; nothing changed." in dry.stdout
    assert await _ledger(db) == before and path.read_text().split() == [old.decode()]

    done = _cli("keys", "rotate", env=env)
    assert done.returncode == 0, done.stderr
    assert "7 of 7 sealed values re-sealed" in done.stdout and "7/7" in done.stderr and "#" in done.stderr
    new, kept = (line.encode() for line in path.read_text().split())
    assert kept == old and new != old and stat.S_IMODE(path.stat().st_mode) == 0o600
    after = await _ledger(db)
    for name_enc, contact_enc, notes_enc in after:
        for value in (name_enc, contact_enc) + ((notes_enc,) if notes_enc else ()):
            assert value.startswith(key_id(new) + ":")
    opened = [[Sealer(new).open(v) for v in row] for row in after]  # the new key alone opens everything
    assert opened[0] == ["李秀兰", "李秀兰的女儿 13812345678", "旧备注"]
    assert [r[0] for r in opened] == ["李秀兰", "王建国", "刘芳"]
    assert Settings(_env_file=None, secret_key_file=str(path)).secret() == new  # type: ignore[call-arg]
    assert Settings(_env_file=None, secret_key_file=str(path)).previous_secrets() == [old]  # type: ignore[call-arg]
    again = _cli("keys", "rotate", env=env)  # a second rotation keeps only the secret just replaced
    assert again.returncode == 0 and path.read_text().split()[1].encode() == new


async def test_item11_rotate_is_refused_while_a_ballot_is_open(db: Database, db_url: str, clock: FixedClock,
                                                               tmp_path: Path) -> None:
    from storage.models import Ballot

    path = tmp_path / "secret.key"
    old = Settings(_env_file=None, secret_key_file=str(path)).secret()  # type: ignore[call-arg]
    member, _ = await _community(db, clock)
    async with db.uow(write=True) as uow:
        from flows import membership

        community = await membership.community_by_slug(uow, "demo")
        uow.session.add(Ballot(community_id=community.id or 0, year=2027, status="open", opens_at=clock.now(),
                               closes_at=clock.now() + timedelta(days=3), created_by_member_id=member,
                               created_at=clock.now()))
        await uow.commit()
    done = _cli("keys", "rotate", env={"LINLI_DATABASE_URL": db_url, "LINLI_SECRET_KEY_FILE": str(path)})
    assert done.returncode == 2 and "a ballot is open" in done.stderr
    assert path.read_text().split() == [old.decode()]


async def test_item11_rotate_with_the_secret_in_the_environment(db: Database, db_url: str, clock: FixedClock) -> None:
    """The operator sets the new secret and names the old one; the command re-seals. The old one may be short:
    that is how a deployment from before the length check moves to a long secret."""
    from storage.crypto import Sealer, key_id

    old, new = b"short-old", b"n" * 40
    await _sealed_people(db, clock, old)
    done = _cli("keys", "rotate", env={"LINLI_DATABASE_URL": db_url, "LINLI_SECRET_KEY": new.decode()})
    assert done.returncode == 2 and "LINLI_SECRET_KEY_PREVIOUS" in done.stderr
    done = _cli("keys", "rotate", env={"LINLI_DATABASE_URL": db_url, "LINLI_SECRET_KEY": new.decode(),
                                       "LINLI_SECRET_KEY_PREVIOUS": old.decode()})
    assert done.returncode == 0 and "7 of 7 sealed values re-sealed" in done.stdout, done.stderr
    ledger = await _ledger(db)
    assert all(v.startswith(key_id(new) + ":") for row in ledger for v in row if v)
    assert Sealer(new).open(ledger[0][2]) == "旧备注" and Sealer(new).open(ledger[2][0]) == "刘芳"


def test_item11_warning_when_the_key_file_sits_beside_the_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"LINLI_DATABASE_URL": f"sqlite+aiosqlite:///{data}/linli.db", "LINLI_SECRET_KEY_FILE": str(data / "k")}
    done = _cli("run", env=env)  # stops at once (no schema), after the warning
    assert "sits beside the database" in done.stderr
    done = _cli("run", env={**env, "LINLI_SECRET_KEY_FILE": str(tmp_path / "elsewhere" / "k")})
    assert "sits beside the database" not in done.stderr


async def test_item6_sandbox_class_refuses_a_production_database_before_writing(tmp_path: Path) -> None:
    from bot.sandbox import NotASandbox, Sandbox

    url, path = await _make_production(tmp_path)
    before, raw = _rows(path), path.read_bytes()
    settings = Settings(_env_file=None, database_url=url, secret_key=SECRET)  # type: ignore[call-arg]
    sandbox = Sandbox(settings, port=0)
    with pytest.raises(NotASandbox, match="not a sandbox database"):
        await sandbox.start()
    await sandbox.stop()
    assert _rows(path) == before and path.read_bytes() == raw
