"""The Report sheet: the proposal on one printed page, for a client meeting.

Laid out as plain blocks (a title, a header, rows and a number format per column) and
charts over those blocks, so the file writer (openpyxl) and the live workbook (xlwings)
draw the same page. What it shows comes from the run's result only: the household
before and after by asset class and by account, what the proposal costs in tax and
trading, its largest trades and the losses it found to harvest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..models.results import RebalanceResult
from ..workbook import schema as s
from ..workbook.schema import BODY_FONT

LARGEST_TRADES = 8
HARVEST_ROWS = 5
# The two side-by-side columns of blocks: A..F and H..L (G is a gutter).
LEFT, RIGHT = 1, 8
CHART_ROWS = 16  # a 8 cm chart is about sixteen 15-point rows
DISCLOSURE_ROWS = 2  # at least: merged across the page, the text wrapped inside


@dataclass(frozen=True)
class Block:
    """A titled table at (top, left): header, rows, and a number format per column."""

    title: str
    top: int
    left: int
    header: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    formats: tuple[str | None, ...]
    note: str = ""  # a line under the block (what the rows leave out)

    @property
    def bottom(self) -> int:
        """The last row the block uses (its title, header, rows and note)."""
        return self.top + 1 + max(len(self.rows), 1) + (1 if self.note else 0)


@dataclass(frozen=True)
class ReportChart:
    """A clustered bar chart of some columns of a block, categories from its first column."""

    name: str
    title: str
    block: int
    series: tuple[int, ...]  # column indexes within the block
    top: int
    left: int
    width_cm: float = 12.5
    height_cm: float = 7.5
    percent: bool = False


@dataclass(frozen=True)
class Report:
    title: str
    subtitle: str
    blocks: tuple[Block, ...]
    charts: tuple[ReportChart, ...] = ()
    widths: dict[int, float] = field(default_factory=dict)
    axis_format: str = "#,##0"  # an amount axis, with the currency sign
    # Row 3: who it is for, by whom and when, and the deposit or withdrawal.
    prepared: str = ""
    # Settings' disclosure, printed under everything else (row `disclosure_row`).
    disclosure: str = ""

    @property
    def body_row(self) -> int:
        """The last row of the blocks and charts."""
        rows = [b.bottom for b in self.blocks]
        rows += [c.top + CHART_ROWS for c in self.charts]
        return max(rows, default=2)

    @property
    def disclosure_row(self) -> int:
        return self.body_row + 2

    @property
    def disclosure_rows(self) -> int:
        """Rows the merged disclosure takes: its text wrapped at the page's width (a
        10-point character is about a column-width unit), one spare."""
        if not self.disclosure:
            return 0
        width = sum(self.widths.get(c, 8.43) for c in range(1, self.last_column + 1))
        lines = sum(1 + int(len(part) / max(width, 40.0)) for part in self.disclosure.splitlines())
        return max(DISCLOSURE_ROWS, lines + 1)

    @property
    def last_row(self) -> int:
        return self.disclosure_row + self.disclosure_rows - 1 if self.disclosure else self.body_row

    @property
    def last_column(self) -> int:
        return max(
            [b.left + len(b.header) - 1 for b in self.blocks] + [RIGHT + 4], default=RIGHT + 4
        )


def _value(result: RebalanceResult, key: str, default: Any = None) -> Any:
    try:
        return result.summary_value(key)
    except KeyError:
        return default


# The base currency's sign where it has a common one; otherwise its code, as "CHF 1.00".
CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "C$", "AUD": "A$"}
# Account types as a client reads them (the Accounts sheet takes the codes).
ACCOUNT_TYPES = {
    "taxable": "Taxable",
    "tax_deferred": "Tax-deferred",
    "tax_exempt": "Tax-exempt",
}


def currency_sign(code: Any) -> str:
    code = str(code or "USD").strip().upper()
    return CURRENCY_SIGNS.get(code, f"{code} ")


def money_format(sign: str) -> str:
    """The sheets' money format with the currency sign, negatives red with the minus first
    ("-$1,110.00"), a parenthesis' width kept clear on the right like theirs."""
    quoted = '"' + sign.replace('"', "") + '"'
    return f"{quoted}#,##0.00_);[Red]-{quoted}#,##0.00_)"


