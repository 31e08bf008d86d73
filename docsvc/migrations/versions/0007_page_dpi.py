"""pages.dpi: the resolution a page's image was drawn at

An oversized PDF page (an A0 drawing) is drawn at the highest dpi within the pixel limit rather
than refused; the page records which, so the viewer and a later re-read know.

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dpi', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.drop_column('dpi')
