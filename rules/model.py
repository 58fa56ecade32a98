"""The compiled, immutable policy bundle that every back end and the service read.

Built once by the loader from the YAML files; evaluation code never looks at YAML again.
Process parameters, calendars and ABC settings are plain JSON-able data so the service can
hand them to Temporal workflows as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from rules.arrears_params import ArrearsParams
from rules.conditions import Cond, Derived, FieldSpec
from rules.jurisdiction import Floor
from rules.outage_params import OutageParams, TaskParams
from rules.process_params import (
    CallbackParams,
    ClosureParams,
    HazardParams,
    ServiceRequestParams,
    VisitParams,
)
from rules.scheduled_params import ScheduledParams


@dataclass(frozen=True)
class Source:
    """Where a rule was written, for explanations: file, line and its YAML path."""

    file: str
    line: int
    path: str


@dataclass(frozen=True)
class Rule:
    """A named condition with the label it gives (category, tag or tier) when it holds."""

    id: str
    label: str
    when: Cond
    raw: Any
    source: Source


@dataclass(frozen=True)
class AbcSettings:
    """Rank-based value classes: metric descending, customer_id ascending within a partition.

    ``cuts`` are cumulative top fractions as exact rationals, so ceil(fraction x N) never
    suffers from binary floating point (0.05 x 100 must be exactly 5).
    """

    metric: str
    cuts: tuple[tuple[str, Fraction], ...]
    rest: str
    partition_by: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "cuts": {cls: float(frac) for cls, frac in self.cuts},
            "rest": self.rest,
            "partition_by": self.partition_by,
        }


@dataclass(frozen=True)
class Parameter:
    """An action parameter and how values from several segments combine (DMN-like)."""

    name: str
    type: str  # boolean | integer | number | duration | string | list
    combine: str  # any | all | min | max | union | first
    default: Any = None


@dataclass(frozen=True)
class Strategy:
    """Actions for one segment selector; list order is priority for ``first`` combining."""

    id: str
    dimension: str  # all | category | abc_class | tag | points_tier
    values: frozenset[str]
    actions: dict[str, Any]
    source: Source


@dataclass(frozen=True)
class ProcessLink:
    """Which merged action turns a process on and which actions become its parameters."""

    name: str
    enabled_by: str | None
    parameters: dict[str, str]


@dataclass(frozen=True)
class PrepaymentTier:
    id: str
    min_amount: float
    points_per_yuan: float


@dataclass(frozen=True)
class PointsRules:
    """Paper 003's accrual rules: amount tiers x channel multipliers, feedback/survey points."""

    channels: dict[str, float]
    prepayment_tiers: tuple[PrepaymentTier, ...]  # by min_amount descending
    event_points: dict[str, int]
    # the ledger (services/points.py): who earns, when lots expire, what redeems for what
    eligible_categories: tuple[str, ...] = ("residential",)
    expire_after: str = "P24M"
    bill_credit_points_per_yuan: int = 100
    services: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, eq=False, repr=False)
class Bundle:
    """A loaded, validated policy bundle; identity-hashed so caches can key on it."""

    def __repr__(self) -> str:
        return f"Bundle(version={self.version!r})"

    version: str
    texts: dict[str, str]
    processes: dict[str, dict[str, Any]]
    calendars: dict[str, Any]
    abc: AbcSettings
    catalogue: dict[str, FieldSpec]
    derived: tuple[Derived, ...]  # in dependency order
    category_rules: tuple[Rule, ...]
    category_default: str
    tags: tuple[Rule, ...]
    tiers: tuple[Rule, ...]
    tier_default: str
    parameters: dict[str, Parameter]
    strategies: tuple[Strategy, ...]
    process_links: tuple[ProcessLink, ...]
    points: PointsRules
    tier_names: tuple[str, ...] = field(default=())
    floor: Floor | None = None  # the regulatory floor of the bundle's jurisdiction
    arrears: ArrearsParams | None = None  # the typed arrears ladder
    hazard: HazardParams | None = None  # typed process parameters (rules.process_params)
    closure: ClosureParams | None = None
    callback: CallbackParams | None = None
    service_request: ServiceRequestParams | None = None
    key_account_visit: VisitParams | None = None
    scheduled: dict[str, ScheduledParams] = field(default_factory=dict)  # by process name
    outage_notice: OutageParams | None = None  # rules.outage_params
    one_task: dict[str, TaskParams] = field(default_factory=dict)  # by process name

    @property
    def tag_names(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.tags)
