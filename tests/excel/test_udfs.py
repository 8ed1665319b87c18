"""The worksheet functions, called as xlwings calls them, checked against xlwings' own
Windows-side metadata and against outside references."""

from __future__ import annotations

import datetime as dt
import inspect
import subprocess
import sys

import numpy as np
import pytest
import xlrebalancer_udfs as u

from xl_rebalancer.excel import doors, udf_wrappers

RANGE_ARGS = {
    "xlrb_weights": {"holdings", "targets"},
    "xlrb_drift": {"holdings", "targets"},
    "xlrb_risk": {"weights", "returns"},
    "xlrb_optimize": {"returns"},
    "xlrb_wash_check": {"transactions"},
}


def test_xlwings_windows_decorators_accept_every_function():
    # xlwings.udfs.xlarg raises "Invalid argument name" for an @xw.arg naming no
    # parameter; here it runs for real, with stand-ins for pywin32 only.
    with udf_wrappers.windows_xlwings() as udfs:
        module = udf_wrappers.load_decorated(udfs)
    for func in u.UDFS:
        meta = getattr(module, func.__name__).__xlfunc__
        assert meta["name"] == func.__name__
        assert meta["category"] == u.CATEGORY
        names = [a["name"] for a in meta["args"]]
        assert names == list(inspect.signature(func).parameters)
        for arg in meta["args"]:
            assert arg["doc"] and not arg["doc"].startswith("Positional argument"), arg
            assert "convert" not in arg["options"], "an annotation became a converter"
            if arg["name"] in RANGE_ARGS.get(func.__name__, ()):
                assert arg["options"].get("ndim") == 2
        assert "convert" not in meta["ret"]["options"]


def test_committed_vba_wrappers_are_what_xlwings_generates():
    committed = (doors.VBA_DIR / "xlwings_udfs.bas").read_bytes()
    assert committed == udf_wrappers.generate(), (
        "run `python -m xl_rebalancer.excel.udf_wrappers` and rebuild the template"
    )
    text = committed.decode("cp1252")
    for func in u.UDFS:
        assert f"Function {func.__name__}(" in text
        assert f'XLPy.CallUDF("{doors.UDF_MODULE}", "{func.__name__}"' in text


