"""access and audit: user grants, audit trail (append-only, hash-chained), loans

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

GENESIS = "0" * 64

# The database itself refuses to change history, whatever code runs against it.
PG_TRIGGER = """
CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused / 审计日志只能追加，不能修改或删除', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
"""


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grants', sa.String(length=255), nullable=False, server_default=''))

    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=80), nullable=True),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('object_type', sa.String(length=40), nullable=True),
    sa.Column('object_id', sa.String(length=80), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('purpose', sa.String(length=500), nullable=True),
    sa.Column('loan_id', sa.Integer(), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('seq')
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_occurred_at', ['occurred_at'], unique=False)
        batch_op.create_index('ix_audit_events_actor_name', ['actor_name'], unique=False)
        batch_op.create_index('ix_audit_events_action', ['action'], unique=False)
        batch_op.create_index('ix_audit_events_object', ['object_type', 'object_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_loan_id'), ['loan_id'], unique=False)

    head = op.create_table('audit_chain_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])

    op.create_table('loans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('customer_account', sa.String(length=40), nullable=True),
    sa.Column('purpose', sa.String(length=500), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('want_download', sa.Boolean(), nullable=False),
    sa.Column('want_print', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('renewal_of_id', sa.Integer(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.String(length=500), nullable=True),
    sa.Column('allow_download', sa.Boolean(), nullable=False),
    sa.Column('allow_print', sa.Boolean(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['renewal_of_id'], ['loans.id'], ),
    sa.ForeignKeyConstraint(['requester_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loans_customer_account'), ['customer_account'], unique=False)
        batch_op.create_index(batch_op.f('ix_loans_requester_id'), ['requester_id'], unique=False)

    op.create_table('loan_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('loan_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], ),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('loan_id', 'document_id', name='uq_loan_items_loan_document')
    )
    with op.batch_alter_table('loan_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_items_document_id'), ['document_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loan_items_loan_id'), ['loan_id'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    op.drop_table('loan_items')
    op.drop_table('loans')
    op.drop_table('audit_chain_head')
    op.drop_table('audit_events')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('grants')
