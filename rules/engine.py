"""Per-customer and per-event evaluation through durable_rules (the on-change back end).

Follows DESIGN.md's measured facts about durable-rules 2.0.28: customers are asserted as
FACTS (an event fires only one rule) and retracted afterwards; a small fixed set of session
ids is reused (more than 1024 sids corrupts a ruleset); the Host's background dispatch
thread is disabled (it races and segfaults); ruleset names carry the policy version and a
serial (rulesets cannot be re-registered); OR rules fire once per true branch, so fired
rule ids are collected in a set; records are type-checked before they reach the engine
(a string compared with a number compares as text); actions only record the rule id
(errors inside actions are swallowed by the engine).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable
from typing import Any

from durable import engine as durable_engine

from rules.assignment import Assignment, resolve_strategy
from rules.conditions import fields_of
from rules.durable_compile import compile_cond, dumps, fact_for, guarded
from rules.model import Bundle, Rule
from rules.points import PointsAward, award_for, points_rules, validate_event
from rules.record import validate_record
from rules.reference import field_getter

# the C extension durable.engine wraps (typed Any: durable.* has no stubs)
_C = durable_engine.durable_rules_engine
_SERIAL = itertools.count(1)
_SIDS = 64  # fixed session ids shared by all threads; calls are serialised by a lock


class _QuietHost(durable_engine.Host):  # type: ignore[misc]
    """A Host without the timer-driven dispatch thread (it races with state deletion)."""

    def _run(self) -> None:
        return None


class Engine:
    """Evaluates one customer (``assign``) or one points event (``accrue_points``).

    Thread-safe: calls are serialised by a lock (the C engine keeps shared state); each
    thread keeps one fixed session id from a small pool.
    """

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        serial = next(_SERIAL)
        tag = bundle.version.split(":")[-1]
        self._names = {k: f"segflow_{k}_{tag}_{serial}" for k in ("cat", "seg", "pts")}
        self._fired: set[str] = set()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._sid_counter = itertools.count()
        self._cat_fields = self._fields(bundle.category_rules)
        self._seg_fields = self._fields(bundle.tags + bundle.tiers)
        self._cat_order = [r.id for r in bundle.category_rules]
        self._labels = {f"c:{r.id}": r.label for r in bundle.category_rules}
        self._host = _QuietHost()
        self._host.register_rulesets(
            {
                self._names["cat"]: self._ruleset("c", bundle.category_rules),
                self._names["seg"]: {
                    **self._ruleset("t", bundle.tags),
                    **self._ruleset("p", bundle.tiers),
                },
                self._names["pts"]: self._points_ruleset(),
            }
        )

    @staticmethod
    def _fields(rules: tuple[Rule, ...]) -> list[str]:
        return list(dict.fromkeys(f for r in rules for f in fields_of(r.when)))

    def _action(self, rule_key: str) -> Callable[[Any], None]:
        def run(_closure: Any) -> None:
            self._fired.add(rule_key)

        return run

    def _ruleset(self, prefix: str, rules: tuple[Rule, ...]) -> dict[str, Any]:
        defs: dict[str, Any] = {}
        for i, rule in enumerate(rules):
            key = f"{prefix}:{rule.id}"
            body = guarded(compile_cond(rule.when))
            defs[f"{prefix}{i}"] = {"all": [{"m": body}], "run": self._action(key)}
        return defs

    def _points_ruleset(self) -> dict[str, Any]:
        defs: dict[str, Any] = {}
        for i, (rule_id, expr) in enumerate(points_rules(self.bundle.points)):
            defs[f"e{i}"] = {"all": [{"m": guarded(expr)}], "run": self._action(rule_id)}
        return defs

    def _sid(self) -> str:
        sid: str | None = getattr(self._local, "sid", None)
        if sid is None:
            sid = str(next(self._sid_counter) % _SIDS + 1)
            self._local.sid = sid
        return sid

    def _call(self, ruleset: str, c_function: Callable[[Any, str], Any], message: str) -> None:
        # Host.assert_fact would json.dumps the fact itself, writing floats such as 1e-05
        # that durable's parser rejects; so the message text is ours and goes to the same C
        # function through the Host's action loop (durable-rules is pinned at 2.0.28).
        rules = self._host.get_ruleset(ruleset)

        def run(text: str) -> Any:
            return rules._handle_result(c_function(rules._handle, text), text)

        with contextlib.suppress(durable_engine.MessageNotHandledException):
            self._host._handle_function(rules, run, message, None)

    def _run_fact(self, ruleset: str, fact: dict[str, Any]) -> set[str]:
        self._fired = set()
        text = dumps(fact)
        try:
            self._call(ruleset, _C.assert_fact, text)  # no match is normal
        finally:
            self._call(ruleset, _C.retract_fact, text)
        return self._fired

    def assign(self, record: Any, abc_class: str) -> Assignment:
        """Segment one record (validated here) given its ABC class from the population pass."""
        rec = validate_record(record)
        if abc_class not in ("A", "B", "C"):
            raise ValueError(f"abc_class must be A, B or C, got {abc_class!r}")
        bundle = self.bundle
        cid = rec["customer_id"]
        with self._lock:
            sid = self._sid()
            if rec.get("category") is not None:
                category = rec["category"]
            else:
                get = field_getter(bundle, rec)
                fact = fact_for(self._cat_fields, get, bundle.catalogue)
                fired = self._run_fact(self._names["cat"], {**fact, "id": cid, "sid": sid})
                first = next((r for r in self._cat_order if f"c:{r}" in fired), None)
                category = self._labels[f"c:{first}"] if first else bundle.category_default
            get = field_getter(bundle, rec, category=category, abc_class=abc_class)
            fact = fact_for(self._seg_fields, get, bundle.catalogue)
            fired = self._run_fact(self._names["seg"], {**fact, "id": cid, "sid": sid})
        tags = tuple(sorted(t.id for t in bundle.tags if f"t:{t.id}" in fired))
        tier = next((t.label for t in bundle.tiers if f"p:{t.id}" in fired), bundle.tier_default)
        actions, processes = resolve_strategy(bundle, category, abc_class, tags, tier)
        return Assignment(cid, category, abc_class, tags, tier, actions, processes, bundle.version)

    def accrue_points(self, event: Any) -> PointsAward:
        """Points for one payment / feedback / survey event, decided by event rules."""
        ev = validate_event(event, self.bundle.points)
        with self._lock:
            self._fired = set()
            message = {**ev, "id": f"ev{next(_SERIAL)}", "sid": self._sid()}
            self._call(self._names["pts"], _C.assert_event, dumps(message))
            fired = set(self._fired)
        if len(fired) != 1:
            raise RuntimeError(f"points rules matched {sorted(fired)} for {ev}")
        return award_for(self.bundle, ev, fired.pop())
