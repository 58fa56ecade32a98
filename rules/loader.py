"""Loading a policy bundle: read files, parse with positions, JSON Schema, semantic checks.

All problems of all files are collected and raised together as one PolicyError, sorted,
so a policy owner fixes everything in one pass. The version is a content hash of the
normalised data (comments and formatting do not change it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from rules.arrears_params import build_arrears
from rules.build_segments import build_segments
from rules.build_strategies import (
    build_links,
    build_parameters,
    build_points,
    build_strategies,
    check_calendars,
    check_processes,
    selectors_for,
)
from rules.errors import PolicyError, PolicyIssue, did_you_mean
from rules.floor import check_floor
from rules.model import Bundle
from rules.outage_params import build_one_task, build_outage
from rules.population_run import check_population_run
from rules.process_params import (
    build_callback,
    build_closure,
    build_hazard,
    build_service_request,
    build_visit,
)
from rules.scheduled_params import build_scheduled
from rules.yamlpos import MAX_FILE_BYTES, Document, decode, load_document

FILES = ("segments.yaml", "strategies.yaml", "processes.yaml", "calendars.yaml", "points.yaml")
# The schemas live beside the shipped policies (editors find them through the header line).
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "policies" / "schema"


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def load_bundle(directory: str | Path) -> Bundle:
    """Load ``directory``/*.yaml; issues name files as ``directory/segments.yaml``."""
    base = Path(directory)
    if not base.is_dir():
        raise PolicyError([PolicyIssue(str(base), 1, 1, "", "not a policy directory")])
    # *.yml too, so a misnamed file is reported instead of silently ignored
    paths = sorted([*base.glob("*.yaml"), *base.glob("*.yml")])
    files: dict[str, str | bytes] = {}
    for p in paths:
        with p.open("rb") as f:
            # never read more than the cap (plus one byte to notice a file beyond it)
            files[p.name] = f.read(MAX_FILE_BYTES + 1)
    return _load(files, lambda name: str(base / name))


def load_bundle_from_texts(files: Mapping[str, str | bytes]) -> Bundle:
    """Load a bundle from ``{relative file name: YAML text or raw bytes}`` (e.g. an HTTP
    upload); bytes must be UTF-8, and every file is within the size cap."""
    return _load(dict(files), lambda name: name)


def _load(raw: dict[str, str | bytes], display: Any) -> Bundle:
    issues: list[PolicyIssue] = []
    docs: dict[str, Document] = {}
    texts: dict[str, str] = {}
    for name, content in raw.items():
        if isinstance(content, bytes):
            decoded, decode_issues = decode(display(name), content)
            issues.extend(decode_issues)
            if decoded is not None:
                texts[name] = decoded
        else:
            texts[name] = content
    undecodable = set(raw) - set(texts)
    for name in sorted(raw):
        if name not in FILES:
            hint = did_you_mean(name, FILES)
            issues.append(PolicyIssue(display(name), 1, 1, "", f"unknown policy file{hint}"))
    for name in FILES:
        shown = display(name)
        if name in undecodable:
            continue
        if name not in texts:
            issues.append(PolicyIssue(shown, 1, 1, "", "missing policy file"))
            continue
        text = texts[name]
        stem = name.removesuffix(".yaml")
        header = f"# yaml-language-server: $schema=./schema/{stem}.schema.json"
        if text.splitlines()[:1] != [header]:
            issues.append(PolicyIssue(shown, 1, 1, "", f"first line must be {header!r}"))
        doc, parse_issues = load_document(shown, text)
        issues.extend(parse_issues)
        if doc is None:
            continue
        if not isinstance(doc.data, dict):
            issues.append(doc.issue((), "the file must hold a mapping"))
            continue
        issues.extend(schema_issues(doc, _validator(stem)))
        docs[name] = doc
    if len(docs) != len(FILES):
        raise PolicyError(issues)
    bundle = _build(texts, docs, issues)
    if issues:
        raise PolicyError(issues)
    return bundle


def _build(texts: dict[str, str], docs: dict[str, Document], issues: list[PolicyIssue]) -> Bundle:
    seg = build_segments(docs["segments.yaml"], issues)
    strat_doc = docs["strategies.yaml"]
    raw_params = strat_doc.data.get("parameters")
    params = build_parameters(strat_doc, raw_params, issues)
    tier_names = tuple(dict.fromkeys([*(t.label for t in seg.tiers), seg.tier_default]))
    selectors = selectors_for(seg.declared_tags, seg.declared_tiers)
    strategies = build_strategies(strat_doc, params, selectors, issues)
    processes = check_processes(docs["processes.yaml"], issues)
    check_population_run(docs["processes.yaml"], issues)
    links = build_links(strat_doc, params, set(processes), issues)
    calendars = check_calendars(docs["calendars.yaml"], issues)
    # the regulatory floor of the named jurisdiction, then the typed arrears ladder
    floor = check_floor(docs["processes.yaml"], docs["calendars.yaml"], issues)
    arrears = build_arrears(docs["processes.yaml"], issues)
    hazard = build_hazard(docs["processes.yaml"], issues)
    closure = build_closure(docs["processes.yaml"], issues)
    callback = build_callback(docs["processes.yaml"], issues)
    service_request = build_service_request(docs["processes.yaml"], issues)
    visit = build_visit(docs["processes.yaml"], issues)
    scheduled = build_scheduled(docs["processes.yaml"], issues)
    switchable = {k for link in links if link.name == "outage_notice" for k in link.parameters}
    outage = build_outage(docs["processes.yaml"], issues, switchable)
    one_task = build_one_task(docs["processes.yaml"], issues)
    points = build_points(docs["points.yaml"], issues)
    normalised = json.dumps(
        {name: docs[name].data for name in FILES},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    version = "sha256:" + hashlib.sha256(normalised.encode()).hexdigest()[:16]
    return Bundle(
        version=version,
        texts={name: texts[name] for name in FILES},
        processes=processes,
        calendars=calendars,
        abc=seg.abc,
        catalogue=seg.catalogue,
        derived=seg.derived,
        category_rules=seg.category_rules,
        category_default=seg.category_default,
        tags=seg.tags,
        tiers=seg.tiers,
        tier_default=seg.tier_default,
        parameters=params,
        strategies=strategies,
        process_links=links,
        points=points,
        tier_names=tier_names,
        floor=floor,
        arrears=arrears,
        hazard=hazard,
        closure=closure,
        callback=callback,
        service_request=service_request,
        key_account_visit=visit,
        scheduled=scheduled,
        outage_notice=outage,
        one_task=one_task,
    )


def schema_issues(doc: Document, validator: jsonschema.Draft202012Validator) -> list[PolicyIssue]:
    """JSON Schema errors rewritten as positioned, friendlier issues."""
    out: list[PolicyIssue] = []
    for err in validator.iter_errors(doc.data):
        path = tuple(err.absolute_path)
        schema = err.schema if isinstance(err.schema, dict) else {}
        if schema.get("$comment") == "condition":
            continue  # the condition checker reports these precisely
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            known = list(schema.get("properties", {}))
            for key in err.instance:
                if key not in known:
                    hint = did_you_mean(str(key), known)
                    out.append(doc.issue((*path, key), f"unknown key {key!r}{hint}", at_key=True))
        elif err.validator == "enum":
            allowed = [str(x) for x in err.validator_value]
            hint = did_you_mean(str(err.instance), allowed)
            out.append(
                doc.issue(path, f"{err.instance!r} is not one of {', '.join(allowed)}{hint}")
            )
        elif err.validator == "pattern" and schema.get("$comment") == "duration":
            out.append(
                doc.issue(
                    path, f"invalid ISO 8601 duration {err.instance!r} (e.g. P3D, PT48H, P3M)"
                )
            )
        elif err.validator == "required":
            missing = [k for k in err.validator_value if k not in err.instance]
            for key in missing:
                out.append(doc.issue(path, f"missing required key {key!r}"))
        else:
            out.append(doc.issue(path, err.message))
    return out
