"""Build `workbook_template.xlsm` (and filled workbooks such as the demo) from the schema.

Run `xl-rebalancer build-template` (or `python -m xl_rebalancer.excel.template`) to
rebuild the committed template. The output is reproducible byte for byte: fixed
document dates and zip timestamps, so a test can compare it with the committed file.
Ribbon XML and the VBA project plug in through `vba_project` and `ribbon_xml`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.datavalidation import DataValidation

from ..models.inputs import Settings
from ..workbook import schema as s
from ..workbook.package import rewrite_package
from ..workbook.schema import BODY_FONT
from ..workbook.tables import add_dropdowns, print_setup, write_table

TEMPLATE_NAME = "workbook_template.xlsm"
FIXED_DATE = dt.datetime(2024, 1, 1)

PERCENT_SETTINGS = {
    "risk_free_rate",
    "target_volatility",
    "band_abs",
    "band_rel",
    "cash_min",
    "cash_max",
    "max_turnover",
    "st_tax_rate",
    "lt_tax_rate",
    "tlh_min_loss_pct",
}
MONEY_SETTINGS = {
    "min_trade_value",
    "cash_flow",
    "max_realized_gain",
    "tlh_min_loss",
    "ticket_cost",
}
DATE_SETTINGS = {"valuation_date", "last_rebalanced"}
# Settings an installed plugin may add a name to (docs/plugins.md): their dropdown warns
# about a name not in its list instead of refusing it.
PLUGIN_SETTINGS = {"strategy", "price_source"}


INSTRUCTIONS = [
    ("xl-rebalancer", "title"),
    ("Tax-aware rebalancing for the portfolio you keep in Excel.", "text"),
    ("", "text"),
    ("How to use this workbook", "heading"),
    ("1. Fill in Accounts (one row per account, its Type and its Cash).", "text"),
    ("2. Fill in Holdings (shares per account) and, for taxable accounts, TaxLots.", "text"),
    ("3. Fill in Targets by Symbol or by AssetClass; the weights add up to 100%.", "text"),
    ("4. Check Settings; blank values take the defaults described beside them.", "text"),
    ("5. Run a command (the ribbon tab, or the command line):", "text"),
    (
        "     xl-rebalancer validate BOOK     check every sheet, list problems with their cells",
        "code",
    ),
    ("     xl-rebalancer drift BOOK        write Drift, Summary and Log", "code"),
    ("     xl-rebalancer rebalance BOOK    write Drift, Trades, Summary and Log", "code"),
    ("     add --prices FILE for offline prices (CSV: date, symbol, close)", "code"),
    ("", "text"),
    ("Sheets you fill in", "heading"),
]


def settings_rows() -> list[dict[str, Any]]:
    defaults = Settings()
    rows = []
    for name, info in Settings.model_fields.items():
        rows.append(
            {
                "setting": name,
                "value": getattr(defaults, name),
                "description": info.description or "",
            }
        )
    return rows


def build_workbook(
    path: str | Path,
    data: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    *,
    settings: Mapping[str, Any] | None = None,
    vba_project: bytes | None = None,
    ribbon_xml: bytes | None = None,
    excel_doors: bool | None = None,
    extra_sheets: Callable[[Any], None] | None = None,
) -> Path:
    """Write a workbook with every input sheet as a styled table, filled from `data`.

    Parameters
    ----------
    data : rows per input sheet name, as dicts keyed by model field.
    settings : values that replace the defaults on the Settings sheet.
    vba_project, ribbon_xml : a compiled VBA project and a customUI14 ribbon to install
        with their relationships, instead of the package's own.
    excel_doors : install the ribbon, the VBA project and the xlwings.conf sheet
        (default: for .xlsm files).
    extra_sheets : adds the user's own sheets (the demo's dashboard) after the inputs.
    """
    path = Path(path)
    data = data or {}
    wb = Workbook()
    wb.remove(wb.active)
    _instructions(wb.create_sheet(s.INSTRUCTIONS))
    for spec in s.INPUT_SHEETS:
        write_input_sheet(wb.create_sheet(spec.name), spec, data.get(spec.name, []), settings)
    if extra_sheets is not None:
        extra_sheets(wb)
    macro = path.suffix.lower() == ".xlsm"
    if excel_doors is None:
        excel_doors = macro
    if excel_doors:
        from . import doors

        doors.write_conf_sheet(wb.create_sheet(doors.CONF_SHEET))
        # Code names tie each sheet to its code-behind module in the VBA project.
        wb.code_name = doors.WORKBOOK_CODE_NAME
        code_names = []
        for index, ws in enumerate(wb.worksheets, start=1):
            ws.sheet_properties.codeName = f"Sheet{index}"
            code_names.append(f"Sheet{index}")
        vba_project = vba_project or doors.vba_project(code_names)
        ribbon_xml = ribbon_xml or doors.ribbon_xml()
    wb.properties.creator = "xl-rebalancer"
    wb.properties.title = "xl-rebalancer workbook"
    wb.properties.created = FIXED_DATE
    wb.properties.modified = FIXED_DATE
    wb.active = 0
    return save_reproducibly(
        wb, path, macro_enabled=macro, vba_project=vba_project, ribbon_xml=ribbon_xml
    )


def save_reproducibly(wb: Workbook, path: Path, **package: Any) -> Path:
    """openpyxl's save, then the package fixes it cannot make (rewrite_package's options
    in `package`), every date fixed: the same sources give the same bytes."""
    fd, raw_name = tempfile.mkstemp(
        suffix=".xlsx", dir=path.parent if path.parent.exists() else None
    )
    os.close(fd)
    raw = Path(raw_name)
    try:
        wb.save(raw)
        rewrite_package(raw, path, fixed_time=True, **package)
        _fix_core_dates(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            raw.unlink()
    return path


def write_input_sheet(
    ws: Any,
    spec: s.SheetSpec,
    rows: Sequence[Mapping[str, Any]] = (),
    settings: Mapping[str, Any] | None = None,
) -> None:
    """One input sheet as the template has it: its table (Settings with every setting and
    its default), dropdowns and formats. `init --into` adds the same sheets to a user's
    own workbook, so both start alike."""
    if spec is s.SETTINGS:
        values = settings_rows()
        for row in values:
            if settings and row["setting"] in settings:
                row["value"] = settings[row["setting"]]
        write_table(ws, spec, values)
        _settings_formats(ws, values)
    else:
        write_table(ws, spec, rows, blank_rows=1)
        add_dropdowns(ws, spec)


def _fix_core_dates(path: Path) -> None:
    """openpyxl stamps the save time into docProps/core.xml; the template must not vary."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info.filename)) for info in archive.infolist()]
    stamp = FIXED_DATE.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info, payload in members:
            if info.filename == "docProps/core.xml":
                text = payload.decode("utf-8")
                text = re.sub(
                    r"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rf"\g<1>{stamp}\g<2>",
                    text,
                )
                payload = text.encode("utf-8")
            out.writestr(info, payload)


