"""Bulk import of a CRM extract (CSV or JSONL) into the store, then a population run.

`segflow import FILE` reads the file in chunks, validates every line with the same record
contract as the API (a bad line is reported as `file:line: path: message` and skipped; the
rest are stored), stores each chunk set-wise (services/ingest.py) with one audit entry in
one transaction with the process transitions the provisional assignments ask for (outbox
rows: the workers' relays start and stop the processes), and
at the end starts a population run on the control queue and follows it to the end (classes
are final after the run).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from activities import policy_store
from rules.errors import RecordError
from rules.inputs import read_records
from services import abc_cuts, ingest, outbox
from store import audit
from workflows import catalogue
from workflows.segmentation_payloads import SegmentationProgress, SegmentationRunInput

log = logging.getLogger(__name__)

CHUNK = 5_000


@dataclass
class BadLine:
    """A line that was not stored, with the field paths at fault."""

    line: int
    issues: list[tuple[str, str]]

    def render(self, path: Path) -> list[str]:
        """`file:line: path: message` per issue."""
        return [f"{path}:{self.line}: {p or '-'}: {m}" for p, m in self.issues]


@dataclass
class ImportReport:
    """What an import did."""

    lines: int = 0
    stored: int = 0
    created: int = 0
    updated: int = 0
    changed: int = 0
    transitions: int = 0
    bad: list[BadLine] = field(default_factory=list)
    run: SegmentationProgress | None = None


def chunks_of(path: Path, size: int, report: ImportReport) -> Iterator[list[dict[str, Any]]]:
    """Valid records in chunks (a later line of the same customer wins, like sequential
    PUTs); bad lines go to the report."""
    chunk: dict[str, dict[str, Any]] = {}
    for line, rec in read_records(path):
        report.lines += 1
        if isinstance(rec, RecordError):
            report.bad.append(BadLine(line, [(i.path, i.message) for i in rec.issues]))
            continue
        chunk.pop(rec["customer_id"], None)
        chunk[rec["customer_id"]] = rec
        if len(chunk) >= size:
            yield list(chunk.values())
            chunk = {}
    if chunk:
        yield list(chunk.values())


def store_chunk(
    sessions: sessionmaker[Session], records: list[dict[str, Any]], actor: str, source: str
) -> tuple[ingest.Ingested, int]:
    """One chunk in one transaction: customers, assignments, outbox rows, audit entry;
    returns the chunk and the number of transitions queued."""
    with sessions.begin() as s:
        bundle = policy_store.active_bundle(s)
        done = ingest.ingest(s, bundle, records, abc_cuts.current(s, bundle))
        changes = [outbox.diff(c.customer_id, c.before, c.after) for c in done.changes]
        queued = outbox.queue_changes(s, [c for c in changes if c], source)
        audit.append(
            s,
            actor=actor,
            action="customer.imported",
            target="customers",
            request_id=source,
            policy_version=bundle.version,
            detail={"stored": len(records), "created": done.created, "updated": done.updated,
                    "changed": len(done.changes),
                    "digest": audit.digest(sorted(r["customer_id"] for r in records))},
        )  # fmt: skip
    return done, len(queued)


async def run_import(
    sessions: sessionmaker[Session],
    client: Client | None,
    path: Path,
    *,
    actor: str,
    task_queue: str,
    control_queue: str,
    concurrency: int = 32,
    chunk: int = CHUNK,
    on_progress: Callable[[str, int, int], None] = lambda stage, done, total: None,
) -> ImportReport:
    """Import `path`; with a Temporal client, also run a population run at the end (the
    relays apply the queued transitions)."""
    report = ImportReport()
    source = f"import:{uuid.uuid4().hex[:12]}"
    for records in chunks_of(path, chunk, report):
        done, queued = await asyncio.to_thread(store_chunk, sessions, records, actor, source)
        report.stored += len(records)
        report.created += done.created
        report.updated += done.updated
        report.changed += len(done.changes)
        report.transitions += queued
        on_progress("import", report.lines, 0)
    if client is not None and report.stored:
        report.run = await population_run(client, control_queue, actor, on_progress)
    return report


async def population_run(
    client: Client,
    control_queue: str,
    actor: str,
    on_progress: Callable[[str, int, int], None],
    batch_size: int = 20_000,
    parallelism: int = 2,
) -> SegmentationProgress:
    """Start a population run and follow its progress query to the end."""
    run_id = f"import-{uuid.uuid4().hex[:12]}"
    handle = await client.start_workflow(
        "segmentation_run",
        SegmentationRunInput(run_id, actor, batch_size, parallelism),
        id=catalogue.key("segmentation_run", run_id=run_id),
        task_queue=control_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        result_type=SegmentationProgress,
    )
    result = asyncio.ensure_future(handle.result())
    while not result.done():
        await asyncio.wait([result], timeout=1.0)
        if result.done():
            break
        try:
            p = await handle.query(
                "progress", result_type=SegmentationProgress, rpc_timeout=timedelta(seconds=5)
            )
        except Exception:  # not picked up by a worker yet; the next poll asks again
            continue
        on_progress("population run", p.done, p.total)
    final: SegmentationProgress = result.result()
    on_progress("population run", final.done, final.total)
    return final
