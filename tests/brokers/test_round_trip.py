"""Broker files in, orders out, fills back: the whole round trip through the command line.

The workbook starts as `init` writes it (no accounts), gets targets and prices typed as a
user would, then everything else comes from the broker fixtures in files/ (see
files/README.md for the layouts they follow).
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from collections import defaultdict
from pathlib import Path

from openpyxl import load_workbook

from tests.tax.helpers import run, sheet
from xl_rebalancer.excel.template import build_workbook

FILES = Path(__file__).parent / "files"
VALUATION = dt.date(2024, 12, 31)


def start(tmp_path: Path) -> Path:
    """A workbook with targets, prices and settings, and no positions yet."""
    return build_workbook(
        tmp_path / "household.xlsm",
        {
            "Targets": [
                {"symbol": "VTI", "target_weight": 0.5},
                {"symbol": "BND", "target_weight": 0.5},
            ],
            "Prices": [
                {"symbol": "VTI", "price": 290.0, "as_of": VALUATION, "source": "manual"},
                {"symbol": "BND", "price": 72.5, "as_of": VALUATION, "source": "manual"},
            ],
        },
        settings={
            "valuation_date": VALUATION,
            "trigger": "always",
            "cost_bps": 0,
            "min_trade_value": 0,
            "whole_shares": True,
        },
    )


def positions(book: Path) -> dict[tuple[str, str], float]:
    """Shares per account and fund: TaxLots where an account has lots, else Holdings."""
    out: dict[tuple[str, str], float] = defaultdict(float)
    lots = sheet(book, "TaxLots")
    with_lots = {r["Account"] for r in lots}
    for r in lots:
        out[(r["Account"], r["Symbol"])] += r["Shares"]
    for r in sheet(book, "Holdings"):
        if r["Account"] not in with_lots:
            out[(r["Account"], r["Symbol"])] += r["Shares"]
    return {k: round(v, 6) for k, v in out.items() if round(v, 6)}


def cash(book: Path) -> dict[str, float]:
    return {r["Account"]: r["Cash"] for r in sheet(book, "Accounts")}


def test_import_rebalance_export_record_round_trip(tmp_path: Path):
    book = start(tmp_path)
    files = [FILES / "ibkr_flex.xml", FILES / "statement.ofx", FILES / "vanguard.csv"]
    accounts = ["U1234567=IBKR Taxable", "98765432=Brokerage", "55512345=Vanguard IRA"]
    args = [str(f) for f in files] + [a for acct in accounts for a in ("--account", acct)]

    dry = run("import", book, *args, "--dry-run")
    assert dry["output"] is None and dry["changes"]
    before = load_workbook(book, keep_vba=True)
    assert before["Accounts"].max_row <= 2  # the dry run wrote nothing

    first = run("import", book, *args)
    assert first["backup"] and Path(first["backup"]).exists()
    again = run("import", book, *args)
    assert again["changes"] == []  # idempotent

    imported = {r["Account"]: r for r in sheet(book, "Accounts")}
    assert imported["IBKR Taxable"]["BrokerAccount"] == "U1234567"
    assert imported["Vanguard IRA"]["Type"] == "tax_deferred"  # guessed from the name
    assert imported["Brokerage"]["Cash"] == 1234.56
    lots = {(r["Account"], r["LotId"]): r for r in sheet(book, "TaxLots")}
    # IBKR's LOT rows are the lots; the SUMMARY row is not counted again.
    assert lots[("IBKR Taxable", "VTI-20220315")]["Shares"] == 15
    assert lots[("IBKR Taxable", "VTI-20240801")]["CostBasis"] == 2700
    # OFX: 100 VTI bought 2021-03-10 for 19,005 (commission in the basis), 40 sold FIFO on
    # 2024-06-10: 60 left with 60/100 of the basis.
    assert lots[("Brokerage", "VTI-20210310")]["Shares"] == 60
    assert lots[("Brokerage", "VTI-20210310")]["CostBasis"] == 11403.0
    assert lots[("Brokerage", "BND-20240920")]["Shares"] == 1  # the reinvested dividend
    # The account numbers are remembered: the same import without --account maps alike.
    assert run("import", book, *[str(f) for f in files])["changes"] == []

    run("validate", book)
    held = positions(book)
    money = cash(book)
    rebalanced = run("rebalance", book)
    trades = rebalanced["trades"]
    assert trades, "the imported household is off target: there is something to trade"

    out = tmp_path / "orders"
    generic = run("export-orders", book, "--format", "csv", "--out", str(out))
    # The csv export marked the proposal exported; the basket is the same proposal again.
    ibkr = run("export-orders", book, "--format", "ibkr", "--out", str(out), "--force")
    assert generic["proposal"] == ibkr["proposal"]
    with open(generic["files"][0], newline="") as handle:
        rows = list(csv.DictReader(handle))
    sells = [r for r in rows if r["Action"] == "SELL" and r["Account"] != "Vanguard IRA"]
    for row in sells:  # a taxable sale names the lots it relieves
        assert row["LotInstructions"], row
    with open(ibkr["files"][0], newline="") as handle:
        basket = list(csv.reader(handle))
    assert basket[0][:9] == [
        "Action",
        "Quantity",
        "Symbol",
        "SecType",
        "Exchange",
        "Currency",
        "TimeInForce",
        "OrderType",
        "LmtPrice",
    ]
    assert {r[9] for r in basket[1:]} <= {"U1234567", "98765432", "55512345"}

    recorded = run("record-fills", book, "--date", "2025-01-02")
    assert recorded["recorded"] == len(trades)
    again = run("record-fills", book, "--date", "2025-01-02")
    assert again["recorded"] == 0 and again["already_recorded"] == len(trades)

    expected = dict(held)
    flows: dict[str, float] = defaultdict(float)
    for t in trades:
        key = (t["account"], t["symbol"])
        sign = 1 if t["action"] == "BUY" else -1
        expected[key] = round(expected.get(key, 0.0) + sign * t["shares"], 6)
        flows[t["account"]] += -sign * t["value"] - (t["est_cost"] or 0.0)
    assert positions(book) == {k: v for k, v in expected.items() if v}
    after = cash(book)
    for account, before_cash in money.items():
        assert abs(after[account] - (before_cash + flows[account])) < 0.02, account
    # Every sale is on Transactions with the basis and gain of the lot it relieved.
    recorded_sells = [
        r
        for r in sheet(book, "Transactions")
        if r["Action"] == "SELL" and r["Date"].date() == dt.date(2025, 1, 2)
    ]
    assert len(recorded_sells) == len([t for t in trades if t["action"] == "SELL"])
    for r in recorded_sells:
        assert r["Ref"].startswith("fill:") and r["Acquired"] is not None


def test_partial_fill_relieves_the_named_lots_first(tmp_path: Path):
    book = start(tmp_path)
    run("import", book, str(FILES / "ibkr_flex.xml"), "--account", "U1234567=Taxable")
    shutil.copy(book, tmp_path / "before.xlsm")
    fills = tmp_path / "fills.csv"
    fills.write_text(
        "Account,Symbol,Action,Quantity,Price,Date,LotId,Fees\n"
        "U1234567,VTI,SELL,4,300.00,2025-01-02,VTI-20240801,1.00\n"
    )
    # The workbook needs a proposal on Trades before fills can be matched to it.
    run("rebalance", book)
    run("record-fills", book, str(fills))
    lots = {r["LotId"]: r for r in sheet(book, "TaxLots")}
    assert lots["VTI-20240801"]["Shares"] == 6
    assert lots["VTI-20240801"]["CostBasis"] == 1620.0  # 2,700 × 6/10
    assert lots["VTI-20220315"]["Shares"] == 15
    sale = [r for r in sheet(book, "Transactions") if r["Action"] == "SELL"][-1]
    # Proceeds 1,200 − 1 fee − basis 1,080 = 119; bought 2024-08-01: short-term.
    assert sale["RealizedGain"] == 119.0 and sale["Term"] == "ST"


def test_two_identical_executions_are_two_fills_and_a_second_recording_adds_none(tmp_path: Path):
    book = start(tmp_path)
    run("import", book, str(FILES / "ibkr_flex.xml"), "--account", "U1234567=Taxable")
    run("rebalance", book)
    fills = tmp_path / "fills.csv"
    fills.write_text(
        "Account,Symbol,Action,Quantity,Price,Date\n"
        "Taxable,BND,BUY,10,72.00,2025-01-02\n"
        "Taxable,BND,BUY,10,72.00,2025-01-02\n"
    )
    first = run("record-fills", book, str(fills))
    assert first["recorded"] == 2
    second = run("record-fills", book, str(fills))
    assert second["recorded"] == 0 and second["already_recorded"] == 2
    lots = [r for r in sheet(book, "TaxLots") if r["Symbol"] == "BND"]
    assert sorted(r["LotId"] for r in lots) == ["BND-20250102", "BND-20250102-2"]
    assert sum(r["Shares"] for r in lots) == 20
