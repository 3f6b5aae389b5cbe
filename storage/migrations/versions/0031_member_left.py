"""a membership ends: member.left_at (moved away, or removed by an admin)

Revision ID: 0031
Revises: 0023
Create Date: 2026-12-07 02:50:00
"""
import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0031'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('left_at', storage.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_column('left_at')
