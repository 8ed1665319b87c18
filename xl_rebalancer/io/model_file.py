"""A model portfolio file: the target weights an adviser keeps outside the workbook.

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
from typing import Any

from ..errors import InputError, Problem

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


@dataclass(frozen=True)
class ModelRow:
    symbol: str | None
    asset_class: str | None
    weight: float
    line: int


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
        rows.append(ModelRow(symbol or None, asset_class or None, parsed[0], line))
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
        rows = [ModelRow(r.symbol, r.asset_class, r.weight / 100, r.line) for r in rows]
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
            values = {"symbol": row.symbol, "asset_class": row.asset_class}
            records.append((None, {**values, "target_weight": row.weight}))
            changes.append(("added", f"{name} {row.weight:.2%}"))
            continue
        origin, old = found
        records.append((origin, {**old, "target_weight": row.weight}))
        before = old.get("target_weight")
        if not isinstance(before, int | float) or abs(float(before) - row.weight) > 1e-12:
            shown = f"{float(before):.2%}" if isinstance(before, int | float) else "blank"
            changes.append(("changed", f"{name} {shown} → {row.weight:.2%}"))
    for key, (_, old) in by_key.items():
        changes.append(("removed", f"{old.get('symbol') or old.get('asset_class') or key}"))
    return records, changes
