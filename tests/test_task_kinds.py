"""Task completion models (workflows/task_kinds.py, workflows/task_models.py): NaN and
Infinity refused wherever a number can sit, unknown keys and nulls refused, an outcome's
required fields reported at each field, every issue carries a path and a code (no text to
parse), and the published JSON Schema says what the model enforces."""

from __future__ import annotations

import math
from typing import Any

import pytest

from services.scenario import Answer
from services.simulate import completion
from services.tasks import TaskError, completion_issues
from workflows.task_kinds import TASK_KINDS, completion_errors, schema_for


def _issues(kind: str, result: dict[str, Any]) -> set[tuple[str, str]]:
    return {(i.path, i.code) for i in completion_errors(kind, result)}


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused_with_their_path(bad: float) -> None:
    assert _issues("collection", {"outcome": "paid_on_site", "amount_collected": bad}) == {
        ("amount_collected", "finite_number")
    }
    # also inside the free-form supply record (any JSON, but never a non-finite number)
    supply = {"outcome": "verified", "supply": {"feeders": [{"kva": bad}]}}
    assert _issues("record_verification", supply) == {("supply", "finite_number")}
    rows = {"results": [{"hazard_id": "H1", "fixed": True}], "note": bad}
    assert ("note", "string_type") in _issues("reinspection", rows)


def test_the_service_turns_issues_into_a_422_domain_error_shape() -> None:
    issues = completion_issues("final_meter_reading", {"outcome": "read", "reading_kwh": math.nan})
    assert [i.to_json() for i in issues] == [
        {"path": "reading_kwh", "message": "Input should be a finite number",
         "code": "finite_number"}
    ]  # fmt: skip
    err = TaskError("invalid", "Invalid completion", issues)
    assert err.status == 422 and err.errors_json() == [i.to_json() for i in issues]


def test_strict_types_unknown_keys_and_nulls() -> None:
    assert _issues("electrician_training", {"outcome": "trained", "participants": "3"}) == {
        ("participants", "int_type")
    }
    assert _issues("special_inspection", {"outcome": "no_access", "backup_power_compliant": 1}) == {
        ("backup_power_compliant", "bool_type")
    }
    assert _issues("disconnection", {"outcome": "disconnected", "by": "me"}) == {
        ("by", "extra_forbidden")
    }
    assert _issues("callback_call", {"outcome": "verified", "note": None}) == {
        ("note", "string_type")
    }
    assert _issues("collection", {"outcome": "promised", "promised_date": "tomorrow"}) == {
        ("promised_date", "date_parsing")
    }
    assert _issues("reinspection", {"results": [{"hazard_id": "H1", "fixed": "yes"}]}) == {
        ("results/0/fixed", "bool_type")
    }


@pytest.mark.parametrize("when", ["1764748800", "tomorrow", "2026-12-03T08:00:00 Beijing"])
def test_a_date_time_is_what_the_workflow_can_read(when: str) -> None:
    # the outage workflow reads the moved window with datetime.fromisoformat: a numeric text
    # (a Unix timestamp to pydantic's own parser) must not get that far
    moved = {"outcome": "moved", "starts_at": when, "ends_at": "2026-12-03T12:00:00+08:00"}
    assert _issues("outage_plan_review", moved) == {("starts_at", "datetime_parsing")}


def test_an_outcome_requires_its_fields_at_each_field() -> None:
    assert _issues("closure_inspection", {"outcome": "tampering"}) == {
        ("evidence", "missing"),
        ("back_billing", "missing"),
    }
    assert _issues("closure_inspection", {"outcome": "no_issue"}) == set()
    assert _issues(
        "outage_plan_review", {"outcome": "moved", "starts_at": "2026-12-03T08:00Z"}
    ) == {("ends_at", "missing")}
    assert _issues("callback_call", {"outcome": "contact_updated", "contacts": {}}) == {
        ("contacts", "too_short")
    }


@pytest.mark.parametrize("kind", sorted(TASK_KINDS))
def test_each_kind_schema_matches_its_model(kind: str) -> None:
    schema, model = schema_for(kind), TASK_KINDS[kind]["model"]
    assert "$ref" not in repr(schema) and "anyOf" not in repr(schema)  # plain, self-contained
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(model.model_fields)
    assert set(schema.get("required", [])) == {
        n for n, f in model.model_fields.items() if f.is_required()
    }
    rules = {r["if"]["properties"]["outcome"]["const"]: r["then"]["required"]
             for r in schema.get("allOf", [])}  # fmt: skip
    assert rules == {k: list(v) for k, v in model.WHEN.items()}
    # a valid completion of each kind (as the simulation builds it) passes, and the payload
    # the workflow receives is the one sent: nothing added by the model
    enum = schema["properties"].get("outcome", {}).get("enum", [])
    plain = next((o for o in enum if o not in model.WHEN), None)  # one that requires nothing
    result = completion(kind, {"hazards": [{"hazard_id": "H7"}]}, Answer(outcome=plain))
    assert completion_errors(kind, result) == []
    assert model.model_validate(result).model_dump(mode="json") == result
