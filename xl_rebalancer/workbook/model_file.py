"""A model portfolio file: the target weights an adviser keeps outside the workbook.

Two uses share this reader. `import BOOK model.csv` copies a model CSV into Targets once
(below). The Settings `model_file` makes a workbook follow the firm's model file at every
read instead (load_model, docs/model.md): a CSV of targets as `import` reads it, or an
.xlsx with a Targets sheet (the workbook's Targets columns) and a Securities sheet (the
security master: asset class, the fund to buy per class, substitutes, identical funds).

Advisers publish a model as a two-column CSV (a fund or an asset class, and its weight)
and change it for many households at once, so `import BOOK model.csv` takes it into
Targets the way broker downloads go into the holdings sheets: the file's rows replace
the Targets rows, while a row kept from before keeps what the user set beside its weight
(bands, a substitute, a location). Weights may be fractions (0.6), percentages
("60%") or percentage points (60, when the column adds up to 100).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, Problem, WorkbookError
from . import schema as s
from .rows import SheetData, _message, _validate_rows, read_raw_sheets

if TYPE_CHECKING:
    from ..models.checks import Locator

_SYMBOL = {"symbol", "ticker", "fund"}
_CLASS = {"assetclass", "class", "sleeve"}
_WEIGHT = {"targetweight", "weight", "target", "allocation", "targetallocation", "percent"}
_HOLDINGS_WORDS = {"quantity", "shares", "qty", "costbasis", "price", "marketvalue"}
# A model is a few dozen lines; a bigger file is a broker's download, or not a model.
MAX_BYTES = 1 << 20
# The tolerance on the weights' sum: four decimals of a percent, as a model is typed.
SUM_TOLERANCE = 0.0005


def _key(text: object) -> str:
    return re.sub(r"[^a-z]", "", str(text or "").lower())


def _header(path: Path) -> tuple[list[str], list[list[str]]] | None:
    """The first non-blank row and the rows after it, when the file is a small CSV: a
    pipe, a device or anything bigger is no model (the broker readers refuse it with
    their own sentence), and is never read here."""
    import os
    import stat

    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            return None
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES)
    except OSError:
        return None
    if b"\0" in data[:4096]:
        return None
    text = data.decode("utf-8-sig", errors="replace")
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if any(c.strip() for c in row)]
    except csv.Error:  # a field past the csv module's limit: no model file has one
        return None
    if not rows:
        return None
    return rows[0], rows[1:]


def looks_like(path: Path) -> bool:
    """A model file: a Symbol or AssetClass column and a weight column, and nothing a
    positions download has (shares, prices, cost)."""
    found = _header(path)
    if found is None:
        return False
    keys = {_key(h) for h in found[0]}
    return bool(keys & (_SYMBOL | _CLASS)) and bool(keys & _WEIGHT) and not keys & _HOLDINGS_WORDS


# Targets columns a model CSV may carry beside the weight (bands, a location...), by the
# workbook's Targets headers.
_EXTRA = {
    c.key: c.field
    for c in s.TARGETS.columns
    if c.field not in {"symbol", "asset_class", "target_weight"}
}


@dataclass(frozen=True)
class ModelRow:
    symbol: str | None
    asset_class: str | None
    weight: float
    line: int
    # The row's other Targets cells as typed (field, text): BandAbs, Location...
    extra: tuple[tuple[str, str], ...] = ()


def _number(text: str) -> tuple[float, bool] | None:
    """(value, written as a percentage)."""
    cleaned = text.strip().replace(",", "")
    percent = cleaned.endswith("%")
    try:
        value = float(cleaned.rstrip("%").strip())
    except ValueError:
        return None
    return (value / 100 if percent else value, percent)


def read_model(path: Path) -> list[ModelRow]:
    """The model's rows, weights as fractions; every problem named by file, line, column."""
    found = _header(path)
    file = path.name
    if found is None:
        raise InputError([Problem(f"{file}: not a model file (a CSV with Symbol and Weight)")])
    header, body = found
    keys = [_key(h) for h in header]

    def column(names: set[str]) -> int | None:
        return next((i for i, k in enumerate(keys) if k in names), None)

    sym, cls, wgt = column(_SYMBOL), column(_CLASS), column(_WEIGHT)
    if wgt is None or (sym is None and cls is None):
        raise InputError(
            [Problem(f"{file}: needs a Symbol or AssetClass column and a TargetWeight column")]
        )
    extras = {i: _EXTRA[k] for i, k in enumerate(keys) if k in _EXTRA}
    problems: list[Problem] = []
    rows: list[ModelRow] = []
    points = []
    for line, cells in enumerate(body, start=2):
        cells = cells + [""] * len(header)
        symbol = cells[sym].strip().upper() if sym is not None else ""
        asset_class = cells[cls].strip() if cls is not None else ""
        raw = cells[wgt]
        if not symbol and not asset_class:
            if raw.strip():
                problems.append(Problem(f"{file} line {line}: a weight with no Symbol or class"))
            continue
        if symbol and asset_class:
            problems.append(
                Problem(
                    f"{file} line {line}: give a Symbol or an AssetClass, not both "
                    "(Symbol and AssetClass rows don't mix)"
                )
            )
            continue
        parsed = _number(raw)
        if parsed is None or not math.isfinite(parsed[0]) or parsed[0] < 0:
            problems.append(Problem(f"{file} line {line}, {header[wgt]}: {raw!r} is not a weight"))
            continue
        if not parsed[1]:
            points.append(parsed[0])
        extra = tuple((fld, cells[i].strip()) for i, fld in extras.items() if cells[i].strip())
        rows.append(ModelRow(symbol or None, asset_class or None, parsed[0], line, extra))
    if problems:
        raise InputError(problems)
    if not rows:
        raise InputError([Problem(f"{file}: no weights in the file")])
    kinds = {row.symbol is not None for row in rows}
    if len(kinds) > 1:
        raise InputError(
            [
                Problem(
                    f"{file}: rows by Symbol and rows by AssetClass don't mix; give the model "
                    "by fund or by asset class"
                )
            ]
        )
    # Bare numbers adding up to about 100 are percentage points.
    if len(points) == len(rows) and abs(sum(points) - 100) < 1:
        rows = [ModelRow(r.symbol, r.asset_class, r.weight / 100, r.line, r.extra) for r in rows]
    total = sum(r.weight for r in rows)
    if abs(total - 1) > SUM_TOLERANCE:
        raise InputError(
            [Problem(f"{file}: the weights add up to {total:.2%}, not 100%; nothing was changed")]
        )
    seen: dict[str, int] = {}
    for row in rows:
        key = (row.symbol or row.asset_class or "").lower()
        if key in seen:
            raise InputError(
                [Problem(f"{file} line {row.line}: {key.upper()} is also on line {seen[key]}")]
            )
        seen[key] = row.line
    return rows


