"""A realistic sample household and an offline price file, for `xl-rebalancer demo`.

Prices are simulated (the demo must run offline and reproducibly) with one fixed
seed, yearly drifts that follow the broad shape of 2019-2026 markets (the 2022 bond
and stock drawdown included), and closing levels near where these funds trade.
Lots are bought at the simulated closes of their dates, so gains and losses are
consistent with the price file.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

VALUATION = dt.date(2026, 11, 20)
HISTORY_START = dt.date(2019, 1, 2)

# symbol: (asset class, last close, annual volatility, yearly drifts 2019..2026)
FUNDS: dict[str, tuple[str, float, float, tuple[float, ...]]] = {
    "VTI": ("US Stocks", 318.40, 0.17, (0.27, 0.19, 0.24, -0.21, 0.24, 0.22, 0.16, 0.12)),
    "SCHD": ("US Stocks", 28.15, 0.15, (0.20, 0.10, 0.25, -0.07, 0.00, 0.08, 0.05, 0.06)),
    "IJR": ("US Stocks", 121.70, 0.22, (0.21, 0.10, 0.25, -0.18, 0.14, 0.07, 0.04, 0.08)),
    "VXUS": (
        "International Stocks",
        71.25,
        0.16,
        (0.20, 0.09, 0.07, -0.18, 0.13, 0.03, 0.22, 0.10),
    ),
    "VEA": ("International Stocks", 59.80, 0.16, (0.19, 0.08, 0.09, -0.17, 0.15, 0.02, 0.23, 0.10)),
    "VWO": (
        "International Stocks",
        51.35,
        0.19,
        (0.17, 0.13, -0.04, -0.21, 0.08, 0.09, 0.20, 0.11),
    ),
    "BND": ("Bonds", 74.10, 0.06, (0.06, 0.05, -0.04, -0.15, 0.02, -0.01, 0.03, 0.02)),
    "BNDX": ("Bonds", 49.60, 0.05, (0.05, 0.02, -0.04, -0.14, 0.04, 0.00, 0.01, 0.02)),
    "VTIP": ("Bonds", 50.20, 0.03, (0.03, 0.03, 0.03, -0.04, 0.03, 0.02, 0.03, 0.02)),
    "VNQ": ("Real Estate", 90.40, 0.21, (0.25, -0.08, 0.37, -0.28, 0.08, 0.01, 0.02, 0.05)),
}

ACCOUNTS = [
    {"account": "Taxable Brokerage", "type": "taxable", "cash": 14250.00},
    {"account": "Traditional IRA", "type": "tax_deferred", "cash": 2180.00},
    {"account": "Roth IRA", "type": "tax_exempt", "cash": 640.00},
]

# (account, symbol, acquired, shares); taxable positions get one lot per purchase.
PURCHASES = [
    ("Taxable Brokerage", "VTI", "2019-03-14", 120),
    ("Taxable Brokerage", "VTI", "2020-03-23", 80),
    ("Taxable Brokerage", "VTI", "2021-11-08", 60),
    ("Taxable Brokerage", "VTI", "2025-12-01", 40),
    ("Taxable Brokerage", "SCHD", "2021-06-15", 600),
    ("Taxable Brokerage", "SCHD", "2024-02-12", 300),
    ("Taxable Brokerage", "IJR", "2021-11-15", 90),
    ("Taxable Brokerage", "VXUS", "2019-08-05", 220),
    ("Taxable Brokerage", "VXUS", "2022-09-26", 150),
    ("Taxable Brokerage", "VEA", "2021-09-01", 180),
    ("Taxable Brokerage", "BND", "2021-08-02", 160),
    ("Taxable Brokerage", "BND", "2023-10-19", 90),
    ("Taxable Brokerage", "VTIP", "2022-01-10", 120),
    ("Traditional IRA", "BND", "2020-01-15", 520),
    ("Traditional IRA", "BNDX", "2020-01-15", 300),
    ("Traditional IRA", "VTI", "2020-01-15", 70),
    ("Traditional IRA", "VNQ", "2021-04-20", 60),
    ("Roth IRA", "VWO", "2019-05-20", 260),
    ("Roth IRA", "IJR", "2020-06-01", 110),
    ("Roth IRA", "VNQ", "2022-10-03", 40),
]

TARGETS = [
    {"asset_class": "US Stocks", "target_weight": 0.42},
    {"asset_class": "International Stocks", "target_weight": 0.25},
    {"asset_class": "Bonds", "target_weight": 0.25},
    {"asset_class": "Real Estate", "target_weight": 0.06},
    {"symbol": "CASH", "target_weight": 0.02},
]

SETTINGS: dict[str, Any] = {"valuation_date": VALUATION, "price_source": "auto"}


def business_days(start: dt.date, end: dt.date) -> list[dt.date]:
    days, day = [], start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def simulate_prices(seed: int = 20261120) -> dict[str, dict[dt.date, float]]:
    """Daily closes per fund, scaled so the last close is the fund's level in FUNDS."""
    rng = random.Random(seed)
    days = business_days(HISTORY_START, VALUATION)
    out: dict[str, dict[dt.date, float]] = {}
    for symbol, (_, last, vol, drifts) in FUNDS.items():
        daily_vol = vol / math.sqrt(252)
        level, path = 0.0, []
        for day in days:
            drift = math.log1p(drifts[min(day.year - 2019, len(drifts) - 1)]) / 252
            level += drift - 0.5 * daily_vol**2 + daily_vol * rng.gauss(0, 1)
            path.append(level)
        shift = math.log(last) - path[-1]
        out[symbol] = {
            day: round(math.exp(x + shift), 2) for day, x in zip(days, path, strict=True)
        }
    return out


