"""Workbooks for the tax rules, run through the command line as a user runs them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from openpyxl import load_workbook

from xl_rebalancer.cli import main
from xl_rebalancer.excel.template import build_workbook


def lot(
    account: str,
    symbol: str,
    lot_id: str,
    acquired: dt.date,
    shares: float,
    cost_basis: float,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "account": account,
        "symbol": symbol,
        "lot_id": lot_id,
        "acquired": acquired,
        "shares": shares,
        "cost_basis": cost_basis,
        **extra,
    }


def household(
    path: Path,
    *,
    lots: list[dict[str, Any]],
    targets: dict[str, float],
    prices: dict[str, float],
    valuation: dt.date,
    cash: float = 0.0,
    transactions: list[dict[str, Any]] | None = None,
    **settings: Any,
) -> Path:
    """One taxable account holding exactly its lots; prices as manual Prices rows."""
    shares: dict[str, float] = {}
    for row in lots:
        shares[row["symbol"]] = shares.get(row["symbol"], 0.0) + row["shares"]
    data: dict[str, list[dict[str, Any]]] = {
        "Accounts": [{"account": "Taxable", "type": "taxable", "cash": cash}],
        "Holdings": [{"account": "Taxable", "symbol": s, "shares": n} for s, n in shares.items()],
        "TaxLots": lots,
        "Targets": [{"symbol": s, "target_weight": w} for s, w in targets.items()],
        "Prices": [
            {"symbol": s, "price": p, "as_of": valuation, "source": "manual"}
            for s, p in prices.items()
        ],
        "Transactions": transactions or [],
    }
    base = {
        "valuation_date": valuation,
        "trigger": "always",
        "cost_bps": 0,
        "min_trade_value": 0,
    }
    return build_workbook(path, data, settings=base | settings)


SCHWAB_SALE = {
    "date": dt.date(2026, 6, 15),
    "account": "Taxable",
    "symbol": "XYZ",
    "action": "SELL",
    "shares": 20,
    "price": 90,
    "realized_gain": -200,
    "acquired": dt.date(2026, 6, 14),
    "cost_basis": 2000,
}


def schwab_example(path: Path, *, buy_row: bool = False) -> Path:
    """Schwab's example ("Understanding the wash-sale rule", schwab.com/learn): 20 shares
    bought at $100 on 6/14 and sold at $90 on 6/15 (a $200 loss, on Transactions); this
    run, 15 days later, buys 10 back at $92 with the account's $920. With `buy_row`, the
    purchase is on Transactions too, as record-fills leaves it."""
    purchase = {
        "date": dt.date(2026, 6, 14),
        "account": "Taxable",
        "symbol": "XYZ",
        "action": "BUY",
        "shares": 20,
        "price": 100,
        "acquired": dt.date(2026, 6, 14),
        "cost_basis": 2000,
    }
    return household(
        path,
        lots=[],
        targets={"XYZ": 1.0},
        prices={"XYZ": 92.0},
        valuation=dt.date(2026, 6, 30),
        cash=920.0,
        transactions=[purchase, SCHWAB_SALE] if buy_row else [SCHWAB_SALE],
        allow_wash_sales=True,
    )


def pub_564_table_3(path: Path) -> Path:
    """IRS Pub. 564, Table 3: 410 shares of a fund costing $9,100 in three lots, worth
    $32 on 2009-10-01; the targets keep 200 shares (6,400) and 6,720 in cash, so 210 are
    sold, under lot_method average (traded to the target: in_band_gains = allow)."""
    d = dt.date
    return household(
        path,
        lots=[
            lot("Taxable", "FUND", "L1", d(2008, 2, 6), 160, 4000),
            lot("Taxable", "FUND", "L2", d(2008, 8, 7), 240, 4800),
            lot("Taxable", "FUND", "L3", d(2008, 12, 18), 10, 300),
        ],
        targets={"FUND": 6400 / 13120, "CASH": 6720 / 13120},
        prices={"FUND": 32.0},
        valuation=d(2009, 10, 1),
        lot_method="average",
        in_band_gains="allow",
    )


def run(command: str, book: Path, *args: str) -> dict[str, Any]:
    """The command's JSON document; it must have succeeded."""
    result = CliRunner().invoke(main, [command, str(book), "--json", *args])
    doc = json.loads(result.stdout)
    assert result.exit_code == 0 and doc["ok"], doc
    return doc


def sheet(path: Path, name: str) -> list[dict[str, Any]]:
    ws = load_workbook(path, read_only=True)[name]
    rows = list(ws.iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=False)) for r in rows[1:] if any(v is not None for v in r)]


def summary(path: Path) -> dict[str, Any]:
    return {r["Key"]: r["Value"] for r in sheet(path, "Summary")}