def target_records(
    current: Sequence[tuple[int, Mapping[str, Any]]], model: Sequence[ModelRow]
) -> tuple[list[tuple[int | None, dict[str, Any]]], list[tuple[str, str]]]:
    """Targets' new rows (origin row or None, values) and the changes as (kind, text): a
    line in both keeps its row and what the user set beside the weight."""
    by_key: dict[str, tuple[int, Mapping[str, Any]]] = {}
    for origin, values in current:
        key = str(values.get("symbol") or values.get("asset_class") or "").strip().lower()
        if key:
            by_key.setdefault(key, (origin, values))
    records: list[tuple[int | None, dict[str, Any]]] = []
    changes: list[tuple[str, str]] = []
    for row in model:
        name = row.symbol or row.asset_class or ""
        found = by_key.pop(name.lower(), None)
        if found is None:
            values = {"symbol": row.symbol, "asset_class": row.asset_class, **dict(row.extra)}
            records.append((None, {**values, "target_weight": row.weight}))
            changes.append(("added", f"{name} {row.weight:.2%}"))
            continue
        origin, old = found
        records.append((origin, {**old, **dict(row.extra), "target_weight": row.weight}))
        before = old.get("target_weight")
        if not isinstance(before, int | float) or abs(float(before) - row.weight) > 1e-12:
            shown = f"{float(before):.2%}" if isinstance(before, int | float) else "blank"
            changes.append(("changed", f"{name} {shown} → {row.weight:.2%}"))
    for key, (_, old) in by_key.items():
        changes.append(("removed", f"{old.get('symbol') or old.get('asset_class') or key}"))
    return records, changes


# ------------------------------------------------ the firm's model file (Settings model_file)


@dataclass(frozen=True)
class Place:
    """Where a model table sits, to name its cells the way Excel names a cell of another
    file: `[model.xlsx]Targets!C4` (a CSV opens in Excel as a sheet named by its stem)."""

    title: str
    columns: dict[str, str]
    header_row: int

    def cell(self, row: int | None, fld: str) -> str:
        return f"{self.columns.get(fld, 'A')}{row if row is not None else self.header_row}"

    def where(self, row: int | None, fld: str) -> str:
        return f"{self.title}!{self.cell(row, fld)}"


