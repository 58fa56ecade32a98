"""The FastAPI application: lifespan-built state, request ids, problem+json errors, routers."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI, Request, Response
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from api import errors, headers, idempotency, limits, metrics, web
from api.deps import AppState
from api.routes import (
    audit,
    customers,
    events,
    evidence,
    foresight,
    health,
    kpis,
    managers,
    outages,
    points,
    policies,
    protections,
    segmentation,
    tasks,
    workflows,
)
from api.web import session as web_session
from config import Settings
from rules import jurisdiction
from store import checkpoints
from store.credentials import CredentialStore
from store.db import make_engine, session_factory

log = logging.getLogger("segflow.api")
PLAIN_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

DESCRIPTION = """
segflow turns the utility's differentiated service strategies into durable work.
CRM systems push customers and events, representatives and inspectors complete their
tasks, supervisors approve and escalate, auditors trace every decision and step.

Writes answer once they are stored: an upsert, a batch or an event commits the record, the
assignment, the audit entry and the process starts, signals and stops it causes (an outbox)
in one transaction and answers at once, listing those transitions as `pending`. The worker's
relay applies them to Temporal right after (normally within a second; later while Temporal
is down: nothing is lost). `GET /v1/customers/{id}` shows a customer's pending transitions,
`/readyz` and `/metrics` the outbox depth.

Authenticate with `Authorization: Bearer <token>`; each endpoint names the roles it admits.
Errors are `application/problem+json` with a `request_id`.
"""


async def _watch_sign_outs(app: FastAPI, sessions: sessionmaker[Session]) -> None:
    """Keep the set of server-side signed-out web sessions fresh (read in a thread)."""

    def read() -> set[str]:
        since = datetime.now(UTC) - timedelta(seconds=web_session.MAX_AGE)
        with sessions() as db:
            return web_session.revoked_since(db, since)

    while True:
        try:
            app.state.revoked_sessions = await asyncio.to_thread(read)
        except SQLAlchemyError as err:  # the store away: keep the last known set
            log.warning("signed-out sessions not refreshed: %s", err)
        await asyncio.sleep(1)


async def _checkpoints(cfg: Settings, sessions: sessionmaker[Session]) -> None:
    """Sign the audit chain's head every `audit_checkpoint_seconds` (0: never)."""
    if cfg.audit_checkpoint_seconds <= 0:
        return
    key = checkpoints.load_key(cfg.audit_key_path)

    def take() -> None:
        with sessions.begin() as db:
            checkpoints.take(db, key)

    while True:
        await asyncio.sleep(cfg.audit_checkpoint_seconds)
        try:
            await asyncio.to_thread(take)
        except SQLAlchemyError as err:
            log.warning("audit checkpoint not taken: %s", err)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the lifespan connects the store and Temporal once."""
    cfg = settings or Settings()
    if cfg.extra_jurisdictions_dir is not None:
        jurisdiction.add_pack_dir(cfg.extra_jurisdictions_dir)
    app_metrics = metrics.Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(
            cfg.store_url, cfg.store_lock_timeout_ms, cfg.store_statement_timeout_ms
        )
        sessions = session_factory(engine)
        temporal = await Client.connect(
            cfg.temporal_address, lazy=True, **cfg.temporal_connect_options()
        )
        app_metrics.watch_store(sessions)
        app.state.segflow = AppState(
            settings=cfg,
            sessions=sessions,
            credentials=CredentialStore.load(cfg.credentials_path),
            temporal=temporal,
            metrics=app_metrics,
        )
        # refuse a short session secret at start-up, not at the first page
        web_session.session_secret(cfg.var_dir)
        background = [
            asyncio.create_task(_watch_sign_outs(app, sessions)),
            asyncio.create_task(_checkpoints(cfg, sessions)),
        ]
        yield
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        engine.dispose()

    app = FastAPI(
        title="segflow",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # the interactive docs and the schema are a setting: off on a public deployment
        docs_url="/docs" if cfg.expose_docs else None,
        redoc_url="/redoc" if cfg.expose_docs else None,
        openapi_url="/openapi.json" if cfg.expose_docs else None,
    )
    errors.install(app)
    metrics.install(app, app_metrics)
    idempotency.install(app)
    headers.install(app, force_hsts=cfg.hsts)
    # after the idempotency middleware, so it runs before it: no body is read past the cap
    limits.install(app, cfg.max_body_bytes, cfg.max_bulk_body_bytes)

    @app.middleware("http")
    async def request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # a client's id is kept only when it is a plain id (it lands in logs and the audit log)
        sent = request.headers.get("X-Request-Id", "")
        request.state.request_id = sent if PLAIN_ID.fullmatch(sent) else uuid.uuid4().hex
        response = await call_next(request)
        response.headers["X-Request-Id"] = request.state.request_id
        return response

    for module in (
        health,
        customers,
        events,
        tasks,
        workflows,
        policies,
        foresight,
        segmentation,
        audit,
        managers,
        points,
        kpis,
        outages,
    ):
        app.include_router(module.router)
    app.include_router(protections.router)  # registrations, holds, moratoria
    app.include_router(evidence.router)  # the evidence pack of disconnections
    web.install(app)  # the pages under /web (issue 6)
    return app


app = create_app()
