"""Session versions: raising a user's ends every cookie and token issued before.

Revision ID: 0004b
Revises: 0004a
Create Date: 2026-12-07 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004b'
down_revision: str | None = '0004a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('apitoken', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('apitoken', schema=None) as batch_op:
        batch_op.drop_column('session_version')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('session_version')
