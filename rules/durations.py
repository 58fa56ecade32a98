"""ISO 8601 durations as the policies write them (P3D, PT48H, P3M, P1Y, PT30M).

Months and years have no fixed length; workflows need a timedelta for timers, so we use
calendar-ish approximations: 1 month = 30.4375 days rounded per value (P3M = 91 days,
P1M = 30 days, P6M = 183 days), 1 year = 365 days, 1 week = 7 days.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

DURATION_PATTERN: Final = (
    r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$"
)
_RE: Final = re.compile(
    r"^P(?!$)(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
DAYS_PER_MONTH: Final = 30.4375


def is_duration(text: object) -> bool:
    """True if ``text`` is an ISO 8601 duration string this module can parse."""
    return isinstance(text, str) and _RE.match(text) is not None


def parse_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration; months and years use the approximations above."""
    match = _RE.match(text)
    if match is None:
        raise ValueError(f"invalid ISO 8601 duration {text!r} (e.g. P3D, PT48H, P3M)")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    days = round(parts["y"] * 365 + parts["mo"] * DAYS_PER_MONTH) + parts["w"] * 7 + parts["d"]
    return timedelta(days=days, hours=parts["h"], minutes=parts["mi"], seconds=parts["s"])