def _close_on(series: dict[dt.date, float], day: dt.date) -> float:
    while day not in series:
        day -= dt.timedelta(days=1)
    return series[day]


def household(prices: dict[str, dict[dt.date, float]]) -> dict[str, list[dict[str, Any]]]:
    """Rows for every input sheet of the demo workbook."""
    lots, shares = [], {}
    counters: dict[tuple[str, str], int] = {}
    for account, symbol, when, count in PURCHASES:
        day = dt.date.fromisoformat(when)
        key = (account, symbol)
        shares[key] = shares.get(key, 0) + count
        counters[key] = counters.get(key, 0) + 1
        if account == "Taxable Brokerage":
            price = _close_on(prices[symbol], day)
            lots.append(
                {
                    "account": account,
                    "symbol": symbol,
                    "lot_id": f"{symbol}-{counters[key]}",
                    "acquired": day,
                    "shares": count,
                    "cost_basis": round(price * count + 4.95, 2),
                }
            )
    holdings = [
        {"account": a, "symbol": s, "shares": n, "asset_class": FUNDS[s][0]}
        for (a, s), n in shares.items()
    ]
    return {"Accounts": ACCOUNTS, "Holdings": holdings, "TaxLots": lots, "Targets": TARGETS}


def write_price_file(path: Path, prices: dict[str, dict[dt.date, float]]) -> Path:
    """Long form (date, symbol, close), the format `--prices` reads."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["date", "symbol", "close"])
        for symbol, series in prices.items():
            for day, close in series.items():
                writer.writerow([day.isoformat(), symbol, f"{close:.2f}"])
    return path


def write_demo(folder: str | Path) -> tuple[Path, Path]:
    """Write the demo workbook and its price file into `folder`; returns both paths."""
    from .excel.template import build_workbook

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    from .workbook.package import mark_dynamic_arrays

    prices = simulate_prices()
    price_file = write_price_file(folder / "demo_prices.csv", prices)
    data = household(prices)
    count = len(data["Targets"])
    book = build_workbook(
        folder / "demo_household.xlsm",
        data,
        settings=SETTINGS,
        extra_sheets=dashboard_sheet(count),
    )
    mark_dynamic_arrays(book, dynamic_cells(count))
    return book, price_file


def client_household(
    prices: dict[str, dict[dt.date, float]], seed: int, holdings: int = 20, lots: int = 200
) -> dict[str, list[dict[str, Any]]]:
    """A generated adviser's client for batch runs: the demo's funds and targets, its own
    cash, positions and purchase history (`holdings` positions over three accounts, `lots`
    tax lots, all bought at the simulated closes of their dates)."""
    rng = random.Random(seed)
    days = [d for d in business_days(HISTORY_START, VALUATION) if d in prices["VTI"]]
    accounts = [
        {"account": "Taxable", "type": "taxable", "cash": round(rng.uniform(500, 25_000), 2)},
        {"account": "IRA", "type": "tax_deferred", "cash": round(rng.uniform(100, 8_000), 2)},
        {"account": "Roth", "type": "tax_exempt", "cash": round(rng.uniform(0, 3_000), 2)},
    ]
    funds = list(FUNDS)
    per_account = [min(len(funds), holdings - 2 * (holdings // 3)), holdings // 3, holdings // 3]
    # The taxable account holds a fund of every asset class with a target, so no client
    # is invalid for lack of one.
    first = {}
    for symbol, (asset_class, *_) in FUNDS.items():
        first.setdefault(asset_class, symbol)
    anchors = list(first.values())[: per_account[0]]
    rest = [s for s in funds if s not in anchors]
    positions = [("Taxable", s) for s in anchors]
    positions += [("Taxable", s) for s in rng.sample(rest, per_account[0] - len(anchors))]
    for account, count in zip(accounts[1:], per_account[1:], strict=True):
        positions += [(account["account"], s) for s in rng.sample(funds, count)]
    rows, shares = [], {}
    for k in range(lots):
        account, symbol = positions[k % len(positions)]
        day = rng.choice(days)
        count = rng.randint(1, 40)
        rows.append(
            {
                "account": account,
                "symbol": symbol,
                "lot_id": f"{symbol}-{k + 1}",
                "acquired": day,
                "shares": count,
                "cost_basis": round(_close_on(prices[symbol], day) * count + 4.95, 2),
            }
        )
        shares[(account, symbol)] = shares.get((account, symbol), 0) + count
    return {
        "Accounts": accounts,
        "Holdings": [
            {"account": a, "symbol": s, "shares": n, "asset_class": FUNDS[s][0]}
            for (a, s), n in shares.items()
        ],
        "TaxLots": rows,
        "Targets": TARGETS,
    }


def write_clients(
    folder: str | Path, count: int, *, holdings: int = 20, lots: int = 200, start_seed: int = 1
) -> tuple[list[Path], Path]:
    """`count` client workbooks and the shared offline price file, for `batch`."""
    from .excel.template import build_workbook

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    prices = simulate_prices()
    price_file = write_price_file(folder / "prices.csv", prices)
    books = [
        build_workbook(
            folder / f"client-{seed:04d}.xlsm",
            client_household(prices, seed, holdings, lots),
            settings=SETTINGS,
        )
        for seed in range(start_seed, start_seed + count)
    ]
    return books, price_file


# -- the dashboard: our worksheet functions and ordinary formulas over the engine's sheets --

DASHBOARD = "Dashboard"
# Key figures: (label, formula, number format). They read the engine's sheets through
# their tables, so they follow every run; `recalc` (or --recalc) stores their values.
KEY_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("Trades", "=COUNTA(tblTrades[Symbol])", "0"),
    ("Traded value", "=SUM(tblTrades[Value])", "#,##0.00"),
    ("Estimated tax", '=INDEX(Summary!B:B,MATCH("Estimated tax",Summary!A:A,0))', "#,##0.00"),
    ("Realized on sells", '=SUMIF(tblTrades[Action],"SELL",tblTrades[RealizedGain])', "#,##0.00"),
    ("Drift weights add to", "=SUM(tblDrift[Weight])", "0.00%"),
    (
        "Largest drift after",
        '=_xlfn.XLOOKUP("Largest drift after",tblSummary[Key],tblSummary[Value],"n/a")',
        "0.00%",
    ),
    ("Out of band (xlrb_drift)", "=COUNTIF(_xlfn.ANCHORARRAY(G2),TRUE)", "0"),
    ("Household value", "=SUM(B2:{last})", "#,##0.00"),
)
VALUATION_CELL = '=INDEX(tblSettings[Value],MATCH("valuation_date",tblSettings[Setting],0))'


def dashboard_sheet(count: int) -> Callable[[Any], None]:
    """A Dashboard for `count` targets (asset classes or symbols): their values and target
    weights read from the Drift and Targets tables, our functions' drift and weight tables
    spilling beside them, key figures below, and a lot's gain and a wash-sale check."""

    def build(wb: Any) -> None:
        from openpyxl.styles import Font
        from openpyxl.worksheet.formula import ArrayFormula

        from .workbook.schema import BODY_FONT

        ws = wb.create_sheet(DASHBOARD, 1)
        bold = Font(name=BODY_FONT, bold=True)
        last = 1 + count
        for cell, text in {"A1": "Target", "B1": "Value", "D1": "Target", "E1": "Weight"}.items():
            ws[cell] = text
            ws[cell].font = bold
        for row in range(2, last + 1):
            n = row - 1  # a target is a symbol, or an asset class when Symbol is blank
            ws[f"A{row}"] = (
                f'=IF(INDEX(tblTargets[Symbol],{n})="",'
                f"INDEX(tblTargets[AssetClass],{n}),INDEX(tblTargets[Symbol],{n}))"
            )
            ws[f"B{row}"] = (
                f"=SUMIF(tblDrift[AssetClass],A{row},tblDrift[Value])"
                f"+SUMIF(tblDrift[Symbol],A{row},tblDrift[Value])"
            )
            ws[f"B{row}"].number_format = "#,##0.00"
            ws[f"D{row}"] = f"=A{row}"
            ws[f"E{row}"] = f"=INDEX(tblTargets[TargetWeight],{n})"
            ws[f"E{row}"].number_format = "0.00%"
        ws["G1"], ws["N1"] = "xlrb_drift", "xlrb_weights"
        ws["G1"].font = ws["N1"].font = bold
        ws["G2"] = ArrayFormula("G2", f"=xlrb_drift(A2:B{last},D2:E{last})")
        ws["N2"] = ArrayFormula("N2", f"=xlrb_weights(A2:B{last},D2:E{last})")
        top = last + 3
        for i, (label, formula, fmt) in enumerate(KEY_FIGURES):
            ws[f"A{top + i}"] = label
            ws[f"B{top + i}"] = formula.format(last=f"B{last}")
            ws[f"B{top + i}"].number_format = fmt
        lot = top + len(KEY_FIGURES) + 1
        ws[f"A{lot}"] = "First lot: gain, term"
        price = "INDEX(tblPrices[Price],MATCH(TaxLots!B2,tblPrices[Symbol],0))"
        ws[f"B{lot}"] = ArrayFormula(
            f"B{lot}",
            f"=xlrb_lot_gain(TaxLots!E2,TaxLots!F2,TaxLots!D2,{price},{VALUATION_CELL[1:]})",
        )
        ws[f"A{lot + 1}"] = "Sell first lot at a loss today?"
        # The run's rules: every purchase on record in any account (lots included),
        # IdenticalTo from Targets, the lot's own purchase aside.
        ws[f"B{lot + 1}"] = (
            f'=xlrb_wash_check(TaxLots!B2,{VALUATION_CELL[1:]},tblTransactions[#All],30,"sell",'
            "tblTaxLots[#All],tblAccounts[#All],tblTargets[#All],TaxLots!C2)"
        )
        ws.column_dimensions["A"].width = 30
        ws.column_dimensions["B"].width = 16
        from .workbook.tables import print_setup

        print_setup(ws, f"A1:Q{lot + 1}", 120, titles=False)

    return build


def dynamic_cells(count: int) -> dict[str, set[str]]:
    """The dashboard's spilling formulas, marked as Excel 365 marks dynamic arrays."""
    top = 1 + count + 3
    return {DASHBOARD: {"G2", "N2", f"B{top + len(KEY_FIGURES) + 1}"}}
