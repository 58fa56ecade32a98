"""Pydantic field types that read JSON faithfully, shared by the CRM event data
(services/event_data.py) and the task completion models (workflows/task_models.py).

Both validate parsed JSON (Python mode) with strict models: "50" never becomes 50. Dates are
the exception JSON forces: they arrive as ISO 8601 text, which strict Python mode refuses.
These types take that text and nothing else, parsed by Python's own `fromisoformat`: a
number (or "1700000000") would otherwise pass as a Unix timestamp, and what is accepted here
is exactly what the workflows can read back from the payload they receive as sent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Strict
from pydantic_core import PydanticCustomError


def _iso(kind: type[date], name: str) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if isinstance(value, kind):
            return value
        if not isinstance(value, str):
            raise PydanticCustomError(f"{name}_type", f"Input should be an ISO 8601 {name} text")
        try:
            return kind.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError(
                f"{name}_parsing", f"Input should be an ISO 8601 {name}"
            ) from None

    return parse


IsoDateTime = Annotated[datetime, Strict(False), BeforeValidator(_iso(datetime, "datetime"))]
IsoDate = Annotated[date, Strict(False), BeforeValidator(_iso(date, "date"))]
