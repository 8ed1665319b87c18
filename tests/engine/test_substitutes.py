"""Substitutes (issue 20): when a wash sale blocks buying a target fund, the Targets
row's Substitute is bought instead, with the reason on the Trades row; money stays in
cash only when there is none, and the Log says so. A Substitute held after a harvest
counts toward its fund's line instead of being sold as untargeted.

The wash-sale rule is IRC §1091 (Pub. 550, "Wash Sales"): a loss sale is washed by a
purchase of substantially identical stock within 30 days before or after it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from tests.conftest import manual_prices, write_book
from tests.test_cli import cli

D = dt.date
VALUATION = D(2026, 6, 15)
PRICES = {"VTI": 250.0, "ITOT": 110.0, "BND": 75.0}


def book_data(substitute: str | None, held: dict[str, float], cash: float) -> dict[str, Any]:
    """Targets VTI 60% / BND 40%; VTI was sold at a loss ten days ago (Transactions), so
    buying it now would wash that loss."""
    return {
        "Accounts": [{"account": "Taxable", "type": "taxable", "cash": cash}],
        "Holdings": [{"account": "Taxable", "symbol": s, "shares": n} for s, n in held.items()],
        "TaxLots": [
            {"account": "Taxable", "symbol": s, "lot_id": f"{s}-1",
             "acquired": D(2021, 4, 1), "shares": n, "cost_basis": n * PRICES[s] * 0.5}
            for s, n in held.items()
        ],
        "Targets": [
            {"symbol": "VTI", "target_weight": 0.60, "substitute": substitute},
            {"symbol": "BND", "target_weight": 0.40},
        ],
        "Transactions": [
            {"date": D(2026, 6, 5), "account": "Taxable", "symbol": "VTI", "action": "SELL",
             "shares": 100, "price": 250.0, "realized_gain": -4_000.0},
        ],
        "Prices": manual_prices(PRICES, VALUATION),
    }  # fmt: skip


def run(tmp_path, data: dict[str, Any]) -> dict[str, Any]:
    settings = {"valuation_date": VALUATION, "trigger": "always"}
    book = write_book(tmp_path / "book.xlsx", data, settings)
    out = cli("rebalance", str(book), "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


def test_a_wash_sale_blocked_buy_goes_to_the_substitute(tmp_path):
    # $40,000 of BND and $60,000 cash from last week's VTI sale: VTI may not be bought
    # before 2026-07-06, so its 60% goes to ITOT, and the row says why.
    doc = run(tmp_path, book_data("ITOT", {"BND": 533}, 60_025))
    buys = {t["symbol"]: t for t in doc["trades"] if t["action"] == "BUY"}
    assert "VTI" not in buys
    itot = buys["ITOT"]
    assert itot["value"] > 59_000
    assert itot["reason"].startswith(
        "wash sale: VTI may not be bought within 30 days of its loss sale; "
        "its Substitute ITOT keeps the exposure (VTI under target by"
    )
    assert doc["summary"]["cash_after"] < 500
    drift = {r["symbol"]: r for r in doc["drift"]}
    assert abs(drift["VTI"]["post_trade_weight"] - 0.60) < 0.005


def test_without_a_substitute_the_money_stays_in_cash_and_the_log_says_so(tmp_path):
    doc = run(tmp_path, book_data(None, {"BND": 533}, 60_025))
    assert not [t for t in doc["trades"] if t["action"] == "BUY" and t["symbol"] != "BND"]
    messages = [w["message"] for w in doc["warnings"]]
    assert any(
        m.startswith("a wash sale blocks VTI and its Targets row names no Substitute: 60,")
        and m.endswith("under target stays in cash this run")
        for m in messages
    ), messages


def test_a_held_substitute_counts_toward_its_fund_and_is_not_sold(tmp_path):
    # ITOT was bought when VTI was harvested; it holds the VTI line's 60% at a gain. It is
    # not untargeted: nothing is sold (selling it would realize its gain for nothing).
    doc = run(tmp_path, book_data("ITOT", {"ITOT": 545, "BND": 533}, 0))
    assert not [t for t in doc["trades"] if t["action"] == "SELL"]
    drift = {r["symbol"]: r for r in doc["drift"]}
    assert abs(drift["VTI"]["weight"] - 0.60) < 0.005
    assert "ITOT" not in drift


def test_a_substitute_without_a_price_is_named_in_the_log(tmp_path):
    data = book_data("SCHB", {"BND": 533}, 60_025)  # SCHB is on no Prices row
    doc = run(tmp_path, data)
    assert not [t for t in doc["trades"] if t["symbol"] in {"VTI", "SCHB"}]
    assert any(
        w["message"].startswith(
            "a wash sale blocks VTI and its Substitute SCHB has no price (add it to the "
            "Prices sheet): 60,"
        )
        for w in doc["warnings"]
    ), doc["warnings"]