@dataclass(frozen=True)
class Model:
    """A model file read and validated: the engine gets its rows as the pydantic models
    the workbook's own rows are (models.inputs Target and Security)."""

    path: Path
    targets: tuple[Any, ...] | None  # None: the file sets no targets (a security master)
    securities: tuple[Any, ...]
    targets_at: Place | None
    securities_at: Place | None


def model_path(value: str, workbook: Path | None) -> Path:
    """The Settings value as a path: `~` expanded, relative to the workbook's folder."""
    import os

    path = Path(value.strip()).expanduser()
    if not path.is_absolute() and workbook is not None:
        path = workbook.parent / path
    return Path(os.path.normpath(path))  # `clients/../model.xlsx` said as `model.xlsx`


def load_model(path: Path) -> Model:
    """The model file at `path`; every problem named by file, sheet, row and column.
    Raises InputError (bad cells) or WorkbookError (no such file, not readable)."""
    if not path.is_file():
        raise WorkbookError(f"model file {path}: no such file")
    if path.suffix.lower() == ".csv":
        return _load_csv(path)
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        return _load_book(path)
    raise WorkbookError(f"model file {path.name}: expected an .xlsx or a .csv file")


def _load_csv(path: Path) -> Model:
    from ..models import inputs as m
    from .cells import column_letter

    rows = read_model(path)
    found = _header(path)
    assert found is not None  # read_model has read it
    keys = [_key(h) for h in found[0]]
    columns: dict[str, str] = {}
    for i, k in enumerate(keys):
        fld = _EXTRA.get(k) or (
            "symbol"
            if k in _SYMBOL
            else "asset_class"
            if k in _CLASS
            else "target_weight"
            if k in _WEIGHT
            else None
        )
        if fld is not None:
            columns.setdefault(fld, column_letter(i + 1))
    place = Place(f"[{path.name}]{path.stem}", columns, 1)
    problems: list[Problem] = []
    targets = []
    for row in rows:
        values = {"symbol": row.symbol, "asset_class": row.asset_class, **dict(row.extra)}
        targets.append(
            _validated(m.Target, {**values, "target_weight": row.weight}, row.line, place, problems)
        )
    if problems:
        raise InputError(problems)
    return Model(path, tuple(t for t in targets if t is not None), (), place, None)


def _validated(
    model: Any, values: dict[str, Any], row: int, place: Place, problems: list[Problem]
) -> Any:
    from pydantic import ValidationError

    try:
        return model.model_validate({**values, "row": row})
    except ValidationError as exc:
        for err in exc.errors():
            fld = str(err["loc"][0]) if err["loc"] else ""
            problems.append(
                Problem(_message(err, s.TARGETS, fld), place.title, place.cell(row, fld))
            )
        return None


def _load_book(path: Path) -> Model:
    from ..models import inputs as m
    from ..models.checks import Locator

    sheets = read_raw_sheets(path, (s.TARGETS, s.SECURITIES))
    if not sheets:
        raise InputError(
            [
                Problem(
                    f"model file {path.name}: no Targets or Securities sheet (tables "
                    f"{s.TARGETS.table}, {s.SECURITIES.table}; docs/model.md)"
                )
            ]
        )
    problems: list[Problem] = []
    out: dict[str, tuple[tuple[Any, ...], Place]] = {}
    for spec, model in ((s.TARGETS, m.Target), (s.SECURITIES, m.Security)):
        data = sheets.get(spec.name)
        title = f"[{path.name}]{data.title if isinstance(data, SheetData) else spec.name}"
        if isinstance(data, list):
            problems += [Problem(p.message, title, p.cell, p.level) for p in data]
            continue
        if data is None:
            continue
        locator = Locator()
        locator.add(spec.name, data.title, data.columns, data.header_row)
        found: list[Problem] = []
        rows = _validate_rows(data, model, found, locator)
        problems += [Problem(p.message, title, p.cell, p.level) for p in found]
        out[spec.name] = (tuple(rows), Place(title, data.columns, data.header_row))
        if spec is s.SECURITIES and not found:
            problems += _check_securities(*out[spec.name])
    if problems:
        raise InputError(problems)
    targets = out.get(s.TARGETS.name)
    securities = out.get(s.SECURITIES.name)
    return Model(
        path,
        targets[0] if targets else None,
        securities[0] if securities else (),
        targets[1] if targets else None,
        securities[1] if securities else None,
    )


