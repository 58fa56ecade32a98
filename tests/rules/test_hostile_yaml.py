"""Hostile policy files: alias bombs, self-referencing aliases, deep nesting, invalid UTF-8,
NUL and lone surrogates, huge files, huge integers, NaN. Each is refused quickly with
file:line and no Python exception, through the loader, the CLI and (tests/faults) the API."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import rules
from rules.loader import FILES
from rules.yamlpos import MAX_FILE_BYTES
from tests.rules.conftest import POLICIES

HEADER = "# yaml-language-server: $schema=./schema/points.schema.json\n"


def _bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return HEADER + "\n".join(lines) + "\n"


# (case, points.yaml content, expected line, a phrase of the message)
HOSTILE: list[tuple[str, str | bytes, int, str]] = [
    ("alias_bomb", _bomb(9), 2, "more than"),
    ("alias_bomb_deep", _bomb(20), 2, "more than"),
    ("self_alias_seq", HEADER + "events: &a [*a]\n", 2, "alias refers to the value"),
    ("self_alias_map", HEADER + "events: &a {x: *a}\n", 2, "alias refers to the value"),
    ("deep_nesting", HEADER + "events: " + "[" * 60 + "]" * 60 + "\n", 2, "nested deeper"),
    ("very_deep_nesting", HEADER + "e: " + "[" * 50_000 + "]" * 50_000 + "\n", 1, "nested"),
    ("invalid_utf8", HEADER.encode() + b"events:\n  x: \xff\xfe\n", 3, "not UTF-8"),
    ("nul", HEADER + "events:\n  x: a\x00b\n", 3, "not allowed"),
    ("lone_surrogate", HEADER + "events:\n  x: a\ud800b\n", 3, "not allowed"),
    ("huge_file", HEADER + "#" * (MAX_FILE_BYTES + 10) + "\n", 1, "larger than"),
    ("huge_int", HEADER + "events:\n  x: " + "9" * 5000 + "\n", 3, "invalid scalar"),
    ("nan", HEADER + "events:\n  x: .nan\n", 3, "NaN"),
    ("infinity", HEADER + "events:\n  x: -.inf\n", 3, "NaN"),
    ("complex_key", HEADER + "events:\n  ? [a, b]\n  : 1\n", 3, "key must be a plain"),
]


def _files(name: str, content: str | bytes) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {n: (POLICIES / n).read_text(encoding="utf-8") for n in FILES}
    files["points.yaml"] = content
    return files


@pytest.mark.parametrize(
    ("case", "content", "line", "phrase"), HOSTILE, ids=[c[0] for c in HOSTILE]
)
def test_hostile_file_is_refused_with_its_line(
    case: str, content: str | bytes, line: int, phrase: str
) -> None:
    started = time.monotonic()
    with pytest.raises(rules.PolicyError) as caught:
        rules.load_bundle_from_texts(_files("points.yaml", content))
    assert time.monotonic() - started < 5, case
    issues = [i for i in caught.value.issues if i.file == "points.yaml"]
    assert issues, caught.value
    assert any(phrase in i.message and i.line == line for i in issues), [str(i) for i in issues]


def test_cli_reports_hostile_files_without_a_traceback(tmp_path: Path) -> None:
    for case, content, line, phrase in HOSTILE:
        target = tmp_path / case
        target.mkdir()
        for name, text in _files("points.yaml", content).items():
            data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
            (target / name).write_bytes(data)
        run = subprocess.run(
            [sys.executable, "-m", "cli", "policy", "validate", str(target)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert run.returncode == 1, (case, run.stdout, run.stderr[-2000:])
        assert "Traceback" not in run.stderr, (case, run.stderr[-2000:])
        assert f"{target / 'points.yaml'}:{line}:" in run.stderr, (case, run.stderr[-2000:])
        # a lone surrogate written to a file is no longer UTF-8 (CESU bytes): either refusal
        assert phrase in run.stderr or "not UTF-8" in run.stderr, (case, run.stderr[-2000:])
