"""Who owns each customer field (paper 004's feedback loop): the CRM or segflow.

The CRM owns the master data it sends (identity, category, tariff, capacity, contacts,
revenue, payment behaviour). segflow owns what its processes learn: the points ledger's
`points_12m`, hazards found and closed (`open_hazards`), theft cases (`theft_records_24m`),
outages experienced (`outage_count_12m`, `outage_minutes_12m`). A CRM upsert of an existing
customer never overwrites a segflow-owned field; the CRM's value is taken only when the
customer is first created (an opening figure). Contact corrections learnt by call-backs and
record verifications are written to the record AND sent to the CRM through its adapter, so
the CRM's next upsert carries them.
"""

from __future__ import annotations

from typing import Any, Final

SEGFLOW_OWNED: Final[dict[str, str]] = {
    "points_12m": "points ledger: points earned in the last 12 months (services/points.py)",
    "open_hazards": "hazard processes: found at inspection, closed at re-inspection",
    "theft_records_24m": "account-closure inspections: theft / tampering cases found",
    "outage_count_12m": "planned outages carried out on the customer's feeder",
    "outage_minutes_12m": "minutes of those outages",
}


def keep_owned(
    stored: dict[str, Any] | None, incoming: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """`incoming` with segflow-owned fields replaced by the stored values (when the customer
    exists); returns it and the fields whose CRM value was ignored."""
    if stored is None:
        return dict(incoming), []
    merged = dict(incoming)
    ignored: list[str] = []
    for name in SEGFLOW_OWNED:
        if name in stored:
            if name in incoming and incoming[name] != stored[name]:
                ignored.append(name)
            merged[name] = stored[name]
    return merged, ignored
