"""Policy versions: upload (errors with file:line), impact preview, activate, roll back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

import rules
from activities import impact as impact_of
from activities import policy_store
from api.deps import Db, require
from api.errors import ERROR_RESPONSES, ApiError
from store.credentials import Principal
from store.models import PolicyVersion

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


def _out(row: PolicyVersion) -> PolicyOut:
    return PolicyOut(
        version=row.version, status=row.status, created_by=row.created_by,
        created_at=row.created_at.isoformat(),
        activated_at=row.activated_at.isoformat() if row.activated_at else None,
        files=sorted(row.files),
    )  # fmt: skip


def _row(db: Db, version: str) -> PolicyVersion:
    row = db.get(PolicyVersion, version)
    if row is None:
        raise ApiError(404, "Not found", f"no policy version {version}")
    return row


@router.get("", response_model=list[PolicyOut], summary="Every stored policy version.")
def list_versions(
    db: Db, _: Annotated[Principal, Depends(require("policy_owner", "auditor", "supervisor"))]
) -> list[PolicyOut]:
    """Newest first."""
    rows = db.scalars(select(PolicyVersion).order_by(PolicyVersion.created_at.desc()))
    return [_out(r) for r in rows]


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
    """Validates every file; the same content uploaded twice is the same version."""
    try:
        bundle = rules.load_bundle_from_texts(body.files)
    except rules.PolicyError as err:
        raise ApiError(
            422, "Invalid policy bundle", f"{len(err.issues)} problem(s)",
            errors=[{"path": f"{i.file}:{i.line}:{i.col}: {i.path}", "message": i.message,
                     "file": i.file, "line": i.line, "col": i.col} for i in err.issues],
        ) from err  # fmt: skip
    row = policy_store.register(db, bundle, principal.name)
    db.commit()
    return _out(row)


@router.post("/{version}/impact", summary="What-if against the stored population.")
def impact(
    version: str,
    db: Db,
    _: Annotated[Principal, Depends(require("policy_owner", "auditor", "supervisor"))],
) -> dict[str, Any]:
    """Transition matrices (category, class, tier), tags gained/lost, processes that would
    start or stop, and a sample of changed customers."""
    return impact_of.impact(db, policy_store.bundle_of(_row(db, version)))


@router.post("/{version}/activate", response_model=PolicyOut, summary="Make a version active.")
def activate(
    version: str,
    request: Request,
    db: Db,
    principal: Annotated[Principal, Depends(require("policy_owner"))],
) -> PolicyOut:
    """Retires the active version. Run a segmentation to apply it to everyone; single
    upserts use it at once. Rolling back is activating an earlier version."""
    _row(db, version)
    row = policy_store.activate(db, version, principal.name)
    db.commit()
    return _out(row)


@router.post("/rollback", response_model=PolicyOut, summary="Re-activate the previous version.")
def rollback(
    db: Db, principal: Annotated[Principal, Depends(require("policy_owner"))]
) -> PolicyOut:
    """The most recently retired version becomes active again."""
    previous = db.scalars(
        select(PolicyVersion).where(PolicyVersion.status == "retired")
        .order_by(PolicyVersion.activated_at.desc()).limit(1)
    ).one_or_none()  # fmt: skip
    if previous is None:
        raise ApiError(409, "Conflict", "no earlier version to roll back to")
    row = policy_store.activate(db, previous.version, principal.name)
    db.commit()
    return _out(row)
