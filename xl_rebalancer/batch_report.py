"""A batch's outcome, workbook by workbook, and the files the morning review reads.

Each workbook comes back as one `BatchRow` (its status, where it failed, what the
proposal comes to, the firm-wide tax view, the desk's view of its proposal); a batch is
a `BatchResult`, saved as REPORT.csv, REPORT.json, REPORT.xlsx (report/review.py) and
REPORT-tax.csv.

Apart from batch.py, which runs the workbooks (collection, workers, households, the
shared price fetch), because the trading desk (desk.py) makes the same rows and writes
the same review without running the engine, and the review's columns are read here in
one place whichever command made them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel

from .door import RunOptions, as_door
from .errors import Problem

# skipped: left alone on purpose (an exported proposal awaiting its fills, a client the
# desk's blotter does not send): not a failure.
Status = Literal["ok", "skipped", "invalid", "error", "crashed"]


class BatchRow(BaseModel):
    """One workbook's outcome: a row of the final table, the CSV and the JSON."""

    workbook: str
    status: Status
    client: str = ""  # Settings client_name
    household: str = ""  # Settings household: workbooks sharing it are one (spouses)
    # Where a failure is (Sheet!Cell of its first error), for the morning review's CSV.
    where: str | None = None
    # The morning review: did the household need trading, which lines were out of band,
    # and what the proposal comes to.
    triggered: bool | None = None
    out_of_band: str = ""
    household_value: float | None = None
    cash_flow: float | None = None
    trades: int | None = None
    buys: float | None = None
    sells: float | None = None
    turnover: float | None = None
    realized_st: float | None = None
    realized_lt: float | None = None
    estimated_tax: float | None = None
    largest_drift: float | None = None  # before trading: what made the run necessary
    largest_drift_after: float | None = None
    warnings: int = 0
    first_warning: str = ""
    seconds: float = 0.0
    read_seconds: float = 0.0
    prices_seconds: float = 0.0
    solve_seconds: float = 0.0
    write_seconds: float = 0.0
    output: str | None = None
    pdf: str | None = None  # the Report page as a PDF (--pdf)
    message: str = ""
    # The firm-wide tax view (TAX_FIELDS): the year so far, before this run's trades,
    # as the workbook's Summary and Settings give it.
    ytd_realized_st: float | None = None
    ytd_realized_lt: float | None = None
    st_carryover: float | None = None
    lt_carryover: float | None = None
    harvestable_loss: float | None = None  # TaxHarvest lots marked clear, summed
    harvestable_lots: int | None = None
    year_tax: float | None = None  # the year's tax on capital gains, this proposal in
    st_carryforward: float | None = None
    lt_carryforward: float | None = None
    # The desk's view (proposal.py): where the proposal stands, its checksum, the
    # custodians of the client's accounts, and what is marked do-not-trade.
    proposal: str | None = None
    proposal_id: str | None = None
    custodians: list[str] = []
    do_not_trade: str = ""  # "household", or the accounts marked DoNotTrade
    problems: list[dict[str, str | None]] = []  # every error and warning, with its cell

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "skipped")


TAX_FIELDS = [
    "household",
    "workbook",
    "client",
    "status",
    "ytd_realized_st",
    "ytd_realized_lt",
    "st_carryover",
    "lt_carryover",
    "harvestable_loss",
    "harvestable_lots",
    "estimated_tax",
    "year_tax",
    "st_carryforward",
    "lt_carryforward",
]
_TAX_ONLY = set(TAX_FIELDS) - {"household", "workbook", "client", "status", "estimated_tax"}
CSV_FIELDS = [f for f in BatchRow.model_fields if f != "problems" and f not in _TAX_ONLY]


@dataclass
class BatchResult:
    rows: list[BatchRow] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)  # from the shared price fetch
    seconds: float = 0.0

    @property
    def failed(self) -> list[BatchRow]:
        return [r for r in self.rows if not r.ok]


def _problems(problems: Iterable[Problem]) -> list[dict[str, str | None]]:
    return [p.to_json() for p in problems]


