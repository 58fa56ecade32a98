"""outbox: an index in claim order (status, id); which relay applied a row

The relay claims the oldest claimable rows (`status = 'pending' ... ORDER BY id LIMIT n`).
With only (status, next_attempt_at, id) the store read every pending row and sorted them
under the write lock: with 100k rows queued by a day-one load each claim took seconds.
In id order the claim stops after the rows it takes. `applied_by` keeps the owner of the
relay that recorded a row's outcome (the lease owner is cleared then), so an operator, and
the two-worker test, can see how several relays shared the outbox.

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-01 18:05:00
"""

import sqlalchemy as sa
from alembic import op


revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_transitions_pending", "transitions", ["status", "id"])
    with op.batch_alter_table("transitions") as batch_op:
        batch_op.add_column(sa.Column("applied_by", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transitions") as batch_op:
        batch_op.drop_column("applied_by")
    op.drop_index("ix_transitions_pending", table_name="transitions")
