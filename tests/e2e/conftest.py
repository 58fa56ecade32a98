"""End-to-end fixtures: the API app, a worker and an outbox relay in-process against the real
dev server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client

import worker
from activities import policy_store
from api.main import create_app
from config import Settings
from services import outbox
from store import db


@dataclass
class Stack:
    """What an end-to-end test talks to."""

    http: httpx.AsyncClient
    app: FastAPI
    temporal: Client
    settings: Settings
    tokens: dict[str, dict[str, str]]

    async def settle(self, timeout: float = 30) -> None:
        """Wait until the outbox relay applied every queued transition (the API answers
        before Temporal has them)."""
        deadline = asyncio.get_running_loop().time() + timeout
        sessions = self.app.state.segflow.sessions
        while True:
            with sessions() as s:
                depth = outbox.depth(s)
            if depth.pending == 0:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"outbox not drained after {timeout}s: {depth}")
            await asyncio.sleep(0.05)

    def auth(self, role: str) -> dict[str, str]:
        """Headers for the demo principal of `role`."""
        return {"Authorization": f"Bearer {self.tokens[role]['token']}"}

    async def call(self, method: str, url: str, role: str, **kw: Any) -> httpx.Response:
        """One request as `role`."""
        headers = {**kw.pop("headers", {}), **self.auth(role)}
        return await self.http.request(method, url, headers=headers, **kw)


@pytest.fixture
async def stack(
    settings: Settings,
    store_url: str,
    demo_tokens: dict[str, dict[str, str]],
    dev_server: str,
    unspread_policies: Path,
) -> AsyncIterator[Stack]:
    """Migrated store with the shipped policy active (first call-backs at once), a worker,
    and the API app."""
    cfg = settings.model_copy(
        update={"temporal_address": dev_server, "task_queue": f"e2e-{id(settings)}",
                "policies_dir": unspread_policies}
    )  # fmt: skip
    sessions = db.session_factory(db.make_engine(store_url))
    with sessions.begin() as s:
        policy_store.activate_directory(s, cfg.policies_dir, "test")
    client = await Client.connect(dev_server)
    app = create_app(cfg)
    relay = worker.build_relay(client, cfg.model_copy(update={"relay_poll_seconds": 0.05}),
                               sessions)  # fmt: skip
    stop = asyncio.Event()
    with ThreadPoolExecutor(max_workers=16) as executor:
        async with worker.build_worker(client, cfg, executor), app.router.lifespan_context(app):
            relaying = asyncio.create_task(relay.run(stop))
            transport = httpx.ASGITransport(app=app)
            try:
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://segflow"
                ) as http:
                    yield Stack(http, app, client, cfg, demo_tokens)
            finally:
                stop.set()
                await relaying


async def population_run(stack: Stack, **body: Any) -> dict[str, Any]:
    """Run a population run through the API and return its final progress."""
    start = await stack.call("POST", "/v1/segmentation-runs", "crm", json=body or None)
    assert start.status_code == 202, start.text
    url = start.json()["status_url"]
    for _ in range(300):
        progress: dict[str, Any] = (await stack.call("GET", url, "crm")).json()
        if progress["status"] == "completed":
            return progress
        await asyncio.sleep(0.1)
    raise AssertionError(f"population run did not finish: {progress}")
