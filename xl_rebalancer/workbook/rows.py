"""A contract table's rows as a sheet holds them, and those rows validated into models.

Kept apart from the reader (workbook/reader.py), which builds a whole portfolio, because
the firm's model file (workbook/model_file.py) reads its Targets and Securities tables by
the same rules, and the reader in turn follows the model file: both import this module,
and neither imports the other. Tables are found by sheet name, then by table name
(tbl<Sheet>); the header is the table's first row, or row 1 without a table.
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

from ..errors import Problem, WorkbookError
from ..models import inputs as m
from ..models.checks import Locator
from . import schema as s
from .cells import Package, column_letter, range_bounds
from .package import TableRef
from .safety import check_package

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
    # beside a table of the user's named tblTrades, workbook/splice_parts._free_table_name).
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
