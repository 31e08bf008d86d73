"""destruction_lists.register_language: the language a list's register is written in

The register (销毁清册) is in the language of the person who set the execution going, whoever runs the
job; kept with the list, so the register can be generated again byte for byte. Lists executed before
have none (their registers were bilingual).

Revision ID: 0013_register_language
Revises: 0012_user_language
"""
from alembic import op
import sqlalchemy as sa


revision = '0013_register_language'
down_revision = '0012_user_language'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('destruction_lists') as batch:
        batch.add_column(sa.Column('register_language', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('destruction_lists') as batch:
        batch.drop_column('register_language')
