"""segflow rules: load and validate YAML policies, segment customers, explain decisions.

Pure code: imports nothing else of the project. Back ends: the reference evaluator (oracle
and explanations), durable_rules (per customer and per event), numpy (bulk in memory) and
SQL through SQLAlchemy Core (bulk in the database).
"""

from rules.abc import abc_class_for_rank
from rules.assignment import Assignment, resolve_strategy
from rules.durations import parse_duration
from rules.engine import Engine
from rules.errors import PolicyError, PolicyIssue, RecordError, RecordIssue
from rules.loader import load_bundle, load_bundle_from_texts
from rules.model import AbcSettings, Bundle
from rules.points import PointsAward
from rules.record import RECORD_FIELDS, validate_record
from rules.reference import explain
from rules.vector import segment_population

__all__ = [
    "RECORD_FIELDS",
    "AbcSettings",
    "Assignment",
    "Bundle",
    "Engine",
    "PointsAward",
    "PolicyError",
    "PolicyIssue",
    "RecordError",
    "RecordIssue",
    "abc_class_for_rank",
    "explain",
    "load_bundle",
    "load_bundle_from_texts",
    "parse_duration",
    "resolve_strategy",
    "segment_population",
    "validate_record",
]
