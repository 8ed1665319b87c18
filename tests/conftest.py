"""Shared fixtures: real workbooks written by the project's own builder and by openpyxl."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xl_rebalancer.excel.template import build_workbook

REPO = Path(__file__).resolve().parents[1]
RECORDED = REPO / "tests" / "data" / "yahoo"
# PyPortfolioOpt's and skfolio's own test prices, cut to the rows the tests use (README there).
REFERENCE = REPO / "tests" / "data" / "reference"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manual_prices(prices: dict[str, float], as_of: dt.date) -> list[dict[str, Any]]:
    """Prices sheet rows typed by hand (Source = manual): a workbook that runs offline."""
    return [
        {"symbol": s, "price": p, "as_of": as_of, "source": "manual"} for s, p in prices.items()
    ]


def portfolio_sheets(
    portfolio: Any, prices: dict[str, float], as_of: dt.date
) -> dict[str, list[dict[str, Any]]]:
    """A Portfolio built in a test as the input sheets a user would type, prices on the
    Prices sheet: the same household through the command line."""
    return {
        "Accounts": [a.model_dump() for a in portfolio.accounts],
        "Holdings": [h.model_dump() for h in portfolio.holdings],
        "TaxLots": [lot.model_dump() for lot in portfolio.lots],
        "Targets": [t.model_dump() for t in portfolio.targets],
        "Prices": manual_prices(prices, as_of),
    }


def write_book(
    path: Path, data: dict[str, list[dict[str, Any]]], settings: dict[str, Any] | None = None
) -> Path:
    return build_workbook(path, data, settings=settings)


TWO_FUNDS: dict[str, list[dict[str, Any]]] = {
    "Accounts": [{"account": "Brokerage", "type": "taxable", "cash": 1000.0}],
    "Holdings": [
        {"account": "Brokerage", "symbol": "AAA", "shares": 100},
        {"account": "Brokerage", "symbol": "BBB", "shares": 30},
    ],
    "TaxLots": [
        {
            "account": "Brokerage",
            "symbol": "AAA",
            "lot_id": "L1",
            "acquired": dt.date(2020, 1, 2),
            "shares": 60,
            "cost_basis": 1800.0,
        },
        {
            "account": "Brokerage",
            "symbol": "AAA",
            "lot_id": "L2",
            "acquired": dt.date(2025, 6, 1),
            "shares": 40,
            "cost_basis": 2800.0,
        },
        {
            "account": "Brokerage",
            "symbol": "BBB",
            "lot_id": "B1",
            "acquired": dt.date(2021, 5, 3),
            "shares": 30,
            "cost_basis": 2400.0,
        },
    ],
    "Targets": [
        {"symbol": "AAA", "target_weight": 0.5},
        {"symbol": "BBB", "target_weight": 0.5},
    ],
    "Prices": [
        {"symbol": "AAA", "price": 60.0, "as_of": dt.date(2026, 1, 15), "source": "manual"},
        {"symbol": "BBB", "price": 100.0, "as_of": dt.date(2026, 1, 15), "source": "manual"},
    ],
}
TWO_FUNDS_SETTINGS = {"valuation_date": dt.date(2026, 1, 15), "cost_bps": 0, "lot_method": "fifo"}


@pytest.fixture(autouse=True)
def no_network_and_private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """No test reaches Yahoo, the user's own price cache or run journal (subprocesses
    inherit this)."""
    cache = tmp_path_factory.mktemp("cache") / "prices.sqlite"
    monkeypatch.setenv("XL_REBALANCER_OFFLINE", "1")
    monkeypatch.setenv("XL_REBALANCER_CACHE", str(cache))
    monkeypatch.setenv("XL_REBALANCER_JOURNAL", str(cache.with_name("journal.jsonl")))
    return cache


@pytest.fixture
def two_funds_book(tmp_path: Path) -> Path:
    return write_book(tmp_path / "two_funds.xlsm", TWO_FUNDS, TWO_FUNDS_SETTINGS)


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from xl_rebalancer.demo import write_demo

    return write_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def household(demo_files: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the demo household (VBA, ribbon, charts) to run on, and its prices."""
    book, prices = demo_files
    work = tmp_path / "household.xlsm"
    shutil.copy2(book, work)
    return work, prices


@pytest.fixture
def recorded_yahoo(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """Recorded Yahoo: yfinance's own download() runs; only Ticker.history is replaced.
    Serve tests/data/yahoo/<TICKER>.csv; any other ticker fails as Yahoo's does.

    Returns the list of (ticker, start) calls, so tests can count network requests.
    """
    import pandas as pd
    import yfinance as yf

    calls: list[tuple[str, str | None]] = []

    def history(self: yf.Ticker, *args: object, **kwargs: object) -> pd.DataFrame:
        start = kwargs.get("start")
        calls.append((self.ticker, start))
        source = RECORDED / f"{self.ticker}.csv"
        if not source.exists():
            raise RuntimeError(f"${self.ticker}: possibly delisted; no timezone found")
        frame = pd.read_csv(source, parse_dates=["Date"], index_col="Date")
        frame.index = frame.index.tz_localize("America/New_York")
        if start:
            frame = frame[frame.index.date >= pd.Timestamp(str(start)).date()]
        return frame

    monkeypatch.setattr(yf.Ticker, "history", history)
    monkeypatch.delenv("XL_REBALANCER_OFFLINE", raising=False)
    monkeypatch.setattr("xl_rebalancer.prices.yahoo.time.sleep", lambda seconds: None)
    monkeypatch.setattr("xl_rebalancer.prices.yahoo._down_since", [])
    return calls


@contextlib.contextmanager
def small_disk(tmp_path: Path, size: str) -> Iterator[Path]:
    """A real small filesystem (tmpfs) for full-disk and read-only cases; skips where
    mounting is not allowed (not root)."""
    where = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
