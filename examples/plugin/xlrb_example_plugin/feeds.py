"""csv_folder: closes from a folder of CSV files, one per symbol, as a firm's nightly
export might leave them (VTI.csv with columns date, close and optionally dividend and
split). The folder is the environment variable XLRB_PRICE_FOLDER."""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

from xl_rebalancer.prices.base import Bar, FetchResult


class CsvFolderFeed:
    """The factory xl-rebalancer calls with no arguments, once per run."""

    name = "csv_folder"

    def __init__(self) -> None:
        folder = os.environ.get("XLRB_PRICE_FOLDER", "")
        if not folder:
            raise RuntimeError("set XLRB_PRICE_FOLDER to the folder of price files")
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise RuntimeError(f"XLRB_PRICE_FOLDER {folder} is not a folder")

    def history(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> FetchResult:
        """Raw closes from `start` to `end`, oldest first; a symbol without a file is
        reported in `failed`, and the run falls back to the cache and the Prices sheet."""
        out = FetchResult()
        for symbol in symbols:
            path = self.folder / f"{symbol}.csv"
            if not path.is_file():
                out.failed[symbol] = f"no {path.name} in {self.folder}"
                continue
            with path.open(newline="", encoding="utf-8") as handle:
                bars = [
                    Bar(
                        day,
                        float(row["close"]),
                        float(row.get("dividend") or 0.0),
                        float(row.get("split") or 1.0),
                    )
                    for row in csv.DictReader(handle)
                    if start <= (day := dt.date.fromisoformat(row["date"])) <= end
                ]
            if bars:
                out.bars[symbol] = sorted(bars)
            else:
                out.failed[symbol] = f"no close from {start} to {end} in {path.name}"
        return out
