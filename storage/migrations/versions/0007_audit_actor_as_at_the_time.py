"""audit entries keep the actor's member number and name as they were at the time

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 20:30:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('auditentry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_member_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('actor_name', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
    # earlier entries: the best we know now (the name of today, the member number in the entry's community)
    op.execute(
        'UPDATE auditentry SET '
        'actor_name = (SELECT substr("user".first_name, 1, 128) FROM "user" WHERE "user".id = auditentry.actor_user_id), '
        'actor_member_id = (SELECT member.id FROM member WHERE member.user_id = auditentry.actor_user_id '
        'AND member.community_id = auditentry.community_id) '
        'WHERE actor_user_id IS NOT NULL'
    )


def downgrade() -> None:
    with op.batch_alter_table('auditentry', schema=None) as batch_op:
        batch_op.drop_column('actor_name')
        batch_op.drop_column('actor_member_id')
