"""Every company's name as searches compare it (case and accents aside), indexed: a search that
names a company finds it with one lookup instead of comparing every name of about its length.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 08:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

from app.names import name_key

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_key', sqlmodel.sql.sqltypes.AutoString(length=800), nullable=False,
                                      server_default=''))
    connection = op.get_bind()
    company = sa.table('company', sa.column('id', sa.Integer), sa.column('name', sa.String),
                       sa.column('name_key', sa.String))
    last = 0
    while True:
        rows = connection.execute(sa.select(company.c.id, company.c.name).where(company.c.id > last)
                                  .order_by(company.c.id).limit(BATCH)).all()
        if not rows:
            break
        connection.execute(company.update().where(company.c.id == sa.bindparam('row_id'))
                           .values(name_key=sa.bindparam('key')),
                           [{'row_id': row_id, 'key': name_key(name)} for row_id, name in rows])
        last = rows[-1][0]
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.alter_column('name_key', server_default=None)
        batch_op.create_index(batch_op.f('ix_company_name_key'), ['name_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_company_name_key'))
        batch_op.drop_column('name_key')
