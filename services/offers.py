"""What the person serving a customer should offer or do, from the customer's strategy.

Shown beside every task of the customer (the task page's customer card): a C-class customer
is offered acceptance by telephone, paid services and a prepayment meter; a silent customer is
guided to the online channels; the strategy's push topics are listed; an outage-sensitive
customer's one-file outage archive (its outage count and minutes) is at hand. The page
translates the offer keys (api/web/pages_strategies.py).
"""

from __future__ import annotations

from typing import Any

# action -> offer key, in the order the card lists them
FLAGS: tuple[tuple[str, str], ...] = (
    ("telephone_acceptance", "telephone_acceptance"),
    ("paid_services", "paid_services"),
    ("prepayment_recommended", "prepayment_recommended"),
    ("channel_guidance", "channel_guidance"),
)


def offers(actions: dict[str, Any], record: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The offers of a customer's merged actions: [{key, detail}]."""
    out: list[dict[str, Any]] = [
        {"key": key, "detail": None} for action, key in FLAGS if actions.get(action)
    ]
    topics = actions.get("info_push_topics") or []
    if topics:
        out.append({"key": "info_push_topics", "detail": list(topics)})
    if actions.get("outage_archive"):
        rec = record or {}
        out.append(
            {
                "key": "outage_archive",
                "detail": {
                    "outage_count_12m": rec.get("outage_count_12m", 0),
                    "outage_minutes_12m": rec.get("outage_minutes_12m", 0.0),
                },
            }
        )
    return out
