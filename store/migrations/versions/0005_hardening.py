"""hardening: signed audit checkpoints, revoked web sessions, an append-only audit log

The audit log refuses UPDATE and DELETE at the database (triggers on SQLite and PostgreSQL,
so no role the application uses can rewrite it through SQL; only an owner who drops the
trigger can, and the signed checkpoints catch that). On PostgreSQL the application role
(`segflow_app` in docker-compose, created by deploy/postgres-init.sql) also loses UPDATE,
DELETE and TRUNCATE on the log and its checkpoints.

Revision ID: 0005
Revises: 0006
Create Date: 2026-12-01 15:45:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0006'
branch_labels = None
depends_on = None

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION segflow_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit log is append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table('audit_checkpoints',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('head_hash', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('signature', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    op.create_table('revoked_sessions',
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sid')
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_PG_FUNCTION)
        for table in ('audit_log', 'audit_checkpoints'):
            op.execute(f'CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} '
                       'FOR EACH ROW EXECUTE FUNCTION segflow_append_only()')
            op.execute(f'CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} '
                       'FOR EACH STATEMENT EXECUTE FUNCTION segflow_append_only()')
        op.execute("""
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'segflow_app') THEN
    REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_checkpoints FROM segflow_app;
  END IF;
END $$""")
    else:
        for table in ('audit_log', 'audit_checkpoints'):
            for op_name in ('UPDATE', 'DELETE'):
                op.execute(
                    f'CREATE TRIGGER {table}_no_{op_name.lower()} BEFORE {op_name} ON {table} '
                    f"BEGIN SELECT RAISE(ABORT, 'audit log is append-only ({op_name} refused)'); END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table in ('audit_log', 'audit_checkpoints'):
            op.execute(f'DROP TRIGGER IF EXISTS {table}_append_only ON {table}')
            op.execute(f'DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}')
        op.execute('DROP FUNCTION IF EXISTS segflow_append_only()')
    else:
        for table in ('audit_log', 'audit_checkpoints'):
            for op_name in ('update', 'delete'):
                op.execute(f'DROP TRIGGER IF EXISTS {table}_no_{op_name}')
    op.drop_table('revoked_sessions')
    op.drop_table('audit_checkpoints')
