"""`xl-rebalancer journal [BOOK]`: the run journal (journal.py) as a table or JSON.

Its own module: it reads the journal, never a workbook.
"""

from __future__ import annotations

from pathlib import Path

import click

from .common import JSON_OPTION, _console, emit_json, handle_errors
from .group import main


@main.command()
@click.argument("book", required=False, type=click.Path(path_type=Path))
@click.option("--last", "count", type=int, default=20, show_default=True, help="How many runs.")
@JSON_OPTION
@handle_errors
def journal(book: Path | None, count: int, as_json: bool) -> None:
    """The run journal: what each run read, used and wrote (of BOOK, or of every workbook)."""
    from rich.table import Table

    from ..journal import entries, journal_path

    wanted = str(book.resolve()) if book else None
    rows = [e for e in entries() if wanted is None or e.get("workbook") == wanted][-count:]
    if as_json:
        emit_json(
            {
                "ok": True,
                "command": "journal",
                "journal": str(journal_path()),
                "entries": rows,
                "warnings": [],
            }
        )
        return
    table = Table(title=f"Run journal ({journal_path()})", title_justify="left")
    for header in ("Time", "Command", "Workbook", "Status", "Inputs", "Trades", "Tax / message"):
        table.add_column(header, overflow="fold")
    for e in rows:
        detail = e.get("message") if e.get("status") == "error" else e.get("estimated_tax")
        table.add_row(
            e.get("time", ""),
            e.get("command", ""),
            Path(e.get("workbook", "")).name,
            e.get("status", ""),
            e.get("inputs_sha256", ""),
            f"{e['trade_count']} ({e['trades_sha256']})" if "trade_count" in e else "",
            "" if detail is None else str(detail),
        )
    _console().print(table)
