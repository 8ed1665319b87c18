"""Every worksheet function against the command line, over the demo household.

Each function is called as xlwings calls it (each range a 2-D list, header first, None
for a blank, a datetime for a date cell) with the tables of a workbook that the command
line has just run on, and must give what the run wrote: the same drift and bands, the
same lot gains and terms, the same wash-sale verdicts and blockers, the same prices,
the same optimized weights, the same risk as a peer library. A rule two doors share
has one implementation; this is where a second one would show.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xlrebalancer_udfs as u
from openpyxl import load_workbook

from tests.test_cli import cli
from xl_rebalancer import demo
from xl_rebalancer.excel.template import build_workbook

VALUATION = demo.VALUATION
DAY = dt.datetime.combine(VALUATION, dt.time())

# Symbol targets over the demo's funds, so a Targets row can name IdenticalTo: VTI is
# underweight (the run wants to buy it) and substantially identical to ITOT.
TARGETS = [
    {"symbol": "VTI", "target_weight": 0.42, "identical_to": "ITOT"},
    {"symbol": "SCHD", "target_weight": 0.03},
    {"symbol": "IJR", "target_weight": 0.03},
    {"symbol": "VXUS", "target_weight": 0.08},
    {"symbol": "VEA", "target_weight": 0.05},
    {"symbol": "VWO", "target_weight": 0.10},
    {"symbol": "BND", "target_weight": 0.12},
    {"symbol": "BNDX", "target_weight": 0.04},
    {"symbol": "VTIP", "target_weight": 0.03},
    {"symbol": "VNQ", "target_weight": 0.08},
    {"symbol": "CASH", "target_weight": 0.02},
]
# What the issue found the functions getting wrong, planted on Transactions.
TRANSACTIONS = [
    # A same-day purchase in an IRA washes a taxable loss (Rev. Rul. 2008-5).
    {"date": VALUATION, "account": "Traditional IRA", "symbol": "BND", "action": "BUY",
     "shares": 10, "price": 74.10},
    # A sale at a gain blocks nothing.
    {"date": dt.date(2026, 11, 5), "account": "Taxable Brokerage", "symbol": "VWO",
     "action": "SELL", "shares": 10, "price": 50.0, "realized_gain": 150.0},
    # A loss sale of ITOT: buying VTI (IdenticalTo) would wash it.
    {"date": dt.date(2026, 11, 10), "account": "Taxable Brokerage", "symbol": "ITOT",
     "action": "SELL", "shares": 20, "price": 140.0, "realized_gain": -300.0},
    # A purchase of ITOT washes a loss sale of VTI's lots.
    {"date": dt.date(2026, 10, 30), "account": "Taxable Brokerage", "symbol": "ITOT",
     "action": "BUY", "shares": 5, "price": 139.0},
    # A loss in a Roth IRA is no loss for the wash-sale rule.
    {"date": dt.date(2026, 11, 12), "account": "Roth IRA", "symbol": "VNQ", "action": "SELL",
     "shares": 5, "price": 90.0, "realized_gain": -100.0},
]  # fmt: skip


def run(*args: str | Path) -> dict[str, Any]:
    out = cli(*map(str, args), "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


def table(path: Path, sheet: str) -> list[list[Any]]:
    """A sheet's table as xlwings hands a range such as tblTaxLots[#All] to a function."""
    wb = load_workbook(path, data_only=True)
    ws = wb[sheet]
    (ref,) = [t.ref for t in ws.tables.values()]
    rows = [[c.value for c in row] for row in ws[ref]]
    wb.close()
    return rows