def _review(row: BatchRow, result: Any) -> None:
    """What a firm reads each morning, from the run's Summary and Drift."""
    summary = {i.name: i.value for i in result.summary}
    row.trades = len(result.trades)
    row.estimated_tax = _number(summary.get("estimated_tax"))
    row.largest_drift = _number(summary.get("largest_drift_before"))
    row.largest_drift_after = _number(summary.get("largest_drift_after"))
    triggered = summary.get("rebalance_triggered")
    row.triggered = triggered if isinstance(triggered, bool) else None
    row.out_of_band = ", ".join(
        d.asset_class or d.symbol or "CASH" for d in result.drift if d.out_of_band
    )
    row.household_value = _number(summary.get("total_value_before"))
    row.cash_flow = _number(summary.get("cash_flow"))
    row.buys = _number(summary.get("buys"))
    row.sells = _number(summary.get("sells"))
    row.turnover = _number(summary.get("turnover"))
    row.realized_st = _number(summary.get("realized_st_gain"))
    row.realized_lt = _number(summary.get("realized_lt_gain"))
    # The tax view: the year before this run, the losses the TaxHarvest sheet calls clear
    # to harvest, and the year's tax with this proposal in, all as the workbook says.
    row.ytd_realized_st = _number(summary.get("year_st_gain_before_run"))
    row.ytd_realized_lt = _number(summary.get("year_lt_gain_before_run"))
    clear = [h for h in result.harvest if h.wash_sale == "clear"]
    row.harvestable_loss = round(sum(h.unrealized_loss for h in clear), 2)
    row.harvestable_lots = len(clear)
    row.year_tax = _number(summary.get("year_tax_on_capital_gains"))
    row.st_carryforward = _number(summary.get("st_loss_carryforward"))
    row.lt_carryforward = _number(summary.get("lt_loss_carryforward"))


def _desk(row: BatchRow, path: Path, command: str, options: RunOptions) -> None:
    """The proposal's status, custodians and do-not-trade marks, for the review: read
    from the workbook as saved (Trades, Settings, Accounts), never an error of the row."""
    from .proposal import state
    from .workbook import schema as s

    source = Path(row.output) if row.output else path
    try:
        current = state(as_door(source).read_raw([s.TRADES, s.SETTINGS, s.ACCOUNTS]))
    except Exception:
        return
    row.proposal = current.status
    row.proposal_id = current.checksum or None
    row.custodians = list(current.custodians)
    row.do_not_trade = "household" if current.do_not_trade else ", ".join(current.accounts_held)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


class ReportFiles(NamedTuple):
    csv: Path
    json: Path
    xlsx: Path  # the review with links, and the tax view on its second sheet
    tax: Path  # the firm-wide tax view as CSV


def write_reports(result: BatchResult, stem: Path) -> ReportFiles:
    """The final table as `stem`.csv (one line per workbook), `stem`.json (the same
    plus every problem with its cell and the shared fetch's warnings), `stem`.xlsx (the
    review to read, with a link to each workbook, and the tax view) and `stem`-tax.csv
    (the firm-wide tax view alone)."""
    import csv
    import json

    from .models.types import safe_text
    from .report.review import tax_rows, write_review

    stem.parent.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = stem.with_suffix(".csv"), stem.with_suffix(".json")
    tax_path = stem.with_name(f"{stem.with_suffix('').name}-tax.csv")
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in result.rows:
            data = row.model_dump(include=set(CSV_FIELDS))
            data["custodians"] = ", ".join(row.custodians)
            writer.writerow({k: safe_text(v) for k, v in data.items()})
    with open(tax_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=TAX_FIELDS)
        writer.writeheader()
        for row in tax_rows(result.rows):
            data = row.model_dump(include=set(TAX_FIELDS))
            writer.writerow({k: safe_text(data[k]) for k in TAX_FIELDS})
    json_path.write_text(json.dumps(report_payload(result), indent=2), encoding="utf-8")
    xlsx_path = write_review(result.rows, stem.with_suffix(".xlsx"))
    return ReportFiles(csv_path, json_path, xlsx_path, tax_path)


def report_payload(result: BatchResult) -> dict[str, Any]:
    """The batch report as JSON: the saved REPORT.json and `batch --json` alike. `ok`,
    `error` and `problems` (each with its workbook) follow every command's --json shape."""
    failed = result.failed
    return {
        "ok": not failed,
        **(
            {"error": f"{len(failed)} of {len(result.rows)} workbooks failed", "exit_code": 1}
            if failed
            else {}
        ),
        "problems": [
            {**p, "workbook": row.workbook}
            for row in failed
            for p in row.problems
            if p.get("level") == "error"
        ],
        "seconds": round(result.seconds, 3),
        "workbooks": len(result.rows),
        "failed": len(result.failed),
        "warnings": _problems(result.warnings),
        "rows": [row.model_dump(mode="json") for row in result.rows],
    }
