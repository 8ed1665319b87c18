"""Read a workbook into validated models, collecting every problem with its cell.

The file is only read (workbook/cells.py parses its sheets' XML), so `validate` leaves it
byte-for-byte untouched. Tables are found by sheet name, then by table
name (tbl<Sheet>); the header is the table's first row, or row 1 without a table.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import ValidationError

from ..errors import InputError, Problem, WorkbookError
from ..models import inputs as m
from ..models.checks import Followups, Locator, check_portfolio
from . import schema as s
from .cells import Package, column_letter, range_bounds
from .package import TableRef
from .safety import check_package

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
MAX_ROWS = 200_000


@dataclass
class SheetData:
    """Raw rows of one input table with the location of every cell."""

    spec: s.SheetSpec
    title: str
    columns: dict[str, str] = field(default_factory=dict)  # field -> column letter
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    header_row: int = 1
    # Cells holding a formula with no saved result (a file saved by a program that does
    # not calculate): they read as blank, which is not what the user typed.
    uncalculated: set[str] = field(default_factory=set)


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


def read_raw_sheets(
    path: str | Path, specs: Sequence[s.SheetSpec] = s.INPUT_SHEETS
) -> dict[str, SheetData | list[Problem]]:
    """Every contract sheet of `specs` found in the workbook (the input sheets unless
    told), as raw values with cell positions."""
    path = Path(path)
    if not path.exists():
        raise WorkbookError(f"{path}: no such file")
    check_package(path)
    with Package(path) as book:
        try:
            tables = book.tables()
        except (zipfile.BadZipFile, OSError, KeyError) as exc:
            raise WorkbookError(f"{path}: not a readable Excel workbook ({exc})") from exc
        except SyntaxError as exc:  # a table part's XML that does not parse
            raise WorkbookError(f"{path}: the workbook's XML was refused ({exc})") from exc
        out: dict[str, SheetData | list[Problem]] = {}
        for spec in specs:
            found = _locate(book.titles, tables, spec)
            if found is None:
                continue
            title, table = found
            try:
                out[spec.name] = _read_sheet(book, title, spec, table)
            except (KeyError, IndexError, ValueError, SyntaxError, zipfile.BadZipFile) as exc:
                raise WorkbookError(
                    f"{path}: sheet {title} cannot be read ({type(exc).__name__}: {exc})"
                ) from exc
        return out


def _locate(
    titles: list[str], tables: dict[str, list[TableRef]], spec: s.SheetSpec
) -> tuple[str, TableRef | None] | None:
    # The sheet of the spec's name holding its table, then any sheet holding the table
    # (an engine sheet written beside a user's sheet of its name: workbook/engine_sheets.py),
    # then the sheet of that name whatever table it has.
    wanted = s.normalize_header(spec.name)
    named = [title for title in titles if s.normalize_header(title) == wanted]
    # On the sheet of its name the table may carry a suffix (tblTrades_2: the engine's,
    # beside a table of the user's named tblTrades, workbook/splice._free_table_name).
    own = re.compile(rf"{re.escape(spec.table)}(?:_\d+)?", re.I)
    for title in named:
        for table in tables.get(title, []):
            if own.fullmatch(table.name):
                return title, table
    for title in titles:
        for table in tables.get(title, []):
            if table.name.lower() == spec.table.lower():
                return title, table
    for title in named:
        only = tables.get(title, [])
        return title, only[0] if len(only) == 1 else None
    return None


def _read_sheet(
    book: Package, title: str, spec: s.SheetSpec, table: TableRef | None
) -> SheetData | list[Problem]:
    # The table gives the header row and columns; rows typed just below a table that
    # did not grow (openpyxl, LibreOffice) still count, as the sheet holds one table.
    # The sheet's <dimension> is not trusted (some writers store a wrong one): the rows
    # are read to the real end.
    if table is not None and table.ref:
        min_col, min_row, max_col, _ = range_bounds(table.ref)
    else:
        min_col, min_row, max_col = 1, 1, None
    uncalculated: set[str] = set()
    data = sheet_from_rows(
        book.rows(title, min_row, min_col, max_col, uncalculated), title, spec, min_row, min_col
    )
    if isinstance(data, SheetData):
        data.uncalculated = uncalculated
    return data


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
        letter = column_letter(min_col + offset)
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
    unknown = {
        s.normalize_header(text): f"{column_letter(min_col + offset)}{min_row}"
        for offset, text in enumerate(header)
        if text is not None and known.get(s.normalize_header(text)) is None
    }
    originals = {s.normalize_header(text): text for text in header if text is not None}
    for col in spec.columns:
        if col.required and col.field not in seen:
            close = difflib.get_close_matches(
                s.normalize_header(col.header), list(unknown), n=1, cutoff=0.6
            )
            hint = (
                f"; did you mean the column {originals[close[0]]!r} at {unknown[close[0]]}? "
                f"Rename it {col.header}"
                if close
                else ""
            )
            problems.append(
                Problem(f"missing required column {col.header}{hint}", title, f"A{min_row}")
            )
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
    from . import model_file

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


# Values a cell's column accepts, tried in order for a row's failing cells (see _stand_in).
_STAND_INS: tuple[Any, ...] = (1.0, "X", dt.date(1900, 1, 1), True)


def _validate_rows(
    data: SheetData,
    model: type[m.Row],
    problems: list[Problem],
    locator: Locator,
    stand_ins: set[tuple[str, int]] | None = None,
) -> list[m.Row]:
    out = []
    for row_number, record in data.rows:
        try:
            out.append(model.model_validate({**record, "row": row_number}))
        except ValidationError as exc:
            failing = []
            for err in exc.errors():
                fld = str(err["loc"][0]) if err["loc"] else ""
                cell = locator.cell(data.spec.name, row_number, fld) if fld else f"A{row_number}"
                problems.append(Problem(_message(err, data.spec, fld), data.title, cell))
                failing.append(fld)
            row = _stand_in(model, record, row_number, failing) if stand_ins is not None else None
            if row is not None and stand_ins is not None:
                out.append(row)
                stand_ins.add((data.spec.name, row_number))
    return out


def _stand_in(
    model: type[m.Row], record: dict[str, Any], row_number: int, failing: list[str]
) -> m.Row | None:
    """The row with each failing cell replaced by a value its column accepts, so the
    row's other cells still meet the cross-sheet rules (a LotId used twice, a date after
    the valuation date are reported with the bad Shares cell, not after it is fixed),
    and a name it carries (an account with a misspelt Type) still counts as present.
    Rules that add up or compare a failing column skip the row (checks: stand_ins). Its
    values never reach the engine: the run stops on the cell's own error."""
    if "" in failing:
        return None
    fixed = {k: v for k, v in record.items() if k not in failing}
    for fld in dict.fromkeys(failing):
        info = model.model_fields.get(fld)
        if info is None:
            return None
        candidates: list[Any] = [] if info.is_required() else [_DROP]
        candidates += [*_literals(info.annotation), *_STAND_INS]
        for candidate in candidates:
            trial = dict(fixed)
            if candidate is not _DROP:
                trial[fld] = candidate
            try:
                model.model_validate({**trial, "row": row_number})
            except ValidationError as exc:
                if any(e["loc"] and e["loc"][0] == fld for e in exc.errors()):
                    continue
            fixed = trial
            break
        else:
            return None
    try:
        return model.model_validate({**fixed, "row": row_number})
    except ValidationError:
        return None


