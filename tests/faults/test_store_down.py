"""The store goes away under a running API: writes answer 503 problem+json and leave nothing
half-way; once the store is back the same requests succeed.

A PostgreSQL cluster of the test's own (stopped and started mid-test with pg_ctl), the API
app in-process (httpx ASGI transport), the session's dev server for Temporal.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

import devstack
from activities import policy_store
from api.main import create_app
from config import Settings
from store import db
from store.models import AuditEntry, Customer
from tests import servers

pytestmark = [pytest.mark.faults, pytest.mark.e2e, pytest.mark.postgres]


class Cluster:
    """A throwaway PostgreSQL cluster that can be stopped and started again."""

    def __init__(self) -> None:
        bindir = servers.postgres_bin()
        assert bindir is not None
        self.bin = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="segflow-pgdown-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.data, self.port = self.dir / "pgdata", devstack.free_port()
        self._run("initdb", "-D", str(self.data), "-U", "segflow", "-A", "trust")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "segflow", "segflow")
        self.url = f"postgresql+psycopg://segflow@127.0.0.1:{self.port}/segflow"

    def _run(self, tool: str, *args: str) -> None:
        cmd = servers._as_postgres([str(self.bin / tool), *args])
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.dir} -F"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "pg.log"), "-w",
                  "-o", opts, "start")  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            servers._as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m",
                                  "immediate", "-w", "stop"]),
            capture_output=True, timeout=60,
        )  # fmt: skip
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if servers.postgres_bin() is None:
        pytest.skip("PostgreSQL server binaries not installed")
    c = Cluster()
    try:
        yield c
    finally:
        c.remove()


async def test_store_down_answers_503_and_recovers(
    settings: Settings, cluster: Cluster, dev_server: str, demo_tokens: dict[str, dict[str, str]]
) -> None:
    cfg = settings.model_copy(
        update={"database_url": cluster.url, "temporal_address": dev_server,
                "task_queue": f"storedown-{id(settings)}"}
    )  # fmt: skip
    db.upgrade(cluster.url)
    engine = db.make_engine(cluster.url)
    sessions = db.session_factory(engine)
    with sessions.begin() as s:
        policy_store.activate_directory(s, cfg.policies_dir, "fault-test")

    def counts() -> tuple[int, int]:
        with sessions() as s:
            return (
                int(s.scalar(select(func.count()).select_from(Customer)) or 0),
                int(s.scalar(select(func.count()).select_from(AuditEntry)) or 0),
            )

    crm = {"Authorization": f"Bearer {demo_tokens['crm']['token']}"}
    batch = [{"customer_id": f"SD{i}", "tariff": "residential"} for i in range(50)]
    app = create_app(cfg)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://segflow") as http:
                ok = await http.put("/v1/customers/SD-1", json={}, headers=crm)
                assert ok.status_code == 200, ok.text
                before = counts()

                cluster.stop()
                for method, url, body in (
                    ("PUT", "/v1/customers/SD-2", {"tariff": "residential"}),
                    ("POST", "/v1/customers:batch", batch),
                    ("POST", "/v1/workflows/closure", {"customer_id": "SD-1"}),
                    ("GET", "/v1/customers/SD-1", None),
                ):
                    r = await http.request(method, url, json=body, headers=crm)
                    assert r.status_code == 503, (url, r.status_code, r.text)
                    assert r.headers["content-type"].startswith("application/problem+json")
                    assert r.json()["title"] == "Store unavailable"
                ready = await http.get("/readyz")
                assert ready.status_code == 503 and ready.json()["store"].startswith("down")

                cluster.start()
                engine.dispose()  # the test's own pool held connections of the old server
                assert counts() == before  # nothing was written half-way
                r = await http.put("/v1/customers/SD-2", json={"tariff": "residential"},
                                   headers=crm)  # fmt: skip
                assert r.status_code == 200, r.text
                r = await http.post("/v1/customers:batch", json=batch, headers=crm)
                assert r.status_code == 200 and r.json()["stored"] == 50, r.text
                assert counts()[0] == before[0] + 51
                assert (await http.get("/readyz")).status_code == 200
    finally:
        engine.dispose()
