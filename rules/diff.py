"""Policy diff: what changed in meaning between two bundles, with file:line on both sides.

Not a text diff: both bundles' YAML is walked as data. Lists of named items (rules by `id`,
tiers by `tier`, arrears steps by `step`) are matched by name, so an inserted rule is one
change and a moved one is a priority / order change rather than a cascade of edits. Each
change gets a meaning from where it sits: a threshold (a condition's compared value or an
ABC cut), a rule (added, removed, condition changed), a step (added, removed, changed,
moved), a combine rule (how an action parameter merges across segments), an action of a
strategy, a process setting, a calendar or points rule. Comments and formatting never show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rules.model import Bundle
from rules.yamlpos import Document, load_document

Path = tuple[str | int, ...]
# list items are matched by the first of these keys they carry
NAME_KEYS = ("id", "step", "tier", "name")


@dataclass(frozen=True)
class Change:
    """One change in meaning; `old_at` / `new_at` are `file:line` (None where absent)."""

    meaning: str  # threshold | rule | step | combine | action | strategy | process | ...
    change: str  # added | removed | changed | moved
    file: str
    path: str
    old: Any
    new: Any
    old_at: str | None
    new_at: str | None
    summary: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _meaning(file: str, path: tuple[str, ...]) -> str:
    """What a change at `path` (list items shown by name) means to a policy owner."""
    stem = file.removesuffix(".yaml")
    head = path[0] if path else ""
    if stem == "segments":
        if head == "abc" and len(path) > 1 and path[1] == "cuts":
            return "threshold"
        if "when" in path:
            return "threshold" if path[-1] == "value" else "rule"
        return "rule" if head in ("category", "tags", "points_tiers") else "segmentation"
    if stem == "strategies":
        if head == "parameters":
            return "combine" if path[-1] == "combine" else "parameter"
        if head == "strategies":
            return "action" if "actions" in path else "strategy"
        return "process link"
    if stem == "processes":
        return "step" if "steps" in path else "process"
    return {"calendars": "calendar", "points": "points rule"}.get(stem, stem)


def _name_of(item: Any) -> str | None:
    if isinstance(item, dict):
        for key in NAME_KEYS:
            if isinstance(item.get(key), str):
                return f"{key}={item[key]}"
    return None


def _named(items: list[Any]) -> dict[str, int] | None:
    """name -> index when every item of `items` is named (and names are unique)."""
    names = [_name_of(i) for i in items]
    if not items or any(n is None for n in names) or len(set(names)) != len(names):
        return None
    return {str(n): i for i, n in enumerate(names)}


class _Walker:
    def __init__(self, file: str, old: Document | None, new: Document | None) -> None:
        self.file, self.old, self.new = file, old, new
        self.changes: list[Change] = []

    def _at(self, doc: Document | None, path: Path) -> str | None:
        if doc is None:
            return None
        probe = path
        while probe and probe not in doc.values:
            probe = probe[:-1]
        line = doc.values.get(probe, (1, 1))[0]
        return f"{doc.file}:{line}"

    def add(
        self, change: str, shown: tuple[str, ...], op: Path, np: Path, old: Any, new: Any
    ) -> None:
        meaning = _meaning(self.file, shown)
        where = f"{self.file} {_dotted(shown)}"
        verb = {"added": "added", "removed": "removed", "moved": "moved"}.get(change)
        summary = (
            f"{meaning} {verb}: {where}"
            if verb
            else f"{meaning} changed: {where}: {_short(old)} -> {_short(new)}"
        )
        self.changes.append(
            Change(
                meaning, change, self.file, _dotted(shown), old, new,
                self._at(self.old, op) if change != "added" else None,
                self._at(self.new, np) if change != "removed" else None,
                summary,
            )
        )  # fmt: skip

    def walk(self, old: Any, new: Any, shown: tuple[str, ...], op: Path, np: Path) -> None:
        if old == new:
            return
        if isinstance(old, dict) and isinstance(new, dict):
            for key in [*old, *(k for k in new if k not in old)]:
                sub = (*shown, str(key))
                if key not in new:
                    self.add("removed", sub, (*op, key), np, old[key], None)
                elif key not in old:
                    self.add("added", sub, op, (*np, key), None, new[key])
                else:
                    self.walk(old[key], new[key], sub, (*op, key), (*np, key))
            return
        if isinstance(old, list) and isinstance(new, list):
            a, b = _named(old), _named(new)
            if a is not None and b is not None:
                self._walk_named(old, new, a, b, shown, op, np)
                return
        self.add("changed", shown, op, np, old, new)

    def _walk_named(
        self, old: list[Any], new: list[Any], a: dict[str, int], b: dict[str, int],
        shown: tuple[str, ...], op: Path, np: Path,
    ) -> None:  # fmt: skip
        for name, i in a.items():
            sub = (*shown, f"[{name}]")
            if name not in b:
                self.add("removed", sub, (*op, i), np, old[i], None)
            else:
                self.walk(old[i], new[b[name]], sub, (*op, i), (*np, b[name]))
        for name, j in b.items():
            if name not in a:
                self.add("added", (*shown, f"[{name}]"), op, (*np, j), None, new[j])
        common_old = [n for n in a if n in b]
        common_new = [n for n in b if n in a]
        if common_old != common_new:  # first-match and priority lists: order is meaning
            self.add("moved", shown, op, np, common_old, common_new)


def _dotted(shown: tuple[str, ...]) -> str:
    return ".".join(shown).replace(".[", "[")


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _document(bundle: Bundle, name: str) -> Document | None:
    text = bundle.texts.get(name)
    if text is None:
        return None
    doc, _issues = load_document(name, text)  # the bundle loaded, so the text parses
    return doc


def diff_bundles(old: Bundle, new: Bundle) -> list[Change]:
    """Every change in meaning from `old` to `new`, file by file in the bundle's order."""
    changes: list[Change] = []
    for name in dict.fromkeys([*old.texts, *new.texts]):
        a, b = _document(old, name), _document(new, name)
        walker = _Walker(name, a, b)
        walker.walk(a.data if a else None, b.data if b else None, (), (), ())
        changes += walker.changes
    return changes


def render(changes: list[Change]) -> str:
    """The changes as text lines (the CLI's output)."""
    if not changes:
        return "no changes in meaning"
    lines = []
    for c in changes:
        sides = f"[{c.old_at or '-'} | {c.new_at or '-'}]"
        lines.append(f"{c.summary}  {sides}")
    return "\n".join(lines)
