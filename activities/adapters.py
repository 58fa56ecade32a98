"""Channel adapters and external systems behind small interfaces, as Temporal activities.

SMS, WeChat, phone (95598), letters, announcements, the power-authority filing, meter
head-end orders (prepayment mode, disconnect, reconnect), CRM write-backs and billing all go
through here. The default adapters reach no real gateway: each request becomes one row of the
`outbox` table (what, to whom, when, idempotency key = workflow id + step + channel), which
tests, pages and auditors read. A retried activity finds its row and returns the same answer,
so a retry never sends a second notice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from store.models import Customer, OutboxMessage
from workflows.activity_payloads import ExternalRequest, ExternalResult, NoticeRequest, NoticeResult


class NoticeChannel(Protocol):
    """A channel that carries a message to one customer and may confirm delivery."""

    name: str

    def deliver(self, customer: Customer, template: str, data: dict[str, Any]) -> dict[str, Any]:
        """Hand the message over; the answer has `delivered` (bool) and `to` (the address)."""
        ...


class ExternalSystem(Protocol):
    """A system that accepts orders or filings (meter head-end, authority, CRM, billing)."""

    name: str

    def submit(self, customer_id: str, action: str, data: dict[str, Any]) -> dict[str, Any]:
        """Submit the request; the answer has `accepted` (bool)."""
        ...


@dataclass
class ContactChannel:
    """Default channel: confirms delivery when the customer has the contact it needs.

    `contact` None means the channel never confirms by itself (letters, announcements): a
    person then confirms delivery through a task.
    """

    name: str
    contact: str | None

    def deliver(self, customer: Customer, template: str, data: dict[str, Any]) -> dict[str, Any]:
        contacts = customer.contacts or {}
        to = contacts.get(self.contact) if self.contact else None
        if self.name == "sms" and contacts.get("sms_opt_in") is False:
            to = None
        return {"delivered": bool(to), "to": to}


@dataclass
class RecordingSystem:
    """Default external system: accepts every request (the outbox row is the request)."""

    name: str

    def submit(self, customer_id: str, action: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"accepted": True}


DEFAULT_CHANNELS: dict[str, NoticeChannel] = {
    c.name: c
    for c in (
        ContactChannel("sms", "phone"),
        ContactChannel("phone", "phone"),
        ContactChannel("call_95598", "phone"),
        ContactChannel("wechat", "wechat"),
        ContactChannel("app", "app"),
        ContactChannel("letter", None),
        ContactChannel("announcement", None),
    )
}
DEFAULT_SYSTEMS: dict[str, ExternalSystem] = {
    s.name: s
    for s in (
        RecordingSystem("meter_head_end"),
        RecordingSystem("power_authority"),
        RecordingSystem("crm"),
        RecordingSystem("billing"),
    )
}


def reference(key: str) -> str:
    """A short stable reference for an outbox row (what the adapters answer with)."""
    return "ob_" + hashlib.sha256(key.encode()).hexdigest()[:20]


class AdapterActivities:
    """The adapter activities, bound to the store and a registry of channels and systems."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        channels: dict[str, NoticeChannel] | None = None,
        systems: dict[str, ExternalSystem] | None = None,
    ) -> None:
        self._sessions = sessions
        self._channels = channels or DEFAULT_CHANNELS
        self._systems = systems or DEFAULT_SYSTEMS

    def _recorded(self, key: str) -> OutboxMessage | None:
        with self._sessions() as s:
            return s.scalars(select(OutboxMessage).where(OutboxMessage.key == key)).first()

    def _record(self, row: OutboxMessage) -> OutboxMessage:
        try:
            with self._sessions.begin() as s:
                s.add(row)
        except IntegrityError:  # a concurrent retry won the race: answer with its row
            found = self._recorded(row.key)
            assert found is not None
            return found
        return row

    @activity.defn(name="send_notice")
    def send_notice(self, req: NoticeRequest) -> NoticeResult:
        """Send the message over each channel once; report which confirmed delivery."""
        with self._sessions() as s:
            customer = s.get(Customer, req.customer_id)
        result = NoticeResult(delivered=False)
        for name in req.channels:
            key = f"{req.workflow_id}|{req.step}|{name}"
            row = self._recorded(key)
            if row is None:
                channel = self._channels.get(name)
                answer = (
                    channel.deliver(customer, req.template, req.data)
                    if channel is not None and customer is not None
                    else {"delivered": False, "to": None, "error": "unknown channel or customer"}
                )
                row = self._record(
                    OutboxMessage(
                        key=key,
                        adapter=name,
                        action=req.template,
                        customer_id=req.customer_id,
                        workflow_id=req.workflow_id,
                        payload={"at": req.at, "step": req.step, "data": req.data, **answer},
                    )
                )
            if row.payload.get("delivered"):
                result.delivered_channels.append(name)
            else:
                result.failed_channels.append(name)
        result.delivered = bool(result.delivered_channels)
        return result

    @activity.defn(name="external_request")
    def external_request(self, req: ExternalRequest) -> ExternalResult:
        """Submit an order or filing to an external system once (idempotent by key)."""
        key = f"{req.workflow_id}|{req.step}|{req.adapter}"
        row = self._recorded(key)
        if row is None:
            system = self._systems.get(req.adapter)
            answer = (
                system.submit(req.customer_id, req.action, req.data)
                if system is not None
                else {"accepted": False, "error": f"unknown system {req.adapter}"}
            )
            row = self._record(
                OutboxMessage(
                    key=key,
                    adapter=req.adapter,
                    action=req.action,
                    customer_id=req.customer_id,
                    workflow_id=req.workflow_id,
                    payload={"at": req.at, "step": req.step, "data": req.data, **answer},
                )
            )
        return ExternalResult(bool(row.payload.get("accepted")), reference(key))

    def all(self) -> list[Any]:
        """Every adapter activity, for the worker."""
        return [self.send_notice, self.external_request]
