"""strategies: task priority, managers away, points ledger, segflow-owned customer fields

Revision ID: 0007
Revises: 0002
Create Date: 2026-12-01 15:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('satisfaction', sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column('unreachable_12m', sa.Integer(), nullable=False, server_default='0')
        )
    op.create_table('staff_away',
    sa.Column('principal', sa.String(length=100), nullable=False),
    sa.Column('until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('set_by', sa.String(length=100), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('principal')
    )
    op.create_table('points_accounts',
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('balance', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('balance >= 0', name='ck_points_accounts_balance'),
    sa.PrimaryKeyConstraint('customer_id')
    )
    op.create_table('points_ledger',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('remaining', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=60), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.CheckConstraint('remaining >= 0', name='ck_points_ledger_remaining'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('points_ledger', schema=None) as batch_op:
        batch_op.create_index('ix_points_ledger_customer', ['customer_id', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('points_ledger', schema=None) as batch_op:
        batch_op.drop_index('ix_points_ledger_customer')
    op.drop_table('points_ledger')
    op.drop_table('points_accounts')
    op.drop_table('staff_away')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('unreachable_12m')
        batch_op.drop_column('satisfaction')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('priority')
