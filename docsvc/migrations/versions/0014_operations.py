"""operations: long work a person starts and watches (backup, reindex, customer import, exports)

One row per run with its stage and counts, written as the work goes, so the progress bar in the browser
survives a reload and runs started from the command line show there too.

Revision ID: 0014_operations
Revises: 0013_register_language
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_operations'
down_revision = '0013_register_language'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'operations',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('stage', sa.String(length=32), nullable=False, server_default=''),
        sa.Column('done', sa.BigInteger(), nullable=False, server_default='0'),
        sa.Column('total', sa.BigInteger(), nullable=False, server_default='0'),
        sa.Column('params', sa.Text(), nullable=False, server_default='{}'),
        sa.Column('summary', sa.Text(), nullable=True),
        sa.Column('result_key', sa.String(length=300), nullable=True),
        sa.Column('result_name', sa.String(length=255), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('started_by_id', sa.Integer(), sa.ForeignKey('users.id'), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_operations_status', 'operations', ['status'])
    op.create_index('ix_operations_created_at', 'operations', ['created_at'])


def downgrade() -> None:
    op.drop_index('ix_operations_created_at', table_name='operations')
    op.drop_index('ix_operations_status', table_name='operations')
    op.drop_table('operations')
