"""Idempotent create requests: the key's hash, the body's hash and what was created, for a day.

Revision ID: 0004a
Revises: 0004
Create Date: 2026-12-07 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = '0004a'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('idempotent_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('request_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('need_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_idempotent_request_company_id_company'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['need_id'], ['need.id'], name=op.f('fk_idempotent_request_need_id_need'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotent_request')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_idempotent_request_key_hash'))
    )
    with op.batch_alter_table('idempotent_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotent_request_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_idempotent_request_need_id'), ['need_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_idempotent_request_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('idempotent_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotent_request_created_at'))
        batch_op.drop_index(batch_op.f('ix_idempotent_request_need_id'))
        batch_op.drop_index(batch_op.f('ix_idempotent_request_company_id'))
    op.drop_table('idempotent_request')
