"""SQLite writers of one process take turns (store/sqlite_queue.py) on a real SQLite file:
first come first served, the turn passes at commit and at rollback, a reader session does
not queue, and a writer that waits past the timeout gets SQLAlchemy's OperationalError (the
API's 503), not a raw driver error."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from store import db, sqlite_queue


def test_writers_take_turns_in_arrival_order(store_url: str) -> None:
    sessions = db.session_factory(db.make_engine(store_url))
    order: list[int] = []
    first = sessions()
    first.execute(text("SELECT 1"))  # holds the turn (BEGIN IMMEDIATE)

    def writer(i: int) -> None:
        with sessions.begin() as s:
            s.execute(text("SELECT 1"))
            order.append(i)

    threads = []
    for i in range(5):
        t = threading.Thread(target=writer, args=(i,))
        t.start()
        threads.append(t)
        time.sleep(0.1)  # arrival order
    # a reader does not queue behind the writers
    with db.read_sessions(sessions)() as r:
        assert r.execute(text("SELECT 2")).scalar_one() == 2
    assert order == []
    first.rollback()  # the turn passes at rollback too
    for t in threads:
        t.join(10)
    first.close()
    assert order == [0, 1, 2, 3, 4]


def test_a_writer_past_the_timeout_gets_operational_error(store_url: str) -> None:
    queue = sqlite_queue.WriterQueue(timeout=0.2)
    queue.acquire()
    with pytest.raises(Exception) as raised:
        sqlite_queue.begin(_Conn(queue), lambda _sql: None)
    assert isinstance(raised.value, OperationalError)
    assert "database is locked" in str(raised.value)
    queue.release()
    queue.acquire()  # free again: the timed-out waiter left the queue
    queue.release()


class _Conn:
    """The queue side of a connection of `connection_class` (no SQLite needed)."""

    def __init__(self, queue: sqlite_queue.WriterQueue) -> None:
        self.queue = queue

    def take_turn(self) -> None:
        self.queue.acquire()

    def rollback(self) -> None:
        self.queue.release()
