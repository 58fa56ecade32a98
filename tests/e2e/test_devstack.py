"""`segflow dev` (what `make run` runs): serves everything, has demo tasks, stops cleanly,
and keeps its data across runs without loading the demo twice."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

import devstack

pytestmark = pytest.mark.e2e


def _start(var: Path, ports: dict[str, int]) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "SEGFLOW_VAR_DIR": str(var),
        "SEGFLOW_API_PORT": str(ports["api"]),
        "SEGFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        "SEGFLOW_TEMPORAL_UI_PORT": str(ports["ui"]),
        "SEGFLOW_DEMO_CUSTOMERS": "400",
    }
    segflow = str(Path(sys.executable).parent / "segflow")
    return subprocess.Popen(
        [segflow, "dev"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _wait_banner(proc: subprocess.Popen[str], timeout: float = 120) -> str:
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if "Ctrl-C stops everything." in line:
            return "".join(seen)
    raise AssertionError("no banner:\n" + "".join(seen))


def _stop(proc: subprocess.Popen[str], ports: dict[str, int]) -> None:
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) >= 3  # temporal, worker, api
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)  # drains and closes the pipe
    assert proc.returncode == 0, out
    assert "stopped." in out
    _gone, alive = psutil.wait_procs(children, timeout=15)
    assert alive == []
    for port in ports.values():
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"


def _count(var: Path, table: str) -> int:
    with sqlite3.connect(var / "segflow.db") as con:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_make_run_serves_demo_work_and_stops_cleanly(tmp_path: Path) -> None:
    var = tmp_path / "var"
    ports = {k: devstack.free_port() for k in ("api", "temporal", "ui")}
    t0 = time.monotonic()
    proc = _start(var, ports)
    try:
        banner = _wait_banner(proc)
        assert f"http://127.0.0.1:{ports['api']}/docs" in banner
        tokens = json.loads((var / "demo-credentials.json").read_text())
        assert set(tokens) >= {
            "policy_owner",
            "crm",
            "agent",
            "inspector",
            "supervisor",
            "auditor",
            "admin",
        }
        api = f"http://127.0.0.1:{ports['api']}"
        assert httpx.get(f"{api}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"{api}/docs").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{ports['ui']}/").status_code == 200
        auth = {"Authorization": f"Bearer {tokens['agent']['token']}"}
        tasks: list[object] = []
        while not tasks and time.monotonic() - t0 < 120:
            tasks = httpx.get(f"{api}/v1/tasks", headers=auth).json()
            time.sleep(0.5)
        assert tasks, "no demo task in the agent's inbox within two minutes"
        customers = _count(var, "customers")
        assert customers == 400
    finally:
        if proc.poll() is None:
            _stop(proc, ports)
    # second run: same data, no second demo load
    proc = _start(var, ports)
    try:
        _wait_banner(proc)
        assert _count(var, "customers") == customers
        assert _count(var, "policy_versions") == 1
    finally:
        _stop(proc, ports)
