"""`xl-rebalancer batch PATHS...`: many workbooks at once (batch.py), or the trading
desk over a folder (desk.py) with --command approve, export-orders or record-fills.

A module of its own for the one command with a progress bar, a line per workbook in a
log, and the review's files.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import XlRebalancerError
from .common import (
    JSON_OPTION,
    RECALC_OPTION,
    F,
    _apply,
    _console,
    _date,
    _price_options,
    emit_json,
    handle_errors,
)
from .desk import DESK_COMMANDS, _desk_batch
from .group import main
from .show import _show_batch


def _batch_line(row: Any, finished: int, total: int) -> str:
    """One finished workbook, for a log: its place, outcome and what it came to."""
    name = Path(row.workbook).name
    head = f"[{finished}/{total}] {row.status} {name} ({row.seconds:.1f} s)"
    if not row.ok:
        return f"{head}: {row.message}"
    figures = []
    if row.trades is not None:
        figures.append(f"{row.trades} trade{'s' if row.trades != 1 else ''}")
    if isinstance(row.estimated_tax, int | float):
        figures.append(f"estimated tax {row.estimated_tax:,.2f}")
    return f"{head}: {', '.join(figures)}" if figures else head


def batch_options(func: F) -> F:
    return _apply(func, _price_options())


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--command",
    "command",
    type=click.Choice(
        [
            "run",
            "rebalance",
            "drift",
            "harvest",
            "realized",
            "optimize",
            "refresh-prices",
            "validate",
            "recalc",
            "approve",
            "export-orders",
            "record-fills",
        ]
    ),
    default="run",
    show_default=True,
    help="What to do to each workbook. The trading desk: approve (each proposal as it "
    "stands), export-orders (one order file per custodian for every approved client, "
    "--format), record-fills (one custodian's --fills file routed to its workbooks).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "csv", "ibkr", "fidelity", "schwab"]),
    default="auto",
    show_default=True,
    help="export-orders: auto writes each custodian (Accounts' Broker) in its own format; a "
    "broker's format only its clients; csv one generic file for all.",
)
@click.option(
    "--fills",
    "fills_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="record-fills: the custodian's file of executions (the fills layout, Fidelity "
    "Accounts_History, Schwab transactions, IBKR Flex Trades).",
)
@click.option(
    "--date", "day", callback=_date, help="record-fills: trade date of fills without one."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write results under this folder (keeping the inputs' folders); inputs untouched.",
)
@click.option(
    "--workers", type=click.IntRange(min=1), help="Worker processes (default: all cores)."
)
@click.option(
    "--scheduler",
    help="Run on a Dask cluster at this address (tcp://host:8786) instead of local processes.",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the table as REPORT.csv and REPORT.json (default: batch-report-<time> in --out "
    "or here).",
)
@click.option(
    "--pdf",
    is_flag=True,
    help="Also print each client's Report page to NAME.proposal.pdf beside its saved "
    "workbook (needs LibreOffice).",
)
@batch_options
@click.option("--as-of", "as_of", callback=_date, help="Valuation date for every workbook.")
@click.option("--dry-run", is_flag=True, help="Compute everything, save no workbook.")
@RECALC_OPTION
@JSON_OPTION
@handle_errors
def batch(
    paths: tuple[str, ...],
    command: str,
    fmt: str,
    fills_file: Path | None,
    day: dt.date | None,
    out_dir: Path | None,
    workers: int | None,
    scheduler: str | None,
    report: Path | None,
    pdf: bool,
    prices_file: Path | None,
    as_of: dt.date | None,
    dry_run: bool,
    recalc: bool,
    cache: Path | None,
    offline: bool,
    as_json: bool,
) -> None:
    """Run many workbooks (files, folders, globs) in parallel; one failing never stops the
    others. Exit code 1 when any workbook failed."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from ..batch import PAGE_COMMANDS, BatchOptions, run_batch
    from ..batch_report import report_payload, write_reports
    from ..door import RunOptions

    if pdf:
        from ..report.pdf import NO_LIBREOFFICE, soffice

        if command not in PAGE_COMMANDS:
            raise XlRebalancerError(
                f"--pdf prints the Report page, which --command {command} does not write; "
                f"use it with {', '.join(sorted(PAGE_COMMANDS))}"
            )
        if soffice() is None:
            raise XlRebalancerError(NO_LIBREOFFICE + "; nothing was run")
    if command in DESK_COMMANDS:
        _desk_batch(paths, command, fmt, fills_file, day, out_dir, report, dry_run, as_json)
        return
    options = BatchOptions(
        command=command,
        run=RunOptions(
            as_of=as_of,
            prices_file=prices_file,
            dry_run=dry_run,
            cache=cache,
            network=not offline,
            recalc=recalc,
        ),
        out_dir=out_dir,
        workers=workers,
        scheduler=scheduler,
        pdf=pdf,
    )
    console = _console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=as_json or not console.is_terminal,
    ) as progress:
        task = progress.add_task(command, total=None, failed=0)
        failed = finished = 0
        count = 0
        # Off a terminal (cron, a CI log) the bar is not drawn: a line per workbook as it
        # finishes says the night's batch is alive, and which client failed, at once.
        lines = not as_json and not console.is_terminal

        def started(total: int) -> None:
            nonlocal count
            count = total
            progress.update(task, total=total)

        def done(row: Any) -> None:
            nonlocal failed, finished
            failed += 0 if row.ok else 1
            finished += 1
            progress.update(task, advance=1, failed=failed)
            if lines:
                console.print(_batch_line(row, finished, count), soft_wrap=True)

        result = run_batch(paths, options, on_start=started, on_done=done)
    if report is None and not (dry_run and out_dir is None):
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        report = (out_dir or Path.cwd()) / f"batch-report-{stamp}"
    saved = write_reports(result, report) if report is not None else None
    if as_json:
        emit_json(
            {
                "command": "batch",
                "report": [str(p) for p in saved] if saved else None,
                **report_payload(result),
            }
        )
    else:
        _show_batch(result, saved)
    if result.failed:
        sys.exit(1)
