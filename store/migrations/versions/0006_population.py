"""population: ABC cut points of population runs and the runs' keyset batches

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01 15:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('abc_cut_sets',
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('policy_version', sa.String(length=80), nullable=False),
    sa.Column('abc_digest', sa.String(length=64), nullable=False),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('run_id')
    )
    op.create_index('ix_abc_cut_sets_current', 'abc_cut_sets', ['abc_digest', 'computed_at'])
    op.create_table('abc_cut_points',
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('partition', sa.String(length=200), nullable=False),
    sa.Column('abc_class', sa.String(length=8), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('population', sa.Integer(), nullable=False),
    sa.Column('metric', sa.Float(), nullable=True),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['abc_cut_sets.run_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'partition', 'abc_class')
    )
    op.create_table('segmentation_batches',
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('lo', sa.String(length=64), nullable=False),
    sa.Column('hi', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('started', sa.Integer(), nullable=False),
    sa.Column('stopped', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=100), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('run_id', 'seq')
    )


def downgrade() -> None:
    op.drop_table('segmentation_batches')
    op.drop_table('abc_cut_points')
    op.drop_index('ix_abc_cut_sets_current', table_name='abc_cut_sets')
    op.drop_table('abc_cut_sets')
