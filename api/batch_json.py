"""The JSON body of a batch upsert's answer (`BatchOut`), written without a model per item.

A batch of 10,000 answers with 10,000 assignments (about 10 MB): building a pydantic model
per item and validating it again as the response took longer than storing the batch. The
assignments of a batch share a few hundred segment combinations, and an assignment's JSON
is its combination's JSON plus the customer id, so each combination is encoded once. The
result is the same document `BatchOut` describes (tests/test_batch_json.py compares them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from api.schemas import AssignmentOut, TransitionOut
from services.customers import BatchResult

_ASSIGNMENT_FIELDS = [f for f in AssignmentOut.model_fields if f != "customer_id"]
_TRANSITION_FIELDS = list(TransitionOut.model_fields)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _assignments(result: BatchResult) -> Iterable[str]:
    seen: dict[tuple[Any, ...], str] = {}
    for item in result.results:
        a = item.assignment
        if a is None:
            body = "null"
        else:
            key = (a["category"], a["abc_class"], tuple(a["tags"]), a["points_tier"],
                   a["policy_version"], id(a["actions"]), id(a["processes"]))  # fmt: skip
            rest = seen.get(key)
            if rest is None:
                rest = seen[key] = _dumps({f: a[f] for f in _ASSIGNMENT_FIELDS})[1:-1]
            body = '{"customer_id":' + _dumps(a["customer_id"]) + "," + rest + "}"
        yield (
            '{"index":' + str(item.index) + ',"customer_id":' + _dumps(item.customer_id)
            + ',"ok":' + ("true" if item.ok else "false") + ',"errors":' + _dumps(item.errors)
            + ',"assignment":' + body + "}"
        )  # fmt: skip


def batch_body(result: BatchResult) -> bytes:
    """UTF-8 JSON of `BatchOut` for `result`."""
    transitions = [{f: t.get(f) for f in _TRANSITION_FIELDS} for t in result.transitions]
    head = (
        f'{{"received":{result.received},"stored":{result.stored},"failed":{result.failed},'
        '"results":['
    )
    return (
        head + ",".join(_assignments(result)) + '],"transitions":' + _dumps(transitions) + "}"
    ).encode()
