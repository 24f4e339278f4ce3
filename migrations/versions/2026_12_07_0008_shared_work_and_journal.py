"""Work shared by several worker processes: the journal of page records, rate counters, leases and the precompute's kept companies.

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-07 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = '0008'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('write_journal',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('done_bytes', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_write_journal'))
    )
    op.create_table('rate_counter',
    sa.Column('limiter', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('client', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('window', sa.BigInteger(), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('limiter', 'client', 'window', name=op.f('pk_rate_counter'))
    )
    with op.batch_alter_table('rate_counter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rate_counter_window'), ['window'], unique=False)
    op.create_table('lease',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_lease'))
    )
    op.create_table('precompute_pass',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('companies', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_precompute_pass'))
    )
    op.create_table('precomputed_need',
    sa.Column('need_id', sa.Integer(), nullable=False),
    sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('pass_id', sa.Integer(), nullable=False),
    sa.Column('company_ids', sa.LargeBinary(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['need_id'], ['need.id'], name=op.f('fk_precomputed_need_need_id_need'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pass_id'], ['precompute_pass.id'],
                            name=op.f('fk_precomputed_need_pass_id_precompute_pass'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('need_id', name=op.f('pk_precomputed_need'))
    )
    with op.batch_alter_table('precomputed_need', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_precomputed_need_pass_id'), ['pass_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('precomputed_need', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_precomputed_need_pass_id'))
    op.drop_table('precomputed_need')
    op.drop_table('precompute_pass')
    op.drop_table('lease')
    with op.batch_alter_table('rate_counter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rate_counter_window'))
    op.drop_table('rate_counter')
    op.drop_table('write_journal')
