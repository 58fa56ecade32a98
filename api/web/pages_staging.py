"""The staged-activation page: start a stage of a version (a share or a segment), compare the
KPIs of the staged customers with the rest, widen or roll back. Thin: it calls
services/staging.py; domain errors are shown beside the form."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import state
from api.web.common import checked_fields, redirect, render, user
from api.web.i18n import N_, translate
from services import staging
from services.errors import DomainError

router = APIRouter()
READERS = ("policy_owner", "auditor", "supervisor")
OWNER = ("policy_owner",)
KPI_NAMES = (N_("customers"), N_("tasks_per_customer"), N_("completion"), N_("on_time"),
             N_("callback_reach"))  # fmt: skip


def _problem(err: DomainError) -> str:
    issues = "; ".join(f"{i.path}: {i.message}" for i in err.issues)
    return f"{err.title}: {err.detail}" + (f" ({issues})" if issues else "")


@router.get("/policies/{version}/stage")
async def stage_page(request: Request, version: str) -> Response:
    """The running stage (any version) with its comparison, or the form to stage this one."""
    sess, _ = user(request, *READERS)

    def work() -> dict[str, Any] | None:
        with state(request).sessions() as db:
            current = staging.running(db)
            return staging.compare(db, current) if current is not None else None

    report = await run_in_threadpool(work)
    return render(request, sess, "foresight_stage.html", version=version, report=report,
                  kpis=KPI_NAMES)  # fmt: skip


@router.post("/policies/{version}/stage")
async def stage_start(request: Request, version: str) -> Response:
    """Start a stage from the form (share, or dimension + value)."""
    sess, p = user(request, *OWNER)
    fields = await checked_fields(request, sess)
    share = fields.get("share", "").strip()
    segment = fields.get("segment", "").strip()
    dim, _, value = segment.partition("=")

    def work() -> None:
        with state(request).sessions() as db:
            staging.start(db, state(request).engine_for, version, p.name,
                          share=float(share) if share else None,
                          dimension=dim or None, value=value or None)  # fmt: skip

    try:
        await run_in_threadpool(work)
        sess.flash(translate(sess.lang, N_("Stage started.")))
    except DomainError as err:
        sess.flash(_problem(err))
    except ValueError:
        sess.flash(translate(sess.lang, N_("Share: a number between 0 and 1.")))
    return redirect(request, sess, f"/web/policies/{version}/stage")


@router.post("/stages/{stage_id}/{action}")
async def stage_change(request: Request, stage_id: int, action: str) -> Response:
    """Widen (a larger share) or roll back the running stage."""
    sess, p = user(request, *OWNER)
    fields = await checked_fields(request, sess)
    engines = state(request).engine_for

    def work() -> dict[str, Any]:
        with state(request).sessions() as db:
            if action == "widen":
                return staging.widen(db, engines, stage_id, float(fields.get("share", "0")), p.name)
            return staging.rollback(db, engines, stage_id, p.name)

    version = fields.get("version", "")
    if action not in ("widen", "rollback"):
        return render(request, sess, "message.html", 404, message=N_("Not found"))
    try:
        out = await run_in_threadpool(work)
        version = out["version"]
        sess.flash(translate(sess.lang, N_("Stage updated.")))
    except DomainError as err:
        sess.flash(_problem(err))
    except ValueError:
        sess.flash(translate(sess.lang, N_("Share: a number between 0 and 1.")))
    return redirect(request, sess, f"/web/policies/{version}/stage")
