"""Schema -> form -> payload, without a browser: every task kind renders and parses."""

from __future__ import annotations

import pytest

from api.web import forms
from workflows.task_kinds import TASK_KINDS, schema_for
from workflows.tasks import completion_errors


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
    errors = [
        {"path": e.split(": ", 1)[0], "message": e.split(": ", 1)[1]}
        for e in completion_errors("callback_call", payload)
    ]
    mapped = forms.error_map(errors)
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
    errors = [
        {"path": e.split(": ", 1)[0], "message": e.split(": ", 1)[1]}
        for e in completion_errors("reinspection", bad)
    ]
    assert "results/0/hazard_id" in forms.error_map(errors)


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
    errors = [
        {"path": e.split(": ", 1)[0], "message": e.split(": ", 1)[1]}
        for e in completion_errors(kind, payload)
    ]
    for path in forms.error_map(errors):
        assert path == "" or path in forms.placed(tree), (kind, path)