def _money(value: Any, sign: str = "") -> str:
    if not isinstance(value, int | float):
        return "n/a"
    number = float(value)
    return f"{'-' if number < 0 else ''}{sign}{abs(number):,.2f}"


def _saved(tax: Any) -> bool:
    """A negative estimated tax is a saving (a harvest), not a bill to show in red."""
    return isinstance(tax, int | float) and tax < 0


def cash_flow_line(flow: Any, sign: str) -> str:
    """The deposit or withdrawal in words: a client reads "a withdrawal of $5,000.00
    raised by this proposal", not a signed cash flow."""
    if not isinstance(flow, int | float) or abs(flow) < 0.005:
        return "No deposit or withdrawal."
    if flow > 0:
        return f"Deposit of {_money(flow, sign)} invested by this proposal."
    return f"Withdrawal of {_money(-flow, sign)} raised by this proposal."


def _long_date(value: Any) -> str:
    """2026-11-20 as a client reads it: November 20, 2026."""
    try:
        day = dt.date.fromisoformat(str(value))
    except ValueError:
        return str(value or "")
    return f"{day.strftime('%B')} {day.day}, {day.year}"


def prepared_line(settings: Mapping[str, Any], prepared: dt.date | None) -> str:
    """Who the page is for, by whom and when (Settings client_name, firm_name)."""
    client, firm = settings.get("client_name"), settings.get("firm_name")
    parts = ["Prepared"]
    if client:
        parts.append(f"for {client}")
    if firm:
        parts.append(f"by {firm}")
    if prepared is not None:
        parts.append(f"on {_long_date(prepared.isoformat())}")
    return " ".join(parts) + "." if len(parts) > 1 else ""


def _on_hold(settings: Mapping[str, Any]) -> bool:
    """Settings do_not_trade, as the sheet may hold it (TRUE, a word, a number)."""
    value = settings.get("do_not_trade")
    if isinstance(value, str):
        return value.strip().lower() in {"true", "yes", "1", "y"}
    return bool(value)


def build_report(
    result: RebalanceResult,
    settings: Mapping[str, Any] | None = None,
    prepared: dt.date | None = None,
) -> Report:
    """The page's blocks and charts from one run's result; `settings` (the run's, as
    a dict) give the client, the firm and the disclosure, `prepared` the date."""
    settings = settings or {}
    total_before = float(_value(result, "total_value_before", 0.0) or 0.0)
    total_after = float(_value(result, "total_value_after", total_before) or 0.0)
    trades = list(result.trades)
    tax = _value(result, "estimated_tax", 0.0)
    sign = currency_sign(_value(result, "base_currency", "USD"))
    money = money_format(sign)
    subtitle = (
        f"Valuation date {_long_date(_value(result, 'valuation_date', ''))}; household value "
        f"{_money(total_before, sign)} before, {_money(total_after, sign)} after; "
        f"{len(trades)} trades; "
        + (
            f"estimated tax saved {_money(-tax, sign)}"
            if _saved(tax)
            else f"estimated tax {_money(tax, sign)}"
        )
    )
    top = 5  # under the title, the figures line and the prepared-for line
    by_class = _class_block(result, total_before, total_after, top, money)
    by_account = _account_block(result, trades, top, money)
    second = max(by_class.bottom, by_account.bottom) + 2
    figures = _figures_block(result, second, money)
    trade_block = _trades_block(trades, settings, second, money)
    third = max(figures.bottom, trade_block.bottom) + 2
    harvest_block = _harvest_block(result, trades, third, money, sign)
    blocks = (by_class, by_account, figures, trade_block, harvest_block)
    widths = _widths(blocks)
    charts = _charts(max(harvest_block.bottom, third) + 2, blocks, widths)
    axis = '"' + sign.replace('"', "") + '"#,##0'
    flow = cash_flow_line(_value(result, "cash_flow", 0.0), sign)
    who = prepared_line(settings, prepared)
    return Report(
        "Rebalance proposal",
        subtitle,
        blocks,
        charts,
        widths=widths,
        axis_format=axis,
        prepared=f"{who} {flow}" if who else flow,
        disclosure=str(settings.get("disclosure") or ""),
    )


