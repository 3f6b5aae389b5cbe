"""closed-loop requests (闭环诉求): requests, their reporters, their timeline, and the numbers given per year

Revision ID: 0017
Revises: 0013
Create Date: 2026-12-06 23:08:44.876692
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = '0017'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('requestnumber',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('community_id', 'year', name='uq_request_number_community_year')
    )
    with op.batch_alter_table('requestnumber', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_requestnumber_community_id'), ['community_id'], unique=False)

    op.create_table('request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('voice_file_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('voice_seconds', sa.Integer(), nullable=True),
    sa.Column('photos', sa.JSON(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('reporter_member_id', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('organisation', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('reject_reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('reopen_count', sa.Integer(), nullable=False),
    sa.Column('due_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rung', sa.Integer(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], ),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['merged_into_id'], ['request.id'], ),
    sa.ForeignKeyConstraint(['reporter_member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('community_id', 'year', 'number', name='uq_request_community_year_number')
    )
    with op.batch_alter_table('request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_request_community_id'), ['community_id'], unique=False)
        batch_op.create_index('ix_request_due', ['state', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_request_reporter_member_id'), ['reporter_member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_request_state'), ['state'], unique=False)

    op.create_table('requestevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_member_id', sa.Integer(), nullable=True),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('from_state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('to_state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('organisation', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('photo_file_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.ForeignKeyConstraint(['actor_member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['request_id'], ['request.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('requestevent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_requestevent_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_requestevent_request_id'), ['request_id'], unique=False)

    op.create_table('requestreporter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('merged_from_id', sa.Integer(), nullable=True),
    sa.Column('joined_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['merged_from_id'], ['request.id'], ),
    sa.ForeignKeyConstraint(['request_id'], ['request.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id', 'member_id', name='uq_request_reporter_request_member')
    )
    with op.batch_alter_table('requestreporter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_requestreporter_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_requestreporter_request_id'), ['request_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('requestreporter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_requestreporter_request_id'))
        batch_op.drop_index(batch_op.f('ix_requestreporter_member_id'))

    op.drop_table('requestreporter')
    with op.batch_alter_table('requestevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_requestevent_request_id'))
        batch_op.drop_index(batch_op.f('ix_requestevent_community_id'))

    op.drop_table('requestevent')
    with op.batch_alter_table('request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_request_state'))
        batch_op.drop_index(batch_op.f('ix_request_reporter_member_id'))
        batch_op.drop_index('ix_request_due')
        batch_op.drop_index(batch_op.f('ix_request_community_id'))

    op.drop_table('request')
    with op.batch_alter_table('requestnumber', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_requestnumber_community_id'))

    op.drop_table('requestnumber')
