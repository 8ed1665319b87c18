"""The ribbon's macros: RunPython targets, one per button (see vba/XlRebalancer.bas).

Each runs the application function the command line runs, on the workbook that called
it (`xlwings.Book.caller()`), through the xlwings adapter. Whatever goes wrong ends as
a readable message box and rows in the Log sheet, never as a Python traceback popup.
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def refresh_prices(book: str | None = None) -> None:
    """Refresh Prices: the feed (or the cache) into the Prices sheet."""
    run("refresh-prices", book)


def validate(book: str | None = None) -> None:
    """Validate: check every input sheet; problems listed in the Log sheet."""
    run("validate", book)


def drift(book: str | None = None) -> None:
    """Drift: Drift, Summary and Log sheets."""
    run("drift", book)


def optimize(book: str | None = None) -> None:
    """Optimize: target weights by the Settings sheet's strategy (Optimized sheet)."""
    run("optimize", book)


def rebalance(book: str | None = None) -> None:
    """Rebalance: the whole-share, lot-level trade list."""
    run("rebalance", book)


def harvest(book: str | None = None) -> None:
    """Harvest: tax-loss harvest opportunities (TaxHarvest sheet)."""
    run("harvest", book)


def apply_corporate_actions(book: str | None = None) -> None:
    """Apply Corporate Actions: pending actions applied to lots, holdings and cash."""
    run("apply-actions", book)


def import_files(paths: list[str], book: str | None = None) -> None:
    """Import: the broker files picked in Excel's file dialog into the input sheets."""
    run("import", book, files=paths)


def export_orders(book: str | None = None) -> None:
    """Export Orders: the Trades sheet as Settings' order_format, beside the workbook."""
    run("export-orders", book)


def record_fills(path: str | None, book: str | None = None) -> None:
    """Record Fills: a fills file, or the proposal as it stands (path None)."""
    run("record-fills", book, fills=path)


def add_sheets(book: str | None = None) -> None:
    """Add Rebalancer sheets (the add-in's button): the input sheets, as `init --into`
    adds them, to the open workbook."""
    door = _door(book)
    added = door.add_input_sheets()
    if added:
        door.alert(
            f"Added {', '.join(added)}. Fill Accounts, Holdings and Targets (or Import your "
            "broker's downloads), then Rebalance.",
            title="xl-rebalancer",
        )
    else:
        door.alert("This workbook already has the Rebalancer sheets.", title="xl-rebalancer")


def run(command: str, book: Any = None, options: Any = None, **arguments: Any) -> Any:
    """Run `command` on `book` (default: the calling workbook); returns the report, or
    None when the run stopped with a message. `arguments` go to the round trip's
    commands (the files to import, a fills file)."""
    from ..door import RunOptions
    from ..workbook import schema as s

    door = _door(book)
    if door.missing_input_sheets() == len(s.INPUT_SHEETS):
        # A workbook of the user's, open beside the add-in, that has no sheets of ours.
        if door.ask(
            "This workbook has no Rebalancer sheets. Add them now (Accounts, Holdings, "
            "Targets, ...)?",
            title=f"xl-rebalancer: {command}",
        ):
            add_sheets(door)
        return None
    options = options or RunOptions()
    started = dt.datetime.now().replace(microsecond=0)
    try:
        report = _dispatch(command, door, options, arguments)
    except Exception as exc:  # every failure becomes a message, none a traceback
        _report_failure(door, command, exc, started)
        return None
    door.alert(_success_message(report), title=f"xl-rebalancer: {command}")
    return report


def _door(book: Any) -> Any:
    """The workbook a macro acts on: the one named (the add-in passes the active
    workbook's full name), an xlwings Book, or the workbook that called (the template's
    own buttons)."""
    from .adapter import XlwingsDoor

    if isinstance(book, XlwingsDoor):
        return book
    import xlwings as xw

    if book is None:
        book = xw.Book.caller()
    elif isinstance(book, str):
        book = _open_book(xw, book)
    return XlwingsDoor(book)


def _open_book(xw: Any, fullname: str) -> Any:
    """The open workbook of that full name. The calling workbook when it is the one
    (RunPython's caller; in the add-in that is the add-in itself, so xlwings finds the
    named workbook among those Excel has open)."""
    import contextlib
    import os

    def same(a: str, b: str) -> bool:
        return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))

    with contextlib.suppress(Exception):
        caller = xw.Book.caller()
        if same(caller.fullname, fullname):
            return caller
    return xw.Book(fullname)


