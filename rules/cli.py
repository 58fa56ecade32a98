"""Command line for policy owners and batch users: ``policy validate``, ``policy impact``,
``policy diff`` and ``segment``. The project's ``cli.py`` calls ``register(subparsers)`` and
dispatches to ``args.func(args) -> int``.

Exit codes: 0 = fine; 1 = policy issues or bad records (the good ones are still written);
2 = the policies needed for the run do not load or the input is unreadable.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from rules.diff import diff_bundles
from rules.diff import render as render_diff
from rules.errors import PolicyError, RecordError
from rules.inputs import read_records
from rules.loader import load_bundle
from rules.model import Bundle
from rules.reference import abc_classes, explain
from rules.vector import segment_population

PROGRESS_MIN = 10_000  # show a progress bar on a terminal from this many records


def register(subparsers: Any) -> Any:
    """Add ``policy validate``, ``policy impact``, ``policy diff`` and ``segment`` to an
    argparse parser; returns the ``policy`` subcommands (others add theirs there)."""
    policy = subparsers.add_parser("policy", help="validate policies, preview a change")
    sub = policy.add_subparsers(dest="policy_command", required=True)
    validate = sub.add_parser("validate", help="check a policy directory")
    validate.add_argument("directory", nargs="?", default="policies")
    validate.set_defaults(func=cmd_validate)
    impact = sub.add_parser("impact", help="what changes between two policy directories")
    impact.add_argument("--from", dest="from_dir", required=True, help="current policies")
    impact.add_argument("--to", dest="to_dir", required=True, help="proposed policies")
    impact.add_argument("input", help="customer records (JSONL or CSV)")
    impact.add_argument("--json", action="store_true", help="machine-readable report")
    impact.set_defaults(func=cmd_impact)
    changes = sub.add_parser("diff", help="what changed in meaning between two policy directories")
    changes.add_argument("old", help="current policy directory")
    changes.add_argument("new", help="proposed policy directory")
    changes.add_argument("--json", action="store_true", help="machine-readable changes")
    changes.set_defaults(func=cmd_diff)
    segment = subparsers.add_parser("segment", help="segment customer records")
    segment.add_argument("input", help="customer records (JSONL or CSV)")
    segment.add_argument("--policies", default="policies", help="policy directory")
    segment.add_argument("--out", help="output file (default: standard output)")
    segment.add_argument("--explain", action="store_true", help="add an explanation per line")
    segment.set_defaults(func=cmd_segment)
    return sub


def _load(directory: str) -> Bundle | None:
    try:
        return load_bundle(directory)
    except PolicyError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return None


def cmd_validate(args: argparse.Namespace) -> int:
    bundle = _load(args.directory)
    if bundle is None:
        return 1
    print(f"{args.directory}: ok ({bundle.version})")
    return 0


class _Progress:
    def __init__(self, label: str, total: int, stream: TextIO) -> None:
        self.label, self.total, self.stream = label, total, stream
        self.on = stream.isatty() and total >= PROGRESS_MIN
        self.step = max(total // 100, 1)

    def update(self, done: int) -> None:
        if self.on and (done % self.step == 0 or done == self.total):
            width = 30
            filled = width * done // max(self.total, 1)
            bar = "#" * filled + "." * (width - filled)
            self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total}")
            if done == self.total:
                self.stream.write("\n")
            self.stream.flush()


def _lines(path: str) -> int:
    with Path(path).open("rb") as handle:
        return sum(1 for _ in handle)


def _read(path: str) -> tuple[list[dict[str, Any]], int]:
    """Valid records and the number of bad ones (reported as file:line: path: message);
    a progress bar on a terminal for large inputs (reading and validating is the slow part)."""
    good: list[dict[str, Any]] = []
    bad = 0
    seen: set[str] = set()
    total = _lines(path) if sys.stderr.isatty() else 0
    with tqdm(total=total, desc="read", unit=" lines", file=sys.stderr,
              disable=total < PROGRESS_MIN, mininterval=0.5) as bar:  # fmt: skip
        for line, rec in read_records(Path(path)):
            bar.update(line - bar.n)
            if isinstance(rec, RecordError):
                bad += 1
                for issue in rec.issues:
                    print(f"{path}:{line}: {issue.path or '-'}: {issue.message}", file=sys.stderr)
            elif rec["customer_id"] in seen:
                bad += 1
                print(f"{path}:{line}: customer_id: duplicate {rec['customer_id']!r}",
                      file=sys.stderr)  # fmt: skip
            else:
                seen.add(rec["customer_id"])
                good.append(rec)
    return good, bad


def cmd_segment(args: argparse.Namespace) -> int:
    bundle = _load(args.policies)
    if bundle is None:
        return 2
    try:
        records, bad = _read(args.input)
    except OSError as exc:
        print(f"{args.input}: {exc.strerror}", file=sys.stderr)
        return 2
    results = segment_population(bundle, records, validated=True)
    ranks = abc_classes(bundle, records) if args.explain else {}
    progress = _Progress("segment", len(results), sys.stderr)
    with contextlib.ExitStack() as stack:
        out = (
            stack.enter_context(Path(args.out).open("w", encoding="utf-8"))
            if args.out
            else (sys.stdout)
        )
        for i, (rec, result) in enumerate(zip(records, results, strict=True), start=1):
            line = result.to_json()
            if args.explain:
                _, rank, n = ranks[result.customer_id]
                line["explanation"] = explain(bundle, rec, result.abc_class, rank, n)
            out.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
            progress.update(i)
    return 1 if bad else 0


def impact_report(old: Bundle, new: Bundle, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Customers whose segments or actions change, transition counts, process starts/stops."""
    before = segment_population(old, records, validated=True)
    after = segment_population(new, records, validated=True)
    matrices: dict[str, Counter[str]] = {
        "category": Counter(),
        "abc_class": Counter(),
        "points_tier": Counter(),
    }
    tags: dict[str, Counter[str]] = {}
    starts: Counter[str] = Counter()
    stops: Counter[str] = Counter()
    changed = []
    for a, b in zip(before, after, strict=True):
        diff: dict[str, Any] = {}
        for field in ("category", "abc_class", "points_tier"):
            x, y = getattr(a, field), getattr(b, field)
            matrices[field][f"{x} -> {y}"] += 1
            if x != y:
                diff[field] = [x, y]
        if a.tags != b.tags:
            diff["tags"] = [list(a.tags), list(b.tags)]
            for t in set(a.tags) - set(b.tags):
                tags.setdefault(t, Counter())["removed"] += 1
            for t in set(b.tags) - set(a.tags):
                tags.setdefault(t, Counter())["added"] += 1
        if a.actions != b.actions:
            keys = sorted(set(a.actions) | set(b.actions))
            diff["actions"] = {
                k: [a.actions.get(k), b.actions.get(k)]
                for k in keys
                if a.actions.get(k) != b.actions.get(k)
            }
        for proc in set(b.processes) - set(a.processes):
            starts[proc] += 1
        for proc in set(a.processes) - set(b.processes):
            stops[proc] += 1
        if diff:
            changed.append({"customer_id": a.customer_id, **diff})
    return {
        "from": old.version,
        "to": new.version,
        "customers": len(records),
        "changed": len(changed),
        "transitions": {k: dict(sorted(v.items())) for k, v in matrices.items()},
        "tags": {k: dict(v) for k, v in sorted(tags.items())},
        "processes": {"start": dict(sorted(starts.items())), "stop": dict(sorted(stops.items()))},
        "customers_changed": changed,
    }


