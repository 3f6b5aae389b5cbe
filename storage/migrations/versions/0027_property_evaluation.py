"""property evaluation and the monthly ranking (F-10): projects, staff, evaluations, surveys, results

Revision ID: 0027
Revises: 0028
Create Date: 2026-12-07 02:40:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = '0027'
down_revision = '0028'
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, storage.types.UTCDateTime(timezone=True), nullable=nullable)


def _s(name: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=nullable)


def _index(table: str, *columns: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f'ix_{table}_{column}'), [column], unique=False)


def upgrade() -> None:
    op.create_table('propertyproject',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    _s('company', 100),
    _s('estate', 100),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('households', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    _ts('created_at'),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('community_id', 'number', name='uq_propertyproject_community_number')
    )
    _index('propertyproject', 'community_id')

    op.create_table('propertybuilding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], ),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['project_id'], ['propertyproject.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('building_id', name='uq_propertybuilding_building')
    )
    _index('propertybuilding', 'community_id', 'project_id')

    op.create_table('propertystaff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('granted_by', sa.Integer(), nullable=True),
    _ts('granted_at'),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['granted_by'], ['member.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['project_id'], ['propertyproject.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('member_id', 'project_id', name='uq_propertystaff_member_project')
    )
    _index('propertystaff', 'community_id', 'project_id', 'member_id')

    op.create_table('propertyevaluation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    _s('month', 7),
    _s('state', 10),
    sa.Column('items_points', sa.Float(), nullable=True),
    sa.Column('started_by', sa.Integer(), nullable=True),
    _ts('started_at'),
    sa.Column('submitted_by', sa.Integer(), nullable=True),
    _ts('submitted_at', True),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['project_id'], ['propertyproject.id'], ),
    sa.ForeignKeyConstraint(['started_by'], ['member.id'], ),
    sa.ForeignKeyConstraint(['submitted_by'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project_id', 'month', name='uq_propertyevaluation_project_month')
    )
    _index('propertyevaluation', 'community_id', 'project_id')

    op.create_table('propertyitemscore',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('evaluation_id', sa.Integer(), nullable=False),
    _s('code', 10),
    _s('grade', 8, True),
    sa.Column('count', sa.Integer(), nullable=True),
    sa.Column('points', sa.Float(), nullable=False),
    _s('note', 500),
    _s('photo', 255, True),
    sa.Column('scored_by', sa.Integer(), nullable=True),
    _ts('scored_at'),
    _ts('fix_due_at', True),
    _ts('fixed_at', True),
    _s('fix_state', 8, True),
    sa.Column('fix_rung', sa.Integer(), nullable=False),
    _ts('fix_next_at', True),
    _s('reply', 500, True),
    sa.Column('replied_by', sa.Integer(), nullable=True),
    _ts('replied_at', True),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['evaluation_id'], ['propertyevaluation.id'], ),
    sa.ForeignKeyConstraint(['replied_by'], ['member.id'], ),
    sa.ForeignKeyConstraint(['scored_by'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('evaluation_id', 'code', name='uq_propertyitemscore_evaluation_code')
    )
    _index('propertyitemscore', 'community_id', 'evaluation_id')
    with op.batch_alter_table('propertyitemscore', schema=None) as batch_op:
        batch_op.create_index('ix_propertyitemscore_fix_due', ['fix_state', 'fix_next_at'], unique=False)

    op.create_table('propertysurvey',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    _s('month', 7),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    _ts('sent_at'),
    _ts('answered_at', True),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['project_id'], ['propertyproject.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project_id', 'month', 'member_id', name='uq_propertysurvey_household')
    )
    _index('propertysurvey', 'community_id', 'project_id')

    op.create_table('propertyresult',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    _s('month', 7),
    sa.Column('items_part', sa.Float(), nullable=True),
    sa.Column('satisfaction_part', sa.Float(), nullable=True),
    sa.Column('complaints_part', sa.Float(), nullable=True),
    sa.Column('total', sa.Float(), nullable=True),
    sa.Column('complaints', sa.Integer(), nullable=False),
    sa.Column('rate', sa.Float(), nullable=True),
    sa.Column('answers', sa.Integer(), nullable=False),
    sa.Column('required', sa.Integer(), nullable=False),
    sa.Column('sufficient', sa.Boolean(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=True),
    _ts('computed_at'),
    _ts('published_at', True),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['project_id'], ['propertyproject.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project_id', 'month', name='uq_propertyresult_project_month')
    )
    _index('propertyresult', 'community_id', 'project_id', 'month')


def downgrade() -> None:
    for table in ('propertyresult', 'propertysurvey', 'propertyitemscore', 'propertyevaluation',
                  'propertystaff', 'propertybuilding', 'propertyproject'):
        op.drop_table(table)
