"""Offline price files: long and wide CSV, Parquet, and the reference data sets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.conftest import REFERENCE
from xl_rebalancer.errors import PriceError
from xl_rebalancer.prices.base import last_bar, total_return_index
from xl_rebalancer.prices.file import FilePriceProvider

D = dt.date


def test_wide_reference_file_last_close_on_or_before():
    provider = FilePriceProvider(REFERENCE / "pypfopt_stock_prices.csv")
    result = provider.history(["AAPL", "FB", "NOPE"], D(2017, 12, 1), D(2018, 1, 1))
    # PyPortfolioOpt's file: AAPL 168.542831 on 2017-12-29; FB listed, late rows fine.
    assert last_bar(result.bars["AAPL"], D(2018, 1, 1)).close == 168.542831
    assert "FB" in result.bars and "NOPE" in result.failed


def test_long_csv_with_adj_close_and_parquet(tmp_path: Path):
    import pandas as pd

    frame = pd.DataFrame(
        {
            "date": ["2020-08-27", "2020-08-28", "2020-08-31"],
            "symbol": ["AAPL"] * 3,
            "close": [500.04, 499.23, 129.04],
            "adj_close": [123.9, 123.7, 127.9],
        }
    )
    csv = tmp_path / "p.csv"
    frame.to_csv(csv, index=False)
    parquet = tmp_path / "p.parquet"
    frame.to_parquet(parquet)
    for path in (csv, parquet):
        bars = FilePriceProvider(path).history(["AAPL"], D(2020, 8, 1), D(2020, 9, 1)).bars["AAPL"]
        assert [b.close for b in bars] == [500.04, 499.23, 129.04]
        assert [v for _, v in total_return_index(bars)] == [123.9, 123.7, 127.9]


def test_bad_files_are_price_errors(tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("when,symbol,close\n2020-01-01,X,1\n")
    with pytest.raises(PriceError, match="no 'date' column"):
        FilePriceProvider(bad)
    bad.write_text("date,symbol,close\n01/02/2020,X,1\n")
    with pytest.raises(PriceError, match="line 2"):
        FilePriceProvider(bad)
    with pytest.raises(PriceError, match="does not exist"):
        FilePriceProvider(tmp_path / "missing.csv")