def _class_block(
    result: RebalanceResult, total_before: float, total_after: float, top: int, money: str
) -> Block:
    """Each asset class before and after, in money and weight, beside its target."""
    classes: dict[str, list[float]] = {}
    for row in result.drift:
        name = row.asset_class or row.symbol or "CASH"
        after_weight = row.post_trade_weight if row.post_trade_weight is not None else row.weight
        line = classes.setdefault(name, [0.0, 0.0, 0.0])
        line[0] += row.value
        line[1] += after_weight * total_after
        line[2] += row.target_weight
    class_rows = tuple(
        (
            name,
            before,
            before / total_before if total_before else 0.0,
            after,
            after / total_after if total_after else 0.0,
            target,
        )
        for name, (before, after, target) in classes.items()
    )
    return Block(
        "By asset class",
        top,
        LEFT,
        ("Asset class", "Before", "Before %", "After", "After %", "Target %"),
        class_rows,
        (None, money, s.FMT_PCT, money, s.FMT_PCT, s.FMT_PCT),
    )


def _account_block(result: RebalanceResult, trades: list[Any], top: int, money: str) -> Block:
    """An account's value does not change in a rebalance (only by its trading costs):
    what changes is what it sells and buys and the cash left, so those are shown and
    charted, and the value once."""
    sold: dict[str, float] = {}
    bought: dict[str, float] = {}
    for t in trades:
        side = sold if t.action == "SELL" else bought
        side[t.account] = side.get(t.account, 0.0) + t.value
    return Block(
        "By account",
        top,
        RIGHT,
        ("Account", "Type", "Value", "Sold", "Bought", "Cash before", "Cash after"),
        tuple(
            (
                a.account,
                ACCOUNT_TYPES.get(a.type, a.type),
                a.value_before,
                round(sold.get(a.account, 0.0), 2),
                round(bought.get(a.account, 0.0), 2),
                a.cash_before,
                a.cash_after,
            )
            for a in result.accounts
        ),
        (None, None, money, money, money, money, money),
        note="after the trades each account is worth its value less its trading costs",
    )


def _figures_block(result: RebalanceResult, top: int, money: str) -> Block:
    """The deposit or withdrawal, then the proposal's tax and costs."""
    return Block(
        "Tax and costs of the proposal",
        top,
        LEFT,
        ("", "Amount"),
        (
            _flow_figure(_value(result, "cash_flow", 0.0)),
            *(
                ("Estimated tax saved", -v) if key == "estimated_tax" and _saved(v) else (label, v)
                for label, key in FIGURES + OPTED_IN_FIGURES
                for v in [_value(result, key, None if key in OPTIONAL else 0.0)]
                if v is not None
            ),
        ),
        (None, money),
    )


def _trades_block(trades: list[Any], settings: Mapping[str, Any], top: int, money: str) -> Block:
    """The largest trades, and how many smaller ones the Trades sheet holds; with none,
    why none."""
    largest = sorted(trades, key=lambda t: -abs(t.value))[:LARGEST_TRADES]
    left_out = len(trades) - len(largest)
    return Block(
        "Largest trades",
        top,
        RIGHT,
        ("Account", "Symbol", "Action", "Value", "Est. tax"),
        tuple((t.account, t.symbol, t.action, t.value, t.est_tax) for t in largest),
        (None, None, None, money, money),
        note=(
            f"and {left_out} smaller trade{'s' if left_out > 1 else ''} (Trades sheet)"
            if left_out > 0
            else "none: the household is on hold (do_not_trade), so nothing is proposed"
            if not trades and _on_hold(settings)
            else "none: this run proposes no trade"
            if not trades
            else ""
        ),
    )


