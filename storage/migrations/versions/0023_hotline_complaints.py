"""12345 hotline complaints imported from the hotline's exports (F-11.3, F-10)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 02:20:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, storage.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table('hotlinecomplaint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    _ts('received_at'),
    sa.Column('estate', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('summary_sealed', sa.Text(), nullable=False),
    _ts('closed_at', True),
    sa.Column('satisfied', sa.Boolean(), nullable=True),
    sa.Column('property_project_id', sa.Integer(), nullable=True),
    sa.Column('imported_by_member_id', sa.Integer(), nullable=True),
    _ts('imported_at'),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], ),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['imported_by_member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('community_id', 'source_id', name='uq_hotline_complaint_source')
    )
    with op.batch_alter_table('hotlinecomplaint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hotlinecomplaint_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hotlinecomplaint_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_hotlinecomplaint_property_project_id'), ['property_project_id'],
                              unique=False)


def downgrade() -> None:
    op.drop_table('hotlinecomplaint')
