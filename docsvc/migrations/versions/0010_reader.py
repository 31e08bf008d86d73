"""pages.reader, pages.layout_version: who read each page's text

Every page records its reader (engine, models, layout version: docsvc.ocr.readers) so that pages an
older reader produced can be found and read again (`docsvc reread --before N`). Pages read before
this migration keep NULL in both: "an older, unknown reader".

Revision ID: 0010_reader
Revises: 0009_file_warnings
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_reader'
down_revision = '0009_file_warnings'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reader', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('layout_version', sa.Integer(), nullable=True))
        batch_op.create_index('ix_pages_layout_version', ['layout_version'])


def downgrade() -> None:
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.drop_index('ix_pages_layout_version')
        batch_op.drop_column('layout_version')
        batch_op.drop_column('reader')
