"""The points ledger (paper 003): earn by rule, expire first-in-first-out, redeem with a
balance check; every movement idempotent by its key and audited.

Earned points (and the CRM's figure, taken once as an opening balance) are lots with a
`remaining` count and an expiry (`points.yaml` `ledger.expire_after`). A redemption spends the
oldest unexpired lots first; expiry zeroes what is left of lots past their time. The balance
is kept in `points_accounts` (CHECK balance >= 0) and equals the sum of `remaining`.
`points_12m` (points EARNED in the last 12 months, the tier's input) is computed from the
ledger and written to the customer record, which a CRM upsert never overwrites.

Concurrency: every operation first takes the customer's account row (an UPDATE: a row lock on
PostgreSQL; SQLite transactions already begin IMMEDIATE), so two redemptions of one customer
run one after the other and neither can spend a lot twice or drive the balance below zero.
Callers commit (the session's transaction holds the whole movement).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

import rules
from services import access
from store import audit
from store.credentials import Principal
from store.models import Assignment, Customer, PointsAccount, PointsMovement

YEAR = timedelta(days=365)
_PARAMS = 30_000  # bound parameters per multi-row INSERT (SQLite allows 32,766)


class PointsError(Exception):
    """A refused movement: `code` (not_eligible, insufficient, unknown_service, conflict),
    `path` of the offending input, and a message."""

    def __init__(self, code: str, path: str, message: str) -> None:
        super().__init__(message)
        self.code, self.path, self.message = code, path, message


@dataclass(frozen=True)
class Movement:
    """The API form of one ledger row, with the balance after it."""

    key: str
    kind: str
    points: int
    source: str
    at: datetime
    balance: int
    duplicate: bool = False
    detail: dict[str, Any] | None = None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _lock(s: Session, customer_id: str, now: datetime) -> None:
    """Create the account if needed and take its row (serialises this customer's movements)."""
    values = {"customer_id": customer_id, "balance": 0, "updated_at": now}
    ins = _insert(s, cast(Table, PointsAccount.__table__))
    s.execute(ins.values(**values).on_conflict_do_nothing(index_elements=["customer_id"]))
    s.execute(
        update(PointsAccount).where(PointsAccount.customer_id == customer_id).values(updated_at=now)
    )


def may_serve(s: Session, principal: Principal, row: Customer) -> bool:
    """Object check of the points endpoints and page: CRM, supervisors and auditors serve
    every customer; an agent the ones it has a task for or is the named account manager of."""
    if access.may_read_customer(s, principal, row.customer_id):
        return True
    return bool((row.contacts or {}).get("account_manager") == principal.name)


def balance(s: Session, customer_id: str) -> int:
    """The customer's current balance."""
    return int(
        s.scalar(select(PointsAccount.balance).where(PointsAccount.customer_id == customer_id)) or 0
    )


def _existing(s: Session, key: str, customer_id: str, kind: str) -> Movement | None:
    row = s.scalar(select(PointsMovement).where(PointsMovement.key == key))
    if row is None:
        return None
    if row.customer_id != customer_id or row.kind != kind:
        raise PointsError("conflict", "key", f"key {key!r} was used for another movement")
    return Movement(row.key, row.kind, row.points, row.source, _aware(row.at),
                    balance(s, customer_id), duplicate=True, detail=row.detail)  # fmt: skip


def _record(
    s: Session, customer_id: str, key: str, kind: str, points: int, source: str, actor: str,
    now: datetime, detail: dict[str, Any], expires_at: datetime | None = None,
) -> Movement:  # fmt: skip
    lot = kind in ("opening", "earn")
    s.add(PointsMovement(customer_id=customer_id, key=key, kind=kind, points=points,
                         remaining=points if lot else 0, source=source, at=now,
                         expires_at=expires_at, actor=actor, detail=detail))  # fmt: skip
    s.execute(
        update(PointsAccount)
        .where(PointsAccount.customer_id == customer_id)
        .values(balance=PointsAccount.balance + points)
    )
    after = balance(s, customer_id)
    audit.append(s, actor=actor, action=f"points.{kind}", target=f"customer:{customer_id}",
                 customer_id=customer_id, request_id=key[:64],
                 detail={"key": key, "points": points, "source": source, "balance": after,
                         **detail})  # fmt: skip
    _write_12m(s, customer_id, now)
    return Movement(key, kind, points, source, now, after, detail=detail)


def earned_12m(s: Session, customer_id: str, now: datetime | None = None) -> int:
    """Points earned (opening balance included) in the 12 months before `now`."""
    since = (now or datetime.now(UTC)) - YEAR
    total = s.scalar(
        select(func.coalesce(func.sum(PointsMovement.points), 0)).where(
            PointsMovement.customer_id == customer_id,
            PointsMovement.kind.in_(["opening", "earn"]),
            PointsMovement.at >= since,
        )
    )
    return int(total or 0)


def _write_12m(s: Session, customer_id: str, now: datetime) -> None:
    s.flush()
    customer = s.get(Customer, customer_id)
    if customer is not None:
        customer.points_12m = earned_12m(s, customer_id, now)


def _expiry(bundle: rules.Bundle, now: datetime) -> datetime:
    return now + rules.parse_duration(bundle.points.expire_after)


def open_balance(
    s: Session, bundle: rules.Bundle, customer_id: str, points: int, actor: str,
    now: datetime | None = None,
) -> Movement | None:  # fmt: skip
    """The CRM's points figure, once per customer, as an opening lot (never a reset)."""
    now = now or datetime.now(UTC)
    if points <= 0:
        return None
    _lock(s, customer_id, now)
    key = f"opening:{customer_id}"
    found = _existing(s, key, customer_id, "opening")
    if found is not None:
        return found
    return _record(s, customer_id, key, "opening", points, "crm", actor, now, {},
                   _expiry(bundle, now))  # fmt: skip


@dataclass(frozen=True)
class Opened:
    """Opening lots booked by `open_balances`: how many, how many points, and a digest of
    the (customer id, points) pairs (what an audit entry records of a batch)."""

    customers: int
    points: int
    digest: str

    def to_json(self) -> dict[str, Any]:
        """The audit detail form."""
        return {"customers": self.customers, "points": self.points, "digest": self.digest}


def open_balances(
    s: Session, bundle: rules.Bundle, records: Sequence[Mapping[str, Any]], actor: str,
    now: datetime | None = None, *, audited: bool = True, request_id: str | None = None,
) -> Opened:  # fmt: skip
    """The CRM's points figure of NEW customers as their opening lots, set-based: one
    multi-row INSERT into the ledger (ON CONFLICT on the key: once per customer, never a
    reset) and one into the accounts, whatever the number of customers; one audit entry
    for the call (`audited=False`: the caller's own entry carries `Opened.to_json()`).

    `records` are customers stored in this transaction that have no ledger yet (created now:
    nothing can earn points before a customer has an assignment), so their `points_12m`
    already equals what the ledger says and is not rewritten."""
    now = now or datetime.now(UTC)
    lots = {str(r["customer_id"]): int(r.get("points_12m") or 0) for r in records}
    lots = {cid: n for cid, n in sorted(lots.items()) if n > 0}
    if not lots:
        return Opened(0, 0, audit.digest([]))
    expires = _expiry(bundle, now)
    rows = [{"customer_id": cid, "key": f"opening:{cid}", "kind": "opening", "points": n,
             "remaining": n, "source": "crm", "at": now, "expires_at": expires,
             "actor": actor, "detail": {}} for cid, n in lots.items()]  # fmt: skip
    ledger = cast(Table, PointsMovement.__table__)
    # executemany of one cached statement: SQLAlchemy batches it into multi-row INSERTs
    # ("insertmanyvalues", RETURNING included) without compiling a VALUES clause per call
    ins = _insert(s, ledger).on_conflict_do_nothing(index_elements=["key"])
    ins = ins.execution_options(insertmanyvalues_page_size=_PARAMS // len(rows[0]))
    returned = s.execute(ins.returning(ledger.c.customer_id, ledger.c.points), rows)
    opened = {str(cid): int(n) for cid, n in returned}
    if not opened:
        return Opened(0, 0, audit.digest([]))
    accounts = cast(Table, PointsAccount.__table__)
    pairs = sorted(opened.items())
    values = [{"customer_id": cid, "balance": n, "updated_at": now} for cid, n in pairs]
    up = _insert(s, accounts)
    up = up.on_conflict_do_update(
        index_elements=["customer_id"],
        set_={
            "balance": accounts.c.balance + up.excluded.balance,
            "updated_at": up.excluded.updated_at,
        },
    )
    s.execute(up.execution_options(insertmanyvalues_page_size=_PARAMS // 3), values)
    done = Opened(len(pairs), sum(opened.values()), audit.digest(pairs))
    if audited:
        audit.append(s, actor=actor, action="points.opening", target="customers",
                     request_id=request_id, policy_version=bundle.version,
                     detail=done.to_json())  # fmt: skip
    return done


def _insert(s: Session, table: Table) -> Any:
    """The dialect's INSERT (ON CONFLICT is dialect-specific)."""
    dialect = s.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def earn(
    s: Session, bundle: rules.Bundle, award: rules.PointsAward, key: str, actor: str,
    now: datetime | None = None,
) -> Movement | None:  # fmt: skip
    """Book an award (top-up tier x channel, survey, feedback); None when the customer's
    category does not earn points under the policy."""
    now = now or datetime.now(UTC)
    cid = award.customer_id
    row = s.get(Assignment, cid)
    if row is None or row.category not in bundle.points.eligible_categories:
        return None
    if award.points <= 0:
        return None
    _lock(s, cid, now)
    found = _existing(s, key, cid, "earn")
    if found is not None:
        return found
    detail = {"rule_id": award.rule_id, "policy_version": award.policy_version, **award.detail}
    return _record(s, cid, key, "earn", award.points, award.event_type, actor, now, detail,
                   _expiry(bundle, now))  # fmt: skip


def _spend(s: Session, customer_id: str, points: int, now: datetime) -> list[dict[str, int]]:
    """Take `points` from the oldest unexpired lots; returns [{lot, points}]."""
    lots = s.scalars(
        select(PointsMovement)
        .where(PointsMovement.customer_id == customer_id, PointsMovement.remaining > 0)
        .order_by(PointsMovement.at, PointsMovement.id)
    ).all()
    taken: list[dict[str, int]] = []
    left = points
    for lot in lots:
        if left == 0:
            break
        if lot.expires_at is not None and _aware(lot.expires_at) <= now:
            continue  # expired: only expire() may take it
        n = min(left, lot.remaining)
        lot.remaining -= n
        left -= n
        taken.append({"lot": lot.id, "points": n})
    if left:
        raise PointsError("insufficient", "body.points", f"{left} points short in unexpired lots")
    return taken


def redeem(
    s: Session, bundle: rules.Bundle, customer_id: str, key: str, actor: str, *,
    bill_credit_yuan: float | None = None, service: str | None = None,
    now: datetime | None = None,
) -> Movement:  # fmt: skip
    """Redeem as a bill credit (yuan) or a service, spending the oldest lots first.

    A customer whose strategy sets `free_extended_services` gets `extended` services for 0
    points. Raises PointsError (insufficient, unknown_service, conflict)."""
    now = now or datetime.now(UTC)
    rules_ = bundle.points
    if service is not None:
        spec = rules_.services.get(service)
        if spec is None:
            known = ", ".join(sorted(rules_.services))
            raise PointsError("unknown_service", "body.service", f"one of {known}, not {service!r}")
        row = s.get(Assignment, customer_id)
        actions = row.actions if row is not None else {}
        free = bool(spec.get("extended")) and bool(actions.get("free_extended_services"))
        cost, source = (0 if free else int(spec["points"])), f"service:{service}"
        detail: dict[str, Any] = {"service": service, "free_extended_service": free}
    elif bill_credit_yuan is not None:
        cost = round(bill_credit_yuan * rules_.bill_credit_points_per_yuan)
        source, detail = "bill_credit", {"credit_yuan": bill_credit_yuan}
    else:
        raise PointsError("invalid", "body", "give bill_credit_yuan or service")
    _lock(s, customer_id, now)
    found = _existing(s, key, customer_id, "redeem")
    if found is not None:
        return found
    expire(s, customer_id, "system", now)  # lots past their time are never spent
    have = balance(s, customer_id)
    if cost > have:
        raise PointsError("insufficient", "body", f"needs {cost} points, balance is {have}")
    detail["lots"] = _spend(s, customer_id, cost, now)
    return _record(s, customer_id, key, "redeem", -cost, source, actor, now, detail)


def expire(
    s: Session, customer_id: str, actor: str = "system", now: datetime | None = None
) -> list[Movement]:
    """Expire what is left of the customer's lots past their time (oldest first)."""
    now = now or datetime.now(UTC)
    _lock(s, customer_id, now)
    lots = s.scalars(
        select(PointsMovement)
        .where(
            PointsMovement.customer_id == customer_id,
            PointsMovement.remaining > 0,
            PointsMovement.expires_at <= now,
        )
        .order_by(PointsMovement.at, PointsMovement.id)
    ).all()
    out: list[Movement] = []
    for lot in lots:
        n, lot.remaining = lot.remaining, 0
        out.append(
            _record(
                s,
                customer_id,
                f"expire:{lot.id}",
                "expire",
                -n,
                "expiry",
                actor,
                now,
                {"lot": lot.id},
            )
        )
    return out


def expire_due(s: Session, now: datetime | None = None, limit: int = 1000) -> list[str]:
    """Customers with lots past their time (a batch for a periodic expiry run)."""
    now = now or datetime.now(UTC)
    rows = s.scalars(
        select(PointsMovement.customer_id)
        .where(PointsMovement.remaining > 0, PointsMovement.expires_at <= now)
        .distinct()
        .limit(limit)
    )
    return list(rows)


def statement(s: Session, customer_id: str, limit: int = 100) -> list[PointsMovement]:
    """The customer's latest movements, newest first."""
    q = (
        select(PointsMovement)
        .where(PointsMovement.customer_id == customer_id)
        .order_by(PointsMovement.at.desc(), PointsMovement.id.desc())
        .limit(limit)
    )
    return list(s.scalars(q))
