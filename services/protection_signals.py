"""Telling the running arrears ladders about protection changes, after the commit.

The customer's running ladders get `protection_changed` (a moratorium: every running ladder).
Temporal being away loses nothing that matters: the check at the moment of each irreversible
step reads the store. (A registration's review workflow is started, and told of a decision,
through the outbox: services/registration_reviews.py.)
"""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client
from temporalio.service import RPCError

from workflows.arrears_payloads import ProtectionChanged

log = logging.getLogger(__name__)
SIGNAL_CONCURRENCY = 16


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
