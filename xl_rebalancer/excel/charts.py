"""The engine sheets' charts drawn in the live workbook through xlwings (`io/charts.py`
defines them; the file writer draws the same ones with openpyxl)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from ..io import schema as s
from ..io.charts import CHARTS, category_header, layout

CM = 28.35  # points per centimetre


def draw_live(sheet: Any, spec: s.SheetSpec, columns: Sequence[s.Column], rows: int) -> None:
    specs = CHARTS.get(spec.name, ())
    for chart in list(sheet.charts):
        if any(chart.name == c.name for c in specs):
            chart.delete()
    if not specs or rows < 1:
        return
    headers = [c.header for c in columns]

    def column_of(header: str) -> list[Any]:
        col = headers.index(header) + 1
        values = sheet.range((2, col), (rows + 1, col)).options(ndim=1).value
        return list(values or [])

    category = headers.index(category_header(headers, column_of)) + 1
    left = sheet.range((1, len(headers) + 2)).left
    for chart_spec, (row, height) in zip(specs, layout(rows, len(specs)), strict=True):
        last = rows + 1 - (1 if chart_spec.skip_last else 0)
        if last < 2:
            continue
        parts = [sheet.range((1, category), (last, category)).address]
        parts += [
            sheet.range((1, headers.index(h) + 1), (last, headers.index(h) + 1)).address
            for h in chart_spec.series
        ]
        chart = sheet.charts.add(
            left=left, top=sheet.range((row, 1)).top, width=16 * CM, height=height * CM
        )
        chart.name = chart_spec.name
        chart.chart_type = "bar_clustered"
        chart.set_source_data(sheet.range(",".join(parts)))
        with contextlib.suppress(Exception):  # titles need the platform API
            chart.api[1].HasTitle = True
            chart.api[1].ChartTitle.Text = chart_spec.title
