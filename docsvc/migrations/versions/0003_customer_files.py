"""customer files: customers, document types, filing sequences, document and page description

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# The types in DOMAIN.md; the table is configuration from here on (a copy here: migrations never change).
SEED_TYPES = [
    # code, 中文, English, retention, sensitive, required from stage
    ("SQ", "用电申请书", "Connection / change application", "D30", False, "apply"),
    ("ZJ", "身份证明 / 营业执照 / 土地证明", "ID, business licence, land certificate copies", "D30", True, "apply"),
    ("SJ", "受电工程设计施工与竣工验收资料", "Design, construction and acceptance records", "D30", False, "design"),
    ("JL", "计量装置装拆表工作单", "Metering installation work order", "D10", False, "acceptance"),
    ("HT", "供用电合同及协议", "Supply contract and agreements", "Y", False, "contract"),
    ("JC", "用电检查单", "Inspection sheet", "D10", False, "operation"),
    ("WY", "违约用电 / 窃电处理记录", "Violation / theft records", "D30", False, None),
    ("BG", "客户信息变更单", "Customer change form", "D30", False, "change"),
    ("QT", "其他", "Other", "D10", False, None),
]


def upgrade() -> None:
    op.create_table('customers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('category', sa.String(length=40), nullable=True),
    sa.Column('voltage', sa.String(length=20), nullable=True),
    sa.Column('grade', sa.String(length=10), nullable=True),
    sa.Column('region', sa.String(length=80), nullable=True),
    sa.Column('industry', sa.String(length=80), nullable=True),
    sa.Column('stage', sa.String(length=20), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('tags', sa.String(length=300), nullable=False),
    sa.Column('location', sa.String(length=120), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account')
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customers_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_region'), ['region'], unique=False)

    types = op.create_table('document_types',
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name_zh', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), nullable=False),
    sa.Column('retention', sa.String(length=10), nullable=False),
    sa.Column('sensitive', sa.Boolean(), nullable=False),
    sa.Column('required_from', sa.String(length=20), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.bulk_insert(types, [
        {"code": c, "name_zh": zh, "name_en": en, "retention": r, "sensitive": s, "required_from": st,
         "position": i, "active": True}
        for i, (c, zh, en, r, s, st) in enumerate(SEED_TYPES, start=1)
    ])
    op.create_table('filing_sequences',
    sa.Column('scope', sa.String(length=80), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('scope')
    )
    with op.batch_alter_table('batch_files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('separators', sa.Text(), nullable=True))
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('customer_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('doc_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('contract_no', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('business_ref', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('reference_code', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('location', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('notes', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('filed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('inbox_note', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_documents_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_contract_no'), ['contract_no'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_filed_at'), ['filed_at'], unique=False)
        batch_op.create_unique_constraint('uq_documents_reference_code', ['reference_code'])
        batch_op.create_foreign_key('fk_documents_customer', 'customers', ['customer_id'], ['id'])
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('view_rotation', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('binned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('original_key', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('media_type', sa.String(length=60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('pages', schema=None) as batch_op:
        for column in ('media_type', 'original_key', 'binned_at', 'view_rotation'):
            batch_op.drop_column(column)
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_constraint('fk_documents_customer', type_='foreignkey')
        batch_op.drop_constraint('uq_documents_reference_code', type_='unique')
        batch_op.drop_index(batch_op.f('ix_documents_filed_at'))
        batch_op.drop_index(batch_op.f('ix_documents_contract_no'))
        batch_op.drop_index(batch_op.f('ix_documents_customer_id'))
        for column in ('inbox_note', 'filed_at', 'notes', 'location', 'reference_code', 'business_ref',
                       'contract_no', 'doc_date', 'customer_id'):
            batch_op.drop_column(column)
    with op.batch_alter_table('batch_files', schema=None) as batch_op:
        batch_op.drop_column('separators')
    op.drop_table('filing_sequences')
    op.drop_table('document_types')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_region'))
        batch_op.drop_index(batch_op.f('ix_customers_name'))
    op.drop_table('customers')
