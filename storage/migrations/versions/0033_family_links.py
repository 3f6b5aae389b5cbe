"""Family members of key persons by invite (#17)

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 03:40:00
"""
import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('familylink',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['keyperson.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('person_id', 'member_id', name='uq_family_link_person_member')
    )
    with op.batch_alter_table('familylink', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_familylink_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_familylink_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_familylink_member_id'), ['member_id'], unique=False)
    with op.batch_alter_table('invite', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_invite_person_id_keyperson', 'keyperson', ['person_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('invite', schema=None) as batch_op:
        batch_op.drop_constraint('fk_invite_person_id_keyperson', type_='foreignkey')
        batch_op.drop_column('person_id')
    with op.batch_alter_table('familylink', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_familylink_member_id'))
        batch_op.drop_index(batch_op.f('ix_familylink_person_id'))
        batch_op.drop_index(batch_op.f('ix_familylink_community_id'))
    op.drop_table('familylink')
