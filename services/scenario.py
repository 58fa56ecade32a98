"""The scenario of a process timeline simulation: one customer, events by day, how people
answer tasks, and (for regression tests) the steps expected. Format: docs/policies.md.

A scenario is data (a YAML file or a JSON body); every problem is reported with its field
path (`events[1].data.amount`), never as a traceback.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

import rules
from services.errors import Invalid
from services.event_types import DATA
from services.event_types import parse as parse_event
from workflows.task_kinds import TASK_KINDS

# events that change the stored record instead of reaching a process
RECORD_UPDATE = "record_update"
EVENT_TYPES = sorted([*DATA, RECORD_UPDATE])


class ScenarioProblem(ValueError):
    """A scenario that cannot run; `issues` are (field path, message) pairs."""

    def __init__(self, issues: list[tuple[str, str]], source: str = "") -> None:
        self.issues, self.source = issues, source
        prefix = f"{source}: " if source else ""
        super().__init__("; ".join(f"{prefix}{p}: {m}" for p, m in issues))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScenarioEvent(_Strict):
    """Something that happens to the customer on a day (0 = the start)."""

    day: float = Field(ge=0, le=800, description="Days after the start.")
    type: str = Field(description="A CRM event type, or record_update (fields of the record).")
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in EVENT_TYPES:
            raise ValueError(f"unknown event type {value!r}; one of {', '.join(EVENT_TYPES)}")
        return value


class Answer(_Strict):
    """How the person answers a task of one kind: outcome, other fields, delay."""

    outcome: str | None = None
    after_days: float = Field(default=1.0, ge=0, le=60, description="Days until answered.")
    fields: dict[str, Any] = Field(default_factory=dict, description="Other result fields.")
    never: bool = Field(default=False, description="Nobody answers (the task times out).")


class Step(_Strict):
    """An expected step: simulated day and the step's label (see `Timeline.steps`)."""

    day: int
    step: str


class Scenario(_Strict):
    """One simulation: a customer, a policy version's processes, events over `days`."""

    name: str = Field(default="scenario", max_length=200)
    customer: dict[str, Any] | None = Field(default=None, description="An inline record.")
    customer_id: str | None = Field(default=None, description="A stored customer instead.")
    abc_class: Literal["A", "B", "C"] | None = Field(
        default=None, description="Fix the ABC class (default: ranked in the live population)."
    )
    start: datetime | None = Field(
        default=None,
        description="Simulated start (future only: the engine's clock moves forward); "
        "default now. A fixed start makes calendars, holidays and weekdays repeatable.",
    )
    days: int = Field(default=90, ge=1, le=800)
    events: list[ScenarioEvent] = Field(default_factory=list, max_length=200)
    answers: dict[str, Answer] = Field(default_factory=dict)
    expect: list[Step] | None = Field(default=None, description="Steps a test run must show.")
    day_tolerance: int = Field(
        default=0, ge=0, le=30, description="Expected days may be off by this much (jitter)."
    )

    @field_validator("answers")
    @classmethod
    def _kinds(cls, value: dict[str, Answer]) -> dict[str, Answer]:
        for kind, answer in value.items():
            if kind not in TASK_KINDS:
                raise ValueError(f"unknown task kind {kind!r}")
            outcomes = TASK_KINDS[kind]["schema"]["properties"].get("outcome", {}).get("enum")
            if answer.outcome is not None and outcomes and answer.outcome not in outcomes:
                raise ValueError(f"{kind}: outcome {answer.outcome!r} not one of {outcomes}")
        return value


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse(raw: Any, source: str = "") -> Scenario:
    """A checked scenario from parsed YAML / JSON; ScenarioProblem lists every issue."""
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as err:
        found = [(_path(e["loc"]), e["msg"]) for e in err.errors()]
        raise ScenarioProblem(found, source) from None
    issues: list[tuple[str, str]] = []
    if scenario.start is not None and scenario.start.tzinfo is None:
        scenario.start = scenario.start.replace(tzinfo=UTC)
    if scenario.start is not None and scenario.start <= datetime.now(UTC):
        issues.append(("start", "must lie in the future (the engine's clock moves forward)"))
    if (scenario.customer is None) == (scenario.customer_id is None):
        issues.append(("customer", "give either customer (a record) or customer_id"))
    if scenario.customer is not None:
        try:
            scenario.customer = rules.validate_record(scenario.customer)
        except rules.RecordError as err:
            issues += [(f"customer.{i.path}".rstrip("."), i.message) for i in err.issues]
    for i, event in enumerate(scenario.events):
        if event.type == RECORD_UPDATE:
            unknown = sorted(set(event.data) - set(rules.RECORD_FIELDS) - {"customer_id"})
            issues += [(f"events[{i}].data.{k}", "not a record field") for k in unknown]
            continue
        try:
            # the API's own check of event data (`data.<field>` paths)
            parse_event({"event_id": f"scenario-{i}", "type": event.type, "data": event.data})
        except Invalid as err:
            issues += [(f"events[{i}].{issue.path}", issue.message) for issue in err.issues]
    if issues:
        raise ScenarioProblem(issues, source)
    return scenario


def parse_text(text: str, source: str = "") -> Scenario:
    """A scenario from YAML text; syntax errors carry the line and column."""
    try:
        raw = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ScenarioProblem([("", f"YAML syntax error: {err.problem}")], where) from None
    except yaml.YAMLError as err:
        raise ScenarioProblem([("", f"YAML error: {err}")], source) from None
    return parse(raw, source)


def load_file(path: Path) -> Scenario:
    """A scenario file (YAML)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioProblem([("", str(err))], str(path)) from None
    return parse_text(text, str(path))