def test_udf_module_imports_without_the_engine():
    # Heavy parts load on the first call; measured cold-import time is in docs/performance.md.
    code = (
        "import sys, time; t = time.perf_counter(); import xlrebalancer_udfs; "
        "print(time.perf_counter() - t); "
        "print(sorted(m for m in ('scipy', 'clarabel', 'openpyxl', 'yfinance', "
        "'xl_rebalancer.engine', 'xl_rebalancer.prices.cache') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[1] == "[]"


def test_weights_and_drift_with_xlwings_shapes():
    # A header row, a blank row from a whole-table reference, a row of None.
    holdings = [["Symbol", "Value"], ["vti", 60000.0], [None, None], ["BND", 40000.0]]
    targets = [["VTI", 0.5], ["BND", 0.5]]
    assert u.xlrb_weights(holdings, targets) == [
        ["Symbol", "Weight", "TargetWeight"],
        ["VTI", 0.6, 0.5],
        ["BND", 0.4, 0.5],
    ]
    table = u.xlrb_drift(holdings, targets, None, None)
    assert table[0] == ["Symbol", "Weight", "TargetWeight", "Drift", "Band", "OutOfBand"]
    vti = table[1]
    # Band = min(band_abs, band_rel x target) = min(5%, 25% x 50%) = 5%; drift 10% is out.
    assert vti[0] == "VTI" and vti[3] == pytest.approx(0.10) and vti[4] == pytest.approx(0.05)
    assert vti[5] is True
    assert u.xlrb_drift(holdings, targets, 0.2, None)[1][5] is False


def test_bad_input_is_a_readable_cell_value():
    assert u.xlrb_weights(None) == "#XLRB! holdings is empty"
    assert u.xlrb_weights([["VTI", "lots"]]).startswith("#XLRB! holdings has no rows")
    assert u.xlrb_drift([["VTI", 1.0]], [["VTI", 0.6]]).startswith(
        "#XLRB! target weights add up to 60.0000%"
    )
    assert u.xlrb_lot_gain("ten", 100, "2024-01-02", 5) == (
        "#XLRB! shares must be a number, not 'ten'"
    )
    assert u.xlrb_lot_gain(1, 100, "not a date", 5).startswith("#XLRB! acquired must be a date")
    assert u.xlrb_risk([[1.0]], [[0.01], [None]]).startswith("#XLRB! returns needs at least two")
    assert u.xlrb_risk([[0.5, 0.5]], [[0.01, 0.02], [0.03, 0.01]], 1.5).startswith(
        "#XLRB! confidence"
    )
    assert u.xlrb_optimize([["A", "B"], [0.01, 0.0], [0.0, 0.01]], None).startswith(
        "#XLRB! strategy is blank"
    )
    assert u.xlrb_optimize([["A", "B"], [0.01, 0.0], [0.0, 0.01]], "magic").startswith("#XLRB!")
    assert u.xlrb_price(None) == "#XLRB! symbol is blank"


def test_lot_gain_and_term_follow_the_irs_holding_period():
    # Bought 2023-03-15: held more than one year from 2024-03-16 (IRS Pub. 550).
    assert u.xlrb_lot_gain(100, 5000.0, dt.datetime(2023, 3, 15), 45.0, "2024-03-15") == [
        [-500.0, "ST"]
    ]
    assert u.xlrb_lot_gain(100, 5000.0, dt.datetime(2023, 3, 15), 45.0, "2024-03-16") == [
        [-500.0, "LT"]
    ]
    # Excel serial number for 2023-03-15 (a cell not formatted as a date).
    assert u.xlrb_lot_gain(10, 100.0, 45000.0, 12.5, 45500.0) == [[25.0, "LT"]]


def test_risk_matches_skfolio_and_the_closed_form():
    measures = pytest.importorskip("skfolio.measures")
    rng = np.random.default_rng(7)
    returns = rng.normal(0.0003, 0.01, size=(503, 3))
    w = np.array([0.2, 0.3, 0.5])
    cells = [["AAA", "BBB", "CCC"], *returns.tolist()]
    for level in (0.9, 0.95, 0.99):
        out = dict(u.xlrb_risk([w.tolist()], cells, level, None))
        path = returns @ w
        assert out["VaR"] == pytest.approx(measures.value_at_risk(path, level), abs=1e-12)
        assert out["CVaR"] == pytest.approx(measures.cvar(path, level), abs=1e-12)
        vol = np.sqrt(w @ np.cov(returns, rowvar=False) @ w * 252)
        assert out["Volatility"] == pytest.approx(vol, rel=1e-12)


def test_optimize_matches_the_engine_and_pypfopt():
    pypfopt = pytest.importorskip("pypfopt")
    import pandas as pd

    from tests.conftest import REFERENCE

    prices = pd.read_csv(
        REFERENCE / "pypfopt_stock_prices.csv", parse_dates=["date"], index_col="date"
    )
    prices = prices[["GOOG", "AAPL", "FB", "BABA", "AMZN"]].dropna().iloc[-500:]
    returns = prices.pct_change().dropna()
    cells = [list(returns.columns), *returns.to_numpy().tolist()]
    spilled = u.xlrb_optimize(cells, "min_variance", None, None)
    assert spilled[0] == ["Symbol", "Weight"]
    ours = np.array([w for _, w in spilled[1:]])
    assert ours.sum() == pytest.approx(1.0)
    from xl_rebalancer.engine.strategies import optimize

    assert ours == pytest.approx(optimize(returns.to_numpy(), "min_variance").weights, abs=1e-9)
    from pypfopt import risk_models
    from pypfopt.efficient_frontier import EfficientFrontier

    cov = risk_models.CovarianceShrinkage(returns, returns_data=True).ledoit_wolf()
    peer = EfficientFrontier(None, cov).min_volatility()
    assert ours == pytest.approx([peer[c] for c in returns.columns], abs=2e-3)
    assert pypfopt is not None


def test_wash_check_against_the_thirty_day_window():
    sheet = [
        ["Date", "Account", "Symbol", "Action", "Shares", "Price"],
        [dt.datetime(2024, 3, 1), "IRA", "VTI", "BUY", 10, 230.0],
        [dt.datetime(2024, 1, 5), "Taxable", "VTI", "BUY", 5, 220.0],
        [None, None, None, None, None, None],
    ]
    # IRS: 30 days before or after the sale. 2024-03-01 is 9 days before 2024-03-10.
    bought = "blocked: BUY 10 VTI in IRA on 2024-03-01 (Transactions row 2)"
    assert u.xlrb_wash_check("vti", "2024-03-10", sheet) == bought
    assert u.xlrb_wash_check("VTI", "2024-03-31", sheet) == bought
    assert u.xlrb_wash_check("VTI", "2024-04-01", sheet) == "clear"  # 31 days later
    assert u.xlrb_wash_check("BND", "2024-03-10", sheet) == "clear"
    assert u.xlrb_wash_check("VTI", "2024-03-10", [["When", "What"]]).startswith("#XLRB!")


def test_wash_check_reads_the_identical_sheet():
    # IRS Pub. 550 ("Wash Sales"): a loss is disallowed when "substantially identical"
    # stock is bought within 30 days. The Identical sheet names such twins for every run
    # (whatever the targets); the function reads the same table when it is passed.
    moves = [
        ["Date", "Account", "Symbol", "Action", "Shares", "Price"],
        [dt.datetime(2024, 3, 1), "Roth", "IVV", "BUY", 4, 480.0],
    ]
    twins = [["Symbol", "IdenticalTo"], ["VOO", "IVV"], [None, None]]
    args = ("VOO", "2024-03-10", moves, None, "sell", None, None, None, None)
    assert u.xlrb_wash_check(*args) == "clear"  # without the table, other funds
    assert u.xlrb_wash_check(*args, twins) == (
        "blocked: BUY 4 IVV in Roth on 2024-03-01 (Transactions row 2)"
    )
    assert u.xlrb_wash_check("VOO", "2024-04-01", moves, None, "sell", identical=twins) == (
        "clear"  # 31 days after the purchase
    )
    bad = [["Symbol", "IdenticalTo"], ["VOO", None]]
    assert u.xlrb_wash_check(*args, bad).startswith("#XLRB! identical")


def test_price_from_the_cache(tmp_path, monkeypatch):
    from xl_rebalancer.prices.base import Bar, FetchResult
    from xl_rebalancer.prices.cache import PriceCache

    monkeypatch.setenv("XL_REBALANCER_CACHE", str(tmp_path / "prices.sqlite"))
    cache = PriceCache(tmp_path / "prices.sqlite")
    bars = [Bar(dt.date(2024, 3, d), 100.0 + d) for d in (4, 5, 6)]
    cache.store(
        FetchResult({"VTI": bars}),
        dt.date(2024, 3, 1),
        dt.date(2024, 3, 6),
        "yahoo",
        dt.datetime(2024, 3, 7),
    )
    assert u.xlrb_price("vti", "2024-03-05") == 105.0
    # A run takes the latest close of the last 14 calendar days (prices/service.py)
    assert u.xlrb_price("VTI", dt.datetime(2024, 3, 20)) == 106.0
    assert u.xlrb_price("VTI", dt.datetime(2024, 3, 21)).startswith("#XLRB! no price for VTI")
    assert u.xlrb_price("BND", "2024-03-05") == (
        "#XLRB! no price for BND up to 2024-03-05 in the price cache; run Refresh Prices, or "
        "pass the Prices table as the third argument (tblPrices[#All])"
    )