def cmd_impact(args: argparse.Namespace) -> int:
    old, new = _load(args.from_dir), _load(args.to_dir)
    if old is None or new is None:
        return 2
    try:
        records, bad = _read(args.input)
    except OSError as exc:
        print(f"{args.input}: {exc.strerror}", file=sys.stderr)
        return 2
    report = impact_report(old, new, records)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        _print_impact(report)
    return 1 if bad else 0


def cmd_diff(args: argparse.Namespace) -> int:
    """Exit 0 when nothing changed in meaning, 1 when something did (like diff(1))."""
    old, new = _load(args.old), _load(args.new)
    if old is None or new is None:
        return 2
    changes = diff_bundles(old, new)
    if args.json:
        out = {"from": old.version, "to": new.version, "changes": [c.to_json() for c in changes]}
        print(json.dumps(out, ensure_ascii=False, indent=2, default=str))
    else:
        print(f"policy {old.version} -> {new.version}")
        print(render_diff(changes))
    return 1 if changes else 0


def _print_impact(report: dict[str, Any]) -> None:
    print(
        f"policy {report['from']} -> {report['to']}: {report['changed']} of "
        f"{report['customers']} customers change"
    )
    for field, counts in report["transitions"].items():
        moves = {k: v for k, v in counts.items() if k.split(" -> ")[0] != k.split(" -> ")[1]}
        print(f"\n{field} transitions:" + ("" if moves else " none"))
        for key, count in moves.items():
            print(f"  {key}: {count}")
    print("\ntags:" + ("" if report["tags"] else " no change"))
    for tag, counts in report["tags"].items():
        print(f"  {tag}: +{counts.get('added', 0)} -{counts.get('removed', 0)}")
    procs = report["processes"]
    print(
        "\nprocesses that would start: "
        + (", ".join(f"{k} x{v}" for k, v in procs["start"].items()) or "none")
    )
    print(
        "processes that would stop: "
        + (", ".join(f"{k} x{v}" for k, v in procs["stop"].items()) or "none")
    )
    for item in report["customers_changed"][:20]:
        print("  " + json.dumps(item, ensure_ascii=False, sort_keys=True))
    if report["changed"] > 20:
        print(f"  ... {report['changed'] - 20} more (use --json for all)")


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m rules``)."""
    parser = argparse.ArgumentParser(prog="segflow")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code
