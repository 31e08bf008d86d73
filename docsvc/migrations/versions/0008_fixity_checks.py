"""fixity_checks: when each original was last re-read and what was found

One row per object under originals/ that fixity has looked at (intact, altered, missing, unexpected),
so each run takes the least recently checked first and resumes where the last one stopped.

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'fixity_checks',
        sa.Column('key', sa.String(length=200), primary_key=True),
        sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('outcome', sa.String(length=12), nullable=False),
        sa.Column('found_sha256', sa.String(length=64), nullable=True),
        sa.Column('size', sa.BigInteger(), nullable=True),
        sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_fixity_checks_checked_at', 'fixity_checks', ['checked_at'])
    op.create_index('ix_fixity_checks_outcome', 'fixity_checks', ['outcome'])


def downgrade() -> None:
    op.drop_index('ix_fixity_checks_outcome', table_name='fixity_checks')
    op.drop_index('ix_fixity_checks_checked_at', table_name='fixity_checks')
    op.drop_table('fixity_checks')
