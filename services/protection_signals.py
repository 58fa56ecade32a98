"""Telling Temporal about protection changes, after the store transaction committed.

The customer's running arrears ladders get `protection_changed` (a moratorium: every running
ladder); a registration with an end date gets its review workflow; a review decided through
the API is passed to that workflow. Temporal being away loses nothing that matters: the check
at the moment of each irreversible step reads the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from activities import policy_store
from store.models import Registration
from workflows.arrears_payloads import (
    ProtectionChanged,
    RegistrationReviewed,
    RegistrationReviewInput,
)

log = logging.getLogger(__name__)
SIGNAL_CONCURRENCY = 16
DEFAULT_REVIEW_AHEAD = 30 * 86400.0


def review_ahead_seconds(sessions: sessionmaker[Session]) -> float:
    """How long before a certificate ends its review opens (active policy; 30 days)."""
    with sessions() as s:
        try:
            bundle = policy_store.active_bundle(s)
        except LookupError:
            return DEFAULT_REVIEW_AHEAD
    return bundle.arrears.review_ahead_seconds if bundle.arrears else DEFAULT_REVIEW_AHEAD


async def schedule_review(
    client: Client, task_queue: str, row: Registration, ahead: float
) -> str | None:
    """Start (or keep) the registration's review workflow; None when Temporal is away (the
    registration protects regardless; starting again later is harmless)."""
    wid = f"registration:{row.registration_id}"
    inp = RegistrationReviewInput(
        row.registration_id, row.customer_id, row.kind, str(row.valid_to), ahead
    )
    try:
        await client.start_workflow(
            "registration_review",
            inp,
            id=wid,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except RPCError as err:
        log.warning("review of %s not scheduled (%s)", row.registration_id, err)
        return None
    return wid


async def review_decided(client: Client, row: Registration) -> None:
    """Tell the registration's review workflow that the API decided it."""
    signal = RegistrationReviewed(row.review_outcome or "", str(row.valid_to or ""))
    with contextlib.suppress(RPCError):  # no review running: nothing to tell
        await client.get_workflow_handle(f"registration:{row.registration_id}").signal(
            "reviewed", signal
        )


async def running_ladders(client: Client, customer_id: str | None) -> list[str]:
    """Ids of running arrears ladders (of one customer, or all for a moratorium)."""
    query = "ProcessKind = 'arrears' AND ExecutionStatus = 'Running'"
    if customer_id is not None:
        query = f"CustomerId = '{customer_id}' AND {query}"
    return [wf.id async for wf in client.list_workflows(query)]


async def signal_ladders(
    client: Client, customer_id: str | None, change: ProtectionChanged
) -> list[str]:
    """Tell the running ladders about a change (after the commit); returns those told.
    Temporal being down loses nothing: the check at the moment reads the store."""
    try:
        ids = await running_ladders(client, customer_id)
    except RPCError as err:
        log.warning("protection change not signalled (%s): the check at the moment applies", err)
        return []
    gate = asyncio.Semaphore(SIGNAL_CONCURRENCY)

    async def one(wid: str) -> str | None:
        async with gate:
            try:
                await client.get_workflow_handle(wid).signal("protection_changed", change)
                return wid
            except RPCError:
                return None  # ended meanwhile

    return [w for w in await asyncio.gather(*(one(w) for w in ids)) if w]
