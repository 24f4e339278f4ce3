"""Follows (a staff member's companies and needs for the match inbox); match records only for work done.

A match record is opened by an action on a pair (triage, a note, an owner, feedback, consent), not
by looking at it. Records that looking opened and that carry no event are removed. Their removal
cannot be undone: the downgrade leaves the remaining records as they are.

Revision ID: 0005
Revises: 0006
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('follow',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('need_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_follow_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['need_id'], ['need.id'], name=op.f('fk_follow_need_id_need'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_follow_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow'))
    )
    with op.batch_alter_table('follow', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_user_id'), ['user_id'], unique=False)
    # Records nobody worked on: no event, no introduction consent for the pair.
    op.execute(
        "DELETE FROM match WHERE NOT EXISTS (SELECT 1 FROM matchevent WHERE matchevent.match_id = match.id) "
        "AND NOT EXISTS (SELECT 1 FROM introductionconsent WHERE introductionconsent.company_id = match.company_id "
        "AND introductionconsent.need_id = match.need_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table('follow', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_user_id'))
    op.drop_table('follow')
