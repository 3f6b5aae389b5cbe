"""micro spaces, tool lending and employment (F-9.3, F-9.5): spaces, tools, loans, service records, jobs,
applications, trainings, sign-ups and income records (written by hand after the models, storage/models_spaces.py)

Revision ID: 0029
Revises: 0027
Create Date: 2026-12-07 02:15:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = '0029'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('incomerecord',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.Column('month', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['recorded_by'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('incomerecord', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incomerecord_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incomerecord_month'), ['month'], unique=False)

    op.create_table('job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('poster_member_id', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('employer', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('pay', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('place', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('closes_on', sa.Date(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['poster_member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('community_id', 'number', name='uq_job_community_number')
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_community_id'), ['community_id'], unique=False)

    op.create_table('space',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('place', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('hours', sa.JSON(), nullable=False),
    sa.Column('services', sa.JSON(), nullable=False),
    sa.Column('keeper_member_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['keeper_member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('community_id', 'number', name='uq_space_community_number')
    )
    with op.batch_alter_table('space', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_space_community_id'), ['community_id'], unique=False)

    op.create_table('training',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('organiser_member_id', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('place', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('starts_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('seats_taken', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['organiser_member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('community_id', 'number', name='uq_training_community_number')
    )
    with op.batch_alter_table('training', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_community_id'), ['community_id'], unique=False)

    op.create_table('jobapplication',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('message', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_id', 'member_id', name='uq_jobapplication_job_member')
    )
    with op.batch_alter_table('jobapplication', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobapplication_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobapplication_job_id'), ['job_id'], unique=False)

    op.create_table('servicerecord',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('space_id', sa.Integer(), nullable=False),
    sa.Column('service', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('month', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['recorded_by'], ['member.id'], ),
    sa.ForeignKeyConstraint(['space_id'], ['space.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('servicerecord', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_servicerecord_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_servicerecord_month'), ['month'], unique=False)
        batch_op.create_index(batch_op.f('ix_servicerecord_space_id'), ['space_id'], unique=False)

    op.create_table('tool',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('space_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['space_id'], ['space.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('community_id', 'number', name='uq_tool_community_number')
    )
    with op.batch_alter_table('tool', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tool_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tool_space_id'), ['space_id'], unique=False)

    op.create_table('trainingsignup',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('training_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reminded_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attended', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['training_id'], ['training.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('training_id', 'member_id', name='uq_trainingsignup_training_member')
    )
    with op.batch_alter_table('trainingsignup', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trainingsignup_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trainingsignup_training_id'), ['training_id'], unique=False)

    op.create_table('loan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('space_id', sa.Integer(), nullable=False),
    sa.Column('tool_id', sa.Integer(), nullable=False),
    sa.Column('borrower_member_id', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('requested_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('handed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('returned_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('overdue_sent', sa.Integer(), nullable=False),
    sa.Column('overdue_last_on', sa.Date(), nullable=True),
    sa.Column('keeper_told_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['borrower_member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['space_id'], ['space.id'], ),
    sa.ForeignKeyConstraint(['tool_id'], ['tool.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('community_id', 'number', name='uq_loan_community_number')
    )
    with op.batch_alter_table('loan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_borrower_member_id'), ['borrower_member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loan_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loan_space_id'), ['space_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loan_tool_id'), ['tool_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('loan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_tool_id'))
        batch_op.drop_index(batch_op.f('ix_loan_space_id'))
        batch_op.drop_index(batch_op.f('ix_loan_community_id'))
        batch_op.drop_index(batch_op.f('ix_loan_borrower_member_id'))

    op.drop_table('loan')
    with op.batch_alter_table('trainingsignup', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trainingsignup_training_id'))
        batch_op.drop_index(batch_op.f('ix_trainingsignup_community_id'))

    op.drop_table('trainingsignup')
    with op.batch_alter_table('tool', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tool_space_id'))
        batch_op.drop_index(batch_op.f('ix_tool_community_id'))

    op.drop_table('tool')
    with op.batch_alter_table('servicerecord', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_servicerecord_space_id'))
        batch_op.drop_index(batch_op.f('ix_servicerecord_month'))
        batch_op.drop_index(batch_op.f('ix_servicerecord_community_id'))

    op.drop_table('servicerecord')
    with op.batch_alter_table('jobapplication', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobapplication_job_id'))
        batch_op.drop_index(batch_op.f('ix_jobapplication_community_id'))

    op.drop_table('jobapplication')
    with op.batch_alter_table('training', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_community_id'))

    op.drop_table('training')
    with op.batch_alter_table('space', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_space_community_id'))

    op.drop_table('space')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_community_id'))

    op.drop_table('job')
    with op.batch_alter_table('incomerecord', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incomerecord_month'))
        batch_op.drop_index(batch_op.f('ix_incomerecord_community_id'))

    op.drop_table('incomerecord')
