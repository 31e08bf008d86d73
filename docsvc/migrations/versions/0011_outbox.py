"""job_outbox: jobs written in the same transaction as the change that needs them

An upload commits its rows and the job that will split them together; the job leaves the table once
the queue (Redis) has taken it. When Redis is down the rows wait and the scheduler hands them over.

Revision ID: 0011_outbox
Revises: 0010_reader
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_outbox'
down_revision = '0010_reader'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'job_outbox',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('stage', sa.String(length=16), nullable=False),
        sa.Column('row_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_job_outbox_created_at', 'job_outbox', ['created_at'])


def downgrade() -> None:
    op.drop_index('ix_job_outbox_created_at', table_name='job_outbox')
    op.drop_table('job_outbox')