def _check_securities(rows: tuple[Any, ...], place: Place) -> list[Problem]:
    """A fund listed twice, or a Buy fund with no class to buy it for."""
    out = []
    seen: dict[str, int | None] = {}
    for sec in rows:
        if sec.symbol in seen:
            out.append(
                Problem(
                    f"{sec.symbol} is listed twice (also row {seen[sec.symbol]})",
                    place.title,
                    place.cell(sec.row, "symbol"),
                )
            )
        seen.setdefault(sec.symbol, sec.row)
        if sec.buy and not sec.asset_class:
            out.append(
                Problem(
                    f"{sec.symbol} is marked Buy but has no AssetClass to buy it for",
                    place.title,
                    place.cell(sec.row, "asset_class"),
                )
            )
    return out


def class_of(model: Model) -> dict[str, str]:
    """Each fund's asset class in the security master."""
    return {sec.symbol: sec.asset_class for sec in model.securities if sec.asset_class}


def follow(
    model: Model,
    collected: dict[str, tuple[Any, ...]],
    loc: Locator,
) -> list[Problem]:
    """The workbook's rows as the model file makes them (docs/model.md, "Which wins"),
    changed in `collected` in place; returns what the user should be told.

    - The file's targets replace the workbook's Targets (a file with no Targets sheet
      leaves them): a workbook row the model does not match is a warning naming both.
    - A fund's asset class is the security master's: a blank Holdings cell is filled,
      a different one is a warning naming both cells, and the master's class is used.
    - A symbol target without a Substitute takes the master's; the master's IdenticalTo
      joins the Identical sheet's rows (more identical funds is the careful side).
    `loc` places the workbook's cells; its Targets then point into the model file."""
    from ..models import inputs as m

    out: list[Problem] = []
    name = model.path.name
    if model.targets is not None:
        at = model.targets_at
        assert at is not None
        mine = {t.key.upper(): t for t in model.targets}
        for t in collected.get("targets", ()):
            fld = "symbol" if t.symbol is not None else "asset_class"
            theirs = mine.get(t.key.upper())
            if theirs is None:
                why = f"{t.key} is not in the model file {name} ({at.title})"
            elif abs(theirs.target_weight - t.target_weight) > 1e-9:
                why = (
                    f"the model file sets {t.key} to {theirs.target_weight:.2%} "
                    f"({at.where(theirs.row, 'target_weight')}), not {t.target_weight:.2%}"
                )
                fld = "target_weight"
            else:
                continue
            out.append(
                loc.problem(
                    f"{why}; this workbook's Targets rows are not used while Settings "
                    "model_file is set (clear them, or the setting)",
                    "Targets",
                    t.row,
                    fld,
                    "warning",
                )
            )
        collected["targets"] = model.targets
        loc.add("Targets", at.title, at.columns, at.header_row)
    master = {sec.symbol: sec for sec in model.securities}
    holdings = []
    for h in collected.get("holdings", ()):
        sec = master.get(h.symbol)
        if sec is None or not sec.asset_class:
            holdings.append(h)
            continue
        if h.asset_class and h.asset_class.upper() != sec.asset_class.upper():
            at = model.securities_at
            assert at is not None
            out.append(
                loc.problem(
                    f"{h.symbol} is in asset class {h.asset_class} here but "
                    f"{sec.asset_class} in the model file ({at.where(sec.row, 'asset_class')}); "
                    "the model file's class is used (clear this cell, or correct the model)",
                    "Holdings",
                    h.row,
                    "asset_class",
                    "warning",
                )
            )
        holdings.append(h.model_copy(update={"asset_class": sec.asset_class}))
    if "holdings" in collected:
        collected["holdings"] = tuple(holdings)
    if model.securities and collected.get("targets"):
        collected["targets"] = tuple(
            t.model_copy(update={"substitute": master[t.symbol].substitute})
            if t.symbol and t.substitute is None and t.symbol in master
            else t
            for t in collected["targets"]
        )
    identical = [
        m.Identical(symbol=sec.symbol, identical_to=sec.identical_to)
        for sec in model.securities
        if sec.identical_to
    ]
    if identical:
        collected["identical"] = (*collected.get("identical", ()), *identical)
    collected["securities"] = model.securities
    parts = [
        f"{len(model.targets)} target rows" if model.targets is not None else None,
        f"{len(model.securities)} securities" if model.securities else None,
    ]
    out.append(
        Problem(
            f"model file {model.path}: " + " and ".join(p for p in parts if p) + " used",
            level="info",
        )
    )
    return out