_DROP = object()


def _literals(annotation: Any) -> list[Any]:
    """The allowed values of a Literal column (an account Type), however it is wrapped."""
    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    return [v for arg in get_args(annotation) for v in _literals(arg)]


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


# Words in an account's name or type that say which tax treatment it has.
_ACCOUNT_WORDS = (
    (("roth", "hsa", "529", "tfsa", "isa"), "tax_exempt", "a Roth IRA or 401(k), an HSA"),
    (
        ("ira", "401", "403", "457", "sep", "simple", "traditional", "rollover", "pension", "rrsp"),
        "tax_deferred",
        "a traditional IRA, 401(k) or 403(b)",
    ),
    (
        ("taxable", "brokerage", "individual", "joint", "trust", "cash", "margin"),
        "taxable",
        "an ordinary brokerage account",
    ),
)


def _account_type_hint(got: Any) -> str:
    text = str(got).lower()
    for words, kind, what in _ACCOUNT_WORDS:
        if any(word in text for word in words):
            return f"; did you mean {kind!r} ({what})?"
    return ""


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
        hint = _account_type_hint(got) if fld == "type" else ""
        return f"{header}: {got!r} is not one of {expected}{hint}"
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
        hint = ""
        percent = (
            kind == "less_than_equal"
            and fld in {"min_weight", "max_weight", "target_weight"}
            and isinstance(got, (int, float))
            and 1 < got <= 100
        )
        if percent:  # 33 typed for 33%
            hint = f"; did you mean {got / 100:g} ({got:g}%)?"
        return f"{header} must be {words} {bound} (got {got}){hint}"
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
