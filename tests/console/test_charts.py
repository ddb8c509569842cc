"""The SVG bar charts of the KPI page and the Dagster asset (billing/charts.py)."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from decimal import Decimal

from billing.charts import bar_chart, data_uri

SVG = "{http://www.w3.org/2000/svg}"


def test_one_bar_per_month_with_its_value_and_missing_months_marked():
    svg = bar_chart("Auto-pay <rate>", ["Sep 2026", "Oct 2026", "Nov 2026"],
                    [Decimal("0.5"), None, Decimal("1")], unit="%")
    root = ET.fromstring(svg)  # well-formed, the title escaped
    bars = root.findall(f"{SVG}rect[@class='bar']")
    assert len(bars) == 3
    heights = [float(bar.get("height")) for bar in bars]
    assert heights[2] == 2 * heights[0] and heights[1] == 3.0
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "50.0%" in texts and "n/a" in texts and "100.0%" in texts and "Auto-pay <rate>" in texts


def test_data_uri_carries_the_svg():
    svg = bar_chart("Days to pay", ["Oct 2026"], [Decimal("13.3")], unit=" d")
    assert base64.b64decode(data_uri(svg).split(",", 1)[1]).decode() == svg
