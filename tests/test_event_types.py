"""The CRM event union (services/event_types.py): every event type is a member that
round-trips, refusals name `data.<field>` / `type`, the digest is the one stored before the
union, and the OpenAPI schema exposes each type's data through the discriminator mapping."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from pydantic import BaseModel

from api.main import create_app
from services import event_types
from services.errors import Invalid
from store import audit

# one valid `data` per event type; a type added to the union without an example fails below
EXAMPLES: dict[str, dict[str, Any]] = {
    "bill_overdue": {"bill_id": "B1", "amount": 320},
    "payment_received": {"amount": 12.5, "channel": "counter", "bill_id": "B1", "settled": True,
                         "remaining": 0.0, "payment_id": "P9"},
    "payment_plan_agreed": {"bill_id": "B1", "instalments": 6},
    "instalment_missed": {"bill_id": "B1"},
    "closure_requested": {"request_id": "R1"},
    "inspection_findings": {"inspection_id": "I1", "hazards": [
        {"hazard_id": "H1", "description": "bare wire", "severity": "serious"}]},
    "rectification_reported": {"inspection_id": "I1", "hazard_ids": ["H1"]},
    "complaint": {"topic": "outage"},
    "planned_outage": {"feeder_id": "F1", "outage_id": "O1", "starts_at": "2026-12-03T08:00:00Z",
                       "ends_at": "2026-12-03T12:00:00+08:00"},
    "service_request": {"request_id": "R2", "subject": "capacity_change"},
    "new_installation": {"application_id": "A1"},
    "life_support_registered": {"registration_id": "L1", "kind": "medical",
                                "certificate_ref": "C-1", "certified_by": "Dr. Li",
                                "valid_from": "2026-01-01", "valid_to": "2027-01-01"},
    "bill_disputed": {"hold_id": "D1", "bill_id": "B1", "reference": "case 7"},
    "hardship_application": {"hold_id": "HA1"},
    "hold_resolved": {"hold_id": "D1", "resolution": "upheld"},
}  # fmt: skip


def _body(etype: str, data: Any, **extra: Any) -> dict[str, Any]:
    return {"event_id": f"ev-{etype}", "type": etype, "customer_id": "C1", "data": data, **extra}


def _paths(body: dict[str, Any]) -> set[str]:
    with pytest.raises(Invalid) as err:
        event_types.parse(body)
    return {i.path for i in err.value.issues}


def test_every_event_type_has_an_example() -> None:
    assert set(EXAMPLES) == set(event_types.DATA) == set(event_types.MEMBERS)


@pytest.mark.parametrize("etype", sorted(EXAMPLES))
def test_each_member_round_trips(etype: str) -> None:
    event = event_types.parse(_body(etype, EXAMPLES[etype]))
    assert type(event) is event_types.MEMBERS[etype] and event.type == etype
    assert isinstance(event.data, event_types.DATA[etype])
    assert event.sent == EXAMPLES[etype]  # kept as sent, for the audit entry and the digest
    again = event_types.parse(event.model_dump(mode="json"))
    assert again.model_dump() == event.model_dump() and again.data == event.data


def test_data_is_typed_not_a_dict() -> None:
    outage = event_types.parse(_body("planned_outage", EXAMPLES["planned_outage"]))
    assert isinstance(outage.data, BaseModel)
    assert outage.data.starts_at == datetime.fromisoformat("2026-12-03T08:00:00+00:00")
    assert outage.data.reason == "planned maintenance"  # the model's default


def test_unknown_or_missing_type_names_type() -> None:
    assert _paths(_body("meter_exploded", {})) == {"type"}
    assert _paths({"event_id": "e", "data": {}}) == {"type"}


@pytest.mark.parametrize(
    ("etype", "data", "path"),
    [
        ("bill_overdue", {"bill_id": "B1", "amount": "5"}, "data.amount"),  # no text as number
        ("payment_received", {"amount": 5, "channel": "online", "settled": "yes"},
         "data.settled"),
        ("inspection_findings", {"inspection_id": "I1", "hazards": [
            {"hazard_id": "H1", "description": "x", "severity": "extreme"}]},
         "data.hazards.0.severity"),
        ("planned_outage", {"feeder_id": "F1", "outage_id": "O1", "starts_at": 1764748800,
                            "ends_at": "2026-12-03T12:00:00Z"}, "data.starts_at"),
        ("life_support_registered", {"registration_id": "L1", "certificate_ref": "C",
                                     "certified_by": "D", "valid_from": "someday"},
         "data.valid_from"),
        ("hold_resolved", {"hold_id": "D1", "resolution": "ok", "extra": 1}, "data.extra"),
        ("complaint", "outage", "data"),
    ],
)  # fmt: skip
def test_a_bad_field_names_its_path(etype: str, data: Any, path: str) -> None:
    assert path in _paths(_body(etype, data))


def test_envelope_errors_name_the_envelope_field() -> None:
    assert _paths(_body("complaint", {"topic": "outage"}, event_id="")) == {"event_id"}


def test_digest_is_the_digest_stored_before_the_union() -> None:
    # before the union the envelope was dumped with `data` as the client sent it
    body = _body("bill_overdue", {"amount": 5, "bill_id": "B1"})
    before = {"event_id": body["event_id"], "type": "bill_overdue", "customer_id": "C1",
              "occurred_at": None, "data": {"amount": 5, "bill_id": "B1"}}  # fmt: skip
    assert event_types.parse(body).digest() == audit.digest(before)
    other = _body("bill_overdue", {"amount": 5.5, "bill_id": "B1"})
    assert event_types.parse(other).digest() != audit.digest(before)


def test_openapi_shows_each_type_through_the_discriminator() -> None:
    spec = create_app().openapi()
    schema = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    mapping = schema["discriminator"]["mapping"]
    assert schema["discriminator"]["propertyName"] == "type"
    assert set(mapping) == set(event_types.DATA)
    components = spec["components"]["schemas"]
    for etype, ref in mapping.items():
        member = components[ref.rsplit("/", 1)[1]]
        assert member["properties"]["type"]["const"] == etype
        data = components[member["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
        assert set(data["properties"]) == set(event_types.DATA[etype].model_fields), etype
        assert data["additionalProperties"] is False
