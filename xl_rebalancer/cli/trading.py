"""The command line's round trip with the broker: `import`, `export-orders`,
`record-fills`, `approve`, and `apply-actions` (corporate actions into the lots).

Same conventions as every command: one JSON document with --json, problems with their
file and line, no traceback. These commands edit a workbook's input sheets, where the run
commands (runs.py) write only their output sheets.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from .common import (
    FORCE_OPTION,
    JSON_OPTION,
    OUT_OPTION,
    RECALC_OPTION,
    _console,
    _date,
    _money,
    _print_problems,
    _problems_json,
    _table,
    emit_json,
    handle_errors,
)
from .desk import _desk_batch
from .group import main

BOOK = click.argument("book", type=click.Path(exists=True, dir_okay=False, path_type=Path))


def _changes_table(changes: list[Any], title: str) -> Any:
    rows = [[c.sheet, c.kind, c.text] for c in changes]
    return _table(title, ["Sheet", "Change", "What"], rows, set())


@main.command("import")
@BOOK
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--broker",
    type=click.Choice(["schwab", "fidelity", "vanguard", "ibkr", "ofx", "generic"]),
    help="Which broker wrote the files (default: told from each file's content).",
)
@click.option(
    "--account",
    "accounts",
    multiple=True,
    metavar="BROKER=NAME",
    help="Broker account number to workbook account name, e.g. '...1234=Joint Taxable' "
    "(repeat, or separate with commas); '*=NAME' for files that name no account. "
    "Remembered on the Accounts sheet (BrokerAccount).",
)
@click.option(
    "--map",
    "mapping",
    metavar="FIELD=HEADER,...",
    help="A generic CSV's columns: account, symbol, shares, cost_basis, acquired, lot_id, "
    "price, value (e.g. 'symbol=Ticker,shares=Qty').",
)
@click.option("--dry-run", is_flag=True, help="Print what would change; write nothing.")
@OUT_OPTION
@JSON_OPTION
@FORCE_OPTION
@handle_errors
def import_command(
    book: Path,
    files: tuple[Path, ...],
    broker: str | None,
    accounts: tuple[str, ...],
    mapping: str | None,
    dry_run: bool,
    out: Path | None,
    as_json: bool,
    force: bool,
) -> None:
    """Fill Accounts, Holdings, TaxLots and Transactions from broker downloads (positions,
    lots, realized gain/loss, history). Importing the same files again changes nothing."""
    from ..door import RunOptions
    from ..trading import import_files, parse_account_map

    report = import_files(
        book,
        list(files),
        broker=broker,
        accounts=parse_account_map(list(accounts)),
        mapping=mapping,
        options=RunOptions(out=out, dry_run=dry_run, force=force),
    )
    sync = report.sync
    if as_json:
        emit_json(
            {
                "ok": True,
                "command": "import",
                "workbook": str(book),
                "files": report.files,
                "dry_run": dry_run,
                "output": str(report.output) if report.output else None,
                "backup": str(report.backup) if report.backup else None,
                "accounts": sync.mapping,
                "changes": [c.__dict__ for c in sync.changes],
                "warnings": _problems_json(report.warnings),
            }
        )
        return
    console = _console()
    _print_problems([w for w in report.warnings if w.level != "info"], "Reconciliation")
    if not sync.changes:
        console.print("The workbook already matches the files: nothing changed.")
        return
    title = "Would change (dry run)" if dry_run else "Changed"
    console.print(_changes_table(sync.changes, title))
    if report.backup:
        console.print(f"Backup: {report.backup}")
    if report.output:
        console.print(f"Wrote {report.output}")


@main.command("export-orders")
@BOOK
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "ibkr", "fidelity", "schwab"]),
    default="csv",
    show_default=True,
    help="csv: generic, every account, with lot instructions; ibkr: TWS basket; fidelity: "
    "Wealthscape import, one file per account; schwab: trade orders and lot instructions. "
    "A broker's format holds only that broker's accounts (Accounts' Broker); ibkr and "
    "fidelity come with a lot checklist.",
)
@click.option(
    "--out",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the order files (default: the workbook's folder).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Write an exported proposal's files again (files lost before they were sent).",
)
@JSON_OPTION
@handle_errors
def export_orders_command(
    book: Path, fmt: str, folder: Path | None, force: bool, as_json: bool
) -> None:
    """Write the Trades sheet's proposal as the broker's order file(s); each names the
    proposal's checksum, which record-fills checks. The whole proposal exported marks it
    exported (Settings' proposal_status): it is not exported again."""
    from ..brokers.orders import CHECKLIST_HEADER
    from ..trading import export_orders

    report = export_orders(book, fmt, folder, force=force)
    if as_json:
        emit_json(
            {
                "ok": True,
                "command": "export-orders",
                "workbook": str(book),
                "format": fmt,
                "proposal": report.checksum,
                "files": [str(f) for f in report.files],
                "orders": [o.model_dump(mode="json") for o in report.orders],
                "lot_checklist": [
                    dict(zip(CHECKLIST_HEADER, r, strict=True)) for r in report.checklist
                ],
                "lot_checklist_file": str(report.checklist_file) if report.checklist_file else None,
                "proposal_status": "exported" if report.marked else None,
                "warnings": _problems_json(report.warnings),
            }
        )
        return
    console = _console()
    _print_problems(report.warnings, "Warnings")
    rows = [
        [o.account, o.action, o.symbol, f"{o.shares:g}", ", ".join(lot.lot_id for lot in o.lots)]
        for o in report.orders
    ]
    console.print(
        _table(
            f"Orders (proposal {report.checksum})",
            ["Account", "Action", "Symbol", "Shares", "Lots"],
            rows,
            {"Shares"},
        )
    )
    for path in report.files:
        console.print(f"Wrote {path}")
    if report.checklist:
        console.print(
            _table(
                f"Lots to name when you place the orders ({fmt} files cannot carry them; "
                "the broker would relieve its default lots)",
                CHECKLIST_HEADER,
                report.checklist,
                {"SellShares", "LotShares"},
            )
        )
        console.print(f"Wrote {report.checklist_file}")
    if report.marked:
        console.print(f"Proposal {report.checksum} is marked exported in Settings.")


@main.command("record-fills")
@click.argument("book", type=click.Path(exists=True, path_type=Path))
@click.argument(
    "fills", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--date",
    "day",
    callback=_date,
    help="Trade date of fills without one (default: today).",
)
@click.option("--dry-run", is_flag=True, help="Print what would be recorded; write nothing.")
@OUT_OPTION
@JSON_OPTION
@FORCE_OPTION
@handle_errors
def record_fills_command(
    book: Path,
    fills: Path | None,
    day: dt.date | None,
    dry_run: bool,
    out: Path | None,
    as_json: bool,
    force: bool,
) -> None:
    """Apply what was executed to TaxLots, Holdings, cash and Transactions: the Trades
    sheet's proposal as it stands, or FILLS (a CSV of executions, partial fills allowed,
    or the broker's history). A backup is kept; recording the same fills again changes
    nothing. BOOK a folder: FILLS, one custodian's file, is routed to every workbook in
    it by BrokerAccount (as batch --command record-fills --fills FILLS)."""
    from ..door import RunOptions
    from ..trading import record_fills

    if book.is_dir():
        if fills is None:
            raise click.UsageError("record-fills FOLDER needs the FILLS file to route")
        _desk_batch((str(book),), "record-fills", "auto", fills, day, None, None, dry_run, as_json)
        return

    report = record_fills(
        book, fills, day=day, options=RunOptions(out=out, dry_run=dry_run, force=force)
    )
    result = report.fills
    if as_json:
        emit_json(
            {
                "ok": True,
                "command": "record-fills",
                "workbook": str(book),
                "proposal": report.checksum,
                "dry_run": dry_run,
                "recorded": len(result.applied),
                "already_recorded": len(result.already),
                "changes": result.changes,
                "output": str(report.output) if report.output else None,
                "backup": str(report.backup) if report.backup else None,
                "warnings": _problems_json(report.warnings),
            }
        )
        return
    console = _console()
    _print_problems([w for w in report.warnings if w.level != "info"], "Warnings")
    if result.already:
        console.print(f"{len(result.already)} fill(s) were already recorded: left as they are.")
    if not result.applied:
        console.print("Nothing new to record.")
        return
    for line in result.changes:
        console.print(f"  {line}")
    if report.backup:
        console.print(f"Backup: {report.backup}")
    if report.output:
        console.print(f"Wrote {report.output}")


@main.command("approve")
@BOOK
@JSON_OPTION
@handle_errors
def approve_command(book: Path, as_json: bool) -> None:
    """Approve the Trades sheet's proposal as it stands (Settings' proposal_status and
    proposal_id): the firm's blotter (batch --command export-orders) sends only approved
    proposals, and a later run's new proposal needs its own approval."""
    from ..trading import approve

    before = approve(book)
    tag = before.checksum
    if as_json:
        emit_json(
            {
                "ok": True,
                "command": "approve",
                "workbook": str(book),
                "proposal": tag,
                "was": before.status,
            }
        )
        return
    again = " (it was already)" if before.status == "approved" else ""
    _console().print(f"Proposal {tag} approved{again}.")


@main.command("apply-actions")
@click.argument("book", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@OUT_OPTION
@click.option("--as-of", "as_of", callback=_date, help="Apply actions dated up to this day.")
@JSON_OPTION
@click.option("--dry-run", is_flag=True, help="Compute and print, write nothing.")
@RECALC_OPTION
@FORCE_OPTION
@handle_errors
def apply_actions_command(
    book: Path,
    out: Path | None,
    as_of: dt.date | None,
    as_json: bool,
    dry_run: bool,
    recalc: bool,
    force: bool,
) -> None:
    """Apply due corporate actions to TaxLots, Holdings and cash (a backup is kept)."""
    from ..app import apply_corporate_actions
    from ..door import RunOptions

    report = apply_corporate_actions(
        book, RunOptions(out=out, as_of=as_of, dry_run=dry_run, recalc=recalc, force=force)
    )
    result = report.actions
    if as_json:
        data = {
            "ok": True,
            "command": "apply-actions",
            "workbook": str(book),
            "output": str(report.output) if report.output else None,
            "backup": str(report.backup) if report.backup else None,
            "applied": result.applied,
            "changes": result.changes,
            "realized": [r.__dict__ for r in result.realized],
            "cash": result.cash,
            "warnings": _problems_json(report.warnings),
        }
        emit_json(data)
        return
    console = _console()
    _print_problems([w for w in report.warnings if w.level != "info"], "Warnings")
    if not result.applied:
        console.print("No pending corporate action is due: nothing changed.")
        return
    for line in result.changes:
        console.print(f"  {line}")
    if result.realized:
        rows = [
            [
                r.action_id,
                r.account,
                r.symbol,
                r.lot_id,
                f"{r.shares:g}",
                _money(r.proceeds),
                _money(r.basis),
                _money(r.gain),
                r.term,
            ]
            for r in result.realized
        ]
        console.print(
            _table(
                "Realized by the actions",
                [
                    "Action",
                    "Account",
                    "Symbol",
                    "Lot",
                    "Shares",
                    "Proceeds",
                    "Basis",
                    "Gain",
                    "Term",
                ],
                rows,
                {"Shares", "Proceeds", "Basis", "Gain"},
            )
        )
    if report.backup:
        console.print(f"Backup: {report.backup}")
    if report.output:
        console.print(f"Wrote {report.output}")
