"""rebalance_to = band_edge (issue 20): each line moves only toward its target, an
out-of-band line no further than its band edge; nothing under target is sold (a loss is
harvested only by a swap inside its own asset class) and nothing is bought past its
target; every Reason names the line the trade is for."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from tests.conftest import manual_prices, write_book
from tests.test_cli import cli

D = dt.date
VALUATION = D(2026, 6, 15)
PRICES = {"VTI": 200.0, "BND": 75.0, "AGG": 100.0, "VXUS": 65.0, "VTIP": 50.0}
CLASSES = {"VTI": "US Stocks", "BND": "Bonds", "AGG": "Bonds", "VXUS": "Intl", "VTIP": "Bonds"}


def household() -> dict[str, Any]:
    """$100,000: US Stocks 59% (target 40%, band edge 45%), Bonds 15% (target 30%, edge
    25%; BND sits at a $3,000 loss, AGG and VTIP are in the class with nothing held),
    Intl 26% (target 30%, inside its band)."""
    held = {"VTI": 295, "BND": 200, "VXUS": 400}
    return {
        "Accounts": [{"account": "Taxable", "type": "taxable", "cash": 0.0}],
        "Holdings": [
            {"account": "Taxable", "symbol": s, "shares": held.get(s, 0), "asset_class": c}
            for s, c in CLASSES.items()
        ],
        "TaxLots": [
            {"account": "Taxable", "symbol": "VTI", "lot_id": "VTI-1",
             "acquired": D(2016, 4, 1), "shares": 295, "cost_basis": 20_000},
            {"account": "Taxable", "symbol": "BND", "lot_id": "BND-1",
             "acquired": D(2021, 4, 1), "shares": 200, "cost_basis": 18_000},
            {"account": "Taxable", "symbol": "VXUS", "lot_id": "VXUS-1",
             "acquired": D(2019, 4, 1), "shares": 400, "cost_basis": 22_000},
        ],
        "Targets": [
            {"asset_class": "US Stocks", "target_weight": 0.40},
            {"asset_class": "Bonds", "target_weight": 0.30},
            {"asset_class": "Intl", "target_weight": 0.30},
        ],
        "Prices": manual_prices(PRICES, VALUATION),
    }  # fmt: skip


def test_band_edge_moves_each_line_only_toward_its_target(tmp_path):
    settings = {"valuation_date": VALUATION, "rebalance_to": "band_edge"}
    book = write_book(tmp_path / "edge.xlsx", household(), settings)
    out = cli("rebalance", str(book), "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads(out.stdout)
    rows = {r["asset_class"]: r for r in doc["drift"]}
    step = 200 / 100_000  # one share of the dearest fund, as a weight
    for cls in ("US Stocks", "Bonds", "Intl"):
        before, after, goal = (
            rows[cls]["weight"],
            rows[cls]["post_trade_weight"],
            rows[cls]["target_weight"],
        )
        assert min(before, goal) - 1e-9 <= after <= max(before, goal) + 1e-9, cls
    # Out of band: to the edge, not past it.
    assert rows["US Stocks"]["post_trade_weight"] == pytest.approx(0.45, abs=step)
    assert rows["Bonds"]["post_trade_weight"] == pytest.approx(0.25, abs=step)
    trades = doc["trades"]
    # Any sale in Bonds (harvesting BND's loss) is a swap inside Bonds, and each BUY's
    # reason names its own line.
    for t in trades:
        cls = CLASSES[t["symbol"]]
        if t["action"] == "BUY":
            assert cls in t["reason"], t
        if t["action"] == "SELL" and cls == "Bonds":
            assert t["reason"] == "harvest: realize the loss; Bonds keeps its exposure"
    assert not [t for t in trades if t["action"] == "SELL" and CLASSES[t["symbol"]] == "Intl"]