def _harvest_block(
    result: RebalanceResult, trades: list[Any], top: int, money: str, sign: str
) -> Block:
    """The largest losses available to harvest, and their total."""
    harvest = sorted(result.harvest, key=lambda h: -abs(h.unrealized_loss))
    shown = harvest[:HARVEST_ROWS]
    # A lot this proposal sells is named, so "clear" beside it is not read as a loss left
    # on the table (the Trades sheet has the shares).
    selling = sorted({t.lot_id for t in trades if t.action == "SELL" and t.lot_id})
    harvested = [h.lot_id for h in harvest if h.lot_id in selling]
    lots = f"{len(harvest)} lot{'s' if len(harvest) != 1 else ''}"
    lost = _money(sum(h.unrealized_loss for h in harvest), sign)
    harvest_note = f"{lots}, {lost} in all" + (
        f"; this proposal sells from {', '.join(harvested)}" if harvested else ""
    )
    return Block(
        "Losses available to harvest",
        top,
        LEFT,
        ("Account", "Symbol", "Lot", "Loss", "Tax saving", "Wash sale"),
        tuple(
            (
                h.account,
                h.symbol,
                h.lot_id,
                h.unrealized_loss,
                h.est_tax_saving,
                h.wash_sale,  # as the TaxHarvest sheet says it ("clear" or "blocked")
            )
            for h in shown
        ),
        (None, None, None, money, money, None),
        note=harvest_note if harvest else "none: no lot is below its basis",
    )


def _charts(
    top: int, blocks: tuple[Block, ...], widths: dict[int, float]
) -> tuple[ReportChart, ...]:
    """The classes' and the accounts' charts below the blocks, each as wide as the
    block it charts."""
    charts = (
        ReportChart(
            "xlrbReportClasses",
            "Asset classes: before, after and target",
            0,
            (2, 4, 5),
            top,
            LEFT,
            percent=True,
        ),
        ReportChart(
            "xlrbReportAccounts",
            "Trading by account: sold and bought",
            1,
            (3, 4),
            top,
            RIGHT,
        ),
    )
    return tuple(replace(chart, width_cm=_span_cm(widths, blocks[chart.block])) for chart in charts)


def _flow_figure(flow: Any) -> tuple[str, float]:
    """The figures block's first line: the deposit or withdrawal, as a positive amount."""
    amount = float(flow) if isinstance(flow, int | float) else 0.0
    if amount > 0.005:
        return ("Deposit invested", amount)
    if amount < -0.005:
        return ("Withdrawal raised", -amount)
    return ("Deposit or withdrawal", 0.0)


def _span_cm(widths: dict[int, float], block: Block) -> float:
    """A chart as wide as the block above it (a character of width is about 0.2 cm)."""
    chars = sum(widths.get(block.left + i, 8.43) for i in range(len(block.header)))
    return max(10.0, 0.2 * chars)


def _shown_width(value: Any, fmt: str | None) -> int:
    """Characters a cell shows: an amount with its currency sign, else as the sheets."""
    from ..workbook.tables import display_width

    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and fmt and fmt.startswith('"'):  # money_format: the sign quoted in front
        return len(_money(value, fmt.split('"')[1])) + 1
    return display_width(value, fmt)


def _widths(blocks: Sequence[Block]) -> dict[int, float]:
    """Each sheet column as wide as the widest text or figure any block puts in it."""
    widths: dict[int, float] = {LEFT + 6: 3.0}  # the gutter
    for block in blocks:
        for offset, header in enumerate(block.header):
            column = block.left + offset
            fmt = block.formats[offset]
            longest = max([len(header), *(_shown_width(row[offset], fmt) for row in block.rows)])
            widths[column] = max(widths.get(column, 8.0), min(longest + 3, 32))
    return widths


FIGURES = (
    ("Bought", "buys"),
    ("Sold", "sells"),
    ("Realized short-term gain", "realized_st_gain"),
    ("Realized long-term gain", "realized_lt_gain"),
    ("Estimated tax", "estimated_tax"),
    ("Estimated trading costs", "estimated_costs"),
    # Plain words for a client: "turnover" and "largest drift" are the desk's.
    ("Share of the portfolio traded", "turnover"),
    ("Furthest from target, before", "largest_drift_before"),
    ("Furthest from target, after", "largest_drift_after"),
)
# Shown only when the run has them: the tax paid for moves inside the bands is a figure
# of in_band_gains = allow alone.
OPTED_IN_FIGURES = (("Tax paid for moves inside the bands", "in_band_tax"),)
OPTIONAL = {key for _, key in OPTED_IN_FIGURES}
PERCENT_LABELS = {label for label, key in FIGURES if key in {"turnover"} or "drift" in key}


