"""Recorded histories (real dev server, tests/workflows/record_histories.py) replay against
the current workflow code: a non-deterministic change fails here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

import worker as worker_module

HISTORIES = Path(__file__).parent / "histories"
IDS = HISTORIES / "workflow_ids.json"  # written by record_histories: name -> workflow id
FILES = sorted(p for p in HISTORIES.glob("*.json") if p != IDS)


def workflow_of(path: Path) -> str:
    """`hazard.json` and `callback.continued.json` hold `hazard` and `callback` runs."""
    return path.name.split(".")[0]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_recorded_history_replays(path: Path) -> None:
    # the recorded workflow id, not the file name: task ids (and so the Update handler's
    # behaviour) derive from it
    workflow_id = json.loads(IDS.read_text())[path.stem]
    history = WorkflowHistory.from_json(workflow_id, path.read_text())
    replayer = Replayer(
        workflows=worker_module.WORKFLOWS, workflow_runner=worker_module.workflow_runner()
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


def test_every_workflow_has_a_recorded_history() -> None:
    # the registered type names (`@workflow.defn(name=...)`), as the histories carry them
    names = {workflow._Definition.must_from_class(cls).name for cls in worker_module.WORKFLOWS}
    recorded = {workflow_of(p) for p in FILES}
    assert names <= recorded, f"no recorded history for {sorted(names - recorded)}"
    assert recorded <= names, f"histories of unknown workflows: {sorted(recorded - names)}"
