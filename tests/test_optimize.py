"""`optimize` and strategy-driven rebalances on real workbooks, checked against
PyPortfolioOpt run on the same price file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from tests.conftest import sha256
from tests.test_cli import cli
from xl_rebalancer.app import run_engine
from xl_rebalancer.door import RunOptions
from xl_rebalancer.errors import InfeasibleError, InputError


def with_settings(src: Path, dest: Path, **values: object) -> Path:
    wb = load_workbook(src, keep_vba=True)
    ws = wb["Settings"]
    rows = {row[0].value: row[1] for row in ws.iter_rows(min_row=2)}
    for key, value in values.items():
        if key in rows:
            rows[key].value = value
        else:
            ws.append([key, value])
    wb.save(dest)
    return dest


def sheet_rows(path: Path, name: str) -> list[dict]:
    ws = load_workbook(path, read_only=True)[name]
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=False)) for r in rows[1:]]


def closes(price_file: Path, lookback: int) -> pd.DataFrame:
    long = pd.read_csv(price_file, parse_dates=["date"])
    wide = long.pivot(index="date", columns="symbol", values="close").dropna()
    return wide.iloc[-(lookback + 1) :]


def test_optimize_min_variance_matches_pypfopt_on_the_demo(demo_files, tmp_path):
    from pypfopt import EfficientFrontier
    from pypfopt import risk_models as rm

    book, prices = demo_files
    path = with_settings(book, tmp_path / "mv.xlsm", strategy="min_variance")
    report = run_engine(path, "optimize", RunOptions(prices_file=prices))
    rows = {r["Symbol"]: r for r in sheet_rows(path, "OptimizedTargets")}
    cash = rows["CASH"]["Weight"]
    symbols = [s for s in rows if s not in {"CASH", "Portfolio"}]
    assert sum(rows[s]["Weight"] for s in symbols) + cash == pytest.approx(1.0)

    wide = closes(prices, 756)[symbols]
    frontier = EfficientFrontier(None, rm.CovarianceShrinkage(wide).ledoit_wolf())
    frontier.min_volatility()
    theirs = frontier.clean_weights(rounding=None)
    for s in symbols:
        assert rows[s]["Weight"] / (1 - cash) == pytest.approx(theirs[s], abs=1e-4)
    portfolio = rows["Portfolio"]
    assert portfolio["Volatility"] == pytest.approx(
        report.optimized.allocation.portfolio_volatility
    )


def test_risk_factors_on_the_settings_sheet_reach_the_optimizer(demo_files, tmp_path):
    """risk_factors typed on the Settings sheet: the optimizer sees 3 principal
    components (checked against PyPortfolioOpt on that model's covariance), the Log says
    so, and the volatility written is the full estimate's."""
    from pypfopt import EfficientFrontier

    from xl_rebalancer.engine import estimators as est

    book, prices = demo_files
    path = with_settings(book, tmp_path / "k3.xlsm", strategy="min_variance", risk_factors=3)
    report = run_engine(path, "optimize", RunOptions(prices_file=prices))
    rows = {r["Symbol"]: r for r in sheet_rows(path, "OptimizedTargets")}
    cash = rows["CASH"]["Weight"]
    symbols = [s for s in rows if s not in {"CASH", "Portfolio"}]
    wide = closes(prices, 756)[symbols]
    full = est.covariance(est.simple_returns(wide.to_numpy()), "ledoit_wolf")
    model = est.principal_factors(full, 3)
    frontier = EfficientFrontier(None, pd.DataFrame(model.cov, index=symbols, columns=symbols))
    frontier.min_volatility()
    theirs = frontier.clean_weights(rounding=None)
    for s in symbols:
        assert rows[s]["Weight"] / (1 - cash) == pytest.approx(theirs[s], abs=1e-4)
    weights = np.array([rows[s]["Weight"] / (1 - cash) for s in symbols])
    assert report.optimized.allocation.portfolio_volatility == pytest.approx(
        np.sqrt(full.variance(weights)), rel=1e-4
    )
    log = " ".join(str(r["Message"]) for r in sheet_rows(path, "Log"))
    assert "principal components" in log and "risk_factors" in log


def test_rebalance_trades_to_the_optimized_targets(demo_files, tmp_path):
    book, prices = demo_files
    path = with_settings(book, tmp_path / "rp.xlsm", strategy="risk_parity")
    report = run_engine(path, "rebalance", RunOptions(prices_file=prices))
    optimized = {r["Symbol"]: r["Weight"] for r in sheet_rows(path, "OptimizedTargets")}
    drift = {r["Symbol"]: r for r in sheet_rows(path, "Drift") if r["Symbol"]}
    for symbol, row in drift.items():
        if symbol in optimized:
            assert row["TargetWeight"] == pytest.approx(optimized[symbol], abs=1e-9)
    # the trades bring every line inside its band around the new targets (no closer by
    # default: in_band_gains = avoid realizes no gain for drift inside a band, issue 44)
    assert all(
        abs(r["PostTradeWeight"] - r["TargetWeight"]) <= r["Band"] + 1e-9 for r in drift.values()
    )
    contributions = report.optimized.allocation.risk_contributions
    np.testing.assert_allclose(
        contributions, np.full(len(contributions), 1 / len(contributions)), atol=1e-5
    )


def test_a_view_on_an_unknown_symbol_names_its_cell(demo_files, tmp_path):
    book, prices = demo_files
    path = with_settings(book, tmp_path / "bl.xlsm", strategy="black_litterman")
    wb = load_workbook(path, keep_vba=True)
    ws = wb["Views"]  # the template's, empty
    for r, row in enumerate([["VTI", None, 0.08, 0.5], ["QQQ", "VTI", 0.02, 0.5]], start=2):
        for c, value in enumerate(row, start=1):
            ws.cell(r, c, value)
    wb.save(path)
    with pytest.raises(InputError) as info:
        run_engine(path, "optimize", RunOptions(prices_file=prices))
    (problem,) = info.value.problems
    assert problem.sheet == "Views" and problem.cell == "A3" and "QQQ" in problem.message


def test_black_litterman_views_move_the_weights(demo_files, tmp_path):
    book, prices = demo_files
    path = with_settings(book, tmp_path / "bl.xlsm", strategy="black_litterman")
    wb = load_workbook(path, keep_vba=True)
    ws = wb["Views"]
    for c, value in enumerate(["VWO", "VTI", 0.03, 0.8], start=1):
        ws.cell(2, c, value)
    wb.save(path)
    report = run_engine(path, "optimize", RunOptions(prices_file=prices))
    weights = dict(zip(report.optimized.symbols, report.optimized.allocation.weights, strict=True))
    # with no views the equal prior comes back unchanged; a bullish relative view tilts to VWO
    assert weights["VWO"] > 0.1 + 1e-3 and weights["VWO"] > weights["VTI"]


def test_an_unreachable_volatility_stops_with_the_setting_named(demo_files, tmp_path):
    book, prices = demo_files
    path = with_settings(
        book, tmp_path / "tv.xlsm", strategy="target_volatility", target_volatility=0.001
    )
    before = sha256(path)
    with pytest.raises(InfeasibleError) as info:
        run_engine(path, "rebalance", RunOptions(prices_file=prices))
    assert "below the least volatility" in info.value.problems[0].message
    assert sha256(path) == before


def test_optimize_from_the_command_line(demo_files, tmp_path):
    book, prices = demo_files
    path = with_settings(book, tmp_path / "hrp.xlsm", strategy="hrp", hrp_linkage="ward")
    out = tmp_path / "out.xlsm"
    run = cli("optimize", str(path), "--prices", str(prices), "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert "Optimized targets" in run.stdout and "Sharpe" in run.stdout
    assert "OptimizedTargets" in load_workbook(out, read_only=True).sheetnames
    refused = cli("optimize", str(book), "--prices", str(prices))
    assert refused.returncode == 1 and "strategy" in refused.stdout + refused.stderr
    shutil.rmtree(tmp_path, ignore_errors=True)
