"""Bar charts as SVG text, drawn on the server: the console shows them inline and the Dagster
asset kpis/monthly embeds them in its metadata, so no chart library or browser script is
needed. Pixel positions are Decimal like the values they draw; labels show values as given."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from decimal import Decimal
from html import escape

WIDTH, HEIGHT = 520, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 42, 34
BAR = "#2f6f9f"
MISSING = "#b8c2cc"


def _label(value: Decimal | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "%":
        return f"{(value * 100).quantize(Decimal('0.1'))}%"
    return f"{value.normalize():f}{unit}"


def bar_chart(title: str, labels: Sequence[str], values: Sequence[Decimal | None], unit: str = "",
              value_labels: bool = True) -> str:
    """One bar per label (a month, a day); a missing value is a grey stub marked n/a. `unit`
    "%" shows ratios (0..1) as percentages; without `value_labels` (many narrow bars) a
    bar's value shows on hover only."""
    plot_width = Decimal(WIDTH - LEFT - RIGHT)
    plot_height = Decimal(HEIGHT - TOP - BOTTOM)
    present = [Decimal(v) for v in values if v is not None]
    top = max([*present, Decimal(1) if unit == "%" else Decimal(0)]) or Decimal(1)
    step = plot_width / max(len(labels), 1)
    bar_width = min(Decimal(48), step * Decimal("0.6"))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" font-family="Helvetica, Arial, sans-serif" font-size="11">',
        f'<title>{escape(title)}</title>',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="18" font-size="13" font-weight="bold" fill="#1d2733">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{TOP + plot_height}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_height}" stroke="#8796a5"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_height}" stroke="#8796a5"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" fill="#5b6b7b">'
        f'{escape(_label(round(top, 4), unit))}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_height}" text-anchor="end" fill="#5b6b7b">'
        f'{escape(_label(Decimal(0), unit))}</text>',
    ]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = LEFT + step * index + (step - bar_width) / 2
        centre = x + bar_width / 2
        if value is None:
            height, colour = Decimal(3), MISSING
        else:
            height, colour = max(Decimal(value) / top * plot_height, Decimal(1 if value else 0)), BAR
        y = TOP + plot_height - height
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_width:.1f}" height="{height:.1f}" '
                     f'fill="{colour}"><title>{escape(label)}: {escape(_label(value, unit))}</title></rect>')
        if value_labels:
            parts.append(f'<text x="{centre:.1f}" y="{y - 4:.1f}" text-anchor="middle" fill="#1d2733">'
                         f'{escape(_label(value, unit))}</text>')
        parts.append(f'<text x="{centre:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" fill="#5b6b7b">'
                     f'{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def data_uri(svg: str) -> str:
    """The chart as an image source for Markdown (Dagster metadata)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
