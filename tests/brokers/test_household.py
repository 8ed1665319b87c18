"""A couple's household across Fidelity and Schwab, imported as a new user would (issue 42).

The downloads in files/household/ follow each broker's published layout (see its
README): Fidelity's current history header names the account twice (`Account`, the name,
and `Account Number`), Schwab's per-account files name their account only in the file
name, and Schwab masks numbers to `...518`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.tax.helpers import run, sheet
from xl_rebalancer.excel.template import build_workbook

FILES = Path(__file__).parent / "files" / "household"
VALUATION = dt.date(2026, 12, 4)
FIDELITY = [FILES / "Portfolio_Positions_Dec-04-2026.csv", FILES / "Accounts_History.csv"]
SCHWAB = [
    FILES / "All-Accounts-Positions-2026-12-04-172031.csv",
    FILES / "Individual_XXX518_Transactions_20261204-172245.csv",
]
PRICES = {"VTI": 300.0, "VEA": 50.0, "BND": 72.0}


def start(tmp_path: Path, **settings: object) -> Path:
    """A workbook with targets, prices and settings, and no accounts yet."""
    return build_workbook(
        tmp_path / "household.xlsm",
        {
            "Targets": [
                {"symbol": "VTI", "target_weight": 0.5},
                {"symbol": "VEA", "target_weight": 0.2},
                {"symbol": "BND", "target_weight": 0.3},
            ],
            "Prices": [
                {"symbol": s, "price": p, "as_of": VALUATION, "source": "manual"}
                for s, p in PRICES.items()
            ],
        },
        settings={
            "valuation_date": VALUATION,
            "trigger": "always",
            "cost_bps": 0,
            "min_trade_value": 0,
            "whole_shares": True,
            **settings,
        },
    )


def accounts(book: Path) -> dict[str, dict]:
    return {r["Account"]: r for r in sheet(book, "Accounts")}


def test_fidelity_history_is_keyed_by_account_number_not_name(tmp_path: Path):
    book = start(tmp_path)
    run("import", book, *map(str, FIDELITY))
    found = accounts(book)
    # Three accounts, each once, named from the positions file: no ghost `Joint WROS`
    # or `ROTH IRA` keyed by the history's name column.
    assert sorted(found) == [
        "Health Savings Account 245678901",
        "Joint WROS X12345678",
        "ROTH IRA 234567890",
    ]
    assert {r["BrokerAccount"] for r in found.values()} == {"X12345678", "234567890", "245678901"}
    # The history's buys are the taxable account's lots (VEA: 100 sold FIFO on
    # 2026-11-20 from the 2022 lot of 600 at 48: 500 left, basis 24,000).
    lots = {
        (r["LotId"]): r for r in sheet(book, "TaxLots") if r["Account"] == "Joint WROS X12345678"
    }
    assert {k: v["Shares"] for k, v in lots.items()} == {
        "VTI-20210315": 400,
        "VTI-20230601": 200,
        "VEA-20220201": 500,
        "VEA-20240910": 500,
    }
    assert lots["VEA-20220201"]["CostBasis"] == 24000
    sold = [r for r in sheet(book, "Transactions") if r["Action"] == "SELL"]
    assert [(r["Account"], r["Symbol"], r["Shares"]) for r in sold] == [
        ("Joint WROS X12345678", "VEA", 100)
    ]
    run("validate", book)
