"""Price files read as their header says, never guessed (issue 24)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from xl_rebalancer.errors import PriceError
from xl_rebalancer.prices.file import FilePriceProvider

D = dt.date(2024, 1, 2)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text(text)
    return path


def closes(provider: FilePriceProvider) -> dict[str, float]:
    return {s: series[-1][1] for s, series in provider.closes.items()}


def test_long_layout_with_ticker_and_adj_close_headers(tmp_path: Path):
    p = FilePriceProvider(
        write(tmp_path, "Date,Ticker,Close,Adj Close\n2024-01-02,VTI,$318.40,317.1\n")
    )
    assert closes(p) == {"VTI": 318.40}
    assert p.adjusted["VTI"] == [(D, 317.1)]
    only_adjusted = FilePriceProvider(
        write(tmp_path, "Date,Ticker,Adj Close\n2024-01-02,BND,72.5\n")
    )
    assert closes(only_adjusted) == {"BND": 72.5}


def test_long_layout_without_a_close_is_refused(tmp_path: Path):
    with pytest.raises(PriceError, match="needs a close or adj_close column"):
        FilePriceProvider(write(tmp_path, "Date,Symbol,Volume\n2024-01-02,VTI,100\n"))


def test_a_wide_header_that_names_no_symbols_is_refused(tmp_path: Path):
    with pytest.raises(PriceError, match="Close is not a symbol"):
        FilePriceProvider(write(tmp_path, "Date,Close\n2024-01-02,318.4\n"))


@pytest.mark.parametrize("bad", ["0", "-1", "abc"])
def test_a_close_that_is_no_price_is_named_at_its_line(tmp_path: Path, bad: str):
    with pytest.raises(PriceError, match="line 3"):
        FilePriceProvider(write(tmp_path, f"date,VTI\n2024-01-02,318.4\n2024-01-03,{bad}\n"))


def test_blank_cells_are_gaps_in_a_wide_file(tmp_path: Path):
    p = FilePriceProvider(write(tmp_path, "date,VTI,BND\n2024-01-02,318.4,\n2024-01-03,319,72.1\n"))
    assert len(p.closes["VTI"]) == 2 and len(p.closes["BND"]) == 1
