"""Withdrawn introduction consent on a match, note visibility, and "not relevant" per organisation.

Revision ID: 0004c
Revises: 0004b
Create Date: 2026-12-07 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = '0004c'
down_revision: str | None = '0004b'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('match', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent_withdrawn', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('matchevent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visibility', sqlmodel.sql.sqltypes.AutoString(length=10),
                                      server_default='internal', nullable=False))
    op.create_table('match_dismissal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('need_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_match_dismissal_company_id_company'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['need_id'], ['need.id'], name=op.f('fk_match_dismissal_need_id_need'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'],
                            name=op.f('fk_match_dismissal_organisation_id_organisation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_match_dismissal_user_id_user'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match_dismissal')),
    sa.UniqueConstraint('company_id', 'need_id', 'organisation_id', name=op.f('uq_match_dismissal_company_id'))
    )
    with op.batch_alter_table('match_dismissal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_match_dismissal_need_id'), ['need_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('match_dismissal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_match_dismissal_need_id'))
    op.drop_table('match_dismissal')
    with op.batch_alter_table('matchevent', schema=None) as batch_op:
        batch_op.drop_column('visibility')
    with op.batch_alter_table('match', schema=None) as batch_op:
        batch_op.drop_column('consent_withdrawn')