def _dispatch(command: str, door: Any, options: Any, arguments: dict[str, Any]) -> Any:
    from pathlib import Path

    from .. import app, trading

    if command == "import":
        return trading.import_files(door, [Path(p) for p in arguments["files"]], options=options)
    if command == "export-orders":
        fmt = door.read(options).portfolio.settings.order_format
        return trading.export_orders(door, fmt)
    if command == "record-fills":
        fills = arguments.get("fills")
        return trading.record_fills(door, Path(fills) if fills else None, options=options)
    if command == "validate":
        return _validate(door, options)
    if command == "apply-actions":
        return app.apply_corporate_actions(door, options)
    if command in {"rebalance", "run"}:
        # As on the command line: the trade program in a worker process, so a crash in
        # the native solver is an alert and a Log row, not a Python that vanished.
        from ..isolation import isolated_solver

        with isolated_solver():
            return app.run_engine(door, command, options)
    return app.run_engine(door, command, options)


def _validate(door: Any, options: Any) -> Any:
    from ..door import RunReport
    from ..workbook.outputs import log_entries, log_sheet
    from ..workbook.writer import WorkbookEdit

    started = dt.datetime.now().replace(microsecond=0)
    book = door.read(options)
    report = RunReport("validate", door.path, None, None, list(book.warnings), {}, door.digest())
    p = book.portfolio
    note = (
        f"validate: no errors ({len(p.accounts)} accounts, {len(p.holdings)} holdings, "
        f"{len(p.lots)} lots, {len(p.targets)} targets)"
    )
    door.save(WorkbookEdit(sheets=[log_sheet(log_entries(report.warnings, started, [note]))]), None)
    report.output = door.path
    return report


def _problems(exc: Exception) -> list[Any]:
    from ..errors import InputError

    if isinstance(exc, InputError):
        return [*exc.problems, *exc.warnings]
    return list(getattr(exc, "problems", []))


def _report_failure(door: Any, command: str, exc: Exception, started: dt.datetime) -> None:
    from ..errors import Problem, XlRebalancerError
    from ..workbook.outputs import log_entries, log_sheet
    from ..workbook.writer import WorkbookEdit

    problems = _problems(exc)
    if isinstance(exc, XlRebalancerError):
        head = str(exc).splitlines()[0]
    else:  # a bug of ours: say so plainly, keep the details for the Log
        head = f"internal error ({type(exc).__name__}: {exc}); please report it"
    if not problems:
        problems = [Problem(head)]
    note = f"{command} stopped: {head}; nothing else in the workbook was changed"
    try:
        door.save(WorkbookEdit(sheets=[log_sheet(log_entries(problems, started, [note]))]), None)
        where = "\n\nEvery problem is listed in the Log sheet."
    except Exception:
        where = ""
    shown = "\n".join(f"• {p}" for p in problems[:8])
    more = f"\n… and {len(problems) - 8} more" if len(problems) > 8 else ""
    door.alert(f"{head}\n\n{shown}{more}{where}", title=f"xl-rebalancer: {command} stopped")


def _success_message(report: Any) -> str:
    if hasattr(report, "checksum") and hasattr(report, "orders"):  # export-orders
        names = "\n".join(f"• {p.name}" for p in report.files)
        return (
            f"{len(report.orders)} order(s) of proposal {report.checksum} written beside the "
            f"workbook:\n{names}"
        )
    lines = [f"{report.command}: done in {report.seconds:.1f} s."]
    sync = getattr(report, "sync", None)
    if sync is not None:
        lines.append(
            f"{len(sync.changes)} change(s) from {', '.join(report.files)} (listed in the Log sheet)."
            if sync.changes
            else "The workbook already matches the files: nothing changed."
        )
    fills = getattr(report, "fills", None)
    if fills is not None:
        lines.append(
            f"{len(fills.applied)} fill(s) recorded, {len(fills.already)} already recorded."
        )
    result = report.result
    if result is not None:
        trades = len(result.trades)
        lines.append(f"{trades} trade{'s' if trades != 1 else ''} (see the Trades sheet).")
        tax = result.summary_value("estimated_tax")
        if isinstance(tax, int | float):
            lines.append(f"Estimated tax: {tax:,.2f}.")
    if report.actions is not None:
        applied = report.actions.applied
        lines.append(f"Applied: {', '.join(applied)}." if applied else "No action was due.")
    warnings = [w for w in report.warnings if w.level == "warning"]
    if warnings:
        lines.append(f"{len(warnings)} warning(s) in the Log sheet.")
    return "\n".join(lines)