def _instructions(ws: Any) -> None:
    styles = {
        "title": Font(name=BODY_FONT, bold=True, size=18),
        "heading": Font(name=BODY_FONT, bold=True, size=13),
        "code": Font(name="Consolas", size=10),
        "text": Font(name=BODY_FONT, size=11),
    }
    row = 1
    for text, kind in INSTRUCTIONS:
        cell = ws.cell(row=row, column=1, value=text)
        cell.font = styles[kind]
        row += 1
    for spec in s.INPUT_SHEETS:
        ws.cell(row=row, column=1, value=f"{spec.name}: {spec.description}")
        row += 1
    row += 1
    ws.cell(
        row=row, column=1, value="Sheets the engine writes (replaced on every run)"
    ).font = styles["heading"]
    ws.row_dimensions[row].height = 20
    row += 1
    for name, text in (
        ("Report", "the proposal on one printed page (the workbook opens on it after a run)"),
        ("Drift", "weight against target per line, with its band"),
        ("Trades", "one row per buy and per lot sold, with gain, term and tax"),
        ("TaxHarvest", "lots worth harvesting and what blocks them"),
        ("Realized", "the tax year's sales in Form 8949's layout"),
        ("Summary", "totals, costs, tax and drift before and after"),
        ("Log", "warnings and the run's journal"),
    ):
        ws.cell(row=row, column=1, value=f"{name}: {text}")
        row += 1
    # One column of prose that wraps inside a portrait page's width (a 110-character
    # column printed at a third of its size).
    ws.column_dimensions["A"].width = 95
    for index, (_, kind) in enumerate(INSTRUCTIONS, start=1):
        if kind in ("title", "heading"):  # taller type needs a taller row
            ws.row_dimensions[index].height = 26 if kind == "title" else 20
    for line in ws.iter_rows(min_row=1, max_row=row):
        line[0].alignment = Alignment(wrap_text=True, vertical="top")
    print_setup(ws, f"A1:A{row}", 95, titles=False)


def _settings_formats(ws: Any, rows: list[dict[str, Any]]) -> None:
    for index, row in enumerate(rows, start=2):
        name = row["setting"]
        cell = ws.cell(row=index, column=2)
        if name in PERCENT_SETTINGS:
            cell.number_format = s.FMT_PCT
        elif name in MONEY_SETTINGS:
            cell.number_format = s.FMT_MONEY
        elif name in DATE_SETTINGS:
            cell.number_format = s.FMT_DATE
        choices = ["TRUE", "FALSE"] if Settings.is_bool(name) else Settings.choices(name)
        if choices:
            rule = DataValidation(
                type="list",
                formula1='"' + ",".join(choices) + '"',
                allow_blank=True,
                showErrorMessage=True,
                errorTitle=name,
                error="Pick one of: " + ", ".join(choices),
            )
            if name in PLUGIN_SETTINGS:
                rule.errorStyle = "warning"
                rule.error += "; Yes keeps the name of an installed plugin's (docs/plugins.md)"
            ws.add_data_validation(rule)
            rule.add(f"B{index}")


def main() -> None:
    target = Path(__file__).resolve().parents[2] / TEMPLATE_NAME
    print(build_workbook(target))


if __name__ == "__main__":
    main()
