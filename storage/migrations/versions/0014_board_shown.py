"""board posts remember what they show: the pinned board is edited when it changes (issue #12)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 23:30:00.000000
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('projectpost') as batch:
        batch.add_column(sa.Column('shown', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('projectpost') as batch:
        batch.drop_column('shown')
