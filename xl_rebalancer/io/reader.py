"""Read a workbook into validated models, collecting every problem with its cell.

The file is opened read-only (openpyxl streams it and never writes), so `validate`
leaves it byte-for-byte untouched. Tables are found by sheet name, then by table
name (tbl<Sheet>); the header is the table's first row, or row 1 without a table.
"""

from __future__ import annotations

import datetime as dt
import difflib
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl.utils.cell import get_column_letter, range_boundaries
from pydantic import ValidationError

from ..errors import InputError, Problem, WorkbookError
from ..models import inputs as m
from ..models.checks import Locator, check_portfolio
from . import schema as s
from .package import TableRef, read_tables
from .safety import check_package

ROW_MODELS: dict[str, type[m.Row]] = {
    s.ACCOUNTS.name: m.Account,
    s.HOLDINGS.name: m.Holding,
    s.TAX_LOTS.name: m.TaxLot,
    s.TARGETS.name: m.Target,
    s.CONSTRAINTS.name: m.Constraint,
    s.CORPORATE_ACTIONS.name: m.CorporateAction,
    s.TRANSACTIONS.name: m.Transaction,
    s.VIEWS.name: m.View,
    s.PRICES.name: m.PriceRow,
}
PORTFOLIO_FIELDS = {
    s.ACCOUNTS.name: "accounts",
    s.HOLDINGS.name: "holdings",
    s.TAX_LOTS.name: "lots",
    s.TARGETS.name: "targets",
    s.CONSTRAINTS.name: "constraints",
    s.CORPORATE_ACTIONS.name: "actions",
    s.TRANSACTIONS.name: "transactions",
    s.VIEWS.name: "views",
    s.PRICES.name: "prices",
}
MAX_ROWS = 200_000


@dataclass
class SheetData:
    """Raw rows of one input table with the location of every cell."""

    spec: s.SheetSpec
    title: str
    columns: dict[str, str] = field(default_factory=dict)  # field -> column letter
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    header_row: int = 1


@dataclass(frozen=True)
class WorkbookInput:
    """A validated portfolio, its warnings, and where each of its values sits in the file."""

    portfolio: m.Portfolio
    warnings: list[Problem]
    locator: Locator


def read_workbook(
    path: str | Path,
    *,
    as_of: dt.date | None = None,
    today: dt.date | None = None,
) -> WorkbookInput:
    """Read and validate every input sheet.

    Raises InputError listing every error, with warnings kept on it.
    `as_of` overrides Settings.valuation_date; `today` is its fallback (the clock is
    read here, in I/O, so the engine never has to).
    """
    sheets = read_raw_sheets(path)
    return build_portfolio(sheets, as_of=as_of, today=today)


def open_workbook_readonly(path: str | Path) -> Any:
    from openpyxl import load_workbook

    path = Path(path)
    if not path.exists():
        raise WorkbookError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about extensions it does not read
            return load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # BadZipFile, KeyError, openpyxl's InvalidFileException, ...
        raise WorkbookError(f"{path}: not a readable Excel workbook ({exc})") from exc


def read_raw_sheets(
    path: str | Path, specs: Sequence[s.SheetSpec] = s.INPUT_SHEETS
) -> dict[str, SheetData | list[Problem]]:
    """Every contract sheet of `specs` found in the workbook (the input sheets unless
    told), as raw values with cell positions."""
    check_package(path)
    try:
        tables = read_tables(path)
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise WorkbookError(f"{path}: not a readable Excel workbook ({exc})") from exc
    except Exception as exc:  # defusedxml refuses entity tricks with its own exceptions
        raise WorkbookError(f"{path}: the workbook's XML was refused ({exc})") from exc
    book = open_workbook_readonly(path)
    try:
        out: dict[str, SheetData | list[Problem]] = {}
        for spec in specs:
            found = _locate(book.sheetnames, tables, spec)
            if found is None:
                continue
            title, table = found
            out[spec.name] = _read_sheet(book[title], title, spec, table)
        return out
    finally:
        book.close()


