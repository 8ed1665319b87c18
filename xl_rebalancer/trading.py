"""The round trip with the broker, for every door: import, export-orders, record-fills.

Like app.py, these read and save only through a Door, so the command line and the
ribbon's buttons run the same code. Import and record-fills edit input sheets: each
keeps a backup beside the workbook and writes what it changed to the Log.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .app import Door, RunOptions, RunReport, as_door, journaled, save_backed_up
from .errors import InputError, Problem
from .io import schema as s
from .io.edits import InputRewrite, WorkbookEdit
from .io.outputs import log_entries, log_sheet


@dataclass
class ImportReport(RunReport):
    """What import found and changed (engine.sync.SyncResult) and where it went."""

    sync: Any = None
    files: list[str] = field(default_factory=list)


def parse_account_map(text: str | Sequence[str] | None) -> dict[str, str]:
    """`--account "...1234=Joint Taxable" --account "X12345678=Roth"` (or one comma-separated
    string) → {broker account: workbook account}; `*=Name` for files without an account."""
    parts: list[str] = []
    for item in [text] if isinstance(text, str) else list(text or []):
        parts += [p for p in item.split(",") if p.strip()]
    out: dict[str, str] = {}
    for part in parts:
        broker, sep, name = part.partition("=")
        if not sep or not name.strip():
            raise InputError(
                [
                    Problem(
                        f"--account {part.strip()!r}: use BROKER_ACCOUNT=Workbook account "
                        "(for example ...1234=Joint Taxable, or *=Roth for a file that names none)"
                    )
                ]
            )
        out["" if broker.strip() == "*" else broker.strip()] = name.strip()
    return out


def _rows(raw: Mapping[str, Any], spec: s.SheetSpec) -> list[tuple[int, dict[str, Any]]]:
    data = raw.get(spec.name)
    if data is None:
        return []
    if isinstance(data, list):  # a missing required column: the reader's own problems
        raise InputError(data)
    return [(r, dict(v)) for r, v in data.rows]


TABLES = (s.ACCOUNTS, s.HOLDINGS, s.TAX_LOTS, s.TRANSACTIONS)


def _edit(
    raw: Mapping[str, Any],
    result: Any,
    sheets: Sequence[str],
    report: RunReport,
    started: dt.datetime,
    notes: list[str],
    options: RunOptions,
) -> WorkbookEdit:
    """The Log, and the tables `sheets` rewritten from `result` (a SyncResult or a
    FillResult: both carry accounts, holdings, lots and transactions records)."""
    records = {
        s.ACCOUNTS.name: result.accounts,
        s.HOLDINGS.name: result.holdings,
        s.TAX_LOTS.name: result.lots,
        s.TRANSACTIONS.name: result.transactions,
    }
    return WorkbookEdit(
        sheets=[log_sheet(log_entries(report.warnings, started, notes))],
        rewrites=[
            InputRewrite(spec, _title(raw, spec), records[spec.name], create=True)
            for spec in TABLES
            if spec.name in sheets
        ],
        recalc=options.recalc,
    )


def _title(raw: Mapping[str, Any], spec: s.SheetSpec) -> str:
    data = raw.get(spec.name)
    return data.title if data is not None and not isinstance(data, list) else spec.name


def import_files(
    book: str | Path | Door,
    files: Sequence[Path],
    *,
    broker: str | None = None,
    accounts: Mapping[str, str] | None = None,
    mapping: str | None = None,
    options: RunOptions | None = None,
) -> ImportReport:
    """`import`: broker files into Accounts, Holdings, TaxLots and Transactions."""
    door = as_door(book)
    options = options or RunOptions()
    return journaled(  # type: ignore[return-value]
        door,
        "import",
        options,
        lambda: _import(door, files, broker, dict(accounts or {}), mapping, options),
    )


def _import(
    door: Door,
    files: Sequence[Path],
    broker: str | None,
    accounts: dict[str, str],
    mapping: str | None,
    options: RunOptions,
) -> ImportReport:
    from .engine.sync import Current, merge
    from .io.brokers import read_statement

    started = dt.datetime.now().replace(microsecond=0)
    clock = time.perf_counter()
    statements = [read_statement(Path(f), broker, mapping) for f in files]
    raw = door.read_raw()
    current = Current(
        accounts=_rows(raw, s.ACCOUNTS),
        holdings=_rows(raw, s.HOLDINGS),
        lots=_rows(raw, s.TAX_LOTS),
        transactions=_rows(raw, s.TRANSACTIONS),
    )
    result = merge(current, statements, accounts)
    report = ImportReport("import", door.path, input_hash=door.digest())
    report.sync = result
    report.files = [Path(f).name for f in files]
    report.warnings = list(result.problems)
    if any(p.level == "error" for p in result.problems):
        raise InputError(result.problems)
    report.seconds = time.perf_counter() - clock
    if options.dry_run or not result.changes:
        return report
    if options.out is None:
        report.backup = door.backup(started, "import")
    notes = [
        f"xl-rebalancer {__version__} import of {', '.join(report.files)}: "
        f"{len(result.changes)} change(s)"
        + (f"; backup {report.backup.name}" if report.backup else ""),
        *(f"{c.sheet}: {c.kind} {c.text}" for c in result.changes),
    ]
    edit = _edit(
        raw,
        result,
        [s.name for s in TABLES if result.changed(s.name)],
        report,
        started,
        notes,
        options,
    )
    report.output = save_backed_up(door, edit, options.out, report.backup)
    report.seconds = time.perf_counter() - clock
    return report


@dataclass
class OrdersReport:
    workbook: Path
    checksum: str
    orders: list[Any]
    files: list[Path]


def _proposal(door: Door) -> tuple[list[Any], dict[str, Any]]:
    from .engine.fills import proposal

    raw = door.read_raw([s.TRADES, s.ACCOUNTS])
    if raw.get(s.TRADES.name) is None:
        raise InputError([Problem("no Trades sheet: run rebalance first", "Trades", "A1")])
    trades, problems = proposal(_rows(raw, s.TRADES))
    if problems:
        raise InputError(problems)
    return trades, raw


def _broker_numbers(raw: Mapping[str, Any]) -> dict[str, str]:
    from .engine.records import as_text

    return {
        as_text(v.get("account")): as_text(v.get("broker_account"))
        for _, v in _rows(raw, s.ACCOUNTS)
        if v.get("broker_account")
    }


def export_orders(book: str | Path | Door, fmt: str, folder: Path | None = None) -> OrdersReport:
    """`export-orders`: the Trades sheet as the broker's order file(s); the workbook is
    only read."""
    from .engine.fills import checksum, orders
    from .io.brokers.orders import write_orders

    door = as_door(book)
    trades, raw = _proposal(door)
    if not trades:
        raise InputError(
            [Problem("the Trades sheet has no trades: nothing to send", "Trades", "A1")]
        )
    tag = checksum(trades)
    planned = orders(trades)
    folder = folder or door.path.parent
    files = write_orders(planned, fmt, folder, door.path.stem, tag, _broker_numbers(raw))
    return OrdersReport(door.path, tag, planned, files)


@dataclass
class FillsReport(RunReport):
    fills: Any = None  # engine.fills.FillResult
    checksum: str = ""


def record_fills(
    book: str | Path | Door,
    fills_file: Path | None = None,
    *,
    day: dt.date | None = None,
    options: RunOptions | None = None,
) -> FillsReport:
    """`record-fills`: what was executed (the proposal as is, or a fills file) applied to
    TaxLots, Holdings, cash and Transactions, with a backup and a Log entry."""
    door = as_door(book)
    options = options or RunOptions()
    return journaled(  # type: ignore[return-value]
        door,
        "record-fills",
        options,
        lambda: _record_fills(door, fills_file, day or dt.date.today(), options),
    )


def _record_fills(
    door: Door, fills_file: Path | None, day: dt.date, options: RunOptions
) -> FillsReport:
    from .engine.fills import apply_fills, checksum, fills_from_proposal
    from .engine.records import as_text
    from .io.brokers.fillsfile import read_fills

    started = dt.datetime.now().replace(microsecond=0)
    trades, _ = _proposal(door)
    raw = door.read_raw()
    tag = checksum(trades)
    report = FillsReport("record-fills", door.path, input_hash=door.digest(), checksum=tag)
    accounts = _rows(raw, s.ACCOUNTS)
    if fills_file is None:
        fills = fills_from_proposal(trades, day)
    else:
        names = {}
        for _, v in accounts:
            names[as_text(v.get("account")).lower()] = as_text(v.get("account"))
            if v.get("broker_account"):
                names[as_text(v.get("broker_account")).lower()] = as_text(v.get("account"))
        fills, proposals = read_fills(Path(fills_file), day, names)
        if proposals and tag not in proposals:
            report.warnings.append(
                Problem(
                    f"the fills name proposal {', '.join(sorted(proposals))}, the Trades sheet is "
                    f"proposal {tag}: lots are relieved as the Trades sheet says where it names them",
                    Path(fills_file).name,
                    None,
                    "warning",
                )
            )
    result = apply_fills(
        accounts,
        _rows(raw, s.HOLDINGS),
        _rows(raw, s.TAX_LOTS),
        _rows(raw, s.TRANSACTIONS),
        fills,
        trades,
    )
    report.fills = result
    report.warnings += result.problems
    if any(p.level == "error" for p in result.problems):
        raise InputError(report.warnings)
    if options.dry_run or not result.applied:
        return report
    if options.out is None:
        report.backup = door.backup(started, "fills")
    notes = [
        f"xl-rebalancer {__version__} record-fills: proposal {tag}, {len(result.applied)} fill(s) "
        f"recorded, {len(result.already)} already on Transactions"
        + (f"; backup {report.backup.name}" if report.backup else ""),
        *result.changes,
    ]
    sheets = [
        spec.name
        for spec in TABLES
        if spec is not s.HOLDINGS or raw.get(spec.name) is not None or result.holdings
    ]
    edit = _edit(raw, result, sheets, report, started, notes, options)
    report.output = save_backed_up(door, edit, options.out, report.backup)
    return report
