"""Pages that show a policy change before rollout: the meaning-level diff of two versions,
the workload forecast and the simulated timeline of one customer. Thin: they call services."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import state
from api.web.common import render, user
from api.web.i18n import N_
from services import policy_diff

router = APIRouter()
READERS = ("policy_owner", "auditor", "supervisor")
NOT_FOUND = N_("Not found")
# the diff's meanings and kinds of change, shown through t() (rules.diff names them)
DIFF_TERMS = (
    N_("threshold"), N_("rule"), N_("step"), N_("combine"), N_("action"), N_("strategy"),
    N_("parameter"), N_("process"), N_("process link"), N_("segmentation"), N_("calendar"),
    N_("points rule"), N_("added"), N_("removed"), N_("changed"), N_("moved"),
)  # fmt: skip


@router.get("/policies/{version}/diff")
async def diff_page(request: Request, version: str, against: str | None = None) -> Response:
    """Changes in meaning from `against` (default: the active version) to `version`."""
    sess, _ = user(request, *READERS)

    def work() -> dict[str, Any]:
        with state(request).sessions() as db:
            return policy_diff.diff_versions(db, against or None, version)

    try:
        report = await run_in_threadpool(work)  # YAML parsing is CPU work off the loop
    except policy_diff.UnknownVersion:
        return render(request, sess, "message.html", 404, message=NOT_FOUND)
    return render(request, sess, "foresight_diff.html", report=report, version=version)
