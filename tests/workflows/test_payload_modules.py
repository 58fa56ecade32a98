"""The payload modules are split by concept and every process takes the same stop signals.

One cancel payload: every workflow's `cancel` handler takes `CancelSignal`, every `leave`
handler `LeaveSignal`, and the shape on the wire is the one recorded histories hold.
"""

from __future__ import annotations

import ast
import typing
from pathlib import Path

from temporalio import workflow
from temporalio.converter import DataConverter

import worker as worker_module
from workflows.signals import CancelSignal, LeaveSignal

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
PAYLOAD_MODULES = ("attributes", "inputs", "signals", "task_payloads", "outcomes",
                   "activity_payloads", "segmentation_payloads", "process_plans",
                   "arrears_payloads")  # fmt: skip


def _handler_types(name: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for cls in worker_module.WORKFLOWS:
        defn = workflow._Definition.must_from_class(cls)
        signal = defn.signals.get(name)
        if signal is not None:
            hints = typing.get_type_hints(signal.fn)
            out[defn.name] = next(v for k, v in hints.items() if k != "return")
    return out


def test_every_cancel_handler_takes_the_one_cancel_payload() -> None:
    cancel = _handler_types("cancel")
    assert len(cancel) >= 8  # every event-driven process and the segment-driven ones
    assert set(cancel.values()) == {CancelSignal}, cancel
    leave = _handler_types("leave")
    assert leave and set(leave.values()) == {LeaveSignal}, leave


def test_the_cancel_payload_keeps_its_recorded_shape() -> None:
    conv = DataConverter.default.payload_converter
    [wire] = conv.to_payloads([CancelSignal("write-off", "supervisor.wang")])
    assert wire.data == b'{"actor":"supervisor.wang","reason":"write-off"}'
    # what the API's cancel sent before the payloads were one: {reason, actor}
    [old] = conv.to_payloads([{"reason": "duplicate", "actor": "sup"}])
    assert conv.from_payloads([old], [CancelSignal]) == [CancelSignal("duplicate", "sup")]


def test_payload_modules_are_small_and_say_what_they_hold() -> None:
    for name in PAYLOAD_MODULES:
        text = (WORKFLOWS / f"{name}.py").read_text()
        assert ast.get_docstring(ast.parse(text)), name
        assert len(text.splitlines()) <= 300, name
    # the modules named by history are gone
    assert not (WORKFLOWS / "payloads.py").exists()
    assert not (WORKFLOWS / "process_payloads.py").exists()


def test_each_payload_class_is_defined_once() -> None:
    seen: dict[str, str] = {}
    for path in sorted(WORKFLOWS.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                assert node.name not in seen, f"{node.name}: {seen.get(node.name)} and {path.name}"
                seen[node.name] = path.name