def cell_format(block: Block, row: tuple[Any, ...], offset: int) -> str | None:
    """A column's format, except the figures block's percentages."""
    if block.header == ("", "Amount") and offset == 1 and row[0] in PERCENT_LABELS:
        return s.FMT_PCT
    return block.formats[offset]


def draw_file(ws: Any, report: Report) -> None:
    """openpyxl: the report on a fresh worksheet, one landscape page."""
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    from ..workbook.tables import set_value

    ws["A1"] = report.title
    ws["A1"].font = Font(name=BODY_FONT, bold=True, size=16)
    ws["A2"] = report.subtitle
    ws["A2"].font = Font(name=BODY_FONT, size=11, color="444444")
    if report.prepared:
        ws["A3"] = report.prepared
        ws["A3"].font = Font(name=BODY_FONT, size=11, color="444444")
    heading = Font(name=BODY_FONT, bold=True, size=12, color="1F4E79")
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    rule = Border(bottom=Side(style="thin", color="8EA9DB"))
    for block in report.blocks:
        ws.cell(row=block.top, column=block.left, value=block.title).font = heading
        for offset, text in enumerate(block.header):
            cell = ws.cell(row=block.top + 1, column=block.left + offset, value=text or None)
            cell.font = Font(name=BODY_FONT, bold=True)
            cell.fill = header_fill
            cell.border = rule
            if offset and block.formats[offset]:
                cell.alignment = Alignment(horizontal="right")
            elif offset and block.formats[offset - 1]:
                cell.alignment = Alignment(horizontal="left", indent=1)
        for index, row in enumerate(block.rows):
            for offset, value in enumerate(row):
                cell = ws.cell(row=block.top + 2 + index, column=block.left + offset)
                set_value(cell, value)
                fmt = cell_format(block, row, offset)
                if fmt and isinstance(value, int | float):
                    cell.number_format = fmt
                elif offset and block.formats[offset - 1] and isinstance(value, str):
                    # Text right after a right-aligned figure, set off from it.
                    cell.alignment = Alignment(horizontal="left", indent=1)
        if block.note:
            note = ws.cell(row=block.bottom, column=block.left, value=block.note)
            note.font = Font(name=BODY_FONT, italic=True, color="666666")
    for column, width in report.widths.items():
        ws.column_dimensions[get_column_letter(column)].width = width
    for spec in report.charts:
        block = report.blocks[spec.block]
        if not block.rows:
            continue
        first, last = block.top + 1, block.top + 1 + len(block.rows)
        chart = BarChart()
        chart.type = "col"
        chart.grouping = "clustered"
        chart.title = spec.title
        chart.width, chart.height = spec.width_cm, spec.height_cm
        chart.y_axis.numFmt = "0%" if spec.percent else report.axis_format
        chart.y_axis.majorGridlines = None
        chart.x_axis.tickLblPos = "low"
        chart.legend.position = "b"
        for offset in spec.series:
            column = block.left + offset
            chart.add_data(
                Reference(ws, min_col=column, min_row=first, max_row=last), titles_from_data=True
            )
        chart.set_categories(Reference(ws, min_col=block.left, min_row=first + 1, max_row=last))
        ws.add_chart(chart, f"{get_column_letter(spec.left)}{spec.top}")
    right = get_column_letter(report.last_column)
    if report.disclosure:
        top = report.disclosure_row
        ws.merge_cells(f"A{top}:{right}{top + report.disclosure_rows - 1}")
        cell = ws.cell(row=top, column=1, value=report.disclosure)
        cell.font = Font(name=BODY_FONT, size=10, color="555555")
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.print_area = f"A1:{right}{report.last_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.5
    ws.sheet_view.showGridLines = False
