"""The process catalogue is the one place a process kind is declared: the worker registers
exactly its workflows, every workflow class in `workflows/` is in it, the strategy processes
of the shipped policy and every CRM event that starts something map to entries, and each id
template formats from its input's fields. Declaring a process anywhere else only fails here."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from typing import Any

from temporalio import workflow

import worker
import workflows
from config import ROOT
from rules.loader import load_bundle
from services.event_types import CUSTOMERLESS, DATA
from workflows.catalogue import BY_EVENT, BY_KIND, BY_STRATEGY, CATALOGUE


def _defined_workflows() -> dict[str, type[Any]]:
    found: dict[str, type[Any]] = {}
    for info in pkgutil.iter_modules(workflows.__path__):
        module = importlib.import_module(f"workflows.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            defn = workflow._Definition.from_class(cls)
            if defn is not None and cls.__module__ == module.__name__ and defn.name:
                found[defn.name] = cls
    return found


def test_every_workflow_class_is_catalogued_and_registered() -> None:
    defined = _defined_workflows()
    assert set(defined) == set(BY_KIND), "declare each workflow in workflows/catalogue.py"
    for kind, proc in BY_KIND.items():
        assert proc.workflow is defined[kind]
    registered = {workflow._Definition.must_from_class(c).name for c in worker.WORKFLOWS}
    assert registered == set(BY_KIND)
    assert len(worker.WORKFLOWS) == len(set(worker.WORKFLOWS))


def test_id_templates_format_from_their_inputs() -> None:
    for proc in CATALOGUE:
        fields = {f.name: f"<{f.name}>" for f in dataclasses.fields(proc.input)}
        wid = proc.workflow_id(fields)
        assert wid.startswith(proc.id_template.split(":")[0] + ":"), proc.kind
        if proc.trigger == "segment":
            assert proc.strategy_process and proc.stop_signal and proc.on_running == "use_existing"


def test_strategy_processes_and_events_map_to_entries() -> None:
    bundle = load_bundle(ROOT / "policies")
    links = {link.name: link for link in bundle.process_links}
    # every segment-driven entry is a strategy process of the shipped policy
    assert set(BY_STRATEGY) <= set(links)
    for name, link in links.items():
        if name in BY_STRATEGY:
            assert link.enabled_by, name  # a segment starts it, so something must enable it
        else:  # an event process's per-customer parameters (outage: `outage_notice`)
            assert name in BY_KIND or name == "outage_notice", name
            assert name not in BY_KIND or BY_KIND[name].trigger == "event", name
    for etype, proc in BY_EVENT.items():
        assert etype in DATA and proc.trigger == "event", etype
    assert {p.kind for p in CATALOGUE if p.trigger == "event"} == {
        p.kind for p in BY_EVENT.values()
    }
    assert set(DATA) >= CUSTOMERLESS
