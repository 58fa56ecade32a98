"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from api.deps import State
from services import outbox

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers.")
async def healthz() -> dict[str, str]:
    """Always ok while the process serves requests (answered on the event loop: no store, no
    thread, so it measures the process, not the store's queue)."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the store and Temporal are reachable.")
async def readyz(app: State) -> JSONResponse:
    """200 when both the store and Temporal answer, else 503 naming what is down. `outbox`
    tells how far the relay is behind: transitions not yet applied to Temporal (`pending`),
    the age of the oldest one, and those that failed for good (`failed`, audited). A growing
    outbox while Temporal is down is expected: nothing is lost, the relay catches up."""
    checks: dict[str, str] = {}

    def store_check() -> outbox.Depth:
        with app.sessions() as s:
            s.execute(text("SELECT 1"))
            return outbox.depth(s)

    body: dict[str, Any] = {}
    try:
        depth = await run_in_threadpool(store_check)
        checks["store"] = "ok"
        body["outbox"] = {
            "pending": depth.pending,
            "failed": depth.failed,
            "oldest_pending_age_seconds": round(depth.oldest_age_seconds, 3),
        }
    except Exception as err:  # any failure means not ready
        checks["store"] = f"down: {type(err).__name__}"
    try:
        await app.temporal.service_client.check_health()
        checks["temporal"] = "ok"
    except Exception as err:
        checks["temporal"] = f"down: {type(err).__name__}"
    ok = all(v == "ok" for v in checks.values())
    status = {"status": "ready" if ok else "unavailable", **checks, **body}
    return JSONResponse(status, 200 if ok else 503)
