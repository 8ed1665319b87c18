"""Offline prices from a CSV or Parquet file.

Long form (`date, symbol, close`, optionally `adj_close`) or wide (`date` and one column
per symbol). `close` is read as the raw close; give `adj_close` for return estimates
across splits and dividends.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path

from ..errors import PriceError
from ..models.types import MAX_PRICE, MIN_PRICE, show_number, usable_price
from .base import Bar, FetchResult


class FilePriceProvider:
    """Daily closes read once from a file; `close` is the raw close, `adj_close` optional."""

    name = "file"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.closes: dict[str, list[tuple[dt.date, float]]] = {}
        self.adjusted: dict[str, list[tuple[dt.date, float]]] = {}
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            raise PriceError(f"price file {self.path} does not exist")
        rows = self._rows()
        if not rows:
            raise PriceError(f"price file {self.path} has no rows")
        header = [ALIASES.get(h, h) for h in (_key(h) for h in rows[0])]
        if "date" not in header:
            raise PriceError(f"price file {self.path}: no 'date' column (found {rows[0]})")
        date_at = header.index("date")
        if "symbol" in header:
            if "close" not in header and "adj_close" not in header:
                raise PriceError(
                    f"price file {self.path}: a long layout (one row per date and symbol) "
                    f"needs a close or adj_close column; found {', '.join(rows[0])}"
                )
            self._load_long(rows[1:], header, date_at)
        else:
            reserved = [h for h, k in zip(rows[0], header, strict=False) if k in RESERVED]
            if reserved:
                raise PriceError(
                    f"price file {self.path}: column {', '.join(reserved)} is not a symbol; "
                    "a long layout needs a symbol (or ticker) column, a wide one a column "
                    "per symbol"
                )
            self._load_wide(rows[1:], rows[0], date_at)
        for series in (*self.closes.values(), *self.adjusted.values()):
            series.sort()

    def _rows(self) -> list[list[str]]:
        if self.path.suffix.lower() in {".parquet", ".pq"}:
            import pandas as pd

            try:
                frame = pd.read_parquet(self.path)
            except ImportError as exc:
                raise PriceError(
                    f"reading {self.path.name} needs pyarrow: pip install 'xl-rebalancer[parquet]'"
                ) from exc
            frame = (
                frame.reset_index()
                if "date" not in [str(c).lower() for c in frame.columns]
                else frame
            )
            return [list(map(str, frame.columns))] + [
                [str(v)[:10] if i == 0 else str(v) for i, v in enumerate(r)]
                for r in frame.itertuples(index=False)
            ]
        self._check_text()
        try:
            with open(self.path, newline="", encoding="utf-8-sig") as handle:
                return [row for row in csv.reader(handle) if row]
        except UnicodeDecodeError:
            raise PriceError(
                f"price file {self.path} is not UTF-8 text: save it as CSV UTF-8 "
                "(date, symbol, close)"
            ) from None
        except csv.Error as exc:
            raise PriceError(
                f"price file {self.path} is not readable as CSV ({exc}); check for an "
                "unclosed quote"
            ) from None

    def _check_text(self) -> None:
        """What --prices must not be: a pipe or device (read forever), or a workbook,
        which would fail as undecodable text; the workbook's own prices are its Prices
        sheet, read without --prices."""
        import os
        import stat

        if not stat.S_ISREG(os.stat(self.path).st_mode):
            raise PriceError(
                f"price file {self.path} is not a regular file (a folder, pipe or device); "
                "name a CSV or Parquet file"
            )
        with open(self.path, "rb") as handle:
            head = handle.read(8)
        if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
            raise PriceError(
                f"price file {self.path} is a workbook (or another zip file), not a CSV: "
                "--prices takes a CSV (date, symbol, close) or Parquet file; a workbook's "
                "own prices go on its Prices sheet"
            )

    def _load_long(self, rows: list[list[str]], header: list[str], date_at: int) -> None:
        sym_at = header.index("symbol")
        adj_at = header.index("adj_close") if "adj_close" in header else None
        # An adjusted-only file (Date, Ticker, Adj Close) prices with what it has.
        close_at = header.index("close") if "close" in header else adj_at
        assert close_at is not None
        for line, row in enumerate(rows, start=2):
            day = _date(row[date_at], self.path, line)
            symbol = row[sym_at].strip().upper()
            close = _number(row[close_at], self.path, line)
            if close is not None:
                self.closes.setdefault(symbol, []).append((day, close))
            if adj_at is not None and (adj := _number(row[adj_at], self.path, line)) is not None:
                self.adjusted.setdefault(symbol, []).append((day, adj))

    def _load_wide(self, rows: list[list[str]], header: list[str], date_at: int) -> None:
        symbols = [(i, h.strip().upper()) for i, h in enumerate(header) if i != date_at]
        for line, row in enumerate(rows, start=2):
            day = _date(row[date_at], self.path, line)
            for i, symbol in symbols:
                close = _number(row[i], self.path, line) if i < len(row) else None
                if close is not None:
                    self.closes.setdefault(symbol, []).append((day, close))

    def history(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> FetchResult:
        result = FetchResult()
        for symbol in symbols:
            adjusted = dict(self.adjusted.get(symbol, []))
            bars = [
                Bar(day, close, adj_close=adjusted.get(day))
                for day, close in self.closes.get(symbol, [])
                if start <= day <= end
            ]
            if bars:
                result.bars[symbol] = bars
            else:
                result.failed[symbol] = f"not in {self.path.name} up to {end}"
        return result


ALIASES = {
    "ticker": "symbol",
    "adjclose": "adj_close",
    "adjusted_close": "adj_close",
    "price": "close",
}
RESERVED = {"symbol", "close", "adj_close", "open", "high", "low", "volume"}


def _key(header: str) -> str:
    return header.strip().lower().replace(" ", "_").replace(".", "")


def _number(text: str, path: Path, line: int) -> float | None:
    """A close: blank and NaN are a gap; `$318.40` and `1,024.5` read as numbers; a zero,
    negative or unreadable close is an error at its line, never dropped without a word."""
    raw = text.strip()
    if not raw or raw.lower() in {"nan", "null", "none", "na", "n/a", "--"}:
        return None
    try:
        value = float(raw.replace("$", "").replace(",", ""))
    except ValueError:
        raise PriceError(f"price file {path}, line {line}: {text!r} is not a price") from None
    if not math.isfinite(value) or value <= 0:
        raise PriceError(f"price file {path}, line {line}: a close of {text!r} is not a price")
    if not usable_price(value):
        raise PriceError(
            f"price file {path}, line {line}: a close of {text!r} is outside the range "
            f"accepted for a price ({show_number(MIN_PRICE)} to {show_number(MAX_PRICE)})"
        )
    return value


def _date(text: str, path: Path, line: int) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise PriceError(f"price file {path}, line {line}: {text!r} is not a date") from None
