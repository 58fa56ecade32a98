"""The batch upsert's hand-written answer (api/batch_json.py) is the document BatchOut
describes: same values as the pydantic model built item by item, for good and bad records."""

from __future__ import annotations

import json
from typing import Any

from activities import policy_store
from activities.population import demo_records
from api.batch_json import batch_body
from api.schemas import AssignmentOut, BatchItem, BatchOut, TransitionOut
from config import ROOT
from services import customers
from store import db


def _model(done: customers.BatchResult) -> dict[str, Any]:
    out = BatchOut(
        received=done.received,
        stored=done.stored,
        failed=done.failed,
        results=[
            BatchItem(index=r.index, customer_id=r.customer_id, ok=r.ok, errors=r.errors,
                      assignment=AssignmentOut(**r.assignment) if r.assignment else None)
            for r in done.results
        ],
        transitions=[TransitionOut(**t) for t in done.transitions],
    )  # fmt: skip
    return out.model_dump(mode="json")


def test_batch_body_is_the_batch_out_document(store_url: str) -> None:
    engine = db.make_engine(store_url)
    sessions = db.session_factory(engine)
    with sessions.begin() as s:
        policy_store.activate_directory(s, ROOT / "policies", "test")
    good = demo_records(300)
    bad: list[Any] = [{"customer_id": "X1", "voltage_kv": "high"}, "not an object",
                      {"name": "no id"}]  # fmt: skip
    records: list[Any] = [*good[:100], *bad, *good[100:]]
    with sessions() as s:
        done = customers.batch(s, lambda b: None, records, "crm", "req-1")  # type: ignore[arg-type,return-value]
    engine.dispose()
    body = batch_body(done)
    assert json.loads(body) == _model(done)
    doc = json.loads(body)
    assert doc["failed"] == 3 and doc["stored"] == 300
    assert [r["index"] for r in doc["results"] if not r["ok"]] == [100, 101, 102]
    assert doc["results"][101]["errors"][0]["message"]
    assert len(doc["transitions"]) > 0
    assert all(r["assignment"]["customer_id"] == r["customer_id"]
               for r in doc["results"] if r["ok"])  # fmt: skip
