"""Visits and services for key persons (F-5.3, F-5.4)

Revision ID: 0030
Revises: 0024
Create Date: 2026-12-07 02:30:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = '0030'
down_revision = '0024'
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, storage.types.UTCDateTime(timezone=True), nullable=nullable)


def _s(name: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=nullable)


def upgrade() -> None:
    op.create_table('visitplan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    _s('status', 8),
    _ts('due_at'),
    sa.Column('rung', sa.Integer(), nullable=False),
    _ts('next_at', True),
    sa.Column('visits', sa.Integer(), nullable=False),
    _ts('last_visit_at', True),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['keyperson.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('person_id')
    )
    with op.batch_alter_table('visitplan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visitplan_community_id'), ['community_id'], unique=False)
        batch_op.create_index('ix_visitplan_due', ['status', 'next_at'], unique=False)

    op.create_table('visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    _ts('at'),
    _ts('due_at'),
    sa.Column('on_time', sa.Boolean(), nullable=False),
    _s('outcome', 10),
    _s('note_enc', 2000),
    _s('voice_enc', 1000),
    _s('risk_before', 8),
    _s('risk_after', 8),
    _s('risk_reason_enc', 1000),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['keyperson.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visit_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_at'), ['at'], unique=False)

    op.create_table('serviceoffer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    _s('kind', 12),
    _ts('created_at'),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('member_id', 'kind', name='uq_service_offer_member_kind')
    )
    with op.batch_alter_table('serviceoffer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_serviceoffer_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_serviceoffer_member_id'), ['member_id'], unique=False)

    op.create_table('servicerequest',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    _s('kind', 12),
    _ts('wanted_at'),
    _s('state', 10),
    sa.Column('requester_member_id', sa.Integer(), nullable=False),
    sa.Column('claimer_member_id', sa.Integer(), nullable=True),
    _ts('claimed_at', True),
    _ts('done_at', True),
    _s('done_note_enc', 2000),
    _ts('confirmed_at', True),
    sa.Column('confirmed_by', sa.Integer(), nullable=True),
    sa.Column('rung', sa.Integer(), nullable=False),
    _ts('next_at', True),
    _ts('created_at'),
    sa.ForeignKeyConstraint(['claimer_member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['confirmed_by'], ['member.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['keyperson.id'], ),
    sa.ForeignKeyConstraint(['requester_member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('community_id', 'number', name='uq_service_request_community_number')
    )
    with op.batch_alter_table('servicerequest', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_servicerequest_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_servicerequest_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_servicerequest_due', ['state', 'next_at'], unique=False)


def downgrade() -> None:
    op.drop_table('servicerequest')
    op.drop_table('serviceoffer')
    op.drop_table('visit')
    op.drop_table('visitplan')