def records(cells: list[list[Any]]) -> list[dict[str, Any]]:
    header = cells[0]
    return [dict(zip(header, r, strict=True)) for r in cells[1:] if any(c is not None for c in r)]


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo household with symbol targets and the planted transactions, after `run`."""
    folder = tmp_path_factory.mktemp("parity")
    prices = demo.simulate_prices()
    price_file = demo.write_price_file(folder / "prices.csv", prices)
    data = {**demo.household(prices), "Targets": TARGETS, "Transactions": TRANSACTIONS}
    book = build_workbook(folder / "parity.xlsm", data, settings=demo.SETTINGS)
    run("run", book, "--prices", price_file)
    return book, price_file


def test_drift_and_weights_as_the_drift_sheet(ran):
    book, _ = ran
    drift = records(table(book, "Drift"))
    holdings = [["Symbol", "Value"]] + [[r["Symbol"] or r["AssetClass"], r["Value"]] for r in drift]
    targets = [[r["Symbol"] or r["AssetClass"], r["TargetWeight"]] for r in drift]
    spilled = u.xlrb_drift(holdings, targets, None, None)
    assert isinstance(spilled, list), spilled
    got = {row[0]: row for row in spilled[1:]}
    assert set(got) == {r["Symbol"] or r["AssetClass"] for r in drift}
    for r in drift:
        _, weight, target, gap, band, out = got[r["Symbol"] or r["AssetClass"]]
        assert weight == pytest.approx(r["Weight"], abs=1e-12)
        assert target == pytest.approx(r["TargetWeight"], abs=1e-12)
        assert gap == pytest.approx(r["Drift"], abs=1e-12)
        assert band == pytest.approx(r["Band"], abs=1e-12)
        assert out is r["OutOfBand"]
    weights = u.xlrb_weights(holdings, targets)
    assert [row[1] for row in weights[1:]] == pytest.approx([r["Weight"] for r in drift])


def test_lot_gain_as_the_tax_harvest_sheet(ran):
    book, _ = ran
    lots = {r["LotId"]: r for r in records(table(book, "TaxLots"))}
    harvest = records(table(book, "TaxHarvest"))
    assert len(harvest) >= 4
    for row in harvest:
        lot = lots[row["LotId"]]
        spilled = u.xlrb_lot_gain(
            lot["Shares"], lot["CostBasis"], lot["Acquired"], row["Price"], DAY
        )
        assert spilled == [[-row["UnrealizedLoss"], row["Term"]]], row


def test_wash_check_gives_the_runs_verdicts(ran):
    book, _ = ran
    moves, lots = table(book, "Transactions"), table(book, "TaxLots")
    accounts, targets = table(book, "Accounts"), table(book, "Targets")
    harvest = records(table(book, "TaxHarvest"))
    verdicts = {}
    for row in harvest:
        said = u.xlrb_wash_check(
            row["Symbol"], DAY, moves, None, "sell", lots, accounts, targets, row["LotId"]
        )
        expected = "clear" if row["WashSale"] == "clear" else f"blocked: {row['BlockedBy']}"
        assert said == expected, row
        verdicts[row["LotId"]] = said
    # The planted cases reach both doors: the IRA's same-day purchase, ITOT for VTI.
    assert verdicts["BND-1"].startswith("blocked: BUY 10 BND in Traditional IRA on 2026-11-20")
    assert verdicts["VTI-4"].startswith("blocked: BUY 5 ITOT in Taxable Brokerage on 2026-10-30")

    # Buying: the run's trades and its "no BUY" warnings against the function.
    trades = records(table(book, "Trades"))
    bought = {r["Symbol"] for r in trades if r["Action"] == "BUY"}
    log = [r["Message"] for r in records(table(book, "Log")) if r["Level"] == "warning"]
    refused = {m.split()[3].rstrip(":"): m.split("it would wash ", 1)[1]
               for m in log if m.startswith("no BUY of ")}  # fmt: skip
    assert "VTI" in refused, log
    assert {"VWO", "VNQ"} <= bought  # a gain sale and a Roth loss sale block nothing
    for symbol in bought:
        assert u.xlrb_wash_check(symbol, DAY, moves, None, "buy", lots, accounts, targets) == (
            "clear"
        )
    for symbol, sale in refused.items():
        said = u.xlrb_wash_check(symbol, DAY, moves, None, "buy", lots, accounts, targets)
        assert said == f"blocked: {sale}"


def test_price_after_a_run_with_a_price_file(ran):
    # The run took its prices from --prices; offline, with an empty cache, the function
    # finds the same closes through the Prices table the run wrote.
    book, _ = ran
    sheet = table(book, "Prices")
    for row in records(sheet):
        assert row["Source"] == "file"
        assert u.xlrb_price(row["Symbol"], DAY, sheet) == row["Price"]
    assert u.xlrb_price("VTI", DAY).startswith("#XLRB! no price for VTI")


def returns_cells(price_file: Path, symbols: list[str], lookback: int) -> list[list[Any]]:
    """Daily returns as a user lays them out beside the prices (=B3/B2-1), from the
    price file by pandas: the window a run uses, the last `lookback` returns."""
    import pandas as pd

    closes = pd.read_csv(price_file, parse_dates=["date"]).pivot(
        index="date", columns="symbol", values="close"
    )
    closes = closes.loc[: pd.Timestamp(VALUATION), symbols].dropna().iloc[-(lookback + 1) :]
    return [symbols, *closes.pct_change().iloc[1:].to_numpy().tolist()]


@pytest.mark.parametrize(
    ("strategy", "extra"),
    [
        ("Min Variance", {}),
        ("efficient_return", {"target_return": 0.06}),
        ("glide_path", {"user_age": 50}),
        ("black_litterman", {"views": True}),
    ],
)
def test_optimize_gives_the_optimize_commands_weights(tmp_path, demo_files, strategy, extra):
    _, price_file = demo_files
    prices = demo.simulate_prices()
    data = demo.household(prices)
    if extra.pop("views", False):
        data["Views"] = [
            {"asset": "VTI", "expected_return": 0.08, "confidence": 0.6},
            {"asset": "BND", "relative_to": "BNDX", "expected_return": 0.01, "confidence": 0.3},
        ]
    settings = {**demo.SETTINGS, "strategy": strategy, "lookback_days": 250, **extra}
    book = build_workbook(tmp_path / "opt.xlsm", data, settings=settings)
    run("optimize", book, "--prices", price_file)
    written = {r["Symbol"]: r["Weight"] for r in records(table(book, "OptimizedTargets"))}
    written.pop("Portfolio", None)
    symbols = [s for s in written if s != "CASH"]
    spilled = u.xlrb_optimize(
        returns_cells(price_file, symbols, 250),
        strategy,
        None,
        None,
        table(book, "Settings"),
        table(book, "Views") if data.get("Views") else None,
        table(book, "Targets"),
    )
    assert isinstance(spilled, list), spilled
    got = {row[0]: row[1] for row in spilled[1:]}
    assert got.keys() == written.keys()
    for symbol, weight in written.items():
        assert got[symbol] == pytest.approx(weight, abs=1e-6), symbol


def test_risk_of_the_households_weights_matches_skfolio(ran):
    measures = pytest.importorskip("skfolio.measures")
    book, price_file = ran
    drift = [r for r in records(table(book, "Drift")) if r["Symbol"] != "CASH"]
    symbols = [r["Symbol"] for r in drift]
    weights = np.array([r["Weight"] for r in drift])
    weights = weights / weights.sum()
    cells = returns_cells(price_file, symbols, 500)
    figures = dict(u.xlrb_risk([weights.tolist()], cells, 0.95, None))
    path = np.array(cells[1:]) @ weights
    assert figures["VaR"] == pytest.approx(measures.value_at_risk(path, 0.95), abs=1e-12)
    assert figures["CVaR"] == pytest.approx(measures.cvar(path, 0.95), abs=1e-12)
    vol = measures.standard_deviation(path) * np.sqrt(252)
    assert figures["Volatility"] == pytest.approx(vol, rel=1e-9)
    # The minimum-CVaR strategy minimizes the same figure the function reports.
    from xl_rebalancer.engine.strategies import risk_based

    assert risk_based.cvar(np.array(cells[1:]), weights, 0.95) == figures["CVaR"]


def test_functions_refuse_what_is_clearly_wrong(ran):
    book, price_file = ran
    symbols = ["VTI", "BND", "VXUS"]
    returns = returns_cells(price_file, symbols, 100)
    import pandas as pd

    closes = pd.read_csv(price_file).pivot(index="date", columns="symbol", values="close")
    prices = [symbols, *closes[symbols].iloc[-100:].to_numpy().tolist()]
    assert u.xlrb_risk([[0.4, 0.4, 0.2]], prices) == (
        "#XLRB! returns look like prices (typical value 76.10), not returns; pass daily "
        "returns, e.g. =B3/B2-1 filled down beside the prices"
    )
    assert u.xlrb_optimize(prices, "min_variance").startswith("#XLRB! returns look like prices")
    percent = [symbols, *(np.array(returns[1:]) * 100).tolist()]
    assert u.xlrb_risk([[0.4, 0.4, 0.2]], percent).startswith(
        "#XLRB! returns look like percent points"
    )
    assert u.xlrb_optimize(returns, "black_litterman") == (
        "#XLRB! black_litterman without views is its prior portfolio (equal weights); pass "
        "the Views table as views, or choose equal_weight"
    )
    assert u.xlrb_optimize(returns, "efficient_return") == (
        "#XLRB! the strategy needs the target_return setting; set target_return in the "
        "settings range"
    )
    assert u.xlrb_optimize(returns, "Min Varaince").startswith(
        "#XLRB! strategy: 'min_varaince' is not one of"
    )
    assert u.xlrb_optimize(returns, "min_variance", None, None, [["risk_fre_rate", 0.02]]) == (
        "#XLRB! settings A1: unknown setting 'risk_fre_rate'; did you mean risk_free_rate?"
    )
    views = [["Asset", "ExpectedReturn"], ["VNQ", 0.05]]
    assert u.xlrb_optimize(returns, "black_litterman", None, None, None, views) == (
        "#XLRB! views row 2: view on VNQ: not one of the symbols the strategy allocates "
        "(VTI, BND, VXUS)"
    )
    # Targets typed as text percentages, as the sheets accept them.
    assert u.xlrb_drift([["VTI", 600], ["BND", 400]], [["VTI", "50%"], ["BND", "50%"]])[1][
        3
    ] == pytest.approx(0.1)
    moves = table(book, "Transactions")
    assert u.xlrb_wash_check("VTI", DAY, moves, None, "short") == (
        "#XLRB! side must be sell, buy or blank (both), not 'short'"
    )
    assert u.xlrb_wash_check("VTI", DAY, moves, 400) == (
        "#XLRB! wash_sale_days must be at most 366 (got 400)"
    )
    bad = [moves[0], [DAY, "Taxable Brokerage", "VTI", "BUY", -5] + [None] * (len(moves[0]) - 5)]
    assert u.xlrb_wash_check("VTI", DAY, bad).startswith(
        "#XLRB! transactions E2: Shares must be more than 0 (got -5)"
    )
