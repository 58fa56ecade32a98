"""Reading customer records from JSONL or CSV files for the command line.

CSV cells are text, so each column is converted by its contract type (an integer column
accepts "50" as 50); JSONL values are taken as they are ("50" stays a string and is
rejected by the contract). Empty CSV cells mean absent.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from rules.errors import RecordError, RecordIssue
from rules.record import RECORD_FIELDS, validate_record

_INT = re.compile(r"^[+-]?\d+$")
_BOOLS = {"true": True, "false": False, "1": True, "0": False}


def _csv_value(kind: str, text: str) -> Any:
    if kind == "int" and _INT.match(text):
        return int(text)
    if kind == "number":
        try:
            return int(text) if _INT.match(text) else float(text)
        except ValueError:
            return text
    if kind in ("bool", "optional_bool"):
        return _BOOLS.get(text.strip().lower(), text)
    if kind == "object":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _csv_records(handle: TextIO) -> Iterator[tuple[int, Any]]:
    reader = csv.DictReader(handle)
    for row in reader:
        record = {
            key: _csv_value(RECORD_FIELDS.get(key, "str"), value)
            for key, value in row.items()
            if key is not None and value not in ("", None)
        }
        yield reader.line_num, record


def _jsonl_records(handle: TextIO) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except ValueError as exc:
            yield number, exc


def read_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | RecordError]]:
    """(line number, validated record or the RecordError) for every record in the file."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = _csv_records(handle) if path.suffix.lower() == ".csv" else _jsonl_records(handle)
        for number, raw in rows:
            if isinstance(raw, ValueError):
                yield number, RecordError([RecordIssue("", f"invalid JSON: {raw}")])
                continue
            try:
                yield number, validate_record(raw)
            except RecordError as exc:
                yield number, exc
