"""refresh-prices and run on real workbooks, with recorded Yahoo data and offline caches."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from tests.conftest import write_book
from xl_rebalancer.app import run_engine
from xl_rebalancer.cli import main
from xl_rebalancer.door import RunOptions
from xl_rebalancer.errors import PriceError

D = dt.date
BOOK = {
    "Accounts": [{"account": "Taxable", "type": "taxable", "cash": 1000.0}],
    "Holdings": [
        {"account": "Taxable", "symbol": "AAPL", "shares": 100},
        {"account": "Taxable", "symbol": "MSFT", "shares": 20},
    ],
    # Apple closed at 293.65 on 2019-12-31 (before its split): 100 shares, basis 29,373.
    "TaxLots": [
        {
            "account": "Taxable",
            "symbol": "AAPL",
            "lot_id": "A1",
            "acquired": D(2019, 12, 31),
            "shares": 100,
            "cost_basis": 29373.0,
        },
        {
            "account": "Taxable",
            "symbol": "MSFT",
            "lot_id": "M1",
            "acquired": D(2020, 1, 2),
            "shares": 20,
            "cost_basis": 3200.0,
        },
    ],
    "Targets": [{"symbol": "AAPL", "target_weight": 0.5}, {"symbol": "MSFT", "target_weight": 0.5}],
    "Prices": [{"symbol": "VMFXX", "price": 1.0, "as_of": D(2020, 8, 28), "source": "manual"}],
}
SETTINGS = {"valuation_date": D(2020, 8, 28), "lot_method": "fifo"}


@pytest.fixture
def apple_book(tmp_path: Path) -> Path:
    return write_book(tmp_path / "apple.xlsm", BOOK, SETTINGS)


def _prices(path: Path) -> dict[str, tuple]:
    ws = load_workbook(path, read_only=True)["Prices"]
    return {r[0]: r[1:] for r in ws.iter_rows(min_row=2, values_only=True) if r[0]}


def test_refresh_fills_prices_with_raw_closes_and_keeps_manual_rows(apple_book, recorded_yahoo):
    report = run_engine(apple_book, "refresh-prices")
    prices = _prices(apple_book)
    assert prices["AAPL"][0] == pytest.approx(499.23)
    assert prices["AAPL"][1].date() == D(2020, 8, 28) and prices["AAPL"][2] == "yahoo"
    assert prices["MSFT"][0] == 228.91
    assert prices["VMFXX"] == (1.0, dt.datetime(2020, 8, 28), "manual")
    assert report.result is None and "Trades" not in load_workbook(apple_book).sheetnames


def test_no_fake_loss_across_a_split(apple_book, recorded_yahoo):
    # Naively valued at Yahoo's split-adjusted 124.81, the lot would show a 16,892 loss.
    report = run_engine(apple_book, "run", RunOptions(dry_run=True))
    drift = {r.symbol: r for r in report.result.drift}
    assert drift["AAPL"].value == pytest.approx(100 * 499.23)
    sells = [t for t in report.result.trades if t.symbol == "AAPL" and t.action == "SELL"]
    assert sells and all(t.realized_gain > 0 for t in sells)
    assert sells[0].realized_gain == pytest.approx(
        sells[0].shares * (499.23 - 293.73) - sells[0].est_cost, abs=0.01
    )


def test_warm_cache_makes_no_provider_call(apple_book, recorded_yahoo):
    run_engine(apple_book, "refresh-prices")
    asked = len(recorded_yahoo)
    assert asked == 2
    run_engine(apple_book, "refresh-prices")
    run_engine(apple_book, "rebalance")
    assert len(recorded_yahoo) == asked, "dates already cached were fetched again"


def test_offline_run_with_stale_cache_warns_and_completes(apple_book, recorded_yahoo):
    run_engine(apple_book, "refresh-prices", RunOptions(as_of=D(2020, 9, 4)))
    report = run_engine(apple_book, "run", RunOptions(as_of=D(2020, 9, 30), network=False))
    stale = [w.message for w in report.warnings if "trading days old" in w.message]
    assert len(stale) == 2 and "2020-09-04" in stale[0]
    log = load_workbook(apple_book, read_only=True)["Log"]
    assert any("trading days old" in str(r[4]) for r in log.iter_rows(min_row=2, values_only=True))
    assert _prices(apple_book)["AAPL"][0] == pytest.approx(120.96)


def test_unknown_symbol_stops_with_its_cell(apple_book, recorded_yahoo):
    wb = load_workbook(apple_book, keep_vba=True)
    wb["Holdings"].append(["Taxable", "NOPE", 5])
    wb.save(apple_book)
    with pytest.raises(PriceError) as caught:
        run_engine(apple_book, "refresh-prices")
    assert [(p.where, "NOPE" in p.message) for p in caught.value.problems] == [
        ("Holdings!B4", True)
    ]
    result = CliRunner().invoke(main, ["refresh-prices", str(apple_book)])
    assert result.exit_code == 1
    assert "Holdings!B4" in result.output and "Traceback" not in result.output


def test_refresh_from_a_price_file(apple_book, tmp_path):
    file = tmp_path / "closes.csv"
    file.write_text(
        "date,symbol,close\n2020-08-27,AAPL,500.04\n2020-08-28,AAPL,499.23\n"
        "2020-08-28,MSFT,228.91\n2020-08-31,MSFT,225.53\n"
    )
    result = CliRunner().invoke(main, ["refresh-prices", str(apple_book), "--prices", str(file)])
    assert result.exit_code == 0, result.output
    prices = _prices(apple_book)
    assert prices["AAPL"][:1] == (499.23,) and prices["AAPL"][2] == "file"
    assert prices["MSFT"][1].date() == D(2020, 8, 28)


def test_symbol_missing_from_the_feed_warns_when_an_old_price_is_used(apple_book, recorded_yahoo):
    wb = load_workbook(apple_book, keep_vba=True)
    wb["Holdings"].append(["Taxable", "OLDCO", 5])
    wb["Prices"].append(["OLDCO", 12.5, dt.datetime(2020, 8, 27), "yahoo"])
    wb.save(apple_book)
    report = run_engine(apple_book, "refresh-prices")
    missing = [w for w in report.warnings if "missing from the yahoo feed" in w.message]
    assert len(missing) == 1 and "OLDCO" in missing[0].message
    assert _prices(apple_book)["OLDCO"][0] == 12.5


def test_history_for_the_estimators_is_cached(apple_book, recorded_yahoo, monkeypatch):
    wb = load_workbook(apple_book, keep_vba=True)
    for row in wb["Settings"].iter_rows(min_row=2):
        if row[0].value == "strategy":
            row[1].value = "min_variance"
        if row[0].value == "lookback_days":
            row[1].value = 10
    wb.save(apple_book)
    run_engine(apple_book, "refresh-prices")
    starts = {start for _, start in recorded_yahoo}
    assert min(starts) <= "2020-08-14", "the fetch did not reach back lookback_days"
    # Offline now: the estimators read the history the refresh left in the cache.
    report = run_engine(apple_book, "optimize", RunOptions(network=False))
    assert report.optimized.symbols == ["AAPL", "MSFT"]
    assert report.optimized.allocation.weights.sum() == pytest.approx(1.0)
    assert "OptimizedTargets" in load_workbook(apple_book, read_only=True).sheetnames
