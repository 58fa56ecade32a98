"""The app served by uvicorn on a real port, on SQLite AND PostgreSQL (a fresh database per
test), with a worker on the real Temporal dev server: the hostile corpora run on both stores."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from temporalio.client import Client

import devstack
import worker
from activities import policy_store
from api.main import create_app
from config import Settings
from store import credentials, db
from tests.e2e.conftest import Stack


@pytest.fixture(params=["sqlite", "postgresql"])
def hostile_store(request: pytest.FixtureRequest, settings: Settings) -> Iterator[str]:
    """A migrated, empty store of each kind."""
    if request.param == "sqlite":
        db.upgrade(settings.store_url)
        yield settings.store_url
        return
    base: str = request.getfixturevalue("postgres_url")
    name = "h_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    db.upgrade(url)
    try:
        yield url
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
async def hstack(
    settings: Settings, hostile_store: str, dev_server: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Stack]:
    """The app and a worker on `hostile_store`, the shipped policy active, demo principals."""
    engines: list[sa.Engine] = []

    def tracked(url: str, *args: int, **kwargs: int) -> sa.Engine:
        # the worker's engine lives as long as the process; here it is closed with the test
        engines.append(db.make_engine(url, *args, **kwargs))
        return engines[-1]

    monkeypatch.setattr(worker, "make_engine", tracked)
    cfg = settings.model_copy(
        update={
            "temporal_address": dev_server,
            "task_queue": f"hostile-{uuid.uuid4().hex[:8]}",
            "database_url": "" if hostile_store.startswith("sqlite") else hostile_store,
        }
    )
    tokens = credentials.ensure_demo(cfg.credentials_path, cfg.var_dir / "demo-credentials.json")
    engine = db.make_engine(cfg.store_url)
    with db.session_factory(engine).begin() as s:
        policy_store.activate_directory(s, cfg.policies_dir, "test")
    engine.dispose()
    client = await Client.connect(dev_server)
    app = create_app(cfg)
    port = devstack.free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    with ThreadPoolExecutor(max_workers=16) as executor:
        async with worker.build_worker(client, cfg, executor):
            thread.start()
            await asyncio.to_thread(devstack.wait_port, "127.0.0.1", port, 30)
            try:
                base = f"http://127.0.0.1:{port}"
                async with httpx.AsyncClient(base_url=base, timeout=60) as http:
                    yield Stack(http, app, client, cfg, tokens)
            finally:
                server.should_exit = True
                await asyncio.to_thread(thread.join, 10)
    for engine in engines:
        engine.dispose()
