"""The run commands: refresh-prices, drift, optimize, rebalance, harvest, realized, run
and recalc, each one app.run_engine on one workbook, printed by show.py.

Apart from the other commands because they are one shape: a workbook, the common
options, a run report.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import click

from .common import JSON_OPTION, OUT_OPTION, common_options, emit_json, handle_errors
from .group import main
from .show import show_report

# Commands that solve the trade program: in a worker process (isolation.py).
SOLVING = {"rebalance", "run"}


def _run(command: str, book: Path, **options: Any) -> None:
    from ..app import run_engine
    from ..door import RunOptions
    from ..isolation import isolated_solver

    as_json = options.pop("as_json")
    network = not options.pop("offline")
    solves = command in SOLVING
    with isolated_solver() if solves else contextlib.nullcontext():
        report = run_engine(book, command, RunOptions(network=network, **options))
    if as_json:
        emit_json(report.to_json())
        return
    show_report(report)


# Rows a terminal table shows. A 500-holding household's run has some 5,000 trade rows:
# rich took about 2.5 s to lay them out (a third of the whole command), and nobody reads


def _engine_command(name: str, doc: str) -> None:
    @main.command(name, help=doc)
    @click.argument("book", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @common_options
    @handle_errors
    def command(book: Path, **options: Any) -> None:
        _run(name, book, **options)


_engine_command("refresh-prices", "Fill the Prices sheet (and the local price cache).")
_engine_command(
    "drift",
    "Write Drift, Summary, Report and Log, with no trades (Trades is emptied, so an earlier "
    "proposal is not left beside a Summary of 0 trades); print the drift table.",
)
_engine_command(
    "optimize", "Set target weights by the strategy setting; write OptimizedTargets and Log."
)
_engine_command(
    "rebalance",
    "Write Drift, Trades, TaxHarvest, Realized, Summary, Log and the one-page Report.",
)
_engine_command("harvest", "Write TaxHarvest: lots worth harvesting and what blocks them.")
_engine_command(
    "realized",
    "Write Realized: the tax year's sales on Transactions in Form 8949's layout, with each "
    "Part's totals (rebalance and run add the proposed sales).",
)
_engine_command("run", "Refresh prices, then rebalance (the ribbon's main button).")


@main.command()
@click.argument("book", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@OUT_OPTION
@JSON_OPTION
@handle_errors
def recalc(book: Path, out: Path | None, as_json: bool) -> None:
    """Compute every formula (our worksheet functions, tables, dynamic arrays) and store
    the values in the file; cells that cannot be computed are listed in the Log sheet."""
    from ..app import run_engine
    from ..door import RunOptions

    report = run_engine(book, "recalc", RunOptions(out=out, recalc=True))
    if as_json:
        emit_json(report.to_json())
        return
    show_report(report)
