"""Shared fixtures: a migrated database per test (SQLite, and PostgreSQL when
LINLI_TEST_POSTGRES_URL is set), clocks, and the bot running against the Bot API stand-in."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from flows.clock import FixedClock
from storage.db import Database
from storage.migrate import sync_url, upgrade

PG_URL = os.environ.get("LINLI_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, made once per run; each test gets a copy (migrating takes ~0.7 s, copying 1 ms)."""
    path = tmp_path_factory.mktemp("template") / "linli.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A database of this test run's own on the PostgreSQL server, so runs never collide; each test gets it
    afresh as a copy of a migrated template database (CREATE DATABASE … TEMPLATE), never a used one."""
    server = make_url(sync_url(PG_URL))
    name, template = f"linli_test_{os.getpid()}", f"linli_template_{os.getpid()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for db_name in (name, template):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{template}"'))
    upgrade(make_url(PG_URL).set(database=template).render_as_string(hide_password=False))
    _pg_admin.update(engine=admin, name=name, template=template)
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        for db_name in (name, template):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
    admin.dispose()


_pg_admin: dict[str, Any] = {}


def fresh_postgres() -> None:
    """The test database anew from the migrated template (connections left by the last test are cut)."""
    admin, name, template = _pg_admin["engine"], _pg_admin["name"], _pg_admin["template"]
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database of the test's own."""
    if request.param == "sqlite":
        path = tmp_path / "linli.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    fresh_postgres()
    return url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2027, 3, 1, 1, 30, tzinfo=UTC))  # 09:30 in Tianjin
