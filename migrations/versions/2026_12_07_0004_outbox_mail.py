"""Outbox of e-mail: messages queued in a transaction and sent after it commits.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('outbox_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('to_address', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_outbox_mail_company_id_company'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_mail'))
    )
    with op.batch_alter_table('outbox_mail', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_mail_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_mail_next_attempt_at'), ['next_attempt_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox_mail', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_mail_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_outbox_mail_company_id'))
    op.drop_table('outbox_mail')
