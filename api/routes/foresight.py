"""Seeing a policy change before rollout: diff, workload forecast, timeline simulation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.deps import Db, require
from api.errors import ERROR_RESPONSES, ApiError
from services import policy_diff
from store.credentials import Principal

router = APIRouter(prefix="/v1/policies", tags=["foresight"], responses=ERROR_RESPONSES)
READERS = ("policy_owner", "auditor", "supervisor")


def unknown(err: policy_diff.UnknownVersion) -> ApiError:
    """404 naming the parameter that held the unknown version."""
    return ApiError(404, "Not found", str(err), errors=[{"path": err.path, "message": str(err)}])


@router.get(
    "/{version}/diff",
    summary="What changed in meaning from another version (default: the active one).",
)
def diff(
    version: str,
    db: Db,
    _: Annotated[Principal, Depends(require(*READERS))],
    against: Annotated[
        str | None, Query(description="The version to compare with; default: the active one.")
    ] = None,
) -> dict[str, Any]:
    """Each change: meaning (threshold, rule, step, combine, action, strategy, process, ...),
    added / removed / changed / moved, the YAML path (named list items as `[id=...]`), old
    and new values, and `file:line` on both sides."""
    try:
        return policy_diff.diff_versions(db, against, version)
    except policy_diff.UnknownVersion as err:
        raise unknown(err) from err
