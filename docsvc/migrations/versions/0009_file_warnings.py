"""batch_files.warning: what the archivist should know of a file that was read

A PDF may carry JavaScript and embedded files. They are kept in the original as it came, never run
or opened; the split job notes them here and the batch page and API show the note.

Revision ID: 0009_file_warnings
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_file_warnings'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('batch_files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('warning', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('batch_files', schema=None) as batch_op:
        batch_op.drop_column('warning')
