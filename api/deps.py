"""Request-scoped dependencies: application state, store session, caller and role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

import rules
from api.errors import ApiError
from api.metrics import Metrics
from config import Settings
from store import audit
from store.credentials import CredentialStore, Principal

_bearer = HTTPBearer(auto_error=False, description="Token from the credentials file.")


@dataclass
class AppState:
    """Everything the lifespan builds once and routes share."""

    settings: Settings
    sessions: sessionmaker[Session]
    credentials: CredentialStore
    temporal: Client
    metrics: Metrics
    engines: dict[str, rules.Engine] = field(default_factory=dict)

    def engine_for(self, bundle: rules.Bundle) -> rules.Engine:
        """One durable-rules engine per policy version (rulesets are versioned by name)."""
        engine = self.engines.get(bundle.version)
        if engine is None:
            engine = self.engines[bundle.version] = rules.Engine(bundle)
        return engine


def state(request: Request) -> AppState:
    """The application state."""
    app_state: AppState = request.app.state.segflow
    return app_state


State = Annotated[AppState, Depends(state)]


def session(app: State) -> Iterator[Session]:
    """A store session per request. Routes do their store work in the thread pool (sync
    routes, or async ones through `run_in_threadpool`) and hold no store transaction across
    an await, so a lock wait never blocks the event loop and requests run concurrently."""
    with app.sessions() as s:
        yield s


Db = Annotated[Session, Depends(session)]


def audit_and_commit(db: Session, **entry: Any) -> None:
    """Append one audit entry and commit (call it through `run_in_threadpool`)."""
    audit.append(db, **entry)
    db.commit()


def caller(
    app: State,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The authenticated caller (401 without a valid bearer token)."""
    if creds is None or creds.scheme.lower() != "bearer":
        raise ApiError(401, "Not authenticated", "send Authorization: Bearer <token>")
    principal = app.credentials.authenticate(creds.credentials)
    if principal is None:
        raise ApiError(401, "Not authenticated", "unknown token")
    return principal


def require(*roles: str) -> Callable[..., Principal]:
    """Dependency that lets in callers holding one of `roles` (admin always)."""

    def check(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        if not principal.has(*roles):
            raise ApiError(403, "Forbidden", f"requires one of the roles {sorted(roles)}")
        return principal

    return check
