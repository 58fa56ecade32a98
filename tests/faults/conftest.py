"""Fault-test helpers: the worker and the API as real subprocesses (so they can be SIGKILLed),
a store with a policy whose arrears ladder runs in seconds, and store readers."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import devstack
import rules
from activities import policy_store
from config import ROOT, Settings
from rules import jurisdiction
from rules.loader import FILES
from services import outbox
from store import db

pytestmark = pytest.mark.faults

# the shipped arrears ladder with its days turned into seconds (text patches of the YAML)
FAST_ARREARS = [
    (
        "{step: sms_reminder, channel: sms, wait: P3D}",
        "{step: sms_reminder, channel: sms, wait: PT2S}",
    ),
    (
        "{step: wechat_reminder, channel: wechat, wait: P3D}",
        "{step: wechat_reminder, channel: wechat, wait: PT2S}",
    ),
    (
        "{step: phone_reminder, channel: phone, wait: P3D}",
        "{step: phone_reminder, channel: phone, wait: PT2S}",
    ),
    (
        "task: collection, assignee_role: inspector, due: P5D}",
        "task: collection, assignee_role: inspector, due: PT120S}",
    ),
    (
        "task: prepayment_conversion, assignee_role: inspector, due: P7D}",
        "task: prepayment_conversion, assignee_role: inspector, due: PT120S}",
    ),
    (
        "notice_min_days: 3, notice_max_days: 7, lead: P5D,",
        "notice_min_days: 0, notice_max_days: 1, lead: PT3S,",
    ),
    ("{step: renotice, before: PT30M,", "{step: renotice, before: PT1S,"),
    ("  respect_calendar: true\n", "  respect_calendar: false\n"),
    # seconds are below every real floor: the drill pack (tests/data/jurisdictions) allows them
    ("  jurisdiction: cn\n", "  jurisdiction: drill\n"),
]
DRILL_PACKS = ROOT / "tests" / "data" / "jurisdictions"


def fast_arrears_bundle(sms_wait: str = "PT2S") -> rules.Bundle:
    """The shipped bundle with an arrears ladder that takes seconds (`sms_wait` after the
    first reminder)."""
    jurisdiction.add_pack_dir(DRILL_PACKS)
    texts = {name: (ROOT / "policies" / name).read_text(encoding="utf-8") for name in FILES}
    text = texts["processes.yaml"]
    for old, new in FAST_ARREARS:
        if "sms_reminder" in old:
            new = new.replace("PT2S", sms_wait)
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    texts["processes.yaml"] = text
    return rules.load_bundle_from_texts(texts)


def activate(sessions: sessionmaker[Session], bundle: rules.Bundle) -> None:
    """Register and activate `bundle`."""
    with sessions.begin() as s:
        policy_store.register(s, bundle, "fault-test")
        s.flush()
        policy_store.activate(s, bundle.version, "fault-test")


def child_env(s: Settings) -> dict[str, str]:
    """SEGFLOW_* for a child process of the settings `s`."""
    return {
        "SEGFLOW_VAR_DIR": str(s.var_dir),
        "SEGFLOW_DATABASE_URL": s.database_url,
        "SEGFLOW_TEMPORAL_ADDRESS": s.temporal_address,
        "SEGFLOW_TASK_QUEUE": s.task_queue,
        "SEGFLOW_API_HOST": s.api_host,
        "SEGFLOW_API_PORT": str(s.api_port),
        "SEGFLOW_DEMO_CUSTOMERS": "0",
        "SEGFLOW_LOG_LEVEL": "WARNING",
        "SEGFLOW_EXTRA_JURISDICTIONS_DIR": str(DRILL_PACKS),
        "SEGFLOW_RELAY_CONCURRENCY": str(s.relay_concurrency),
    }


class Children:
    """Subprocesses of one test; every one is stopped at the end."""

    def __init__(self, settings: Settings, logs: Path) -> None:
        self.settings, self.logs, self.procs = settings, logs, []  # type: ignore[var-annotated]
        logs.mkdir(parents=True, exist_ok=True)

    def worker(self) -> subprocess.Popen[bytes]:
        proc = devstack.spawn(
            [sys.executable, str(ROOT / "worker.py")], self.logs / "worker.log",
            child_env(self.settings),
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def api(self) -> subprocess.Popen[bytes]:
        s = self.settings
        cmd = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", s.api_host,
               "--port", str(s.api_port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
        proc = devstack.spawn(cmd, self.logs / "api.log", child_env(s))
        self.procs.append(proc)
        devstack.wait_port(s.api_host, s.api_port, 60, proc)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL, no grace."""
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        devstack.stop_all(self.procs)


@pytest.fixture
def fault_settings(settings: Settings, store_url: str, dev_server: str) -> Settings:
    """Settings of a migrated SQLite store, the session's dev server, a queue of its own."""
    return settings.model_copy(
        update={
            "temporal_address": dev_server,
            "task_queue": f"faults-{id(settings)}",
            "api_port": devstack.free_port(),
        }
    )


@pytest.fixture
def children(fault_settings: Settings, tmp_path: Path) -> Iterator[Children]:
    kids = Children(fault_settings, tmp_path / "logs")
    try:
        yield kids
    finally:
        kids.stop()


@pytest.fixture
def sessions(store_url: str) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(store_url)
    try:
        yield db.session_factory(engine)
    finally:
        engine.dispose()


def count(sessions: sessionmaker[Session], model: Any, *where: Any) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def outbox_depth(sessions: sessionmaker[Session]) -> int:
    """Transitions the relay has not applied yet."""
    with sessions() as s:
        return outbox.depth(s).pending


async def drained(
    sessions: sessionmaker[Session], what: str, stall: float = 90, cap: float = 900
) -> None:
    """Wait until the outbox is empty. Fails when its depth has not fallen for `stall`
    seconds (the relay is stuck) or after `cap` seconds: how fast a relay drains depends on
    the machine's load, whether it drains does not."""
    start = last = time.monotonic()
    low = outbox_depth(sessions)
    while low:
        await asyncio.sleep(0.5)
        now, depth = time.monotonic(), outbox_depth(sessions)
        if depth < low:
            low, last = depth, now
        if now - last > stall or now - start > cap:
            raise AssertionError(
                f"{what}: {depth} transitions still pending after "
                f"{now - start:.0f}s ({now - last:.0f}s without progress)"
            )


async def until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy (or fail after `timeout` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
