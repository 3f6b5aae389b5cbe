"""outbox: the sender that claimed a row (claimed_by), so a restarted sender takes back its own rows at once

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 21:00:00.000000

Rows claimed before this revision have no claimant: they are taken again when their lease runs out, as before."""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.drop_column('claimed_by')
