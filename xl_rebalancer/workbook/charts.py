"""Native Excel charts beside the engine's tables, defined once for both writers.

The file writer draws them with openpyxl (real DrawingML charts, which Excel and
LibreOffice render and which recalculate from the table); the xlwings adapter draws
the same charts in the live workbook (`excel/charts.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

ROW_CM = 0.53  # a default 15-point row
CHART_COLUMNS = 10  # a 16 cm chart spans about ten default-width columns


@dataclass(frozen=True)
class ChartSpec:
    name: str
    title: str
    series: tuple[str, ...]
    skip_last: bool = False  # OptimizedTargets ends with its Portfolio row


CHARTS: dict[str, tuple[ChartSpec, ...]] = {
    "Drift": (
        ChartSpec("xlrbAllocation", "Current vs target weight", ("Weight", "TargetWeight")),
        ChartSpec("xlrbDrift", "Drift against band", ("Drift", "Band")),
    ),
    "OptimizedTargets": (
        ChartSpec(
            "xlrbRisk",
            "Weight vs risk contribution",
            ("Weight", "RiskContribution"),
            skip_last=True,
        ),
    ),
}


def category_header(headers: list[Any], column_of: Any) -> str:
    """Symbol, unless lines are asset classes (a blank Symbol somewhere)."""
    if "AssetClass" in headers and any(v is None for v in column_of("Symbol")):
        return "AssetClass"
    return "Symbol"


def chart_height_cm(rows: int) -> float:
    return max(7.5, 0.6 * rows)


def layout(rows: int, count: int) -> list[tuple[int, float]]:
    """(first sheet row, height in cm) of each of `count` charts stacked beside a table."""
    height = chart_height_cm(rows)
    step = math.ceil(height / ROW_CM) + 2
    return [(2 + i * step, height) for i in range(count)]


def draw_file(ws: Any, sheet: str) -> None:
    """openpyxl: the sheet's charts, to the right of its table."""
    from openpyxl.chart import BarChart, Reference
    from openpyxl.utils import get_column_letter

    specs = CHARTS.get(sheet, ())
    headers = [c.value for c in ws[1]]
    rows = ws.max_row - 1
    if not specs or rows < 1:
        return

    def column_of(header: str) -> list[Any]:
        col = headers.index(header) + 1
        return [ws.cell(row=r, column=col).value for r in range(2, rows + 2)]

    category = headers.index(category_header(headers, column_of)) + 1
    anchor = get_column_letter(len(headers) + 2)
    for spec, (row, height) in zip(specs, layout(rows, len(specs)), strict=True):
        last = rows + 1 - (1 if spec.skip_last else 0)
        if last < 2:
            continue
        chart = BarChart()
        chart.type = "bar"
        chart.title = spec.title
        chart.y_axis.numFmt = "0%"
        chart.y_axis.majorGridlines = None
        chart.x_axis.tickLblPos = "low"  # labels clear of negative bars
        chart.height = height
        chart.width = 16
        for header in spec.series:
            col = headers.index(header) + 1
            chart.add_data(
                Reference(ws, min_col=col, min_row=1, max_row=last), titles_from_data=True
            )
        chart.set_categories(Reference(ws, min_col=category, min_row=2, max_row=last))
        ws.add_chart(chart, f"{anchor}{row}")
    # Print the charts with the table: the print area reaches past the last chart.
    bottom = layout(rows, len(specs))[-1]
    last_row = max(rows + 1, bottom[0] + math.ceil(bottom[1] / ROW_CM))
    right = get_column_letter(len(headers) + 1 + CHART_COLUMNS)
    ws.print_area = f"A1:{right}{last_row}"
    ws.page_setup.orientation = "landscape"
