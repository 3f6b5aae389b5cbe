"""the property survey once per household (#15): a member's room, one completed survey per household and month

Revision ID: 0032
Revises: 0029
Create Date: 2026-12-07 03:45:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = '0032'
down_revision = '0029'
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, storage.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table('memberroom',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('room', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    _ts('set_at'),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], ),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('member_id', name='uq_memberroom_member')
    )
    with op.batch_alter_table('memberroom', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_memberroom_community_id'), ['community_id'], unique=False)

    op.create_table('propertysurveyhousehold',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('month', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('room', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    _ts('answered_at'),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], ),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['project_id'], ['propertyproject.id'], ),
    sa.ForeignKeyConstraint(['survey_id'], ['propertysurvey.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project_id', 'month', 'building_id', 'room', name='uq_propertysurveyhousehold_room')
    )
    with op.batch_alter_table('propertysurveyhousehold', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_propertysurveyhousehold_community_id'), ['community_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_propertysurveyhousehold_project_id'), ['project_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('propertysurveyhousehold', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_propertysurveyhousehold_project_id'))
        batch_op.drop_index(batch_op.f('ix_propertysurveyhousehold_community_id'))
    op.drop_table('propertysurveyhousehold')
    with op.batch_alter_table('memberroom', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_memberroom_community_id'))
    op.drop_table('memberroom')
