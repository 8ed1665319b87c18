"""Conflicting settings, infeasible limits, degenerate histories and a failing solver:
a message naming the settings and cells to change, exit 1, the workbook unchanged."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import math
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TWO_FUNDS, TWO_FUNDS_SETTINGS, sha256, write_book
from tests.test_cli import cli
from xl_rebalancer.app import run_engine
from xl_rebalancer.demo import business_days
from xl_rebalancer.door import RunOptions
from xl_rebalancer.errors import InfeasibleError


def book_with(tmp_path: Path, name: str, extra: dict[str, Any], settings: dict[str, Any]) -> Path:
    data = copy.deepcopy(TWO_FUNDS)
    data.update(extra)
    return write_book(tmp_path / f"{name}.xlsm", data, {**TWO_FUNDS_SETTINGS, **settings})


def stops(book: Path, *where: str, command: str = "rebalance", extra: tuple[str, ...] = ()) -> str:
    before = sha256(book)
    run = subprocess.run(
        [sys.executable, "-m", "xl_rebalancer", command, str(book), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "400"},  # one table row per problem
    )
    text = " ".join(run.stderr.split())
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    for cell in where:
        assert cell in text, text
    assert sha256(book) == before
    return text


def test_cash_min_above_cash_max(tmp_path: Path):
    book = book_with(tmp_path, "cash", {}, {"cash_min": 0.5, "cash_max": 0.1})
    text = stops(book, "Settings!B")
    assert "cash_min (50.00%) is above cash_max (10.00%)" in text


def test_minimums_adding_up_to_more_than_everything(tmp_path: Path):
    limits = [
        {"scope": "symbol", "name": "AAA", "min_weight": 0.9},
        {"scope": "symbol", "name": "BBB", "min_weight": 0.5},
    ]
    book = book_with(tmp_path, "mins", {"Constraints": limits}, {})
    assert "adds up to 140.00%" in stops(book, "Constraints!C2:C3")


def test_a_minimum_the_hard_rules_cannot_reach(tmp_path: Path):
    """AAA must reach 90% but BBB may not be sold and the cash buys only 10%."""
    limits = [
        {"scope": "symbol", "name": "AAA", "min_weight": 0.9},
        {"scope": "symbol", "name": "BBB", "no_sell": True},
    ]
    book = book_with(tmp_path, "unreachable", {"Constraints": limits}, {})
    text = stops(book, "Constraints!C2")
    assert "(symbol AAA): below its minimum by 2,040.00" in text and "infeasible to relax" in text
    # With infeasible = relax the closest trade list is written, with the same words.
    relaxed = book_with(tmp_path, "relaxed", {"Constraints": limits}, {"infeasible": "relax"})
    run = cli("rebalance", str(relaxed), "--json")
    assert run.returncode == 0, run.stderr
    import json

    warnings = json.loads(run.stdout)["warnings"]
    broken = [w for w in warnings if "below its minimum" in w["message"]]
    assert broken and broken[0]["sheet"] == "Constraints" and broken[0]["cell"] == "C2"


def test_a_withdrawal_beyond_the_turnover_cap(tmp_path: Path):
    book = book_with(tmp_path, "turnover", {}, {"cash_flow": -5000.0, "max_turnover": 0.01})
    text = stops(book, "Settings!B")
    assert "max_turnover: above its maximum" in text


def _history_file(path: Path, series: dict[str, list[float]]) -> Path:
    days = business_days(dt.date(2024, 1, 2), dt.date(2026, 1, 15))
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["date", "symbol", "close"])
        for symbol, closes in series.items():
            for day, close in zip(days, closes, strict=False):
                writer.writerow([day.isoformat(), symbol, f"{close:.6f}"])
    return path


def _walk(seed: int, drift: float, n: int = 600) -> list[float]:
    rng = random.Random(seed)
    out = [50.0]
    for _ in range(n - 1):
        out.append(out[-1] * math.exp(rng.gauss(drift, 0.01)))
    return out


STRATEGIES = ["min_variance", "max_sharpe", "risk_parity", "hrp", "min_cvar", "black_litterman"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_price_history_that_never_moves(tmp_path: Path, strategy: str):
    """Flat (stale) prices have no risk: refused by name, never a hang or a NaN weight."""
    prices = _history_file(tmp_path / "flat.csv", {"AAA": [50.0] * 600, "BBB": [100.0] * 600})
    settings = {"strategy": strategy, "lookback_days": 250}
    book = book_with(tmp_path, strategy, {}, settings)
    text = stops(book, "Settings!B", command="optimize", extra=("--prices", str(prices)))
    assert "AAA, BBB never moves" in text


@pytest.mark.parametrize("strategy", ["min_variance", "risk_parity", "hrp", "min_cvar"])
def test_a_singular_covariance_still_gives_valid_weights(tmp_path: Path, strategy: str):
    """BBB is exactly twice AAA: perfectly correlated, a singular covariance. Weights
    that sum to one and are finite, or a message; never a traceback."""
    walk = _walk(1, 0.0005)
    prices = _history_file(tmp_path / "twins.csv", {"AAA": walk, "BBB": [2 * x for x in walk]})
    book = book_with(tmp_path, strategy, {}, {"strategy": strategy, "lookback_days": 250})
    run = cli("optimize", str(book), "--prices", str(prices), "--json")
    assert "Traceback" not in run.stderr
    assert run.returncode == 0, run.stderr
    import json

    weights = json.loads(run.stdout)["optimized"]["weights"]
    assert all(math.isfinite(w) and -1e-9 <= w <= 1 + 1e-9 for w in weights.values())
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-6)


def test_max_sharpe_when_nothing_beats_the_risk_free_rate(tmp_path: Path):
    prices = _history_file(
        tmp_path / "losers.csv", {"AAA": _walk(2, -0.002), "BBB": _walk(3, -0.002)}
    )
    book = book_with(tmp_path, "losers", {}, {"strategy": "max_sharpe", "lookback_days": 250})
    text = stops(book, "Settings!B", command="optimize", extra=("--prices", str(prices)))
    assert "risk_free_rate" in text


def test_a_solver_failure_is_a_message_and_nothing_is_written(tmp_path: Path, monkeypatch):
    from xl_rebalancer.engine.program import model

    monkeypatch.setattr(model._Model, "solve", lambda self, relax, gap: (None, "Solve error"))
    book = book_with(tmp_path, "failing", {}, {})
    before = sha256(book)
    with pytest.raises(InfeasibleError, match="HiGHS found no solution: Solve error") as caught:
        run_engine(book, "rebalance", RunOptions())
    problem = caught.value.problems[0]
    assert problem.sheet == "Settings" and problem.cell and problem.cell.startswith("B")
    assert sha256(book) == before
    # infeasible = relax: the simple rebalance, and the Log says why.
    relaxed = book_with(tmp_path, "relaxed", {}, {"infeasible": "relax"})
    report = run_engine(relaxed, "rebalance", RunOptions())
    assert report.result is not None and report.result.trades
    assert any("the simple rebalance was used" in w.message for w in report.warnings)


@pytest.mark.parametrize(
    ("extra", "settings", "cell", "words"),
    [
        (
            {"Accounts": [{"account": "Brokerage", "type": "taxable", "cash": 1e308}]},
            {},
            "Accounts!C2",
            "outside the range accepted for money (-10,000,000,000 to 10,000,000,000)",
        ),
        (
            {"Accounts": [{"account": "Brokerage", "type": "taxable", "cash": 1e30}]},
            {},
            "Accounts!C2",
            "outside the range accepted for money",
        ),
        ({}, {"cash_flow": 1e308}, "Settings!B", "outside the range accepted for money"),
        ({}, {"lookback_days": 1e15}, "Settings!B", "Lookback"),
        (
            {"Prices": [{"symbol": "AAA", "price": 5e-324}, {"symbol": "BBB", "price": 100.0}]},
            {},
            "Prices!B2",
            "outside the range accepted for a price (0.0001 to 1,000,000)",
        ),
        (
            {"Prices": [{"symbol": "AAA", "price": 1e30}, {"symbol": "BBB", "price": 100.0}]},
            {},
            "Prices!B2",
            "outside the range accepted for a price",
        ),
    ],
)
def test_magnitudes_beyond_the_documented_range_are_refused_at_their_cell(
    tmp_path: Path, extra: dict[str, Any], settings: dict[str, Any], cell: str, words: str
):
    """docs/decisions.md "What the engine accepts": money within ±1e10, prices 0.0001 … 1,000,000,
    at most 1e9 shares a row. validate refuses the rest at its cell; rebalance never
    reaches a solver with them (it used to end in OverflowError or a dtype error)."""
    book = book_with(tmp_path, "huge", extra, settings)
    for command in ("validate", "rebalance"):
        text = stops(book, cell, command=command)
        assert words.lower() in text.lower(), text


def test_extreme_but_accepted_magnitudes_rebalance_correctly(tmp_path: Path):
    """The audit's crash household, within the ranges: a $0.0001 share beside a $1,549
    one, $1e9 cash, 1e7 shares. Whole and fractional shares both reach the targets (the
    program hands continuous share columns to HiGHS in money, so neither price is lost
    under the solver's tolerances)."""
    data = copy.deepcopy(TWO_FUNDS)
    data["Accounts"][0]["cash"] = 1e9
    data["Holdings"][0]["shares"] = 1e7
    first, _, bbb = data["TaxLots"]
    data["TaxLots"] = [{**first, "shares": 1e7, "cost_basis": 500.0}, bbb]
    data["Prices"][0]["price"], data["Prices"][1]["price"] = 0.0001, 1549.0
    import json

    for whole in (True, False):
        book = write_book(
            tmp_path / f"extreme-{whole}.xlsm",
            data,
            {**TWO_FUNDS_SETTINGS, "whole_shares": whole, "trigger": "always"},
        )
        run = cli("rebalance", str(book), "--json")
        assert run.returncode == 0, run.stderr
        summary = json.loads(run.stdout)["summary"]
        assert summary["largest_drift_after"] < 0.001
        assert summary["cash_after"] >= 0


def test_a_native_solver_crash_is_a_message_and_the_workbook_is_unchanged(tmp_path: Path):
    """The trade program runs in a worker process (xl_rebalancer/isolation.py). The fault
    injection makes that worker die by SIGSEGV inside the solve, as a crash in HiGHS's C++
    would: the run ends with a sentence and exit 1, not a dead process, and nothing is
    written."""
    book = book_with(tmp_path, "crash", {}, {})
    before = sha256(book)
    env = {**os.environ, "XL_REBALANCER_CRASH_SOLVER": "1", "COLUMNS": "400"}
    for extra in ((), ("--json",)):
        run = subprocess.run(
            [sys.executable, "-m", "xl_rebalancer", "rebalance", str(book), *extra],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert run.returncode == 1
        assert "Traceback" not in run.stderr
        said = run.stdout if extra else run.stderr
        assert "optimizer (HiGHS) crashed" in said and "workbook is unchanged" in said
    assert sha256(book) == before
    assert not list(tmp_path.glob(".~*.xlsm*"))
    # Without the fault, the same workbook is rebalanced through the worker.
    assert cli("rebalance", str(book)).returncode == 0
    assert sha256(book) != before
