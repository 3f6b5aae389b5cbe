"""ballot secrecy against a database reader: voters write sealed envelopes, sheets are applied in batches

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 20:40:00.000000

The sheets lose their plain `draft` (what a voter had ticked, written in the voter's own transaction) and
`version`; a voter's draft and submitted choices now live sealed in `ballotenvelope`. Drafts not yet
submitted on a ballot open during the upgrade are lost (the voter ticks them again); submitted choices stay
in the marks and are shown from there."""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ballotenvelope',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ballot_id', sa.Integer(), nullable=False),
    sa.Column('slot', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('sealed', sa.Text(), nullable=False),
    sa.Column('queued_at', storage.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['ballot_id'], ['ballot.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ballot_id', 'slot', name='uq_ballot_envelope_ballot_slot')
    )
    with op.batch_alter_table('ballotenvelope', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballotenvelope_ballot_id'), ['ballot_id'], unique=False)
    with op.batch_alter_table('ballotsheet', schema=None) as batch_op:
        batch_op.drop_column('draft')
        batch_op.drop_column('version')


def downgrade() -> None:
    with op.batch_alter_table('ballotsheet', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('draft', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('ballotenvelope', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ballotenvelope_ballot_id'))
    op.drop_table('ballotenvelope')
