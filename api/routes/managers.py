"""Account managers away and back (supervisors): routing sends their customers' tasks to the
role queue meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import Db, State, require
from api.errors import ERROR_RESPONSES, ApiError
from services import managers
from store.credentials import Principal

router = APIRouter(prefix="/v1/managers", tags=["managers"], responses=ERROR_RESPONSES)


class AwayIn(BaseModel):
    """An absence."""

    until: AwareDatetime = Field(description="Away until this time (with a UTC offset).")
    reason: str = Field(default="", max_length=200, description="Why (leave, training, ...).")


class AwayOut(BaseModel):
    """What the absence changed."""

    principal: str
    until: datetime | None
    returned_to_queue: int = Field(description="Open tasks that went back to their role queue.")


@router.post("/{name}/away", response_model=AwayOut, summary="Mark an account manager away.")
def away(
    name: str,
    body: AwayIn,
    app: State,
    db: Db,
    principal: Annotated[Principal, Depends(require("supervisor"))],
) -> AwayOut:
    """New tasks of the manager's customers stay in the role queue until `until`; the open
    tasks the manager holds go back to it now."""
    if name not in {p.name for p in app.credentials.principals()}:
        raise ApiError(404, "Not found", f"no principal {name}")
    if body.until <= datetime.now(UTC):
        raise ApiError(
            422, "Invalid request", errors=[{"path": "body.until", "message": "must be future"}]
        )
    moved = managers.set_away(db, name, body.until, body.reason, principal.name)
    db.commit()
    return AwayOut(principal=name, until=body.until, returned_to_queue=moved)


@router.delete("/{name}/away", response_model=AwayOut, summary="The account manager is back.")
def back(
    name: str, db: Db, principal: Annotated[Principal, Depends(require("supervisor"))]
) -> AwayOut:
    """New tasks of the manager's customers reach the manager again."""
    if not managers.clear_away(db, name, principal.name):
        raise ApiError(404, "Not found", f"{name} is not marked away")
    db.commit()
    return AwayOut(principal=name, until=None, returned_to_queue=0)
