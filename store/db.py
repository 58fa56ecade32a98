"""Engines and sessions of the store, and the Alembic upgrade used at start-up and in tests."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from store import sqlite_queue

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_TIMEOUT_S = 30  # busy timeout between processes, and the writer queue's within one


def make_engine(url: str, lock_timeout_ms: int = 5000, statement_timeout_ms: int = 60000) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout; PostgreSQL
    sessions get `lock_timeout` and `statement_timeout` (Settings.store_*_timeout_ms), so a
    stuck lock holder turns into an error (503) for the waiters instead of a frozen API."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # writers of this process take turns first-come first-served (store/sqlite_queue.py)
        factory = sqlite_queue.connection_class(sqlite_queue.WriterQueue(SQLITE_TIMEOUT_S))
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_TIMEOUT_S, "check_same_thread": False,
                          "factory": factory},
            # as many connections as PostgreSQL's pool: 20 concurrent requests wait for their
            # turn to write, not for a connection (reads need one too)
            pool_size=10,
            max_overflow=20,
            json_serializer=_strict_json,
        )  # fmt: skip

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # Let SQLAlchemy, not pysqlite, open transactions (see _begin_immediate).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn):  # type: ignore[no-untyped-def]
            # Writers queue on SQLite's lock at BEGIN instead of failing mid-transaction with
            # a stale snapshot; this also serialises appends to the audit hash chain. Reads
            # (read_sessions) take no lock: WAL readers run beside the one writer.
            if conn.get_execution_options().get(READ_ONLY, False):
                conn.exec_driver_sql("BEGIN")
            else:
                sqlite_queue.begin(conn.connection.dbapi_connection, conn.exec_driver_sql)

        return engine
    options = f"-c lock_timeout={lock_timeout_ms} -c statement_timeout={statement_timeout_ms}"
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        connect_args={"options": options} if url.startswith("postgresql") else {},
        json_serializer=_strict_json,
    )


def _strict_json(value: object) -> str:
    # NaN/Infinity are not JSON: PostgreSQL's json refuses them and other readers choke; the
    # API and the loaders refuse them first, this makes any that slip through an error
    return json.dumps(value, allow_nan=False)


READ_ONLY = "segflow_read_only"  # execution option of read_sessions' connections


def read_sessions(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions of the same engine for work that only reads. On SQLite their transactions
    begin deferred, so a read never waits for the write lock (a day-one load keeps it busy
    for seconds at a time: thousands of plan reads of new processes queued behind it and
    timed out as "database is locked"); elsewhere they are plain sessions."""
    engine = sessions.kw.get("bind")
    if not isinstance(engine, Engine):
        return sessions
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


WRITER_LOCK_KEY = 0x5E6F10  # the writers' advisory lock (and the chain's, store/audit.py)
CHAIN_LOCK_KEY = 0x5E6F11  # the audit chain's lock among single-customer writers
CUSTOMER_LOCK_SPACE = 0x5E6F  # two-key advisory locks (space, CRC-32 of the customer id)
DEFER_AUDIT = "defer_audit"  # session.info: the transaction whose audit entries wait for commit


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (rows are returned to callers).

    PostgreSQL: a transaction takes the audit chain's advisory lock at its first write, before
    any row lock, unless its session opts out (`session.info["serialise_writes"] = False`,
    for work that never appends to the audit log first, like the relay's leases). Taking it
    only at the audit append, after row locks, let two writers deadlock (each holding what
    the other waits for); SQLite gets the same order from BEGIN IMMEDIATE."""
    factory = sessionmaker(engine, expire_on_commit=False)
    if engine.dialect.name == "postgresql":
        event.listen(factory, "before_flush", _before_flush)
        event.listen(factory, "do_orm_execute", _before_write)
    return factory


def customer_writer(session: Session, customer_id: str) -> None:
    """Make the session's transaction a single-customer writer; call it before its first
    statement. It writes only `customer_id`'s rows (record, assignment, ledger, its outbox
    rows) and its audit entries are appended at commit (store/audit.py).

    PostgreSQL lock order, which rules out the deadlock the writer lock was taken for:
    the writer lock SHARED (so whole-store writers, which take it exclusively, still run
    alone), then the customer's own lock (two writers of one customer run one after the
    other, so they cannot wait on each other's rows), then row locks, then, as the last
    statements before COMMIT, the chain's lock and the audit inserts. The chain's holder
    waits for no row lock, so writers of different customers overlap except for those few
    statements. SQLite: BEGIN IMMEDIATE already serialises writers; only the audit entries
    are deferred (fewer flushes)."""
    tx = session.get_transaction() or session.begin()
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(customer_id.encode()) - 2**31  # int4; a collision only queues
        session.connection().exec_driver_sql(
            f"SELECT pg_advisory_xact_lock_shared({WRITER_LOCK_KEY}),"
            f" pg_advisory_xact_lock({CUSTOMER_LOCK_SPACE}, {key})"
        )
        session.info["writer_locked"] = tx  # so the first write does not take it exclusively
    session.info[DEFER_AUDIT] = tx


def store_writer(session: Session) -> None:
    """Take the writer lock now, before the transaction's reads (PostgreSQL; SQLite's BEGIN
    IMMEDIATE already does): for writers that decide from what they read, like a batch that
    inserts the customers it did not find, which must not read before a concurrent upsert
    of one of them commits."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection()  # begins the transaction the lock belongs to
        _writer_lock(session)


def _before_flush(session: Session, _ctx: object, _instances: object) -> None:
    if session.new or session.dirty or session.deleted:
        _writer_lock(session)


def _before_write(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _writer_lock(state.session)


def _writer_lock(session: Session) -> None:
    if not session.info.get("serialise_writes", True):
        return
    tx = session.get_transaction()
    if tx is None or session.info.get("writer_locked") is tx:
        return
    session.connection().exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY})")
    session.info["writer_locked"] = tx


def alembic_config(url: str) -> Config:
    """Alembic configuration pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Apply every migration to the store at `url` (idempotent)."""
    if url.startswith("sqlite"):
        make_engine(url).dispose()  # creates the parent directory
    command.upgrade(alembic_config(url), "head")
