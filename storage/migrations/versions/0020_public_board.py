"""public board: project pictures are looked up by their file_unique_id (/media/<id>.jpg)

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-06 23:50:00.000000
"""
from alembic import op

revision = '0020'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_projectphoto_file_unique_id'), 'projectphoto', ['file_unique_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_projectphoto_file_unique_id'), table_name='projectphoto')