def _locate(
    titles: list[str], tables: dict[str, list[TableRef]], spec: s.SheetSpec
) -> tuple[str, TableRef | None] | None:
    wanted = s.normalize_header(spec.name)
    for title in titles:
        if s.normalize_header(title) == wanted:
            table = next(
                (t for t in tables.get(title, []) if t.name.lower() == spec.table.lower()), None
            )
            if table is None and len(tables.get(title, [])) == 1:
                table = tables[title][0]
            return title, table
    for title in titles:
        for table in tables.get(title, []):
            if table.name.lower() == spec.table.lower():
                return title, table
    return None


def _read_sheet(
    ws: Any, title: str, spec: s.SheetSpec, table: TableRef | None
) -> SheetData | list[Problem]:
    # The table gives the header row and columns; rows typed just below a table that
    # did not grow (openpyxl, LibreOffice) still count, as the sheet holds one table.
    if table is not None and table.ref:
        min_col, min_row, max_col, _ = range_boundaries(table.ref)
    else:
        min_col, min_row, max_col = 1, 1, None
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()  # some writers store a wrong <dimension>; read to the real end
    rows = ws.iter_rows(min_row=min_row, min_col=min_col, max_col=max_col, values_only=True)
    return sheet_from_rows(rows, title, spec, min_row, min_col)


def sheet_from_rows(
    rows: Iterator[Sequence[Any]], title: str, spec: s.SheetSpec, min_row: int, min_col: int
) -> SheetData | list[Problem]:
    """Raw rows of a table whose header is at (min_row, min_col): from a file or from
    live Excel (the xlwings adapter), with one set of rules for headers and blanks."""
    try:
        header = next(rows)
    except StopIteration:
        return SheetData(spec, title)
    data = SheetData(spec, title, header_row=min_row)
    known = {c.key: c for c in spec.columns}
    seen: dict[str, str] = {}
    positions: dict[str, int] = {}
    problems: list[Problem] = []
    for offset, text in enumerate(header):
        letter = get_column_letter(min_col + offset)
        col = known.get(s.normalize_header(text))
        if col is None:
            continue
        if col.field in seen:
            problems.append(
                Problem(
                    f"column {col.header} appears twice (also in {seen[col.field]}{min_row})",
                    title,
                    f"{letter}{min_row}",
                )
            )
            continue
        seen[col.field] = letter
        positions[col.field] = offset
    data.columns = seen
    for col in spec.columns:
        if col.required and col.field not in seen:
            problems.append(Problem(f"missing required column {col.header}", title, f"A{min_row}"))
    if problems:
        return problems
    for index, values in enumerate(rows):
        row_number = min_row + 1 + index
        record = {}
        for fld, pos in positions.items():
            value = values[pos] if pos < len(values) else None
            if isinstance(value, str) and not value.strip():
                value = None
            if value is not None:
                record[fld] = value
        if record:
            if len(data.rows) >= MAX_ROWS:  # blank rows are free; a stray far cell is no table
                return [
                    Problem(
                        f"more than {MAX_ROWS:,} filled rows; split the workbook",
                        title,
                        f"A{row_number}",
                    )
                ]
            data.rows.append((row_number, record))
    return data


def build_portfolio(
    sheets: dict[str, SheetData | list[Problem]],
    *,
    as_of: dt.date | None = None,
    today: dt.date | None = None,
) -> WorkbookInput:
    """Validate raw sheets into a Portfolio; shared by the file reader and the xlwings adapter."""
    problems: list[Problem] = []
    locator = Locator()
    for spec in s.INPUT_SHEETS:
        data = sheets.get(spec.name)
        if isinstance(data, list):
            problems.extend(data)
        elif data is None and spec.required:
            problems.append(
                Problem(
                    f"sheet {spec.name} is missing (a table {spec.table} with "
                    f"columns {', '.join(spec.headers)})",
                    spec.name,
                    "A1",
                )
            )
        elif isinstance(data, SheetData):
            locator.add(spec.name, data.title, data.columns, data.header_row)

    settings = _read_settings(sheets.get(s.SETTINGS.name), problems, locator)
    valuation = as_of or settings.valuation_date or today or dt.date.today()
    settings = settings.model_copy(update={"valuation_date": valuation})

    collected: dict[str, tuple[m.Row, ...]] = {}
    incomplete: set[str] = set()
    for sheet_name, model in ROW_MODELS.items():
        data = sheets.get(sheet_name)
        if isinstance(data, SheetData):
            count = len(problems)
            collected[PORTFOLIO_FIELDS[sheet_name]] = tuple(
                _validate_rows(data, model, problems, locator)
            )
            if len(problems) > count:
                incomplete.add(sheet_name)
    portfolio = m.Portfolio(settings=settings, **collected)
    problems.extend(check_portfolio(portfolio, locator, incomplete))
    if any(p.level == "error" for p in problems):
        raise InputError(problems)
    return WorkbookInput(portfolio, problems, locator)


