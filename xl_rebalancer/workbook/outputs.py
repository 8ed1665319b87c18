"""Engine results as engine sheets: rows for the writer, plus the Drift chart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import Problem
from ..models.results import LogEntry, RebalanceResult
from . import schema as s
from .charts import draw_file
from .edits import SheetOutput


def log_rows(entries: list[LogEntry]) -> list[dict[str, Any]]:
    return [e.model_dump() for e in entries]


def log_entries(
    problems: Sequence[Problem], now: dt.datetime, notes: Sequence[str] = ()
) -> list[LogEntry]:
    entries = [LogEntry(time=now, level="info", message=n) for n in notes]
    return entries + [LogEntry.from_problem(p, now) for p in problems]


def _drift_rows(result: RebalanceResult) -> list[dict[str, Any]]:
    """The cash line is named in the column that names the other lines (AssetClass when
    targets are asset classes, else Symbol): the charts label their bars from that
    column, and an unlabelled bar is no use to a client. Named in one column only, so a
    SUMIF over each column counts it once."""
    rows = [r.model_dump() for r in result.drift]
    by_class = any(r["symbol"] is None and r["asset_class"] for r in rows)
    for row in rows:
        is_cash = str(row["symbol"] or row["asset_class"] or "CASH").upper() == "CASH"
        if is_cash and (row["symbol"] is None or row["asset_class"] is None):
            row["asset_class"], row["symbol"] = ("CASH", None) if by_class else (None, "CASH")
    return rows


def drift_sheet(result: RebalanceResult) -> SheetOutput:
    rows = _drift_rows(result)
    return SheetOutput(s.DRIFT, rows, decorate=lambda ws: draw_file(ws, s.DRIFT.name))


# The writer only reads a row's fields, and a result row's fields are its __dict__ (flat
# models, nothing computed): a copy through model_dump for each of a large household's
# 10,000 trade and realized rows cost about 0.1 s.
def trades_sheet(result: RebalanceResult) -> SheetOutput:
    return SheetOutput(s.TRADES, [vars(t) for t in result.trades])


def harvest_sheet(result: RebalanceResult) -> SheetOutput:
    return SheetOutput(s.TAX_HARVEST, [vars(h) for h in result.harvest])


def realized_sheet(result: RebalanceResult) -> SheetOutput:
    return SheetOutput(s.REALIZED, [vars(r) for r in result.realized])


def summary_sheet(result: RebalanceResult, extra: list[tuple[str, Any]]) -> SheetOutput:
    rows = [{"key": i.key, "value": i.value} for i in result.summary]
    rows += [{"key": k, "value": v} for k, v in extra]
    return SheetOutput(s.SUMMARY, rows, decorate=_summary_formats)


_PERCENT_KEYS = ("drift", "turnover", "weight", "tracking error")


def _summary_formats(ws: Any) -> None:
    for row in ws.iter_rows(min_row=2):
        key, value = row[0].value, row[1]
        if not isinstance(value.value, (int, float)) or isinstance(value.value, bool):
            continue
        text = str(key).lower()
        if any(word in text for word in _PERCENT_KEYS):
            value.number_format = s.FMT_PCT
        elif "count" in text or "seconds" in text:
            value.number_format = "0.####"
        else:
            value.number_format = s.FMT_MONEY


def report_sheet(
    result: RebalanceResult,
    show: bool = True,
    settings: Mapping[str, Any] | None = None,
    prepared: dt.date | None = None,
) -> SheetOutput:
    """The one-page proposal; the workbook opens on it after a rebalance."""
    from ..report.page import build_report

    page = build_report(result, settings, prepared)
    return SheetOutput(s.REPORT, [], report=page, show=show, first=True)


def log_sheet(entries: list[LogEntry]) -> SheetOutput:
    return SheetOutput(s.LOG, log_rows(entries))


def optimized_sheet(optimized: Any) -> SheetOutput:
    """One row per symbol (weights of the whole household, CASH included), then a
    `Portfolio` row with the invested part's expected return, volatility and Sharpe."""
    a = optimized.allocation
    invested = 1.0 - optimized.cash_weight
    rows: list[dict[str, Any]] = [
        {
            "symbol": symbol,
            "weight": round(float(w) * invested, 10),
            "expected_return": float(mu),
            "volatility": float(vol),
            "risk_contribution": float(rc),
        }
        for symbol, w, mu, vol, rc in zip(
            optimized.symbols,
            a.weights,
            a.expected_returns,
            a.volatilities,
            a.risk_contributions,
            strict=True,
        )
    ]
    if optimized.cash_weight:
        rows.append({"symbol": "CASH", "weight": optimized.cash_weight})
    rows.append(
        {
            "symbol": "Portfolio",
            "weight": 1.0,
            "expected_return": a.portfolio_return,
            "volatility": a.portfolio_volatility,
            "risk_contribution": 1.0,
            "sharpe": a.sharpe,
        }
    )
    return SheetOutput(
        s.OPTIMIZED_TARGETS, rows, decorate=lambda ws: draw_file(ws, s.OPTIMIZED_TARGETS.name)
    )
