"""The trading desk over a folder, for `batch --command approve|export-orders|record-fills`
and `record-fills FOLDER FILLS`: desk.py's work run and printed.

Not a command module: two commands (batch, record-fills) share it, and neither imports
the other.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click

from .common import _console, _styled, _table, emit_json

DESK_COMMANDS = ("approve", "export-orders", "record-fills")


def _desk_batch(
    paths: tuple[str, ...],
    command: str,
    fmt: str,
    fills_file: Path | None,
    day: dt.date | None,
    out_dir: Path | None,
    report: Path | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """The trading desk over a folder (desk.py): approve, the blotter, fills routed."""
    from ..batch_report import report_payload, write_reports
    from ..desk import approve_all, export_blotter, route_fills
    from ..door import RunOptions

    extra: dict[str, Any] = {}
    if command == "export-orders":
        if out_dir is None:
            raise click.UsageError("batch --command export-orders needs --out DIR for the files")
        blotter = export_blotter(paths, fmt, out_dir, dry_run=dry_run)
        result = blotter.result
        extra = {
            "blotter": blotter.tag,
            "files": {c: [str(f) for f in files] for c, files in blotter.files.items()},
            "allocation": str(blotter.allocation) if blotter.allocation else None,
            "lot_checklist": str(blotter.checklist) if blotter.checklist else None,
        }
    elif command == "record-fills":
        if fills_file is None:
            raise click.UsageError("batch --command record-fills needs --fills FILE")
        routing = route_fills(paths, fills_file, day=day, options=RunOptions(dry_run=dry_run))
        result = routing.result
        extra = {
            "fills_file": str(fills_file),
            "broker": routing.broker,
            "fills": routing.fills,
            "recorded": routing.recorded,
            "already_recorded": routing.already,
        }
    else:
        result = approve_all(paths)
    if report is None and not dry_run:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        report = (out_dir or Path.cwd()) / f"batch-report-{stamp}"
    saved = write_reports(result, report) if report is not None else None
    if as_json:
        emit_json(
            {
                "command": "batch",
                "desk": command,
                "report": [str(p) for p in saved] if saved else None,
                **extra,
                **report_payload(result),
            }
        )
    else:
        _show_desk(result, command, extra, saved)
    if result.failed:
        sys.exit(1)


def _show_desk(result: Any, command: str, extra: dict[str, Any], saved: Any) -> None:
    console = _console()
    colors = {"ok": "green", "skipped": "", "invalid": "yellow", "error": "red", "crashed": "red"}
    console.print(
        _table(
            command,
            ["Workbook", "Status", "Proposal", "Custodians", "Message"],
            [
                [
                    Path(r.workbook).name,
                    _styled((r.status, colors[r.status])),
                    (r.proposal or "")
                    + (f" (do not trade: {r.do_not_trade})" if r.do_not_trade else ""),
                    ", ".join(r.custodians),
                    r.message,
                ]
                for r in result.rows
            ],
            set(),
        )
    )
    for custodian, files in extra.get("files", {}).items():
        for f in files:
            console.print(f"{custodian}: {f}")
    for name in ("allocation", "lot_checklist"):
        if extra.get(name):
            console.print(f"{name.replace('_', ' ').capitalize()}: {extra[name]}")
    if command == "record-fills":
        console.print(
            f"{extra['fills']} fill(s) in {Path(extra['fills_file']).name} ({extra['broker']}): "
            f"{extra['recorded']} recorded, {extra['already_recorded']} already recorded"
        )
    if saved:
        console.print(f"Report: {saved[0]} and {saved[1]}")
