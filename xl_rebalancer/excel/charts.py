"""The engine sheets' charts drawn in the live workbook through xlwings (`workbook/charts.py`
defines them; the file writer draws the same ones with openpyxl)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from ..workbook import schema as s
from ..workbook.charts import CHARTS, category_header, layout

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


def draw_report_live(sheet: Any, report: Any) -> None:
    """The Report page (report/page.py) in the live workbook: the same blocks and charts."""
    from ..report.page import cell_format

    for chart in list(sheet.charts):
        chart.delete()
    with contextlib.suppress(Exception):
        sheet.used_range.clear_contents()
    sheet.range((1, 1)).value = report.title
    sheet.range((2, 1)).value = report.subtitle
    sheet.range((3, 1)).value = report.prepared or None
    if report.disclosure:
        sheet.range((report.disclosure_row, 1)).value = report.disclosure
    for block in report.blocks:
        sheet.range((block.top, block.left)).value = block.title
        body = [[h or None for h in block.header], *(list(row) for row in block.rows)]
        sheet.range((block.top + 1, block.left)).value = body
        for index, row in enumerate(block.rows):
            for offset in range(len(row)):
                fmt = cell_format(block, row, offset)
                if fmt and isinstance(row[offset], int | float):
                    cell = sheet.range((block.top + 2 + index, block.left + offset))
                    cell.number_format = fmt
        if block.note:
            sheet.range((block.bottom, block.left)).value = block.note
    with contextlib.suppress(Exception):  # widths and fonts need the platform API
        sheet.range((1, 1)).font.bold = True
        for column, width in report.widths.items():
            sheet.range((1, column)).column_width = width
    for spec in report.charts:
        block = report.blocks[spec.block]
        if not block.rows:
            continue
        first, last = block.top + 1, block.top + 1 + len(block.rows)
        columns = [block.left, *(block.left + offset for offset in spec.series)]
        parts = [sheet.range((first, c), (last, c)).address for c in columns]
        chart = sheet.charts.add(
            left=sheet.range((1, spec.left)).left,
            top=sheet.range((spec.top, 1)).top,
            width=spec.width_cm * CM,
            height=spec.height_cm * CM,
        )
        chart.name = spec.name
        chart.chart_type = "column_clustered"
        chart.set_source_data(sheet.range(",".join(parts)))
        with contextlib.suppress(Exception):
            chart.api[1].HasTitle = True
            chart.api[1].ChartTitle.Text = spec.title
