"""What a run and a batch print on a terminal: the run report's tables (prices,
optimized targets, harvest, realized, drift, trades, summary) and the batch's table.

Apart from the commands because several print the same report (the run commands, demo,
the batch and demo --clients): each imports this rather than another command module.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import _console, _money, _print_problems, _styled, _table


def show_report(report: Any) -> None:
    """Print what a run did: prices, harvest candidates or trades, then the summary."""
    console = _console()
    result = report.result
    _print_problems([w for w in report.warnings if w.level != "info"], "Warnings")
    if report.command == "refresh-prices":
        console.print(_prices_table(report))
    if report.optimized is not None:
        console.print(_optimized_table(report.optimized))
    if result is not None and report.command == "harvest":
        if result.harvest:
            console.print(_harvest_table(result))
        else:
            console.print("No lot passes tlh_min_loss and tlh_min_loss_pct.")
    elif result is not None and report.command == "realized":
        console.print(
            _realized_table(result)
            if result.realized
            else "No sales on Transactions in this tax year."
        )
    elif result is not None:
        if report.command == "drift":
            console.print(_drift_table(result))
        if report.command != "drift" and result.trades:
            console.print(_trades_table(result))
        console.print(_summary_table(result))
    if report.recalculated is not None:
        r = report.recalculated
        left = len(r.uncomputed)
        console.print(
            f"Recalculated {r.formulas - left} of {r.formulas} formula cells"
            + (f"; {left} left for Excel (see Warnings and the Log sheet)" if left else "")
        )
    if report.output:
        console.print(f"Wrote {report.output}")


def _prices_table(report: Any) -> Any:
    return _table(
        "Prices",
        ["Symbol", "Price", "As of", "Source"],
        [
            [q.symbol, f"{q.price:,.4f}", str(q.as_of or ""), q.source]
            for q in report.quotes.values()
        ],
        {"Price"},
    )


def _optimized_table(opt: Any) -> Any:
    a = opt.allocation
    invested = 1.0 - opt.cash_weight
    rows = [
        [sym, f"{w * invested:.2%}", f"{mu:.2%}", f"{vol:.2%}", f"{rc:.2%}"]
        for sym, w, mu, vol, rc in zip(
            opt.symbols,
            a.weights,
            a.expected_returns,
            a.volatilities,
            a.risk_contributions,
            strict=True,
        )
    ]
    if opt.cash_weight:
        rows.append(["CASH", f"{opt.cash_weight:.2%}", "", "", ""])
    rows.append(
        [
            "Portfolio",
            "100.00%",
            f"{a.portfolio_return:.2%}",
            f"{a.portfolio_volatility:.2%}",
            f"Sharpe {a.sharpe:.3f}",
        ]
    )
    return _table(
        "Optimized targets",
        ["Symbol", "Weight", "Exp. return", "Volatility", "Risk share"],
        rows,
        {"Weight", "Exp. return", "Volatility", "Risk share"},
    )


def _harvest_table(result: Any) -> Any:
    return _table(
        "Tax-loss harvest candidates",
        [
            "Account",
            "Symbol",
            "Lot",
            "Shares",
            "Loss",
            "Term",
            "Substitute",
            "Wash sale",
            "Est. saving",
        ],
        [
            [
                h.account,
                h.symbol,
                h.lot_id,
                f"{h.shares:,.6g}",
                _money(h.unrealized_loss),
                h.term,
                h.substitute or "",
                h.wash_sale,
                _money(h.est_tax_saving),
            ]
            for h in result.harvest
        ],
        {"Shares", "Loss", "Est. saving"},
        sheet="TaxHarvest",
    )


def _realized_table(result: Any) -> Any:
    return _table(
        "Realized this tax year (Form 8949)",
        ["Part", "Description", "Sold", "Proceeds", "Basis", "Code", "Adj.", "Gain"],
        [
            [
                r.part,
                r.description,
                r.date_sold.isoformat() if r.date_sold else "",
                _money(r.proceeds),
                _money(r.cost_basis),
                r.code or "",
                _money(r.adjustment),
                _money(r.gain_loss),
            ]
            for r in result.realized
        ],
        {"Proceeds", "Basis", "Adj.", "Gain"},
        sheet="Realized",
    )


def _trades_table(result: Any) -> Any:
    return _table(
        "Trades",
        [
            "Account",
            "Symbol",
            "Action",
            "Shares",
            "Value",
            "Lot",
            "Gain",
            "Term",
            "Est. tax",
        ],
        [
            [
                t.account,
                t.symbol,
                t.action,
                f"{t.shares:,.6g}",
                _money(t.value),
                t.lot_id or "",
                _money(t.realized_gain),
                t.term or "",
                _money(t.est_tax),
            ]
            for t in result.trades
        ],
        {"Shares", "Value", "Gain", "Est. tax"},
        sheet="Trades",
    )


def _summary_table(result: Any) -> Any:
    rows = []
    for item in result.summary:
        value = item.value
        if isinstance(value, float):
            percent = any(k in item.key.lower() for k in ("drift", "turnover", "tracking"))
            text = f"{value:.2%}" if percent else f"{value:,.2f}"
        else:
            text = str(value)
        rows.append([item.key, text])
    return _table("Summary", ["Item", "Value"], rows, {"Value"})


def _drift_table(result: Any) -> Any:
    """Each line against its target and band, out-of-band lines marked."""
    return _table(
        "Drift",
        ["Line", "Value", "Weight", "Target", "Drift", "Band", "Out of band"],
        [
            [
                r.asset_class or r.symbol or "CASH",
                _money(r.value),
                f"{r.weight:.2%}",
                f"{r.target_weight:.2%}",
                f"{r.drift:+.2%}",
                f"{r.band:.2%}",
                "OUT" if r.out_of_band else "",
            ]
            for r in result.drift
        ],
        {"Value", "Weight", "Target", "Drift", "Band"},
    )


TABLE_LIMIT = 200  # rows printed in full; beyond, failures only (all are in the CSV)


def _show_batch(result: Any, saved: Sequence[Path] | None) -> None:
    console = _console()
    _print_problems(result.warnings, "Price feed")
    rows = result.rows if len(result.rows) <= TABLE_LIMIT else result.failed
    # Names below the inputs' common folder keep the table narrow; the CSV has full paths.
    try:
        root = os.path.commonpath([os.path.dirname(os.path.abspath(r.workbook)) for r in rows])
    except ValueError:  # different drives
        root = ""

    def name(row: Any) -> str:
        return os.path.relpath(os.path.abspath(row.workbook), root) if root else row.workbook

    colors = {"ok": "green", "skipped": "", "invalid": "yellow", "error": "red", "crashed": "red"}
    table = _table(
        "Batch" if rows is result.rows else f"Batch: the {len(rows)} failed of {len(result.rows)}",
        ["Workbook", "Status", "Trades", "Est. tax", "Largest drift", "Seconds", "Message"],
        [
            [
                name(r),
                _styled((r.status, colors[r.status])),
                "" if r.trades is None else str(r.trades),
                _money(r.estimated_tax),
                "" if r.largest_drift is None else f"{r.largest_drift:.2%}",
                f"{r.seconds:.2f}",
                r.message,
            ]
            for r in rows
        ],
        {"Trades", "Est. tax", "Largest drift", "Seconds"},
    )
    if rows:
        console.print(table)
    ok = len(result.rows) - len(result.failed)
    trades = sum(r.trades or 0 for r in result.rows)
    tax = sum(r.estimated_tax or 0.0 for r in result.rows)
    rate = len(result.rows) / result.seconds if result.seconds else 0.0
    console.print(
        _styled(
            f"{len(result.rows)} workbooks: ",
            (f"{ok} ok", "green"),
            ", ",
            (f"{len(result.failed)} failed", "red" if result.failed else ""),
            f"; {trades} trades, estimated tax {tax:,.2f}; {result.seconds:.1f} s "
            f"({rate:.1f} workbooks/s)",
        )
    )
    if saved:
        console.print(f"Report: {saved[0]}, {saved[1]} and {saved[2]}; tax view: {saved[3]}")
