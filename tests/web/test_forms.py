"""Schema -> form -> payload, without a browser: every task kind renders and parses."""

from __future__ import annotations

import pytest

from api.web import forms
from services.tasks import completion_issues
from workflows.task_kinds import TASK_KINDS, completion_errors, schema_for


def _errors(kind: str, payload: dict[str, object]) -> list[dict[str, object]]:
    """The problem document's `errors` for a refused completion (as the page receives them)."""
    return [i.to_json() for i in completion_issues(kind, payload)]


def _kinds(tree: list[forms.Field]) -> dict[str, str]:
    out = {}
    for f in tree:
        out[f.path] = f.kind
        out |= _kinds(f.children)
    return out


def test_callback_form_shape_and_payload() -> None:
    tree = forms.fields(schema_for("callback_call"))
    kinds = _kinds(tree)
    assert kinds["outcome"] == "radio" and kinds["note"] == "textarea"
    assert kinds["contacts"] == "group" and kinds["contacts/sms_opt_in"] == "checkbox"
    assert next(f for f in tree if f.key == "outcome").options == [
        "verified",
        "contact_updated",
        "unreachable",
    ]
    form = {"outcome": "contact_updated", "contacts/phone": " +86 139 1111 2222 ", "note": ""}
    payload = forms.parse(schema_for("callback_call"), form)
    # empty inputs and an unticked optional checkbox are left out
    assert payload == {"outcome": "contact_updated", "contacts": {"phone": "+86 139 1111 2222"}}
    assert completion_errors("callback_call", payload) == []


def test_missing_required_property_lands_beside_its_field() -> None:
    payload = forms.parse(schema_for("callback_call"), {"outcome": "contact_updated"})
    mapped = forms.error_map(_errors("callback_call", payload))
    assert mapped == {"contacts": ["is required"]}
    tree = forms.fields(schema_for("callback_call"), payload, mapped)
    assert next(f for f in tree if f.key == "contacts").errors == ["is required"]


def test_reinspection_rows_prefilled_from_the_hazards() -> None:
    context = {"hazards": [{"hazard_id": "HZ1", "severity": "serious"}, {"hazard_id": "HZ2"}]}
    tree = forms.fields(schema_for("reinspection"), context=context)
    results = next(f for f in tree if f.key == "results")
    assert results.kind == "rows" and len(results.children) == 2
    assert [r.children[0].value for r in results.children] == ["HZ1", "HZ2"]
    form = {
        "_rows/results": "3",
        "results/0/hazard_id": "HZ1",
        "results/0/fixed": "on",
        "results/1/hazard_id": "HZ2",
        "results/2/note": "",
    }
    payload = forms.parse(schema_for("reinspection"), form)
    # a required checkbox left unticked is false; an untouched extra row is dropped
    assert payload == {
        "results": [{"hazard_id": "HZ1", "fixed": True}, {"hazard_id": "HZ2", "fixed": False}]
    }
    bad = forms.parse(schema_for("reinspection"), {"_rows/results": "1", "results/0/fixed": "on"})
    assert forms.error_map(_errors("reinspection", bad)) == {"results/0/hazard_id": ["is required"]}


def test_numbers_dates_and_lines() -> None:
    payload = forms.parse(
        schema_for("collection"),
        {"outcome": "paid_on_site", "amount_collected": "120.5", "promised_date": "2026-12-01"},
    )
    assert payload == {
        "outcome": "paid_on_site",
        "amount_collected": 120.5,
        "promised_date": "2026-12-01",
    }
    typo = forms.parse(
        schema_for("collection"), {"outcome": "paid_on_site", "amount_collected": "12o"}
    )
    assert typo["amount_collected"] == "12o"  # kept, so the schema names the field
    assert _kinds(forms.fields(schema_for("collection")))["promised_date"] == "date"
    visit = forms.parse(
        schema_for("key_account_visit"),
        {"outcome": "visited", "needs": "green channel\n\n backup power "},
    )
    assert visit["needs"] == ["green channel", "backup power"]


@pytest.mark.parametrize("kind", sorted(TASK_KINDS))
def test_every_kind_renders_and_its_errors_have_a_place(kind: str) -> None:
    """Kinds added later get a form too; the errors of an empty submission all map to a
    field (or to the form as a whole)."""
    schema = schema_for(kind)
    tree = forms.fields(schema)
    assert tree, f"{kind} renders no field"
    payload = forms.parse(schema, {})
    for path in forms.error_map(_errors(kind, payload)):
        assert path == "" or path in forms.placed(tree), (kind, path)


def test_error_map_places_by_path_and_code_never_by_text() -> None:
    errors = [
        {"path": "contacts", "message": "required when the outcome is contact_updated",
         "code": "missing"},
        {"path": "note", "message": "'note' is a required property", "code": "string_type"},
        {"path": "(root)", "message": "whole payload", "code": "model_type"},
    ]  # fmt: skip
    assert forms.error_map(errors) == {
        "contacts": ["is required"],
        "note": ["'note' is a required property"],  # shown as given, not parsed
        "": ["whole payload"],
    }
