"""Pydantic field types that read JSON faithfully, shared by the CRM event data
(services/event_data.py) and the task completion models (workflows/task_models.py).

Both validate parsed JSON (Python mode) with strict models: "50" never becomes 50. Dates are
the exception JSON forces: they arrive as ISO 8601 text, which strict Python mode refuses.
These types parse that text and nothing else (a number would otherwise pass as a Unix
timestamp).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Strict


def _iso_text(value: Any) -> Any:
    if not isinstance(value, str | date):
        raise ValueError("an ISO 8601 date or date-time text is required")
    return value


IsoDateTime = Annotated[datetime, Strict(False), BeforeValidator(_iso_text)]
IsoDate = Annotated[date, Strict(False), BeforeValidator(_iso_text)]
