"""The household roster and the bot's import runs (F-11.3)

Revision ID: 0024
Revises: 0031
Create Date: 2026-12-07 02:40:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = '0024'
down_revision = '0031'
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, storage.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table('household',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('room', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('name_sealed', sa.Text(), nullable=False),
    sa.Column('phone_sealed', sa.Text(), nullable=False),
    _ts('created_at'),
    _ts('updated_at'),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], ),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('community_id', 'building_id', 'room', name='uq_household_room')
    )
    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_household_building_id'), ['building_id'], unique=False)
    op.create_table('importrun',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('file_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('file_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    _ts('created_at'),
    _ts('finished_at', True),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('importrun', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_importrun_community_id'), ['community_id'], unique=False)


def downgrade() -> None:
    op.drop_table('importrun')
    op.drop_table('household')
