"""Pipeline and weekly lists: matches with their events, introduction consents, stored weekly lists.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:44:28.298435
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('matchlist',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('week', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('built_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_matchlist')),
    sa.UniqueConstraint('week', name=op.f('uq_matchlist_week'))
    )
    op.create_table('introductionconsent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('need_id', sa.Integer(), nullable=False),
    sa.Column('consented_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_introductionconsent_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['need_id'], ['need.id'], name=op.f('fk_introductionconsent_need_id_need'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_introductionconsent')),
    sa.UniqueConstraint('company_id', 'need_id', name=op.f('uq_introductionconsent_company_id'))
    )
    with op.batch_alter_table('introductionconsent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_introductionconsent_company_id'), ['company_id'], unique=False)

    op.create_table('match',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('need_id', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('owner_user_id', sa.Integer(), nullable=True),
    sa.Column('owner_organisation_id', sa.Integer(), nullable=True),
    sa.Column('last_score', sa.Float(), nullable=True),
    sa.Column('relevant', sa.Boolean(), nullable=True),
    sa.Column('feedback_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('closing_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_match_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['need_id'], ['need.id'], name=op.f('fk_match_need_id_need'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_organisation_id'], ['organisation.id'], name=op.f('fk_match_owner_organisation_id_organisation'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_user_id'], ['user.id'], name=op.f('fk_match_owner_user_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match')),
    sa.UniqueConstraint('company_id', 'need_id', name=op.f('uq_match_company_id'))
    )
    with op.batch_alter_table('match', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_match_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_match_need_id'), ['need_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_match_status'), ['status'], unique=False)

    op.create_table('matchevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('match_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('from_status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('to_status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['match_id'], ['match.id'], name=op.f('fk_matchevent_match_id_match'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_matchevent'))
    )
    with op.batch_alter_table('matchevent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_matchevent_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_matchevent_match_id'), ['match_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('matchevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_matchevent_match_id'))
        batch_op.drop_index(batch_op.f('ix_matchevent_at'))

    op.drop_table('matchevent')
    with op.batch_alter_table('match', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_match_status'))
        batch_op.drop_index(batch_op.f('ix_match_need_id'))
        batch_op.drop_index(batch_op.f('ix_match_company_id'))

    op.drop_table('match')
    with op.batch_alter_table('introductionconsent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_introductionconsent_company_id'))

    op.drop_table('introductionconsent')
    op.drop_table('matchlist')
