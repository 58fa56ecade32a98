"""Server-rendered web pages for inspectors, representatives, supervisors, policy owners and
auditors (Jinja2, signed session cookie, CSRF-checked forms, inline SVG charts, en / zh).

`install(app)` adds the pages under `/web`, their static files and their error handlers.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from api.web import (
    pages_audit,
    pages_evidence,
    pages_foresight,
    pages_kpi,
    pages_policy,
    pages_staging,
    pages_strategies,
    pages_supervisor,
    pages_tasks,
)
from api.web.common import HERE, install_handlers

router = APIRouter(prefix="/web", include_in_schema=False)
for _module in (
    pages_tasks,
    pages_supervisor,
    pages_policy,
    pages_foresight,
    pages_staging,
    pages_audit,
    pages_evidence,
    pages_kpi,
    pages_strategies,
):
    router.include_router(_module.router)


def install(app: FastAPI) -> None:
    """Mount the pages, `/web/static` and the sign-in / forbidden handlers on `app`."""
    app.include_router(router)
    app.mount("/web/static", StaticFiles(directory=HERE / "static"), name="web-static")
    install_handlers(app)
