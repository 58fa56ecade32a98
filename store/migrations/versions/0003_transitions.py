"""transitions: the outbox of process transitions applied to Temporal by the relay

Revision ID: 0003
Revises: 0005
Create Date: 2026-12-01 15:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('transitions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('workflow_id', sa.String(length=200), nullable=False),
    sa.Column('op', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('signal', sa.String(length=60), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_owner', sa.String(length=100), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id')
    )
    with op.batch_alter_table('transitions', schema=None) as batch_op:
        batch_op.create_index('ix_transitions_claim', ['status', 'next_attempt_at', 'id'], unique=False)
        batch_op.create_index('ix_transitions_workflow', ['workflow_id', 'status', 'id'], unique=False)
        batch_op.create_index('ix_transitions_customer', ['customer_id', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('transitions', schema=None) as batch_op:
        batch_op.drop_index('ix_transitions_customer')
        batch_op.drop_index('ix_transitions_workflow')
        batch_op.drop_index('ix_transitions_claim')
    op.drop_table('transitions')
