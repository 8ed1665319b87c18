"""The Identical sheet: substantially identical funds in every mode, through the
command line.

IRC §1091(a) and Pub. 550 ("Wash Sales"): a loss is disallowed when "substantially
identical" stock is bought within 30 days; which funds are is the user's judgement
(two funds tracking the same index, such as AGG and SCHZ on the Bloomberg US
Aggregate, are the usual worry). With asset-class targets the Targets sheet has no
Symbol rows to carry IdenticalTo, so the optional Identical sheet says it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from tests.tax.helpers import run, sheet
from xl_rebalancer.excel.template import build_workbook

D = dt.date
DAY = D(2026, 6, 30)


def _book(path: Path, identical: list[dict[str, Any]]) -> Path:
    # AGG (100 sh bought 2022 for 11,000, now $95: a 1,500 loss) and SCHZ, in the same
    # Bonds class, bought ten days ago; stocks in VTI. Targets by asset class.
    data: dict[str, list[dict[str, Any]]] = {
        "Accounts": [{"account": "Taxable", "type": "taxable", "cash": 0}],
        "Holdings": [
            {"account": "Taxable", "symbol": "AGG", "shares": 100, "asset_class": "Bonds"},
            {"account": "Taxable", "symbol": "SCHZ", "shares": 400, "asset_class": "Bonds"},
            {"account": "Taxable", "symbol": "VTI", "shares": 60, "asset_class": "Stocks"},
        ],
        "TaxLots": [
            {
                "account": "Taxable",
                "symbol": "AGG",
                "lot_id": "AGG1",
                "acquired": D(2022, 1, 3),
                "shares": 100,
                "cost_basis": 11000,
            },
            {
                "account": "Taxable",
                "symbol": "SCHZ",
                "lot_id": "SCHZ1",
                "acquired": D(2026, 6, 20),
                "shares": 400,
                "cost_basis": 9200,
            },
            {
                "account": "Taxable",
                "symbol": "VTI",
                "lot_id": "VTI1",
                "acquired": D(2020, 1, 2),
                "shares": 60,
                "cost_basis": 9000,
            },
        ],
        "Targets": [
            {"asset_class": "Bonds", "target_weight": 0.5},
            {"asset_class": "Stocks", "target_weight": 0.5},
        ],
        "Prices": [
            {"symbol": s, "price": p, "as_of": DAY, "source": "manual"}
            for s, p in {"AGG": 95.0, "SCHZ": 23.0, "VTI": 300.0}.items()
        ],
        "Identical": identical,
    }
    settings = {"valuation_date": DAY, "trigger": "always", "cost_bps": 0, "min_trade_value": 0}
    settings |= {"tlh_min_loss": 0, "tlh_min_loss_pct": 0}
    return build_workbook(path, data, settings=settings)


def test_identical_sheet_blocks_the_agg_loss_schz_was_bought_to_replace(tmp_path: Path):
    book = _book(tmp_path / "bonds.xlsx", [{"symbol": "AGG", "identical_to": "SCHZ"}])
    run("validate", book)
    run("rebalance", book)
    (agg,) = [r for r in sheet(book, "TaxHarvest") if r["LotId"] == "AGG1"]
    assert agg["WashSale"] == "blocked" and "SCHZ" in agg["BlockedBy"]
    assert agg["EstTaxSaving"] == 0
    assert not [t for t in sheet(book, "Trades") if t.get("LotId") == "AGG1"]


def test_without_the_identical_sheet_the_funds_are_different(tmp_path: Path):
    book = _book(tmp_path / "bonds.xlsx", [])
    run("rebalance", book)
    (agg,) = [r for r in sheet(book, "TaxHarvest") if r["LotId"] == "AGG1"]
    assert agg["WashSale"] == "clear"
