"""users.language: the interface language a person chose, kept with the account

The switch on every page stores it, so the choice follows the person to another computer; empty means
"not chosen" (the browser's Accept-Language decides).

Revision ID: 0012_user_language
Revises: 0011_outbox
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_user_language'
down_revision = '0011_outbox'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('language', sa.String(length=8), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('language')
