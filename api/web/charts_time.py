"""Charts over time for the foresight pages (inline SVG, no JavaScript): a timeline with one
lane per process, and weekly columns against a capacity line. Like `charts`, every chart has
a title for screen readers and sits next to a table with the same numbers."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from api.web.charts import PALETTE


def _open(title: str, width: int, height: int) -> list[str]:
    return [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]


def lanes(
    title: str, points: Sequence[tuple[str, int, str]], days: int, width: int = 720
) -> Markup:
    """(lane, day, label) points: one row per lane, a dot per point at its day."""
    names = list(dict.fromkeys(lane for lane, _, _ in points))
    row, label_w, pad = 24, 150, 10
    height = max(1, len(names)) * row + 2 * pad + 16
    span = width - label_w - pad
    parts = _open(title, width, height)
    for i, name in enumerate(names):
        y = pad + i * row + row / 2
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 4:.0f}" text-anchor="end">{escape(name)}</text>'
            f'<line x1="{label_w}" x2="{width - pad}" y1="{y:.0f}" y2="{y:.0f}" stroke="#d0d7de"/>'
        )
    for lane, day, label in points:
        x = label_w + span * min(day, days) / max(days, 1)
        y = pad + names.index(lane) * row + row / 2
        colour = PALETTE[names.index(lane) % len(PALETTE)]
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.0f}" r="4" fill="{colour}">'
            f"<title>{escape(f'day {day}: {label}')}</title></circle>"
        )
    axis_y = height - 6
    for tick in range(0, days + 1, max(7, days // 10 // 7 * 7 or 7)):
        x = label_w + span * tick / max(days, 1)
        parts.append(f'<text x="{x:.0f}" y="{axis_y}" text-anchor="middle">{tick}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(
    title: str, values: Sequence[float], capacity: float | None, width: int = 720
) -> Markup:
    """One column per week; columns above `capacity` (a dashed line) are drawn red."""
    height, pad, base = 180, 24, 150
    top = max([*values, capacity or 0, 1])
    step = (width - 2 * pad) / max(len(values), 1)
    parts = _open(title, width, height)
    for i, v in enumerate(values):
        h = (base - pad) * v / top
        over = capacity is not None and v > capacity
        colour = PALETTE[3] if over else PALETTE[0]
        x = pad + i * step
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{base - h:.1f}" width="{step - 4:.1f}" height="{h:.1f}" '
            f'fill="{colour}"><title>{escape(f"week {i + 1}: {v:g}")}</title></rect>'
            f'<text x="{x + step / 2:.1f}" y="{base + 16}" text-anchor="middle">{i + 1}</text>'
        )
    if capacity is not None:
        y = base - (base - pad) * capacity / top
        parts.append(
            f'<line x1="{pad}" x2="{width - pad}" y1="{y:.1f}" y2="{y:.1f}" stroke="{PALETTE[3]}" '
            f'stroke-dasharray="6 4"/><text x="{width - pad}" y="{y - 4:.1f}" '
            f'text-anchor="end">{escape(f"{capacity:g}")}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
