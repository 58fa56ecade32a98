"""HTML forms generated from a task kind's completion JSON Schema, and back again.

`fields` turns the schema into a tree of `Field`s the template renders (enum -> radio or
select, string -> input or textarea, number -> number input, boolean -> checkbox, object ->
fieldset, array of objects -> repeated fieldsets, array of strings -> one per line).
`parse` turns the submitted form into the completion payload; it never judges validity: the
payload goes to the API's completion function, whose issues (`path`, `message`, `code`) are
put beside their fields by `error_map` (by path; by code where the page has its own words).

Form names are the JSON pointer of the value without the leading slash (`contacts/phone`,
`results/0/fixed`); `_rows/<path>` carries how many rows an array of objects showed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from api.web.i18n import N_

RADIO_MAX = 4  # up to this many options fit as radio buttons on a phone; more use a select
TEXTAREA_MIN = 500  # strings allowed to be longer than this get a textarea
REQUIRED = N_("is required")


@dataclass
class Field:
    """One form control (or group of controls) for a schema property."""

    path: str
    key: str
    kind: str  # radio select text textarea number date checkbox lines group rows
    required: bool = False
    options: list[str] = field(default_factory=list)
    value: Any = None
    children: list[Field] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    description: str = ""

    @property
    def dom_id(self) -> str:
        """An id usable in HTML (`for`, `aria-describedby`)."""
        return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.path)


def _kind(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "radio" if len(schema["enum"]) <= RADIO_MAX else "select"
    typ = schema.get("type")
    if typ == "object":
        return "group"
    if typ == "array":
        items = schema.get("items", {})
        return "rows" if items.get("type") == "object" else "lines"
    if typ == "boolean":
        return "checkbox"
    if typ in ("number", "integer"):
        return "number"
    if schema.get("format") == "date":
        return "date"
    if schema.get("maxLength", 0) > TEXTAREA_MIN:
        return "textarea"
    return "text"


def _prefill_rows(items: dict[str, Any], context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows pre-filled from the task context: a list of records sharing a required key with
    the row schema (a re-inspection's hazards give one row per hazard_id)."""
    keys = [k for k in items.get("required", []) if items["properties"][k].get("type") == "string"]
    for value in context.values():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            shared = [k for k in keys if all(k in v for v in value)]
            if shared:
                return [{k: v[k] for k in shared} for v in value]
    return []


def fields(
    schema: dict[str, Any],
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, list[str]] | None = None,
    context: Mapping[str, Any] | None = None,
    rows: Mapping[str, int] | None = None,
    prefix: str = "",
) -> list[Field]:
    """The form tree of an object schema, filled with `values` and `errors` by path."""
    values, errors, context, rows = values or {}, errors or {}, context or {}, rows or {}
    required = set(schema.get("required", []))
    out: list[Field] = []
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        kind = _kind(sub)
        f = Field(
            path,
            key,
            kind,
            key in required,
            [str(o) for o in sub.get("enum", [])],
            values.get(key),
            errors=list(errors.get(path, [])),
            description=str(sub.get("description", "")),
        )
        if kind == "group":
            nested = values.get(key) if isinstance(values.get(key), dict) else {}
            f.children = fields(sub, nested, errors, context, rows, f"{path}/")
        elif kind == "rows":
            given = values.get(key) if isinstance(values.get(key), list) else []
            filled = given or _prefill_rows(sub["items"], context)
            count = max(len(filled), rows.get(path, 0), 1)
            for i in range(count):
                row = filled[i] if i < len(filled) and isinstance(filled[i], dict) else {}
                group = Field(
                    f"{path}/{i}", str(i + 1), "group", errors=list(errors.get(f"{path}/{i}", []))
                )
                group.children = fields(sub["items"], row, errors, context, rows, f"{path}/{i}/")
                f.children.append(group)
        elif kind == "lines" and isinstance(f.value, list):
            f.value = "\n".join(str(v) for v in f.value)
        out.append(f)
    return out


def _scalar(schema: dict[str, Any], raw: str) -> Any:
    if schema.get("type") == "integer" and re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if schema.get("type") == "number":
        try:
            number = float(raw) if not re.fullmatch(r"-?\d+", raw) else int(raw)
        except ValueError:
            return raw  # kept as typed, so the schema's type error names this field
        # "nan" and "inf" parse as floats; kept as typed text, the type error names the field
        return number if math.isfinite(number) else raw
    return raw


def parse(schema: dict[str, Any], form: Mapping[str, str], prefix: str = "") -> dict[str, Any]:
    """The payload a submitted form stands for. Empty inputs are left out; an unticked
    checkbox is false when the property is required, left out otherwise."""
    required = set(schema.get("required", []))
    out: dict[str, Any] = {}
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        kind = _kind(sub)
        if kind == "group":
            nested = parse(sub, form, f"{path}/")
            if nested:
                out[key] = nested
        elif kind == "rows":
            try:
                count = min(int(form.get(f"_rows/{path}", "0")), 200)
            except ValueError:
                count = 0
            items = [parse(sub["items"], form, f"{path}/{i}/") for i in range(count)]
            kept = [row for row in items if any(v is not False for v in row.values())]
            if kept:
                out[key] = kept
        elif kind == "lines":
            lines = [s.strip() for s in form.get(path, "").splitlines() if s.strip()]
            if lines:
                out[key] = lines
        elif kind == "checkbox":
            if form.get(path) == "on":
                out[key] = True
            elif key in required:
                out[key] = False
        else:
            raw = form.get(path, "").strip()
            if raw:
                out[key] = _scalar(sub, raw)
    return out


def row_counts(form: Mapping[str, str]) -> dict[str, int]:
    """How many rows each array showed (the `_rows/...` hidden fields)."""
    counts: dict[str, int] = {}
    for name, value in form.items():
        if name.startswith("_rows/") and value.isdigit():
            counts[name.removeprefix("_rows/")] = min(int(value), 200)
    return counts


def error_map(errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Issues (`path`, `message`, `code`: the problem document's `errors`) keyed by form
    path; a missing value reads "is required" beside its field (chosen by code: the
    message's text is never read)."""
    out: dict[str, list[str]] = {}
    for err in errors:
        path = "" if err.get("path") in (None, "", "(root)") else str(err["path"])
        message = REQUIRED if err.get("code") == "missing" else str(err.get("message", ""))
        out.setdefault(path, []).append(message)
    return out


def placed(tree: list[Field]) -> set[str]:
    """Every path that has a field, so errors without one can be shown above the form."""
    paths: set[str] = set()
    for f in tree:
        paths.add(f.path)
        paths |= placed(f.children)
    return paths
