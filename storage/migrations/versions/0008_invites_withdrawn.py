"""invites can be withdrawn (by /invites, or when their issuer loses the role)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 20:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invite', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revoked_at', storage.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('invite', schema=None) as batch_op:
        batch_op.drop_column('revoked_at')
