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
