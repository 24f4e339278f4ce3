"""The loket: questions kept as cases (trajectories) with their events, referrals and programmes;
when a stale profile's reminder went out.

Revision ID: 0006
Revises: 0004c
Create Date: 2026-12-07 00:24:48.170272
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0006'
down_revision: str | None = '0004c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('loket_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('municipality', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('kvk_number', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    sa.Column('phase', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('contact_email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
    sa.Column('consented_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('topics', sa.JSON(), nullable=False),
    sa.Column('route', sa.Text(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('assigned_user_id', sa.Integer(), nullable=True),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('articulated_question', sa.Text(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('trajectory_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('outcome_note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assigned_user_id'], ['user.id'], name=op.f('fk_loket_case_assigned_user_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_loket_case_company_id_company'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loket_case')),
    sa.UniqueConstraint('reference', name=op.f('uq_loket_case_reference'))
    )
    with op.batch_alter_table('loket_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loket_case_assigned_user_id'), ['assigned_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loket_case_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loket_case_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_loket_case_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_loket_case_trajectory_started_at'), ['trajectory_started_at'], unique=False)

    op.create_table('loket_case_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['loket_case.id'], name=op.f('fk_loket_case_event_case_id_loket_case'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loket_case_event'))
    )
    with op.batch_alter_table('loket_case_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loket_case_event_case_id'), ['case_id'], unique=False)

    op.create_table('loket_case_programme',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('need_id', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['loket_case.id'], name=op.f('fk_loket_case_programme_case_id_loket_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['need_id'], ['need.id'], name=op.f('fk_loket_case_programme_need_id_need'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loket_case_programme')),
    sa.UniqueConstraint('case_id', 'need_id', name=op.f('uq_loket_case_programme_case_id'))
    )
    with op.batch_alter_table('loket_case_programme', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loket_case_programme_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loket_case_programme_decided_at'), ['decided_at'], unique=False)

    op.create_table('loket_case_referral',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['loket_case.id'], name=op.f('fk_loket_case_referral_case_id_loket_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_loket_case_referral_organisation_id_organisation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loket_case_referral'))
    )
    with op.batch_alter_table('loket_case_referral', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loket_case_referral_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_loket_case_referral_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stale_reminder_sent_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.drop_column('stale_reminder_sent_at')

    with op.batch_alter_table('loket_case_referral', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loket_case_referral_case_id'))
        batch_op.drop_index(batch_op.f('ix_loket_case_referral_at'))

    op.drop_table('loket_case_referral')
    with op.batch_alter_table('loket_case_programme', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loket_case_programme_decided_at'))
        batch_op.drop_index(batch_op.f('ix_loket_case_programme_case_id'))

    op.drop_table('loket_case_programme')
    with op.batch_alter_table('loket_case_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loket_case_event_case_id'))

    op.drop_table('loket_case_event')
    with op.batch_alter_table('loket_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loket_case_trajectory_started_at'))
        batch_op.drop_index(batch_op.f('ix_loket_case_status'))
        batch_op.drop_index(batch_op.f('ix_loket_case_created_at'))
        batch_op.drop_index(batch_op.f('ix_loket_case_company_id'))
        batch_op.drop_index(batch_op.f('ix_loket_case_assigned_user_id'))

    op.drop_table('loket_case')
