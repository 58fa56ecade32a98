"""staged activation: policy_stages and policy_pins

Revision ID: 0008
Revises: 0003
Create Date: 2026-12-01 16:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('policy_stages',
    sa.Column('id', sa.Integer(), nullable=False, autoincrement=True),
    sa.Column('version', sa.String(length=80), nullable=False),
    sa.Column('share', sa.Float(), nullable=True),
    sa.Column('dimension', sa.String(length=32), nullable=True),
    sa.Column('value', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_policy_stages_version', 'policy_stages', ['version'])
    op.create_table('policy_pins',
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.String(length=80), nullable=False),
    sa.Column('stage_id', sa.Integer(), nullable=False),
    sa.Column('pinned_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('customer_id')
    )
    op.create_index('ix_policy_pins_stage_id', 'policy_pins', ['stage_id'])


def downgrade() -> None:
    op.drop_index('ix_policy_pins_stage_id', table_name='policy_pins')
    op.drop_table('policy_pins')
    op.drop_index('ix_policy_stages_version', table_name='policy_stages')
    op.drop_table('policy_stages')
