"""retention and destruction: schedules, events, holds, destruction lists, stubs

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('retention_schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('doc_type', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('retention', sa.String(length=10), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('event_name', sa.String(length=60), nullable=True),
    sa.Column('authority', sa.String(length=300), nullable=False),
    sa.Column('parent_retention', sa.String(length=10), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('doc_type', 'version', name='uq_retention_schedules_type_version')
    )
    op.create_index(op.f('ix_retention_schedules_doc_type'), 'retention_schedules', ['doc_type'], unique=False)

    op.create_table('retention_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id']),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id']),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id']),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_retention_events_name'), 'retention_events', ['name'], unique=False)
    op.create_index(op.f('ix_retention_events_customer_id'), 'retention_events', ['customer_id'], unique=False)
    op.create_index(op.f('ix_retention_events_document_id'), 'retention_events', ['document_id'], unique=False)

    op.create_table('holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('query', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_by_id', sa.Integer(), nullable=True),
    sa.Column('release_reason', sa.String(length=1000), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id']),
    sa.ForeignKeyConstraint(['released_by_id'], ['users.id']),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_holds_released_at'), 'holds', ['released_at'], unique=False)

    op.create_table('hold_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hold_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['hold_id'], ['holds.id']),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id']),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id']),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_hold_targets_hold_id'), 'hold_targets', ['hold_id'], unique=False)
    op.create_index(op.f('ix_hold_targets_customer_id'), 'hold_targets', ['customer_id'], unique=False)
    op.create_index(op.f('ix_hold_targets_document_id'), 'hold_targets', ['document_id'], unique=False)

    op.create_table('destruction_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('compiler_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('appraisal_report', sa.Text(), nullable=True),
    sa.Column('approver_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rejection_reason', sa.String(length=1000), nullable=True),
    sa.Column('wait_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('method', sa.String(length=200), nullable=True),
    sa.Column('execution_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('executed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.String(length=1000), nullable=True),
    sa.Column('register_pdf_key', sa.String(length=200), nullable=True),
    sa.Column('register_pdf_sha256', sa.String(length=64), nullable=True),
    sa.Column('register_csv_key', sa.String(length=200), nullable=True),
    sa.Column('register_csv_sha256', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['compiler_id'], ['users.id']),
    sa.ForeignKeyConstraint(['approver_id'], ['users.id']),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_destruction_lists_state'), 'destruction_lists', ['state'], unique=False)

    op.create_table('destruction_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=10), nullable=True),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('reason', sa.String(length=1000), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reference_code', sa.String(length=80), nullable=True),
    sa.Column('title', sa.String(length=255), nullable=True),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('retention', sa.String(length=10), nullable=True),
    sa.Column('kept_years', sa.Integer(), nullable=True),
    sa.Column('page_count', sa.Integer(), nullable=True),
    sa.Column('result', sa.String(length=20), nullable=True),
    sa.Column('result_detail', sa.Text(), nullable=True),
    sa.Column('executed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['list_id'], ['destruction_lists.id']),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id']),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('list_id', 'document_id', name='uq_destruction_items_list_document')
    )
    op.create_index(op.f('ix_destruction_items_list_id'), 'destruction_items', ['list_id'], unique=False)
    op.create_index(op.f('ix_destruction_items_document_id'), 'destruction_items', ['document_id'], unique=False)

    op.create_table('destruction_signoffs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['list_id'], ['destruction_lists.id']),
    sa.ForeignKeyConstraint(['user_id'], ['users.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('list_id', 'user_id', 'role', name='uq_destruction_signoffs_list_user_role')
    )
    op.create_index(op.f('ix_destruction_signoffs_list_id'), 'destruction_signoffs', ['list_id'], unique=False)

    op.create_table('destroyed_originals',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['destruction_lists.id']),
    sa.PrimaryKeyConstraint('sha256')
    )

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('storage_only_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('storage_only_reason', sa.String(length=500), nullable=True))
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contract_end', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('retention', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('retention_status', sa.String(length=16), nullable=False,
                                      server_default='unknown'))
        batch_op.add_column(sa.Column('due_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('schedule_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('extended_until', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('keep_permanently', sa.Boolean(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('storage_only_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('storage_only_reason', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('destruction_list_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_documents_retention_status'), ['retention_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_due_on'), ['due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_destroyed_at'), ['destroyed_at'], unique=False)
        batch_op.create_foreign_key('fk_documents_schedule', 'retention_schedules', ['schedule_id'], ['id'])
        batch_op.create_foreign_key('fk_documents_destruction_list', 'destruction_lists',
                                    ['destruction_list_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_constraint('fk_documents_destruction_list', type_='foreignkey')
        batch_op.drop_constraint('fk_documents_schedule', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_documents_destroyed_at'))
        batch_op.drop_index(batch_op.f('ix_documents_due_on'))
        batch_op.drop_index(batch_op.f('ix_documents_retention_status'))
        for column in ('destruction_list_id', 'destroyed_at', 'storage_only_reason', 'storage_only_at',
                       'keep_permanently', 'extended_until', 'schedule_id', 'due_on', 'retention_status',
                       'retention', 'contract_end'):
            batch_op.drop_column(column)
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('storage_only_reason')
        batch_op.drop_column('storage_only_at')
    for table in ('destroyed_originals', 'destruction_signoffs', 'destruction_items', 'destruction_lists',
                  'hold_targets', 'holds', 'retention_events', 'retention_schedules'):
        op.drop_table(table)
