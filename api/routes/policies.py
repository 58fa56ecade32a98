"""Policy versions (HTTP shape): upload (errors with file:line), impact preview, activate,
roll back; services/policies.py does the work."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.deps import Db, require
from api.errors import ERROR_RESPONSES
from services import policies
from store.credentials import Principal

router = APIRouter(prefix="/v1/policies", tags=["policies"], responses=ERROR_RESPONSES)


class BundleIn(BaseModel):
    """A policy bundle: file name -> YAML text (the same files as in `policies/`)."""

    files: dict[str, str] = Field(
        description="Relative file name -> YAML text.",
        examples=[{"segments.yaml": "# yaml-language-server: ...\n..."}],
    )


class PolicyOut(BaseModel):
    """A stored policy version."""

    version: str = Field(description="Content hash of the normalised bundle.")
    status: str = Field(description="draft, active or retired.")
    created_by: str
    created_at: str
    activated_at: str | None
    files: list[str]


def _out(v: policies.PolicyView) -> PolicyOut:
    return PolicyOut(**dataclasses.asdict(v))


@router.get("", response_model=list[PolicyOut], summary="Every stored policy version.")
def list_versions(
    db: Db, _: Annotated[Principal, Depends(require("policy_owner", "auditor", "supervisor"))]
) -> list[PolicyOut]:
    """Newest first."""
    return [_out(v) for v in policies.list_versions(db)]


@router.post(
    "",
    response_model=PolicyOut,
    status_code=201,
    summary="Upload a bundle as a draft; invalid bundles get 422 with file:line errors.",
)
def upload(
    body: BundleIn,
    db: Db,
    principal: Annotated[Principal, Depends(require("policy_owner"))],
) -> PolicyOut:
    """Validates every file; the same content uploaded twice is the same version. Each error
    names `file:line:col: path` (also as `file`, `line`, `col`)."""
    return _out(policies.upload(db, body.files, principal.name))


@router.post("/{version}/impact", summary="What-if against the stored population.")
def impact(
    version: str,
    db: Db,
    _: Annotated[Principal, Depends(require("policy_owner", "auditor", "supervisor"))],
) -> dict[str, Any]:
    """Transition matrices (category, class, tier), tags gained/lost, processes that would
    start or stop, and a sample of changed customers."""
    return policies.impact(db, version)


@router.post("/{version}/activate", response_model=PolicyOut, summary="Make a version active.")
def activate(
    version: str,
    db: Db,
    principal: Annotated[Principal, Depends(require("policy_owner"))],
) -> PolicyOut:
    """Retires the active version. Run a segmentation to apply it to everyone; single
    upserts use it at once. Rolling back is activating an earlier version."""
    return _out(policies.activate(db, version, principal.name))


@router.post("/rollback", response_model=PolicyOut, summary="Re-activate the previous version.")
def rollback(
    db: Db, principal: Annotated[Principal, Depends(require("policy_owner"))]
) -> PolicyOut:
    """The most recently retired version becomes active again."""
    return _out(policies.rollback(db, principal.name))
