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


def _never(_closure: Any) -> None:
    """Placeholder action; durable requires one per rule."""


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
        self._lock = threading.Lock()
        self._local = threading.local()
        self._sid_counter = itertools.count()
        self._cat_fields = self._fields(bundle.category_rules)
        self._seg_fields = self._fields(bundle.tags + bundle.tiers)
        self._cat_order = [r.id for r in bundle.category_rules]
        self._labels = {f"c:{r.id}": r.label for r in bundle.category_rules}
        self._keys: dict[str, str] = {}  # durable rule name -> "c:<id>", "t:<id>", ...
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
        self._handles = {k: self._host.get_ruleset(n)._handle for k, n in self._names.items()}

    @staticmethod
    def _fields(rules: tuple[Rule, ...]) -> list[str]:
        return list(dict.fromkeys(f for r in rules for f in fields_of(r.when)))

    def _rule(self, name: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
        self._keys[name] = key
        # the action never runs: fired rules are read from the engine's action queue (see _call)
        return {"all": [{"m": guarded(body)}], "run": _never}

    def _ruleset(self, prefix: str, rules: tuple[Rule, ...]) -> dict[str, Any]:
        return {
            f"{prefix}{i}": self._rule(f"{prefix}{i}", f"{prefix}:{r.id}", compile_cond(r.when))
            for i, r in enumerate(rules)
        }

    def _points_ruleset(self) -> dict[str, Any]:
        return {
            f"e{i}": self._rule(f"e{i}", rule_id, expr)
            for i, (rule_id, expr) in enumerate(points_rules(self.bundle.points))
        }

    def _sid(self) -> str:
        sid: str | None = getattr(self._local, "sid", None)
        if sid is None:
            sid = str(next(self._sid_counter) % _SIDS + 1)
            self._local.sid = sid
        return sid

    def _call(self, kind: str, c_function: Callable[[Any, str], Any], message: dict[str, Any]
              ) -> set[str]:  # fmt: skip
        """Send one message through the C engine and collect the rules it fired.

        Host.assert_fact would json.dumps the fact itself (floats such as 1e-05 come out in a
        form durable's parser rejects) and run a Python Closure per fired rule (most of the
        per-customer cost). We hand the C engine our own JSON and read the fired rule names
        from its action queue, completing each action without touching the session state.
        durable-rules is pinned at 2.0.28 (its last release), so these calls are stable.
        """
        handle = self._handles[kind]
        result = c_function(handle, dumps(message))
        fired: set[str] = set()
        if result[0] != 0:  # 1 = no rule matched, 3 = nothing to do
            if result[0] == 2:
                raise RuntimeError(f"durable-rules already holds {message.get('id')!r}")
            return fired
        state_handle = result[1]
        pending = _C.start_action_for_state(handle, state_handle)
        text = pending[1] if pending else None
        while text:
            # the action message is {"<rule name>": {"m": <fact>}}: one rule per message
            fired.add(self._keys[text[2 : text.index('"', 2)]])
            text = _C.complete_and_start_action(handle, state_handle)
        return fired

    def _run_fact(self, kind: str, fact: dict[str, Any]) -> set[str]:
        try:
            return self._call(kind, _C.assert_fact, fact)
        finally:
            self._call(kind, _C.retract_fact, fact)

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
                fact = fact_for(self._cat_fields, get)
                fired = self._run_fact("cat", {**fact, "id": cid, "sid": sid})
                first = next((r for r in self._cat_order if f"c:{r}" in fired), None)
                category = self._labels[f"c:{first}"] if first else bundle.category_default
            get = field_getter(bundle, rec, category=category, abc_class=abc_class)
            fact = fact_for(self._seg_fields, get)
            fired = self._run_fact("seg", {**fact, "id": cid, "sid": sid})
        tags = tuple(sorted(t.id for t in bundle.tags if f"t:{t.id}" in fired))
        tier = next((t.label for t in bundle.tiers if f"p:{t.id}" in fired), bundle.tier_default)
        actions, processes = resolve_strategy(bundle, category, abc_class, tags, tier)
        return Assignment(cid, category, abc_class, tags, tier, actions, processes, bundle.version)

    def accrue_points(self, event: Any) -> PointsAward:
        """Points for one payment / feedback / survey event, decided by event rules."""
        ev = validate_event(event, self.bundle.points)
        with self._lock:
            message = {**ev, "id": f"ev{next(_SERIAL)}", "sid": self._sid()}
            fired = self._call("pts", _C.assert_event, message)
        if len(fired) != 1:
            raise RuntimeError(f"points rules matched {sorted(fired)} for {ev}")
        return award_for(self.bundle, ev, fired.pop())
