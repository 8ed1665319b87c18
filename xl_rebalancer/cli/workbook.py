"""The workbook's own commands: init (a new workbook, or the sheets added to yours),
build-template, validate and demo.

Commands about a workbook as a file, before and apart from any run; kept apart from the
run commands (runs.py) because none of them changes a household's numbers.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path

import click

from .common import (
    JSON_OPTION,
    _console,
    _date,
    _print_problems,
    _problems_json,
    _styled,
    emit_json,
    handle_errors,
)
from .group import main
from .show import _show_batch, show_report


@main.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--into",
    "into",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Add the input sheets to this workbook of yours instead (and, to a .xlsm, the "
    "Rebalancer tab and its macros), touching nothing else.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite an existing file (with --into: save even when the workbook seems open "
    "in Excel or is marked read-only).",
)
@click.option(
    "--model",
    "model",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The firm's model file (.xlsx or .csv, docs/model.md) this workbook follows: "
    "written into Settings model_file, relative to the workbook's folder.",
)
@JSON_OPTION
@handle_errors
def init(
    path: Path | None, into: Path | None, force: bool, model: Path | None, as_json: bool
) -> None:
    """Copy the template to a new workbook at PATH, or add the rebalancer's sheets to a
    workbook you already have (--into BOOK)."""
    from ..errors import WorkbookError

    if model is not None:
        from ..workbook.model_file import load_model

        load_model(model)  # refused before any file is made
    if into is not None:
        if path is not None:
            raise click.UsageError("give PATH (a new workbook) or --into BOOK, not both")
        _init_into(into, as_json and model is None, force)
        if model is not None:
            _init_model(into, model, as_json)
        return
    if path is None:
        raise click.UsageError("name the new workbook (PATH), or --into BOOK")
    if path.exists() and not force:
        raise WorkbookError(f"{path} exists; pass --force to overwrite it")
    if path.suffix.lower() != ".xlsm":
        raise WorkbookError(f"{path}: the template is macro-enabled; name it .xlsm")
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template_path(), path)
    if model is not None:
        try:
            _init_model(path, model, False, quiet=True)
        except BaseException:
            path.unlink(missing_ok=True)  # no half-made workbook is left behind
            raise
    if as_json:
        emit_json({"ok": True, "command": "init", "created": str(path), "warnings": []})
        return
    _console().print(f"Created {path}" + (f", following the model file {model}" if model else ""))


def _init_model(book: Path, model: Path, as_json: bool, quiet: bool = False) -> None:
    from ..trading import set_model_file
    from ..workbook.lock import workbook_lock

    with workbook_lock(book):
        value = set_model_file(book, model)
    if as_json:
        emit_json({"ok": True, "command": "init", "workbook": str(book), "model_file": value})
    elif not quiet:
        _console().print(f"Settings model_file of {book}: {value}")


def _init_into(book: Path, as_json: bool, force: bool = False) -> None:
    from ..workbook.attach import attach
    from ..workbook.lock import workbook_lock
    from ..workbook.safety import may_replace

    if not force and book.exists():  # open in Excel, or read-only: as every save checks
        may_replace(book, book)
    with workbook_lock(book):
        done = attach(book)
    if as_json:
        emit_json(
            {
                "ok": True,
                "command": "init",
                "workbook": str(done.path),
                "added": done.added,
                "present": done.present,
                "changed": bool(done.added),
                "warnings": done.notes,
            }
        )
        return
    console = _console()
    if not done.added:
        console.print(f"{book} already has the rebalancer's sheets; nothing was changed.")
        return
    console.print(f"Added to {done.path}: {', '.join(done.added)}.")
    if done.doors and not any("ribbon of its own" in note for note in done.notes):
        console.print("The Rebalancer tab and its macros are in the workbook too.")
    for note in done.notes:
        console.print(f"Note: {note}.")
    if not done.doors:
        console.print(
            "A .xlsx carries no macros: run the commands from the command line (or save the "
            "workbook as .xlsm and run init --into again for the Rebalancer tab)."
        )
    console.print(
        f"Next: fill Accounts, Holdings and Targets (or `xl-rebalancer import {book} "
        "DOWNLOADS...`), then `xl-rebalancer rebalance`."
    )


def template_path() -> Path:
    """The committed template: the wheel's copy (xl_rebalancer/_bundled), else the top of
    a source checkout; built afresh only when neither is there."""
    here = Path(__file__).resolve().parent.parent  # the package's folder
    for committed in (
        here / "_bundled" / "workbook_template.xlsm",
        here.parent / "workbook_template.xlsm",
    ):
        if committed.exists():
            return committed
    import tempfile

    from ..excel.template import build_workbook

    return build_workbook(Path(tempfile.mkdtemp()) / "workbook_template.xlsm")


@main.command("build-template")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@JSON_OPTION
@handle_errors
def build_template(path: Path | None, as_json: bool) -> None:
    """Rebuild workbook_template.xlsm from the sources (default: the repository's copy)."""
    from ..excel.template import TEMPLATE_NAME, build_workbook

    target = path or Path(__file__).resolve().parent.parent.parent / TEMPLATE_NAME
    written = build_workbook(target)
    if as_json:
        emit_json({"ok": True, "command": "build-template", "output": str(written), "warnings": []})
        return
    _console().print(f"Wrote {written}")


@main.command()
@click.argument("book", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as-of", "as_of", callback=_date, help="Valuation date.")
@click.option(
    "--prices",
    "prices_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The price file the run will use: symbols it prices need no Prices sheet row.",
)
@JSON_OPTION
@handle_errors
def validate(book: Path, as_of: dt.date | None, prices_file: Path | None, as_json: bool) -> None:
    """Check every input sheet; print errors and warnings with their cells."""
    from ..app import validate as run_validate
    from ..door import RunOptions

    result = run_validate(book, RunOptions(as_of=as_of, prices_file=prices_file))
    p = result.portfolio
    if as_json:
        emit_json(
            {
                "ok": True,
                "command": "validate",
                "workbook": str(book),
                "problems": [],
                "warnings": _problems_json(result.warnings),
                "counts": {
                    "accounts": len(p.accounts),
                    "holdings": len(p.holdings),
                    "lots": len(p.lots),
                    "targets": len(p.targets),
                },
            }
        )
        return
    _print_problems(result.warnings, "Warnings")
    _console().print(
        _styled(
            ("OK", "green"),
            f" {book}: {len(p.accounts)} accounts, {len(p.holdings)} "
            f"holdings, {len(p.lots)} lots, {len(p.targets)} targets; valuation date "
            f"{p.settings.valuation_date}",
        )
    )


@main.command()
@click.argument(
    "folder",
    required=False,
    default="xl-rebalancer-demo",
    type=click.Path(file_okay=False, path_type=Path),
)
@JSON_OPTION
@click.option(
    "--clients",
    type=click.IntRange(min=1),
    help="Instead: write this many generated client workbooks and batch-rebalance them.",
)
@handle_errors
def demo(folder: Path, as_json: bool, clients: int | None) -> None:
    """Write a realistic sample household and its offline prices to FOLDER, and run it
    (prices from the file, rebalance, every formula recalculated)."""
    from ..app import run_engine
    from ..demo import write_demo
    from ..door import RunOptions

    if clients:
        from ..batch import BatchOptions, run_batch
        from ..batch_report import report_payload
        from ..demo import write_clients

        books, price_file = write_clients(folder, clients)
        result = run_batch(
            books, BatchOptions("rebalance", RunOptions(prices_file=price_file, network=False))
        )
        if as_json:
            emit_json({"command": "demo", **report_payload(result)})
        else:
            _console().print(f"{len(books)} client workbooks written to {folder}")
            _show_batch(result, None)
        if result.failed:
            sys.exit(1)
        return

    from ..isolation import isolated_solver

    book, prices = write_demo(folder)
    # The ribbon's main button (prices from the file, then rebalance), with --recalc: the
    # Dashboard's formulas, our functions among them, are computed too, so the demo opens
    # with its numbers in any spreadsheet program.
    with isolated_solver():
        report = run_engine(book, "run", RunOptions(prices_file=prices, recalc=True))
    if as_json:
        emit_json({**report.to_json(), "command": "demo", "prices_file": str(prices)})
        return
    _console().print(f"Demo household written to {book} (prices: {prices})")
    show_report(report)


@main.command("set")
@click.argument("book", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("values", nargs=-1, required=True, metavar="NAME=VALUE...")
@click.option(
    "--force",
    is_flag=True,
    help="Save even when the workbook seems open in Excel or is marked read-only.",
)
@JSON_OPTION
@handle_errors
def set_command(book: Path, values: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Change settings without Excel: `set BOOK strategy=risk_parity band_abs=3%`. Each
    value is checked by the Settings sheet's rules first; `NAME=` clears it (default)."""
    from ..errors import InputError, Problem
    from ..workbook.lock import workbook_lock
    from ..workbook.safety import may_replace
    from ..workbook.settings_edit import set_settings

    pairs: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError([Problem(f"{item!r} is not NAME=VALUE", "Settings")])
        pairs[name] = value
    if not force:
        may_replace(book, book)
    with workbook_lock(book):
        written = set_settings(book, pairs)
    if as_json:
        shown = {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in written.items()}
        emit_json({"ok": True, "command": "set", "workbook": str(book), "settings": shown})
        return
    for name, value in written.items():
        _console().print(f"Settings {name} of {book}: {'(default)' if value is None else value}")
