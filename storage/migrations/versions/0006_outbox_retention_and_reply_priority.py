"""outbox: deferred replies sent before notices (priority); rows purged after retention (purged_at)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 20:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # rows queued before this revision are notices or (unsealed) deferred replies: both keep their order,
    # and the retention job purges the replies' payloads like any other sent row
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('purged_at', storage.types.UTCDateTime(), nullable=True))
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.alter_column('priority', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.drop_column('purged_at')
        batch_op.drop_column('priority')
