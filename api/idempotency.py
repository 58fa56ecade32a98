"""`Idempotency-Key` on POST: a retried request gets the first response, not a second effect.

Keys are scoped to the caller (hash of the bearer token's principal would need a lookup, so
the token hash is used). The same key with a different body is refused with 422.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import IntegrityError

from api.errors import ApiError, problem_response
from store.models import IdempotencyRecord

HEADER = "Idempotency-Key"


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
        app_state = request.app.state.segflow
        sessions = app_state.sessions

        def lookup() -> IdempotencyRecord | None:
            with sessions() as s:
                found: IdempotencyRecord | None = s.get(IdempotencyRecord, (key, owner))
                return found

        seen = await run_in_threadpool(lookup)
        if seen is not None:
            if seen.digest != digest:
                return problem_response(
                    request,
                    ApiError(
                        422, "Idempotency-Key reused", "the key was used with another request"
                    ),
                )
            return Response(
                seen.body,
                seen.status_code,
                media_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        response = await call_next(request)
        if response.status_code >= 500 or response.status_code in (401, 403):
            return response
        chunks = [chunk async for chunk in response.body_iterator]  # type: ignore[attr-defined]
        payload = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
        record = IdempotencyRecord(
            key=key,
            principal=owner,
            digest=digest,
            status_code=response.status_code,
            body=payload.decode(),
        )

        def remember() -> None:
            with sessions() as s:
                s.add(record)
                try:
                    s.commit()
                except IntegrityError:
                    s.rollback()  # a concurrent twin stored it first: the same answer

        await run_in_threadpool(remember)
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return Response(
            payload, response.status_code, headers=headers, media_type=response.media_type
        )
