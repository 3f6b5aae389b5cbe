"""key persons taken off the ledger; needs and acceptance comments told by voice; ballot boxes made with the sheet

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 09:17:15.438956
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('keyperson', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', storage.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('closed_reason', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True))
        batch_op.add_column(sa.Column('closed_by', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_keyperson_closed_by_member', 'member', ['closed_by'], ['id'])
    # the marks of earlier ballots were all chosen ones: they keep counting
    with op.batch_alter_table('ballotmark', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chosen', sa.Boolean(), server_default=sa.true(), nullable=False))
    with op.batch_alter_table('ballotmark', schema=None) as batch_op:
        batch_op.alter_column('chosen', server_default=None)
    with op.batch_alter_table('need', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voice_file_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.add_column(sa.Column('voice_seconds', sa.Integer(), nullable=True))
    with op.batch_alter_table('projectrating', schema=None) as batch_op:
        batch_op.add_column(sa.Column('comment_voice_file_id', sqlmodel.sql.sqltypes.AutoString(length=255),
                                      nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM ballotmark WHERE NOT chosen")
    with op.batch_alter_table('ballotmark', schema=None) as batch_op:
        batch_op.drop_column('chosen')
    with op.batch_alter_table('projectrating', schema=None) as batch_op:
        batch_op.drop_column('comment_voice_file_id')
    with op.batch_alter_table('need', schema=None) as batch_op:
        batch_op.drop_column('voice_seconds')
        batch_op.drop_column('voice_file_id')
    with op.batch_alter_table('keyperson', schema=None) as batch_op:
        batch_op.drop_constraint('fk_keyperson_closed_by_member', type_='foreignkey')
        batch_op.drop_column('closed_by')
        batch_op.drop_column('closed_reason')
        batch_op.drop_column('closed_at')
