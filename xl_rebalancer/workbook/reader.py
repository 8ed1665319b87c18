"""Read a workbook into validated models, collecting every problem with its cell.

The file is only read (workbook/cells.py parses its sheets' XML), so `validate` leaves it
byte-for-byte untouched. Each table's rows are found and validated by workbook/rows.py;
here they become one portfolio, with the Settings, the firm's model file and the
cross-sheet checks.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import InputError, Problem, WorkbookError
from ..models import inputs as m
from ..models.checks import Followups, Locator, check_portfolio
from . import model_file
from . import schema as s
from .rows import SheetData, _message, _validate_rows, read_raw_sheets, sheet_from_rows

ROW_MODELS: dict[str, type[m.Row]] = {
    s.ACCOUNTS.name: m.Account,
    s.CASH_FLOWS.name: m.CashFlow,
    s.HOLDINGS.name: m.Holding,
    s.TAX_LOTS.name: m.TaxLot,
    s.TARGETS.name: m.Target,
    s.CONSTRAINTS.name: m.Constraint,
    s.CORPORATE_ACTIONS.name: m.CorporateAction,
    s.TRANSACTIONS.name: m.Transaction,
    s.IDENTICAL.name: m.Identical,
    s.VIEWS.name: m.View,
    s.PRICES.name: m.PriceRow,
}
PORTFOLIO_FIELDS = {
    s.ACCOUNTS.name: "accounts",
    s.CASH_FLOWS.name: "cash_flows",
    s.HOLDINGS.name: "holdings",
    s.TAX_LOTS.name: "lots",
    s.TARGETS.name: "targets",
    s.CONSTRAINTS.name: "constraints",
    s.CORPORATE_ACTIONS.name: "actions",
    s.TRANSACTIONS.name: "transactions",
    s.IDENTICAL.name: "identical",
    s.VIEWS.name: "views",
    s.PRICES.name: "prices",
}


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
    priced_elsewhere: frozenset[str] = frozenset(),
) -> WorkbookInput:
    """Read and validate every input sheet.

    Raises InputError listing every error, with warnings kept on it.
    `as_of` overrides Settings.valuation_date; `today` is its fallback (the clock is
    read here, in I/O, so the engine never has to). `priced_elsewhere`: symbols the run's
    --prices file prices, which the Prices sheet need not.
    """
    sheets = read_raw_sheets(path)
    return build_portfolio(
        sheets, as_of=as_of, today=today, priced_elsewhere=priced_elsewhere, path=Path(path)
    )


def range_rows(cells: Sequence[Sequence[Any]], sheet: str, label: str) -> list[m.Row]:
    """An input table handed over as cell values, header row first (a worksheet
    function's range), checked by the rules that sheet of a workbook meets: the same
    header spellings, coercions and refusals, so a range is accepted exactly when the
    sheet would be. Raises InputError whose problems name the range (`label`) and the
    position in it, as the range's place on its sheet is not known."""
    spec = next(sp for sp in s.INPUT_SHEETS if sp.name == sheet)
    data = sheet_from_rows(iter(cells), label, spec, 1, 1)
    problems: list[Problem] = list(data) if isinstance(data, list) else []
    rows: list[m.Row] = []
    if isinstance(data, SheetData):
        locator = Locator()
        locator.add(spec.name, label, data.columns, 1)
        rows = _validate_rows(data, ROW_MODELS[spec.name], problems, locator)
    _refuse_range(label, problems)
    return rows


def _refuse_range(label: str, problems: list[Problem]) -> None:
    """A range's problems, named by the range and the position in it."""
    if problems:
        raise InputError(
            [Problem(f"{label} {p.cell}: {p.message}", level=p.level) for p in problems]
        )


def range_settings(cells: Sequence[Sequence[Any]], label: str = "settings") -> m.Settings:
    """Setting and Value pairs handed over as cell values (with or without the Settings
    table's header), read by the Settings sheet's rules: names as the sheet spells them,
    a misspelt name or a value out of range refused with its position in the range."""
    rows = [list(r) for r in cells]
    top = 1
    if not rows or s.normalize_header(rows[0][0] if rows[0] else None) != "setting":
        rows, top = [["Setting", "Value"], *rows], 0  # positions stay the range's own
    data = sheet_from_rows(iter(rows), label, s.SETTINGS, top, 1)
    problems: list[Problem] = list(data) if isinstance(data, list) else []
    settings = _read_settings(data, problems, Locator()) if not problems else m.Settings()
    _refuse_range(label, problems)
    return settings


def setting_value(name: str, value: Any) -> Any:
    """One setting's value checked by the Settings sheet's rules, for a function argument
    that stands for that setting (a strategy typed "Min Variance", a rate typed "2%")."""
    try:
        return getattr(m.Settings.model_validate({name: value}), name)
    except ValidationError as exc:
        raise InputError([Problem(_message(e, None, name)) for e in exc.errors()]) from None


def build_portfolio(
    sheets: dict[str, SheetData | list[Problem]],
    *,
    as_of: dt.date | None = None,
    today: dt.date | None = None,
    priced_elsewhere: frozenset[str] = frozenset(),
    path: Path | None = None,
) -> WorkbookInput:
    """Validate raw sheets into a Portfolio; shared by the file reader and the xlwings
    adapter. `path`: the workbook's, which a relative Settings model_file is read beside."""
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
    stand_ins: set[tuple[str, int]] = set()
    uncalculated: set[tuple[str, str]] = set()
    for sheet_name, model in ROW_MODELS.items():
        data = sheets.get(sheet_name)
        if isinstance(data, SheetData):
            count = len(problems)
            uncalculated |= _uncalculated(data, problems)
            collected[PORTFOLIO_FIELDS[sheet_name]] = tuple(
                _validate_rows(data, model, problems, locator, stand_ins)
            )
            if len(problems) > count:
                incomplete.add(sheet_name)
    # A cell already reported is the root cause: what else is said about that cell (a
    # formula's blank result is "blank"), or follows from its stand-in value, is held back.
    if settings.model_file:
        _follow_model(settings.model_file, path, collected, problems, locator, incomplete)
    failed_cells = {(p.sheet, p.cell) for p in problems if p.level == "error"}
    kept = []
    for p in problems:
        if (p.sheet, p.cell) in uncalculated and not p.message.startswith(UNCALCULATED):
            continue
        kept.append(p)
    problems[:] = kept
    portfolio = m.Portfolio(settings=settings, **collected)
    follow_ons = Followups()
    for problem in check_portfolio(
        portfolio, locator, incomplete, stand_ins, follow_ons, priced_elsewhere
    ):
        if (problem.sheet, problem.cell) in failed_cells:
            follow_ons.count += 1
            continue
        problems.append(problem)
    if sheets.get(s.TAX_LOTS.name) is None:
        problems.extend(_no_lots_sheet(portfolio))
    if follow_ons.count and any(p.level == "error" for p in problems):
        problems.append(
            Problem(
                f"{follow_ons.count} follow-on problem{'s' if follow_ons.count != 1 else ''} "
                "of the errors above held back; they go when those are fixed",
                level="info",
            )
        )
    if any(p.level == "error" for p in problems):
        raise InputError(problems)
    return WorkbookInput(portfolio, problems, locator)


def _follow_model(
    value: str,
    path: Path | None,
    collected: dict[str, tuple[m.Row, ...]],
    problems: list[Problem],
    locator: Locator,
    incomplete: set[str],
) -> None:
    """The firm's model file (Settings model_file) laid over the workbook's rows
    (workbook/model_file.follow); a file that cannot be read is an error at the setting's cell."""
    file = model_file.model_path(value, path)
    try:
        model = model_file.load_model(file)
    except WorkbookError as exc:
        problems.append(locator.setting(f"{exc}", "model_file"))
        incomplete.add(s.TARGETS.name)
        return
    except InputError as exc:
        problems.extend([*exc.problems, *exc.warnings])
        incomplete.add(s.TARGETS.name)  # the targets are the model's: none is "no targets"
        return
    if model.targets is not None:
        # The workbook's own Targets are not used: a bad cell there stops nothing.
        title = locator.title(s.TARGETS.name)
        for index, p in enumerate(problems):
            if p.sheet == title and p.level == "error":
                problems[index] = Problem(
                    f"{p.message} (not used: Settings model_file sets the targets)",
                    p.sheet,
                    p.cell,
                    "warning",
                )
        incomplete.discard(s.TARGETS.name)
    fields = dict(collected)
    problems.extend(model_file.follow(model, fields, locator))
    collected.clear()
    collected.update(fields)


UNCALCULATED = "a formula with no saved result"


def _uncalculated(data: SheetData, problems: list[Problem]) -> set[tuple[str, str]]:
    """Formula cells of the table that read as blank because no result was saved."""
    letters = set(data.columns.values())
    found = set()
    for cell in sorted(data.uncalculated):
        letter = cell.rstrip("0123456789")
        if letter not in letters or int(cell[len(letter) :]) <= data.header_row:
            continue
        found.add((data.title, cell))
        problems.append(
            Problem(
                f"{UNCALCULATED} (the file was saved by a program that does not calculate); "
                "open and save it in Excel, or run `xl-rebalancer recalc` on the workbook",
                data.title,
                cell,
            )
        )
    return found


def _no_lots_sheet(portfolio: m.Portfolio) -> list[Problem]:
    """Without a TaxLots sheet a taxable position has no basis: a sale would be taxed as
    if it were all gain, or (as the engine once did) as if there were none."""
    taxable = {a.account for a in portfolio.accounts if a.taxable}
    held = sorted(
        {f"{h.symbol} in {h.account}" for h in portfolio.holdings if h.account in taxable}
    )
    if not held:
        return []
    listed = ", ".join(held[:5]) + (f" and {len(held) - 5} more" if len(held) > 5 else "")
    return [
        Problem(
            f"there is no {s.TAX_LOTS.name} sheet, so the taxable positions ({listed}) have "
            "no purchase lots and their tax cannot be estimated; add the sheet (a table "
            f"{s.TAX_LOTS.table} with columns {', '.join(s.TAX_LOTS.headers)}) or import "
            "the broker's positions or realized-gains file",
            s.TAX_LOTS.name,
            "A1",
        )
    ]


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
