"""announcements to the community's groups (F-11.4): announcements and the group posts that carry them

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 01:00:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, storage.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table('announcement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('author_member_id', sa.Integer(), nullable=False),
    sa.Column('audience', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('targets', sa.JSON(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=4096), nullable=False),
    sa.Column('photo', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('edits', sa.Integer(), nullable=False),
    _ts('send_at'),
    _ts('created_at'),
    _ts('deleted_at', True),
    sa.ForeignKeyConstraint(['author_member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('community_id', 'number', name='uq_announcement_community_number')
    )
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_announcement_community_id'), ['community_id'], unique=False)

    op.create_table('announcementpost',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('announcement_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('tg_chat_id', sa.BigInteger(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['announcement_id'], ['announcement.id'], ),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('announcement_id', 'tg_chat_id', name='uq_announcement_post_chat')
    )
    with op.batch_alter_table('announcementpost', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_announcementpost_announcement_id'), ['announcement_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_announcementpost_community_id'), ['community_id'], unique=False)


def downgrade() -> None:
    op.drop_table('announcementpost')
    op.drop_table('announcement')