def _validate_rows(
    data: SheetData, model: type[m.Row], problems: list[Problem], locator: Locator
) -> list[m.Row]:
    out = []
    for row_number, record in data.rows:
        try:
            out.append(model.model_validate({**record, "row": row_number}))
        except ValidationError as exc:
            for err in exc.errors():
                fld = str(err["loc"][0]) if err["loc"] else ""
                cell = locator.cell(data.spec.name, row_number, fld) if fld else f"A{row_number}"
                problems.append(Problem(_message(err, data.spec, fld), data.title, cell))
    return out


def _read_settings(
    data: SheetData | list[Problem] | None, problems: list[Problem], locator: Locator
) -> m.Settings:
    if not isinstance(data, SheetData):
        return m.Settings()
    names = list(m.Settings.model_fields)
    values: dict[str, Any] = {}
    where: dict[str, str] = {}
    value_col = data.columns.get("value", "B")
    for row_number, record in data.rows:
        raw_name = record.get("setting")
        if raw_name is None:
            if record.get("value") is not None:
                problems.append(
                    Problem(
                        "a value without a setting name",
                        data.title,
                        f"{data.columns['setting']}{row_number}",
                    )
                )
            continue
        name = "_".join(str(raw_name).strip().lower().split())
        name_cell = f"{data.columns['setting']}{row_number}"
        if name not in m.Settings.model_fields:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            problems.append(Problem(f"unknown setting {raw_name!r}{hint}", data.title, name_cell))
            continue
        if name in where:
            problems.append(
                Problem(
                    f"setting {name} is given twice (also {where[name]})", data.title, name_cell
                )
            )
            continue
        where[name] = f"{value_col}{row_number}"
        if record.get("value") is not None:
            values[name] = record["value"]
    locator.settings_cells = where
    try:
        return m.Settings.model_validate(values)
    except ValidationError as exc:
        bad = set()
        for err in exc.errors():
            fld = str(err["loc"][0]) if err["loc"] else ""
            bad.add(fld)
            problems.append(Problem(_message(err, None, fld), data.title, where.get(fld, "A1")))
        good = {k: v for k, v in values.items() if k not in bad}
        try:
            return m.Settings.model_validate(good)
        except ValidationError:
            return m.Settings()


def _message(err: Any, spec: s.SheetSpec | None, fld: str) -> str:
    """Pydantic's error, said the way an Excel user reads it."""
    kind = err.get("type", "")
    header = fld
    if spec is not None:
        try:
            header = spec.column(fld).header
        except KeyError:
            header = fld
    got = err.get("input")
    if kind == "missing":
        return f"{header} is blank; it is required"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"{header}: {got!r} is not one of {expected}"
    if kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        ctx = err.get("ctx", {})
        bound = next(iter(ctx.values()), "")
        words = {
            "greater_than_equal": "at least",
            "greater_than": "more than",
            "less_than_equal": "at most",
            "less_than": "less than",
        }[kind]
        short = (
            kind == "greater_than_equal"
            and fld in {"min_weight", "max_weight", "target_weight"}
            and isinstance(got, (int, float))
            and got < 0
        )
        if short:  # a negative weight would be a short position, which we never take
            return f"{header} must be at least 0 (got {got}): short positions are not supported"
        return f"{header} must be {words} {bound} (got {got})"
    if kind in {"bool_parsing", "bool_type"}:
        return f"{header}: expected TRUE or FALSE, got {got!r}"
    if kind in {"int_parsing", "int_from_float", "int_type"}:
        return f"{header}: expected a whole number, got {got!r}"
    if kind in {"float_parsing", "float_type"}:
        return f"{header}: expected a number, got {got!r}"
    if kind in {"string_type", "string_too_short"}:
        return f"{header}: expected text, got {got!r}"
    text = str(err.get("msg", "invalid value"))
    text = text.removeprefix("Value error, ")
    return f"{header}: {text}" if header else text
