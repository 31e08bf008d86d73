"""storage-only look-ups: partial indexes on documents and customers set storage-only

Every search by a user who is not a records manager asks which documents and customer files are
storage-only; without these it would scan both tables.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('documents', 'customers'):
        op.create_index(f'ix_{table}_storage_only', table, ['id'],
                        postgresql_where=sa.text('storage_only_at IS NOT NULL'),
                        sqlite_where=sa.text('storage_only_at IS NOT NULL'))


def downgrade() -> None:
    for table in ('customers', 'documents'):
        op.drop_index(f'ix_{table}_storage_only', table_name=table)
