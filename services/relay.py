"""The outbox relay: applies queued process transitions to Temporal, exactly once in effect.

A relay claims rows in a short transaction (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: the
write lock of BEGIN IMMEDIATE) by writing a lease, commits, then calls Temporal with no store
transaction open, and records the outcomes in another short transaction. Several relays (one
per worker process, or `segflow relay`) share the work safely. Effects are idempotent, so a
row applied twice (a relay killed after the call, before recording it) changes nothing more:
starts use the business-key workflow id (a running key is kept; with a different input it is
a conflict), joins (signal-with-start) hand a signal keyed by what it adds (a bill by its id),
and signals carry the row's request id, which the Temporal server deduplicates.
Per workflow id the rows apply in id order: a row is not claimed while an earlier row for
the same workflow is pending (in flight or waiting for its retry).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import SignalWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services import outbox
from store import audit
from store.models import Transition
from workflows.attributes import SA_CUSTOMER, SA_KIND
from workflows.catalogue import BY_KIND, Process

log = logging.getLogger("segflow.relay")

YIELD_SHARE = 8  # the share of the concurrency a relay keeps while its process runs control work
RECORD_EVERY = 0.25  # seconds an outcome may wait to be recorded with others (each record
# is a store commit; at 0.05 s the commits cost the drain ~20% against raw starts)

# Temporal answers that mean "try again later" (the server is down, busy or restarting)
TRANSIENT = {
    RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.ABORTED, RPCStatusCode.INTERNAL, RPCStatusCode.UNKNOWN,
    RPCStatusCode.CANCELLED,
}  # fmt: skip


@dataclass(frozen=True)
class Claimed:
    """A leased row, detached from its session."""

    id: int
    request_id: str
    workflow_id: str
    op: str
    kind: str
    signal: str | None
    payload: dict[str, Any]
    customer_id: str | None
    attempts: int
    after_stop: bool = False  # the workflow's previous row was an applied stop (leave)


@dataclass(frozen=True)
class Outcome:
    """What applying a row did: done, skipped (workflow not running), failed, or retry
    (after `delay` seconds, else the backoff)."""

    row: Claimed
    status: str
    error: str | None = None
    delay: float | None = None


class _Ending(Exception):
    """The run that was told to leave has not ended yet."""


class Conflict(Exception):
    """The business key runs with a different input."""


@dataclass(frozen=True)
class RelayConfig:
    """Knobs of a relay (from Settings)."""

    concurrency: int = 32
    rate: float = 0.0  # Temporal calls per second; 0 = unlimited
    poll_seconds: float = 0.5
    lease_seconds: float = 60.0
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 60.0


def _after_stop(session: Session, rows: Sequence[Any]) -> set[int]:
    """Ids of the claimed segment starts whose workflow's last applied row was a stop (rows
    skipped since, superseded or aimed at no run, changed nothing in Temporal): one query
    for the whole claim."""
    starts = {r.id: r.workflow_id for r in rows
              if r.op == "start" and BY_KIND[r.kind].on_running == "use_existing"}  # fmt: skip
    if not starts:
        return set()
    done: dict[str, list[tuple[int, str]]] = {}
    applied = session.execute(
        select(Transition.workflow_id, Transition.id, Transition.op)
        .where(Transition.workflow_id.in_(set(starts.values())))
        .where(Transition.status == "done", Transition.id < max(starts))
        .order_by(Transition.id)
    )
    for wid, rid, op in applied:
        done.setdefault(wid, []).append((rid, op))
    after: set[int] = set()
    for rid, wid in starts.items():
        before = [op for prev, op in done.get(wid, ()) if prev < rid]
        if before and before[-1] == "stop":
            after.add(rid)
    return after


class _Bucket:
    """Token bucket: at most `rate` acquisitions per second (bursts up to one second)."""

    def __init__(self, rate: float) -> None:
        self.rate, self.tokens, self.at = rate, rate, time.monotonic()
        self.lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.rate <= 0:
            return
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
                self.at = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


class Relay:
    """One relay: claims, applies and records outbox rows until stopped."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        client: Client,
        task_queues: str | Mapping[str, str],
        config: RelayConfig | None = None,
        owner: str | None = None,
        yield_to: Callable[[], bool] | None = None,
    ) -> None:
        self._sessions, self._client = sessions, client
        # while this says its process runs control work (a population-run batch), keep only
        # a few rows in flight: the run shares the process (and its CPU) with the starts
        # and the first workflow tasks they cause; nothing stops, signals still flow
        self._yield_to = yield_to
        # catalogue queue name (control, processes) -> the deployment's task queue
        self._queues = (
            {"control": task_queues, "processes": task_queues}
            if isinstance(task_queues, str)
            else dict(task_queues)
        )
        self.config = config or RelayConfig()
        self.owner = owner or f"relay-{uuid.uuid4().hex[:12]}"
        self._postgres = sessions.kw["bind"].dialect.name == "postgresql"
        self._gate = asyncio.Semaphore(self.config.concurrency)
        self._bucket = _Bucket(self.config.rate)
        self.applied = 0  # rows recorded done/skipped/failed by this relay

    # -- store side (short transactions, run in a thread) --------------------------------

    def _session(self) -> Session:
        # leases touch only outbox rows: no need to queue behind the audit chain's writers
        session = self._sessions()
        session.info["serialise_writes"] = False
        return session

    def claim(self, limit: int) -> list[Claimed]:
        """Lease up to `limit` claimable rows: pending, due, not leased, and the first pending
        row of their workflow id."""
        now = datetime.now(UTC)
        earlier = aliased(Transition)
        blocked = exists().where(
            earlier.workflow_id == Transition.workflow_id,
            earlier.status == outbox.PENDING,
            earlier.id < Transition.id,
        )
        t = Transition
        query = (
            select(t.id, t.request_id, t.workflow_id, t.op, t.kind, t.signal, t.payload,
                   t.customer_id, t.attempts)
            # in id order along ix_transitions_pending, so the claim stops after `limit`
            # rows; an indexed next_attempt_at made the store read and sort every pending
            # row (the coalesce keeps the planner off that index)
            .where(t.status == outbox.PENDING)
            .where(func.coalesce(t.next_attempt_at, t.next_attempt_at) <= now)
            .where(or_(t.lease_until.is_(None), t.lease_until < now))
            .where(~blocked)
            .order_by(t.id)
            .limit(limit)
        )  # fmt: skip
        if self._postgres:
            query = query.with_for_update(skip_locked=True, of=Transition)
        until = now + timedelta(seconds=self.config.lease_seconds)
        with self._session() as s, s.begin():
            rows = s.execute(query).all()
            if not rows:
                return []
            # one statement leases them all (PostgreSQL: the rows are locked by the select)
            s.execute(
                update(t).where(t.id.in_([r.id for r in rows]))
                .values(lease_owner=self.owner, lease_until=until, attempts=t.attempts + 1)
            )  # fmt: skip
            after = _after_stop(s, rows)
            return [
                Claimed(r.id, r.request_id, r.workflow_id, r.op, r.kind, r.signal,
                        dict(r.payload), r.customer_id, r.attempts + 1, r.id in after)
                for r in rows
            ]  # fmt: skip

    def record(self, outcomes: list[Outcome]) -> None:
        """Write outcomes (only for rows this relay still holds the lease of)."""
        now = datetime.now(UTC)
        with self._session() as s, s.begin():
            # the common case in one statement: applied rows
            plain = [o.row.id for o in outcomes if o.status == "done" and o.error is None]
            if plain:
                result = s.execute(
                    update(Transition)
                    .where(Transition.id.in_(plain), Transition.lease_owner == self.owner)
                    .values(status="done", applied_at=now, applied_by=self.owner,
                            lease_owner=None, lease_until=None, last_error=None)
                )  # fmt: skip
                self.applied += int(getattr(result, "rowcount", 0) or 0)
            for o in outcomes:
                if o.status == "done" and o.error is None:
                    continue
                mine = (Transition.id == o.row.id, Transition.lease_owner == self.owner)
                values: dict[str, Any] = {"lease_owner": None, "lease_until": None,
                                          "last_error": o.error}  # fmt: skip
                if o.status == "retry":
                    delay = self._backoff(o.row) if o.delay is None else o.delay
                    values["next_attempt_at"] = now + timedelta(seconds=delay)
                else:
                    values.update(status=o.status, applied_at=now, applied_by=self.owner)
                result = s.execute(update(Transition).where(*mine).values(**values))
                changed = int(getattr(result, "rowcount", 0) or 0)
                if changed and o.status == "failed":
                    audit.append(
                        s, actor=self.owner, action="transition.failed",
                        target=f"workflow:{o.row.workflow_id}", customer_id=o.row.customer_id,
                        detail={"transition_id": o.row.request_id, "op": o.row.op,
                                "kind": o.row.kind, "error": o.error},
                    )  # fmt: skip
                if changed and o.status != "retry":
                    self.applied += 1

    def _backoff(self, row: Claimed) -> float:
        cfg = self.config
        delay = min(cfg.backoff_max_seconds, cfg.backoff_base_seconds * 2 ** (row.attempts - 1))
        return float(delay * random.uniform(0.5, 1.0))  # jitter: relays do not retry in lockstep

    # -- Temporal side --------------------------------------------------------------------

    async def apply(self, row: Claimed) -> Outcome:
        """Apply one row; never raises."""
        async with self._gate:
            await self._bucket.acquire()
            try:
                if row.op == "start":
                    await self._start(row)
                elif row.op == "join":
                    await self._join(row)
                else:
                    await self._signal(row)
                return Outcome(row, "done")
            except _Ending:
                wait = min(5.0, self._backoff(row))
                return Outcome(row, "retry", "the run told to leave is still ending", wait)
            except Conflict as err:
                return Outcome(row, "failed", str(err))
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    return Outcome(row, "skipped", "workflow not running")
                if err.status in TRANSIENT:
                    return Outcome(row, "retry", f"{err.status.name}: {err.message}"[:500])
                return Outcome(row, "failed", f"{err.status.name}: {err.message}"[:500])
            except (KeyError, TypeError, ValueError) as err:
                return Outcome(row, "failed", f"{type(err).__name__}: {err}"[:500])
            except Exception as err:  # connection errors of the client: the server is away
                return Outcome(row, "retry", f"{type(err).__name__}: {err}"[:500])

    async def _start(self, row: Claimed) -> None:
        proc = BY_KIND[row.kind]
        keep = proc.on_running == "use_existing"
        if keep and row.after_stop:
            # the running run was told to leave and ends soon: a start now would keep it
            # (and it would end anyway), so wait for it to close, then start a new run
            try:
                desc = await self._client.get_workflow_handle(row.workflow_id).describe()
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
            else:
                if desc.status == WorkflowExecutionStatus.RUNNING:
                    raise _Ending
        try:
            await self._client.start_workflow(
                proc.kind,
                row.payload,  # the workflow decodes it into its input dataclass
                id=row.workflow_id,
                task_queue=self._queues[proc.queue],
                id_conflict_policy=(
                    WorkflowIDConflictPolicy.USE_EXISTING if keep else WorkflowIDConflictPolicy.FAIL
                ),
                search_attributes=self._attributes(proc, row),
            )
        except WorkflowAlreadyStartedError as err:
            running = await self._recorded_input(row.workflow_id, err.run_id)
            if isinstance(running, dict) and not outbox.same_input(running, row.payload):
                raise Conflict(f"{row.workflow_id} is running with a different input") from err

    async def _join(self, row: Claimed) -> None:
        # signal-with-start: the join signal is keyed by the workflow (a bill by its id), so a
        # row applied twice hands the same thing twice and changes nothing more
        proc = BY_KIND[row.kind]
        await self._client.start_workflow(
            proc.kind,
            row.payload["input"],
            id=row.workflow_id,
            task_queue=self._queues[proc.queue],
            start_signal=row.signal or "",
            start_signal_args=[row.payload["signal"]],
            search_attributes=self._attributes(proc, row),
        )

    def _attributes(self, proc: Process, row: Claimed) -> TypedSearchAttributes:
        attrs = []
        if SA_KIND in proc.search_attributes:
            attrs.append(SearchAttributePair(SearchAttributeKey.for_keyword(SA_KIND), row.kind))
        if SA_CUSTOMER in proc.search_attributes and row.customer_id:
            key = SearchAttributeKey.for_keyword(SA_CUSTOMER)
            attrs.append(SearchAttributePair(key, row.customer_id))
        return TypedSearchAttributes(attrs)

    async def _recorded_input(self, workflow_id: str, run_id: str | None) -> Any:
        handle = self._client.get_workflow_handle(workflow_id, run_id=run_id or None)
        async for event in handle.fetch_history_events():
            attrs = event.workflow_execution_started_event_attributes
            convert = self._client.data_converter.payload_converter
            values = convert.from_payloads(list(attrs.input.payloads))
            return values[0] if values else None
        return None

    async def _signal(self, row: Claimed) -> None:
        # the raw call, to send the row's request id: the server drops a signal whose request
        # id it has seen for this run, so a re-applied row is not delivered twice
        req = SignalWorkflowExecutionRequest(
            namespace=self._client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=row.workflow_id),
            signal_name=row.signal or "",
            identity=self._client.identity,
            request_id=row.request_id,
        )
        req.input.payloads.extend(await self._client.data_converter.encode([row.payload]))
        await self._client.workflow_service.signal_workflow_execution(req, retry=True)

    # -- the loop -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None, until_idle: bool = False) -> int:
        """Claim and apply until `stop` is set (or, with `until_idle`, until nothing is
        claimable and nothing is in flight); returns the rows recorded.

        Outcomes are recorded in batches (every RECORD_EVERY seconds, or sooner when half the
        concurrency finished or nothing is in flight), not one transaction per row."""
        stop = stop or asyncio.Event()
        cfg = self.config
        tasks: set[asyncio.Task[Outcome]] = set()
        finished: list[Outcome] = []
        first_finished = 0.0
        next_claim = 0.0
        while not stop.is_set() or tasks or finished:
            now = time.monotonic()
            cap = cfg.concurrency
            if self._yield_to is not None and self._yield_to():
                cap = max(1, cfg.concurrency // YIELD_SHARE)
            if not stop.is_set() and len(tasks) <= cap and now >= next_claim:
                want = 2 * cap - len(tasks)
                try:
                    claimed = await asyncio.to_thread(self.claim, want)
                except Exception as err:  # the store is away: try again after a pause
                    log.warning("relay %s: claim failed: %s", self.owner, err)
                    claimed = []
                for row in claimed:
                    tasks.add(asyncio.create_task(self.apply(row)))
                if len(claimed) < want:
                    # nothing more is claimable now: look again after a poll interval
                    next_claim = now + cfg.poll_seconds
                    if not tasks and not finished and until_idle:
                        break
            if tasks:
                wait = max(0.005, min(next_claim - time.monotonic(), RECORD_EVERY))
                done, _ = await asyncio.wait(tasks, timeout=wait, return_when="FIRST_COMPLETED")
                tasks -= done
                if done and not finished:
                    first_finished = time.monotonic()
                finished += [t.result() for t in done]
            due = time.monotonic() - first_finished >= RECORD_EVERY
            if finished and (not tasks or due or len(finished) >= cfg.concurrency // 2):
                try:
                    await asyncio.to_thread(self.record, finished)
                except Exception as err:  # leases expire; the rows are applied again
                    log.warning("relay %s: recording failed: %s", self.owner, err)
                finished = []
                next_claim = 0.0  # finished rows may unblock later rows of their workflows
            elif not tasks and not finished:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(0.0, next_claim - time.monotonic()))
        return self.applied
