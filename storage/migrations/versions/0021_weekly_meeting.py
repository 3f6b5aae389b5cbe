"""the weekly multi-committee meeting (多委联合办公会): meetings, attendance, agenda items as assignments, reminders

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 00:20:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, storage.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table('meeting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('open_slot', sa.Integer(), nullable=True),
    sa.Column('chair_member_id', sa.Integer(), nullable=False),
    sa.Column('tg_chat_id', sa.BigInteger(), nullable=False),
    _ts('opened_at'),
    _ts('closed_at', True),
    sa.ForeignKeyConstraint(['chair_member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('community_id', 'number', name='uq_meeting_community_number'),
    sa.UniqueConstraint('open_slot', name='uq_meeting_open_slot')
    )
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_community_id'), ['community_id'], unique=False)

    op.create_table('meetingattendance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    _ts('at'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('meeting_id', 'member_id', name='uq_meeting_attendance_member')
    )
    with op.batch_alter_table('meetingattendance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meetingattendance_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('meetingitem',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('ref_id', sa.Integer(), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('organisation', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('owner_member_id', sa.Integer(), nullable=True),
    _ts('deadline', True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('decided_by_member_id', sa.Integer(), nullable=True),
    _ts('decided_at', True),
    sa.Column('rung', sa.Integer(), nullable=False),
    _ts('due_at', True),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['decided_by_member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], ),
    sa.ForeignKeyConstraint(['owner_member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('meeting_id', 'source', 'ref_id', name='uq_meeting_item_source_ref')
    )
    with op.batch_alter_table('meetingitem', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meetingitem_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_meetingitem_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_index('ix_meeting_item_due', ['state', 'due_at'], unique=False)

    op.create_table('meetingcall',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    _ts('at'),
    _ts('created_at'),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('community_id', 'at', name='uq_meeting_call_community_at')
    )
    with op.batch_alter_table('meetingcall', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meetingcall_community_id'), ['community_id'], unique=False)


def downgrade() -> None:
    op.drop_table('meetingcall')
    op.drop_table('meetingitem')
    op.drop_table('meetingattendance')
    op.drop_table('meeting')
