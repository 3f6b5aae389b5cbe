"""The migrations and the tables agree, and they go down and up again cleanly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables)
from storage.migrate import alembic_config, current_revision, head_revision, sync_url, upgrade


def test_the_migrations_build_exactly_the_tables_of_the_code(db_url: str) -> None:
    engine = create_engine(sync_url(db_url))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        engine.dispose()
    assert diff == [], "run an autogenerate migration: the tables and the migrations differ"


def test_downgrade_to_nothing_and_up_again(db_url: str) -> None:
    command.downgrade(alembic_config(db_url), "base")
    assert current_revision(db_url) is None
    assert upgrade(db_url) == head_revision() == current_revision(db_url)
