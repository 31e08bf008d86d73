"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 19:05:02.911305
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def _duplicate_fk_inline() -> list[sa.ForeignKeyConstraint]:
    # SQLite cannot add a constraint later, and does not mind a forward reference.
    if op.get_bind().dialect.name == "sqlite":
        return [sa.ForeignKeyConstraint(["duplicate_of_id"], ["documents.id"], name="fk_batch_files_duplicate_of")]
    return []


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('display_name', sa.String(length=120), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('roles', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('customer_account', sa.String(length=40), nullable=True),
    sa.Column('doc_type', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('batch_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('original_key', sa.String(length=200), nullable=True),
    sa.Column('media_type', sa.String(length=60), nullable=True),
    sa.Column('page_count', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duplicate_of_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], ),
    *_duplicate_fk_inline(),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('batch_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_batch_files_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_batch_files_sha256'), ['sha256'], unique=False)

    op.create_table('documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_file_id', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('original_key', sa.String(length=200), nullable=False),
    sa.Column('media_type', sa.String(length=60), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('customer_account', sa.String(length=40), nullable=True),
    sa.Column('doc_type', sa.String(length=20), nullable=True),
    sa.Column('page_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_file_id'], ['batch_files.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_documents_batch_file_id'), ['batch_file_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_customer_account'), ['customer_account'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_sha256'), ['sha256'], unique=False)

    if op.get_bind().dialect.name != "sqlite":
        # batch_files and documents point at each other: the second link is added once both exist.
        op.create_foreign_key(
            "fk_batch_files_duplicate_of", "batch_files", "documents", ["duplicate_of_id"], ["id"]
        )
    op.create_table('pages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('source_index', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=12), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('rotation', sa.Integer(), nullable=False),
    sa.Column('skew', sa.Float(), nullable=True),
    sa.Column('engine', sa.String(length=20), nullable=True),
    sa.Column('engine_version', sa.String(length=80), nullable=True),
    sa.Column('image_key', sa.String(length=200), nullable=True),
    sa.Column('thumb_key', sa.String(length=200), nullable=True),
    sa.Column('words_key', sa.String(length=200), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('index_state', sa.String(length=10), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('document_id', 'number', name='uq_pages_document_number')
    )
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pages_document_id'), ['document_id'], unique=False)
        batch_op.create_index('ix_pages_index_state', ['index_state'], unique=False)
        batch_op.create_index('ix_pages_status', ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.drop_index('ix_pages_status')
        batch_op.drop_index('ix_pages_index_state')
        batch_op.drop_index(batch_op.f('ix_pages_document_id'))

    op.drop_table('pages')
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_batch_files_duplicate_of", "batch_files", type_="foreignkey")
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_documents_sha256'))
        batch_op.drop_index(batch_op.f('ix_documents_customer_account'))
        batch_op.drop_index(batch_op.f('ix_documents_batch_file_id'))

    op.drop_table('documents')
    with op.batch_alter_table('batch_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_batch_files_sha256'))
        batch_op.drop_index(batch_op.f('ix_batch_files_batch_id'))

    op.drop_table('batch_files')
    op.drop_table('batches')
    op.drop_table('api_tokens')
    op.drop_table('users')
