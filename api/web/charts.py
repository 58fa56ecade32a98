"""Server-rendered SVG charts (no JavaScript, no chart library): horizontal bars.

Labels and values are escaped; the SVG carries a `role="img"` and a title so screen readers
announce it, and every chart sits next to a table with the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

PALETTE = ("#1f6feb", "#2da44e", "#bf8700", "#cf222e", "#8250df", "#0a7b83")


def bars(
    title: str,
    items: Sequence[tuple[str, float]],
    width: int = 440,
    unit: str = "",
) -> Markup:
    """A horizontal bar chart of (label, value) pairs, scaled to the largest value."""
    row, label_w, pad = 26, 140, 8
    height = max(1, len(items)) * row + 2 * pad
    top = max((v for _, v in items), default=0) or 1
    span = width - label_w - 70
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    if not items:
        parts.append(f'<text x="{pad}" y="{pad + 14}" class="muted">—</text>')
    for i, (name, value) in enumerate(items):
        y = pad + i * row
        w = max(1.0, span * value / top) if value else 0.0
        shown = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
        colour = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end">{escape(name)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
            f'fill="{colour}" rx="3"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 16}">{escape(shown)}{escape(unit)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def ratio(done: float, total: float) -> str:
    """A percentage for display ('—' when there is nothing to measure)."""
    return f"{100 * done / total:.1f}%" if total else "—"
