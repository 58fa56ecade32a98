"""Prometheus metrics: request counts and latency by route, process and task counters.

Counters live in a registry per app (tests build many apps). Gauges that describe the inbox
(open, overdue tasks) and the outbox (pending transitions, the oldest one's age, failed ones)
are read from the store when Prometheus scrapes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services import outbox
from store.models import AuditEntry, Task


class Metrics:
    """The app's metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "segflow_http_requests_total",
            "HTTP requests.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "segflow_http_request_seconds",
            "HTTP request latency.",
            ["method", "route"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.workflows_started = Counter(
            "segflow_workflows_started_total",
            "Workflows started through the API.",
            ["kind"],
            registry=r,
        )
        self.tasks_completed = Counter(
            "segflow_tasks_completed_total",
            "Tasks completed through the API.",
            ["kind"],
            registry=r,
        )
        self.segmented = Counter(
            "segflow_segmentation_customers_total",
            "Customers evaluated by segmentation runs.",
            registry=r,
        )
        self.segmentation_seconds = Counter(
            "segflow_segmentation_seconds_total", "Time spent in segmentation runs.", registry=r
        )

    def watch_store(self, sessions: sessionmaker[Session]) -> None:
        """Add the inbox gauges, read from the store at scrape time."""
        self.registry.register(_InboxCollector(sessions))


class _InboxCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def collect(self):  # type: ignore[no-untyped-def]
        now = datetime.now(UTC)
        opened = GaugeMetricFamily("segflow_tasks_open", "Open tasks by kind.", labels=["kind"])
        overdue = GaugeMetricFamily(
            "segflow_tasks_overdue", "Overdue tasks by kind.", labels=["kind"]
        )
        breaches = GaugeMetricFamily("segflow_sla_breaches", "SLA breaches recorded.")
        rate = GaugeMetricFamily(
            "segflow_segmentation_last_customers_per_second",
            "Throughput of the last finished segmentation run.",
        )
        pending = GaugeMetricFamily(
            "segflow_outbox_pending", "Process transitions not yet applied to Temporal."
        )
        oldest = GaugeMetricFamily(
            "segflow_outbox_oldest_pending_seconds", "Age of the oldest pending transition."
        )
        failed = GaugeMetricFamily(
            "segflow_outbox_failed", "Transitions the relay could not apply (audited)."
        )
        with self._sessions() as s:
            depth = outbox.depth(s)
            pending.add_metric([], depth.pending)
            oldest.add_metric([], depth.oldest_age_seconds)
            failed.add_metric([], depth.failed)
            live = Task.status.in_(["open", "claimed"])
            for kind, n in s.execute(
                select(Task.kind, func.count()).where(live).group_by(Task.kind)
            ):
                opened.add_metric([kind], n)
            for kind, n in s.execute(
                select(Task.kind, func.count()).where(live, Task.due_at < now).group_by(Task.kind)
            ):
                overdue.add_metric([kind], n)
            breaches.add_metric(
                [],
                s.scalar(
                    select(func.count())
                    .select_from(AuditEntry)
                    .where(AuditEntry.action.like("%sla_breach%"))
                )
                or 0,
            )
            last = s.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "workflow.segmentation_done")
                .order_by(AuditEntry.seq.desc())
                .limit(1)
            ).one_or_none()
            if last is not None and last.detail.get("seconds"):
                rate.add_metric([], last.detail["customers"] / last.detail["seconds"])
        yield from (opened, overdue, breaches, rate, pending, oldest, failed)


def install(app: FastAPI, metrics: Metrics) -> None:
    """Time every request by its route template and serve /metrics."""

    @app.middleware("http")
    async def observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.requests.labels(request.method, path, str(response.status_code)).inc()
        metrics.latency.labels(request.method, path).observe(time.perf_counter() - start)
        return response

    from api.deps import require  # here: api.deps needs this module's Metrics type

    router = APIRouter(tags=["operations"])

    @router.get(
        "/metrics",
        summary="Prometheus metrics (auditor or supervisor token).",
        response_class=Response,
        dependencies=[Depends(require("auditor", "supervisor"))],
    )
    def scrape() -> Response:
        """Counters and histograms in the Prometheus text format. Give the scraper a token
        of its own principal with the auditor role."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)
