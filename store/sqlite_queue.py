"""SQLite writers of one process take turns in arrival order.

SQLite has one writer at a time and every store transaction here begins IMMEDIATE
(store/db.py). Left to SQLite, waiting writers poll: the busy handler sleeps 1, 2, 5, ...
up to 100 ms between tries, so under 20 concurrent requests the lock sits idle while the
waiters sleep, and a writer that has waited long loses to newcomers again and again (seconds
of p99 for `PUT /v1/customers/{id}`, BENCHMARKS.md). Here the transactions of one process
(one engine) queue first-come first-served and the lock passes to the next one the moment
the previous transaction commits or rolls back; SQLite's busy timeout still arbitrates
between processes (the API and the workers). The queue only orders what SQLite serialises
anyway, and no store transaction spans a network call, so nobody waits on Temporal here.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy import exc


class WriterQueue:
    """A first-come first-served lock handed over directly to the next waiter."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._mutex = threading.Lock()
        self._waiting: deque[threading.Event] = deque()
        self._busy = False

    def acquire(self) -> None:
        """Wait for this thread's turn; OperationalError ("database is locked", as SQLite's
        own busy timeout says it) after `timeout` seconds."""
        with self._mutex:
            if not self._busy:
                self._busy = True
                return
            turn = threading.Event()
            self._waiting.append(turn)
        if turn.wait(self.timeout):
            return
        with self._mutex:
            if turn.is_set():  # handed over just as the wait ended
                return
            self._waiting.remove(turn)
        raise sqlite3.OperationalError("database is locked (queued behind this process)")

    def release(self) -> None:
        """End this turn: the next waiter's starts now (the lock stays taken for it)."""
        with self._mutex:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._busy = False


def connection_class(queue: WriterQueue) -> type[sqlite3.Connection]:
    """A pysqlite connection class (`sqlite3.connect(factory=...)`) whose transactions
    take turns in `queue`: `take_turn()` before BEGIN waits for the turn; commit, rollback
    and close end it."""

    class Queued(sqlite3.Connection):
        _turn = False

        def take_turn(self) -> None:
            if not self._turn:
                queue.acquire()
                self._turn = True

        def _end_turn(self) -> None:
            if self._turn:
                self._turn = False
                queue.release()

        def commit(self) -> None:
            try:
                super().commit()
            finally:
                self._end_turn()

        def rollback(self) -> None:
            try:
                super().rollback()
            finally:
                self._end_turn()

        def close(self) -> None:
            try:
                super().close()
            finally:
                self._end_turn()

    return Queued


def begin(dbapi_connection: Any, execute: Callable[[str], object]) -> None:
    """BEGIN IMMEDIATE through `execute`, after the connection's turn in its queue (a
    connection of `connection_class`; any other pysqlite connection just begins)."""
    take_turn = getattr(dbapi_connection, "take_turn", None)
    if take_turn is None:
        execute("BEGIN IMMEDIATE")
        return
    try:
        take_turn()
    except sqlite3.OperationalError as err:  # as SQLAlchemy reports SQLite's own timeout
        raise exc.OperationalError("BEGIN IMMEDIATE", None, err) from err
    try:
        execute("BEGIN IMMEDIATE")
    except BaseException:
        dbapi_connection.rollback()  # ends the turn
        raise
