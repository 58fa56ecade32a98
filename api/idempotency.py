"""`Idempotency-Key` on POST: a retried request gets the first response, not a second effect.

Keys are scoped to the caller (the hash of the Authorization header). The key's row is the
lock: it is inserted (as "pending") BEFORE the request runs, so of two concurrent requests
with one key exactly one runs; the other gets 409 while the first is in flight and the
stored response afterwards. The same key with a different body is refused with 422. A
request that ends in 5xx, 401 or 403 releases its key (a retry may run). A pending row names
its process (host, pid and start time); when that process is gone (the API died
mid-request; a killed process not yet reaped counts as gone) or the row is older than
PENDING_TTL (another host), a retry takes the key over.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from api.errors import ApiError, problem_response
from store.models import IdempotencyRecord

HEADER = "Idempotency-Key"
PENDING = 0  # status_code of a key whose request is still running
PENDING_TTL = timedelta(minutes=5)


def _started(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (None: no such live process).

    A zombie (killed, not yet reaped by its parent) counts as gone; the start time tells a
    reused pid from the process that wrote the row."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return ""  # no /proc here: fall back to the pid alone
    fields = stat.rsplit(")", 1)[-1].split()
    return None if fields[0] == "Z" else fields[19]


OWNER = f"pending:{socket.gethostname()}:{os.getpid()}:{_started(os.getpid()) or ''}"


def _abandoned(seen: IdempotencyRecord) -> bool:
    created = seen.created_at if seen.created_at.tzinfo else seen.created_at.replace(tzinfo=UTC)
    if datetime.now(UTC) - created > PENDING_TTL:
        return True
    _, host, pid, started = [*seen.body.split(":"), "", "", "", ""][:4]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    now = _started(int(pid))
    return now is None or bool(started and now and now != started)


def _claim(
    sessions: sessionmaker[Session], key: str, owner: str, digest: str
) -> IdempotencyRecord | None:
    """Insert the pending row (None: this request runs) or return the row that exists."""
    for _ in range(2):
        with sessions() as s:
            s.add(IdempotencyRecord(key=key, principal=owner, digest=digest,
                                    status_code=PENDING, body=OWNER))  # fmt: skip
            try:
                s.commit()
                return None
            except IntegrityError:
                s.rollback()
            seen = s.get(IdempotencyRecord, (key, owner))
            if seen is not None:
                s.expunge(seen)
            s.rollback()  # no transaction (SQLite: no write lock) held past this read
        if seen is None:
            continue  # released between our insert and our read: try once more
        if seen.status_code == PENDING and _abandoned(seen):
            _release(sessions, key, owner)
            continue
        return seen
    return None


def _release(sessions: sessionmaker[Session], key: str, owner: str) -> None:
    with sessions() as s:
        s.execute(delete(IdempotencyRecord).where(
            IdempotencyRecord.key == key, IdempotencyRecord.principal == owner))  # fmt: skip
        s.commit()


def _finish(sessions: sessionmaker[Session], key: str, owner: str, status: int, body: str) -> None:
    with sessions() as s:
        s.execute(update(IdempotencyRecord).where(
            IdempotencyRecord.key == key, IdempotencyRecord.principal == owner,
        ).values(status_code=status, body=body))  # fmt: skip
        s.commit()


def install(app: FastAPI) -> None:
    """Replay stored responses for repeated POSTs that carry the header."""

    @app.middleware("http")
    async def idempotent(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        key = request.headers.get(HEADER)
        if request.method != "POST" or not key:
            return await call_next(request)
        if len(key) > 200:
            return problem_response(
                request, ApiError(422, "Invalid Idempotency-Key", "at most 200 characters")
            )
        owner = hashlib.sha256(request.headers.get("authorization", "").encode()).hexdigest()
        body = await request.body()
        digest = hashlib.sha256(request.url.path.encode() + b"\0" + body).hexdigest()
        sessions = request.app.state.segflow.sessions
        # in a thread: the insert may wait for SQLite's write lock, the loop must not
        seen = await run_in_threadpool(_claim, sessions, key, owner, digest)
        if seen is not None:
            if seen.digest != digest:
                return problem_response(
                    request,
                    ApiError(
                        422, "Idempotency-Key reused", "the key was used with another request"
                    ),
                )
            if seen.status_code == PENDING:
                return problem_response(
                    request,
                    ApiError(409, "Request in progress", "a request with this key is running"),
                )
            return Response(
                seen.body,
                seen.status_code,
                media_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        try:
            response = await call_next(request)
        except BaseException:
            await run_in_threadpool(_release, sessions, key, owner)
            raise
        if response.status_code >= 500 or response.status_code in (401, 403):
            await run_in_threadpool(_release, sessions, key, owner)
            return response
        chunks = [chunk async for chunk in response.body_iterator]  # type: ignore[attr-defined]
        payload = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
        await run_in_threadpool(
            _finish, sessions, key, owner, response.status_code, payload.decode()
        )
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return Response(
            payload, response.status_code, headers=headers, media_type=response.media_type
        )
