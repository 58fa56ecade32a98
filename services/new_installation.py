"""A new installation or capacity change (业扩, paper 002): old arrears first, and a
prepayment meter where the strategy recommends one.

Old arrears on the customer's record block the application until they are cleared (the CRM
is told); a customer whose strategy sets `prepayment_recommended` (class C, arrears high
risk) gets a prepayment (cost-control) meter fitted with the installation (a meter head-end
order). Both are recorded as outbox requests keyed by the application, so a re-sent event
changes nothing twice; the caller commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import audit
from store.models import Assignment, Customer, OutboxMessage


def _order(
    s: Session, key: str, adapter: str, action: str, cid: str, payload: dict[str, Any]
) -> None:
    if s.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key)) is None:
        s.add(OutboxMessage(key=key, adapter=adapter, action=action, customer_id=cid,
                            payload=payload))  # fmt: skip


def check(s: Session, customer_id: str, application_id: str, actor: str) -> dict[str, Any]:
    """Decide the application's arrears and meter conditions; returns what was decided."""
    customer = s.get(Customer, customer_id)
    row = s.get(Assignment, customer_id)
    arrears = float(customer.arrears_amount or 0.0) if customer else 0.0
    prepay = bool(row and (row.actions or {}).get("prepayment_recommended"))
    prepay = prepay and not (customer.prepaid_meter if customer else False)
    out = {"application_id": application_id, "old_arrears": arrears,
           "blocked": arrears > 0, "prepayment_meter": prepay}  # fmt: skip
    base = f"new_installation:{customer_id}:{application_id}"
    if arrears > 0:
        _order(s, f"{base}|crm", "crm", "new_installation_blocked", customer_id,
               {"application_id": application_id, "old_arrears": arrears})  # fmt: skip
    if prepay:
        _order(s, f"{base}|meter", "meter_head_end", "fit_prepayment_meter", customer_id,
               {"application_id": application_id})  # fmt: skip
    audit.append(s, actor=actor, action="customer.new_installation",
                 target=f"customer:{customer_id}", customer_id=customer_id, detail=out)  # fmt: skip
    return out
