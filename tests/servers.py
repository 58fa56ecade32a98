"""Real servers for tests: the Temporal dev server and a throwaway PostgreSQL cluster."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import devstack


@contextmanager
def temporal_dev_server(workdir: Path) -> Iterator[str]:
    """`temporal server start-dev` on free 127.0.0.1 ports; yields host:port."""
    port, ui_port = devstack.free_port(), devstack.free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    proc = devstack.spawn(
        devstack.temporal_command(workdir / "temporal.db", port, ui_port), workdir / "temporal.log"
    )
    try:
        devstack.wait_port("127.0.0.1", port, 60, proc)
        yield f"127.0.0.1:{port}"
    finally:
        devstack.stop_all([proc])


def postgres_bin() -> Path | None:
    """Directory of the PostgreSQL server binaries, if installed."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if candidates:
        return candidates[-1].parent
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


def _as_postgres(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root, so drop to the postgres user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextmanager
def postgres_server() -> Iterator[str]:
    """A fresh cluster on a free port; yields a SQLAlchemy URL of database `segflow`."""
    bindir = postgres_bin()
    assert bindir is not None
    # pytest's tmp dirs are private to root; the postgres user needs a directory of its own
    workdir = Path(tempfile.mkdtemp(prefix="segflow-pg-"))
    data = workdir / "pgdata"
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
    port = devstack.free_port()
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "segflow", "-A", "trust"]),
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        _as_postgres([
            str(bindir / "pg_ctl"), "-D", str(data), "-l", str(workdir / "pg.log"), "-w",
            "-o", f"-h 127.0.0.1 -p {port} -k {workdir} -F", "start",
        ]),
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        subprocess.run(
            _as_postgres([str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port),
                          "-U", "segflow", "segflow"]),
            check=True, capture_output=True,
        )  # fmt: skip
        yield f"postgresql+psycopg://segflow@127.0.0.1:{port}/segflow"
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
        )  # fmt: skip
        shutil.rmtree(workdir, ignore_errors=True)
