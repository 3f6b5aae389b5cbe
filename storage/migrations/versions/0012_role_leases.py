"""role leases: who holds the scheduler and the sender (one process each)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 21:00:00.000000
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rolelease',
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('since', storage.types.UTCDateTime(), nullable=False),
    sa.Column('heartbeat', storage.types.UTCDateTime(), nullable=False),
    sa.Column('expires_at', storage.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('role')
    )


def downgrade() -> None:
    op.drop_table('rolelease')
