"""Schemathesis against the running app's OpenAPI schema, on SQLite and PostgreSQL: no
request makes a server error."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

import devstack
from activities import policy_store
from api.main import create_app
from config import Settings
from store import db
from tests.hostile.fixtures import hostile_store  # noqa: F401 (the fixture)

pytestmark = pytest.mark.e2e


@pytest.fixture
def served(
    settings: Settings,
    hostile_store: str,  # noqa: F811 (SQLite and PostgreSQL)
    demo_tokens: dict[str, dict[str, str]],
    dev_server: str,
) -> Iterator[tuple[str, str]]:
    """The app on a real port (uvicorn in a thread) on each store; (base url, admin token)."""
    database_url = "" if hostile_store.startswith("sqlite") else hostile_store
    cfg = settings.model_copy(
        update={"temporal_address": dev_server, "task_queue": "fuzz", "database_url": database_url}
    )
    engine = db.make_engine(hostile_store)
    with db.session_factory(engine).begin() as s:
        policy_store.activate_directory(s, cfg.policies_dir, "test")
    engine.dispose()
    port = devstack.free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(cfg), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    devstack.wait_port("127.0.0.1", port, 30)
    try:
        yield f"http://127.0.0.1:{port}", demo_tokens["admin"]["token"]
    finally:
        server.should_exit = True
        thread.join(10)


def test_no_server_errors(served: tuple[str, str], tmp_path: Path) -> None:
    base, token = served
    st = Path(sys.executable).parent / "st"
    started = time.monotonic()
    run = subprocess.run(
        [str(st), "run", f"{base}/openapi.json", "--checks", "not_a_server_error",
         "--max-examples", "10", "--generation-deterministic", "-H",
         f"Authorization: Bearer {token}", "--request-timeout", "20",
         "--report", "junit", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "passed" in run.stdout.lower(), run.stdout[-2000:]
    assert time.monotonic() - started < 600
