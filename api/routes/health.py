"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import State

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers.")
def healthz() -> dict[str, str]:
    """Always ok while the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the store and Temporal are reachable.")
async def readyz(app: State) -> JSONResponse:
    """200 when both the store and Temporal answer, else 503 naming what is down."""
    checks: dict[str, str] = {}
    try:
        async with app.store_turn():
            with app.sessions() as s:
                s.execute(text("SELECT 1"))
        checks["store"] = "ok"
    except Exception as err:  # any failure means not ready
        checks["store"] = f"down: {type(err).__name__}"
    try:
        await app.temporal.service_client.check_health()
        checks["temporal"] = "ok"
    except Exception as err:
        checks["temporal"] = f"down: {type(err).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ok else "unavailable", **checks}, 200 if ok else 503)
