"""ladder alerts: who was told about an item at which rung, in rows of its own (no longer read from the outbox)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 23:30:00.000000

The incident alerts queued before this revision are copied from the outbox (their dedupe keys
``ci:<incident>:<level>:<member>`` and ``ci:<incident>:0:g<chat>``), so that closing an incident opened
before the upgrade still tells everyone it alerted.
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ladderalert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('stage', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('rung', sa.Integer(), nullable=False),
    sa.Column('tg_chat_id', sa.BigInteger(), nullable=False),
    sa.Column('recipient_user_id', sa.Integer(), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('lang', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['recipient_user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'item_id', 'stage', 'rung', 'tg_chat_id', name='uq_ladder_alert_item_rung_chat')
    )
    with op.batch_alter_table('ladderalert', schema=None) as batch_op:
        batch_op.create_index('ix_ladder_alert_item', ['kind', 'item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ladderalert_community_id'), ['community_id'], unique=False)
    _copy_incident_alerts()


def _copy_incident_alerts() -> None:
    conn = op.get_bind()
    outbox = sa.table('outboxmessage', sa.column('id', sa.Integer()), sa.column('community_id', sa.Integer()),
                      sa.column('tg_chat_id', sa.BigInteger()), sa.column('recipient_user_id', sa.Integer()),
                      sa.column('payload', sa.JSON()), sa.column('dedupe_key', sa.String()),
                      sa.column('created_at', storage.types.UTCDateTime()))
    alerts = sa.table('ladderalert', sa.column('community_id', sa.Integer()), sa.column('kind', sa.String()),
                      sa.column('item_id', sa.Integer()), sa.column('stage', sa.String()),
                      sa.column('rung', sa.Integer()),
                      sa.column('tg_chat_id', sa.BigInteger()), sa.column('recipient_user_id', sa.Integer()),
                      sa.column('member_id', sa.Integer()), sa.column('lang', sa.String()),
                      sa.column('created_at', storage.types.UTCDateTime()))
    rows = conn.execute(sa.select(outbox).where(outbox.c.dedupe_key.like('ci:%'), outbox.c.community_id.is_not(None))
                        .order_by(outbox.c.id)).all()
    members = set(conn.execute(sa.select(sa.table('member', sa.column('id', sa.Integer())).c.id)).scalars().all())
    seen: set[tuple[int, int, int]] = set()
    batch = []
    for row in rows:
        parts = (row.dedupe_key or '').split(':')
        if len(parts) != 4 or not parts[1].isdigit() or not parts[2].isdigit():
            continue
        item, rung, target = int(parts[1]), int(parts[2]), parts[3]
        if (item, rung, row.tg_chat_id) in seen:
            continue
        seen.add((item, rung, row.tg_chat_id))
        batch.append({'community_id': row.community_id, 'kind': 'incident', 'item_id': item, 'stage': '', 'rung': rung,
                      'tg_chat_id': row.tg_chat_id, 'recipient_user_id': row.recipient_user_id,
                      'member_id': int(target) if target.isdigit() and int(target) in members else None,
                      'lang': str((row.payload or {}).get('lang') or 'zh_CN')[:10], 'created_at': row.created_at})
    for i in range(0, len(batch), 500):
        conn.execute(sa.insert(alerts), batch[i:i + 500])


def downgrade() -> None:
    with op.batch_alter_table('ladderalert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ladderalert_community_id'))
        batch_op.drop_index('ix_ladder_alert_item')
    op.drop_table('ladderalert')
