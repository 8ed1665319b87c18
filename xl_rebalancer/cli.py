"""The headless door: `xl-rebalancer COMMAND WORKBOOK [options]`.

Exit codes: 0 success, 1 invalid input or a failed run (errors printed with their
cells), 2 usage errors (click's own). Tracebacks only with --debug.

With `--json` every command prints exactly one JSON document on standard output, on
success and on failure alike (`"ok"` says which), and nothing else: a script can pipe
it to `jq` or `json.loads` whatever happened. Libraries' own output is silenced unless
`--verbose` (quiet.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .errors import InputError, Problem, XlRebalancerError

F = TypeVar("F", bound=Callable[..., Any])


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # rich assumes 80 columns off a terminal; a log gets 140, or a wider COLUMNS.
    columns = os.environ.get("COLUMNS", "")
    width = None if stream.isatty() else max(140, int(columns) if columns.isdigit() else 0)
    # markup=False: account names, lot ids, paths and messages are the user's text, and
    # text such as "[/bold]" must print as itself, not end in rich's MarkupError. Our own
    # colours are styled Text (_styled), never markup.
    return Console(stderr=stderr, highlight=False, markup=False, width=width)


def _styled(*parts: str | tuple[str, str]) -> Any:
    """A line of plain text with some parts coloured: ("3 failed", "red")."""
    from rich.text import Text

    return Text.assemble(*parts)


MAX_SHOWN = 50


def _print_problems(problems: list[Problem], title: str) -> None:
    if not problems:
        return
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("Level")
    table.add_column("Where")
    table.add_column("Problem", overflow="fold")
    colors = {"error": "red", "warning": "yellow", "info": "cyan"}
    for p in problems[:MAX_SHOWN]:
        table.add_row(_styled((p.level, colors[p.level])), p.where, p.message)
    if len(problems) > MAX_SHOWN:
        # 100,000 lots can raise tens of thousands of wash-sale notes: a terminal is no
        # place for them, the Log sheet and --json keep every one.
        table.add_row("", "", f"... and {len(problems) - MAX_SHOWN:,} more; --json lists them all")
    _console(stderr=True).print(table)


def emit_json(data: dict[str, Any]) -> None:
    """The one JSON document a command prints with --json."""
    click.echo(json.dumps(data, indent=2, default=str))


def failure_json(
    command: str | None, message: str, exit_code: int, problems: Sequence[Problem] = ()
) -> dict[str, Any]:
    """What --json prints when a command fails: the same shape for every command."""
    return {
        "ok": False,
        "command": command,
        "error": message,
        "exit_code": exit_code,
        "problems": _problems_json([p for p in problems if p.level == "error"]),
        "warnings": _problems_json([p for p in problems if p.level != "error"]),
    }


def handle_errors(func: F) -> F:
    """Turn every project error into a message and exit code 1; no traceback unless --debug.
    With --json the message is a JSON document on standard output instead."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        debug = ctx.find_root().params.get("debug", False)
        as_json = bool(kwargs.get("as_json"))
        try:
            return func(*args, **kwargs)
        except XlRebalancerError as exc:
            if debug:
                raise
            problems = list(getattr(exc, "problems", []))
            if as_json:
                if isinstance(exc, InputError):
                    problems = exc.problems + exc.warnings
                    message = f"{len(exc.problems)} error(s) in the workbook; nothing was written"
                else:
                    message = str(exc)
                emit_json(failure_json(ctx.info_name, message, exc.exit_code, problems))
            elif isinstance(exc, InputError):
                _print_problems(exc.problems + exc.warnings, "Problems in the workbook")
                _console(stderr=True).print(
                    _styled((f"{len(exc.problems)} error(s); nothing was written.", "red"))
                )
            else:
                _print_problems(problems, "Details")
                _console(stderr=True).print(_styled(("error: ", "red"), str(exc)))
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            sys.exit(130)
        except Exception as exc:
            # A bug of ours: with --json the script still gets its document (the
            # traceback goes to standard error with --debug).
            if debug or not as_json:
                raise
            emit_json(failure_json(ctx.info_name, f"internal error: {exc!r}", 1))
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    from .models.types import MAX_DATE, MIN_DATE

    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2024-03-15") from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise click.BadParameter(f"{value} is outside {MIN_DATE} to {MAX_DATE}")
    return day


def _price_options() -> list[Callable[[F], F]]:
    """Where prices come from: the same for one workbook and for a batch."""
    return [
        click.option(
            "--prices",
            "prices_file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Offline price history: CSV or Parquet with date, symbol, close.",
        ),
        click.option(
            "--cache",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Price cache file (default: the user cache folder, or $XL_REBALANCER_CACHE).",
        ),
        click.option(
            "--offline", is_flag=True, help="Never use the network: cache, files and sheet only."
        ),
    ]


def _apply(func: F, decorators: list[Callable[[F], F]]) -> F:
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


OUT_OPTION = click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the result to this file and leave the input untouched.",
)
JSON_OPTION = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document on standard output (success or failure) and nothing else.",
)
RECALC_OPTION = click.option(
    "--recalc",
    is_flag=True,
    help="Also compute every formula (our functions included) and store the values, so "
    "the saved workbook shows current numbers without Excel's own recalculation.",
)


FORCE_OPTION = click.option(
    "--force",
    is_flag=True,
    help="Save even when the workbook seems open in Excel (a ~$ lock file beside it) or is "
    "marked read-only.",
)


def common_options(func: F) -> F:
    return _apply(
        func,
        [
            OUT_OPTION,
            *_price_options(),
            click.option(
                "--as-of",
                "as_of",
                callback=_date,
                help="Valuation date (overrides Settings.valuation_date).",
            ),
            JSON_OPTION,
            click.option("--dry-run", is_flag=True, help="Compute and print, write nothing."),
            RECALC_OPTION,
            FORCE_OPTION,
        ],
    )


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


class JsonAwareGroup(click.Group):
    """click's own usage errors (exit code 2) answer in JSON too when --json was given."""

    def main(  # type: ignore[override]
        self, args: list[str] | None = None, *pargs: Any, standalone_mode: bool = True, **kw: Any
    ) -> Any:
        if not standalone_mode:
            return super().main(args, *pargs, standalone_mode=False, **kw)
        argv = list(sys.argv[1:] if args is None else args)
        try:
            code = super().main(argv, *pargs, standalone_mode=False, **kw)
        except click.ClickException as exc:
            if "--json" in argv:
                name = next((a for a in argv if a in self.commands), None)
                emit_json(failure_json(name, exc.format_message(), exc.exit_code))
            else:
                exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=JsonAwareGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xl-rebalancer")
@click.option("--debug", is_flag=True, help="Show tracebacks (and the libraries' own output).")
@click.option(
    "--verbose",
    is_flag=True,
    help="Let the libraries' own output through to standard error (solver log, "
    "yfinance, warnings).",
)
def main(debug: bool, verbose: bool) -> None:
    """Tax-aware rebalancing of Excel portfolio workbooks, without Excel."""
    from .quiet import set_verbose

    set_verbose(verbose or debug)


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
    from .errors import WorkbookError

    if model is not None:
        from .workbook.model_file import load_model

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
    from .trading import set_model_file
    from .workbook.lock import workbook_lock

    with workbook_lock(book):
        value = set_model_file(book, model)
    if as_json:
        emit_json({"ok": True, "command": "init", "workbook": str(book), "model_file": value})
    elif not quiet:
        _console().print(f"Settings model_file of {book}: {value}")


def _init_into(book: Path, as_json: bool, force: bool = False) -> None:
    from .workbook.attach import attach
    from .workbook.lock import workbook_lock
    from .workbook.safety import may_replace

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
    here = Path(__file__).resolve().parent
    for committed in (
        here / "_bundled" / "workbook_template.xlsm",
        here.parent / "workbook_template.xlsm",
    ):
        if committed.exists():
            return committed
    import tempfile

    from .excel.template import build_workbook

    return build_workbook(Path(tempfile.mkdtemp()) / "workbook_template.xlsm")


@main.command("build-template")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@JSON_OPTION
@handle_errors
def build_template(path: Path | None, as_json: bool) -> None:
    """Rebuild workbook_template.xlsm from the sources (default: the repository's copy)."""
    from .excel.template import TEMPLATE_NAME, build_workbook

    target = path or Path(__file__).resolve().parent.parent / TEMPLATE_NAME
    written = build_workbook(target)
    if as_json:
        emit_json({"ok": True, "command": "build-template", "output": str(written), "warnings": []})
        return
    _console().print(f"Wrote {written}")


@main.group()
def addin() -> None:
    """The Excel add-in: the Rebalancer tab in every workbook, installed once."""


def _addin_folder(folder: Path | None) -> Path:
    from .errors import WorkbookError
    from .excel.addin import startup_folder

    if folder is not None:
        return folder
    found = startup_folder()
    if found is None:
        raise WorkbookError(
            "Excel is not installed on this machine (no start-up folder for add-ins was "
            "found); to write the add-in somewhere else, give --dir FOLDER"
        )
    return found


ADDIN_DIR = click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder the add-in is in (default: Excel's start-up folder).",
)


@addin.command("install")
@ADDIN_DIR
@click.option("--force", is_flag=True, help="Replace an add-in there even if it is newer.")
@click.option(
    "--conda",
    metavar="PATH=ENV",
    help="Run a conda environment instead of this Python (its installation and name).",
)
@JSON_OPTION
@handle_errors
def addin_install(folder: Path | None, force: bool, conda: str | None, as_json: bool) -> None:
    """Build xl_rebalancer.xlam into Excel's start-up folder, set to run this Python; an
    older add-in there is replaced, a newer one kept."""
    from .excel.addin import install

    env = None
    if conda:
        where, _, name = conda.partition("=")
        if not where or not name:
            raise click.UsageError("--conda takes PATH=ENV, e.g. C:\\Users\\you\\miniconda3=base")
        env = (where, name)
    runs = None if env else sys.executable
    state = install(_addin_folder(folder), force=force, interpreter=runs, conda=env)
    if as_json:
        emit_json(
            {
                "ok": True,
                "command": "addin install",
                "path": str(state.path),
                "action": state.action,
                "installed": state.installed,
                "version": state.current,
                "interpreter": runs,
                "conda": list(env) if env else None,
                "warnings": [],
            }
        )
        return
    console = _console()
    if state.action == "kept":
        newer = state.installed != state.current
        console.print(
            f"{state.path} is version {state.installed}"
            + (
                f", newer than this one ({state.current}): kept (--force replaces it)."
                if newer
                else ", with these settings already: nothing changed."
            )
        )
    else:
        console.print(f"{state.action.capitalize()} {state.path} (version {state.current}).")
    if state.action != "kept":
        runs_what = f"conda environment {env[1]}" if env else f"this Python, {runs}"
        console.print(f"The add-in's macros and worksheet functions run {runs_what}.")
    console.print(
        "Restart Excel: the Rebalancer tab is in every workbook. Open yours, click Add "
        "Rebalancer sheets, Import, Rebalance."
    )


@addin.command("uninstall")
@ADDIN_DIR
@JSON_OPTION
@handle_errors
def addin_uninstall(folder: Path | None, as_json: bool) -> None:
    """Remove xl_rebalancer.xlam from Excel's start-up folder."""
    from .excel.addin import uninstall

    state = uninstall(_addin_folder(folder))
    if as_json:
        emit_json(
            {
                "ok": True,
                "command": "addin uninstall",
                "path": str(state.path),
                "action": state.action,
                "warnings": [],
            }
        )
        return
    if state.action == "removed":
        _console().print(f"Removed {state.path} (version {state.installed}).")
    else:
        _console().print(f"No add-in at {state.path}: nothing to remove.")


@addin.command("status")
@ADDIN_DIR
@JSON_OPTION
@handle_errors
def addin_status(folder: Path | None, as_json: bool) -> None:
    """Which add-in is installed, against this package's version."""
    from .excel.addin import addin_settings, status

    state = status(_addin_folder(folder))
    settings = addin_settings(state.path) if state.action == "present" else {}
    runs = {k: v for k, v in settings.items() if k.lower().startswith(("interpreter", "conda"))}
    if as_json:
        emit_json(
            {
                "ok": True,
                "command": "addin status",
                "path": str(state.path),
                "installed": state.installed,
                "version": state.current,
                "settings": runs,
                "warnings": [],
            }
        )
        return
    if state.installed is None and state.action == "absent":
        _console().print(f"Not installed ({state.path}); this package is {state.current}.")
    else:
        _console().print(
            f"Installed: {state.path}, version {state.installed or 'unknown'}; this package "
            f"is {state.current}."
        )
        if runs:
            _console().print("It runs: " + "; ".join(f"{k} = {v}" for k, v in runs.items()))


@addin.command("build")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@JSON_OPTION
@handle_errors
def addin_build(path: Path, as_json: bool) -> None:
    """Write the add-in to PATH (an .xlam) without installing it."""
    from .errors import WorkbookError
    from .excel.addin import build_addin

    if path.suffix.lower() != ".xlam":
        raise WorkbookError(f"{path}: an add-in's name ends in .xlam")
    written = build_addin(path)
    if as_json:
        emit_json({"ok": True, "command": "addin build", "output": str(written), "warnings": []})
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
    from .app import RunOptions
    from .app import validate as run_validate

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


def _problems_json(problems: Sequence[Problem]) -> list[dict[str, Any]]:
    return [p.to_json() for p in problems]


# Commands that solve the trade program: in a worker process (isolation.py).
SOLVING = {"rebalance", "run"}


def _run(command: str, book: Path, **options: Any) -> None:
    from .app import RunOptions, run_engine
    from .isolation import isolated_solver

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
# them there; the sheet and --json carry every row.
TERMINAL_ROWS = 50


def _table(
    title: str,
    headers: list[str],
    rows: list[list[str]],
    right: set[str],
    *,
    sheet: str | None = None,
) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    shown = rows if sheet is None else rows[:TERMINAL_ROWS]
    table = Table(title=title, title_justify="left")
    for header in headers:
        table.add_column(header, justify="right" if header in right else "left")
    for row in shown:
        table.add_row(*row)
    if len(shown) == len(rows):
        return table
    note = f"The first {len(shown):,} of {len(rows):,} rows; all are on the {sheet} sheet"
    return Group(table, Text(note + " and in --json."))


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def show_report(report: Any) -> None:
    """Print what a run did: prices, harvest candidates or trades, then the summary."""
    console = _console()
    result = report.result
    _print_problems([w for w in report.warnings if w.level != "info"], "Warnings")
    if report.command == "refresh-prices":
        console.print(
            _table(
                "Prices",
                ["Symbol", "Price", "As of", "Source"],
                [
                    [q.symbol, f"{q.price:,.4f}", str(q.as_of or ""), q.source]
                    for q in report.quotes.values()
                ],
                {"Price"},
            )
        )
    if report.optimized is not None:
        opt = report.optimized
        a = opt.allocation
        invested = 1.0 - opt.cash_weight
        rows = [
            [sym, f"{w * invested:.2%}", f"{mu:.2%}", f"{vol:.2%}", f"{rc:.2%}"]
            for sym, w, mu, vol, rc in zip(
                opt.symbols,
                a.weights,
                a.expected_returns,
                a.volatilities,
                a.risk_contributions,
                strict=True,
            )
        ]
        if opt.cash_weight:
            rows.append(["CASH", f"{opt.cash_weight:.2%}", "", "", ""])
        rows.append(
            [
                "Portfolio",
                "100.00%",
                f"{a.portfolio_return:.2%}",
                f"{a.portfolio_volatility:.2%}",
                f"Sharpe {a.sharpe:.3f}",
            ]
        )
        console.print(
            _table(
                "Optimized targets",
                ["Symbol", "Weight", "Exp. return", "Volatility", "Risk share"],
                rows,
                {"Weight", "Exp. return", "Volatility", "Risk share"},
            )
        )
    if result is not None and report.command == "harvest":
        if result.harvest:
            console.print(
                _table(
                    "Tax-loss harvest candidates",
                    [
                        "Account",
                        "Symbol",
                        "Lot",
                        "Shares",
                        "Loss",
                        "Term",
                        "Substitute",
                        "Wash sale",
                        "Est. saving",
                    ],
                    [
                        [
                            h.account,
                            h.symbol,
                            h.lot_id,
                            f"{h.shares:,.6g}",
                            _money(h.unrealized_loss),
                            h.term,
                            h.substitute or "",
                            h.wash_sale,
                            _money(h.est_tax_saving),
                        ]
                        for h in result.harvest
                    ],
                    {"Shares", "Loss", "Est. saving"},
                    sheet="TaxHarvest",
                )
            )
        else:
            console.print("No lot passes tlh_min_loss and tlh_min_loss_pct.")
    elif result is not None and report.command == "realized":
        console.print(
            _table(
                "Realized this tax year (Form 8949)",
                ["Part", "Description", "Sold", "Proceeds", "Basis", "Code", "Adj.", "Gain"],
                [
                    [
                        r.part,
                        r.description,
                        r.date_sold.isoformat() if r.date_sold else "",
                        _money(r.proceeds),
                        _money(r.cost_basis),
                        r.code or "",
                        _money(r.adjustment),
                        _money(r.gain_loss),
                    ]
                    for r in result.realized
                ],
                {"Proceeds", "Basis", "Adj.", "Gain"},
                sheet="Realized",
            )
            if result.realized
            else "No sales on Transactions in this tax year."
        )
    elif result is not None:
        if report.command == "drift":
            console.print(_drift_table(result))
        if report.command != "drift" and result.trades:
            console.print(
                _table(
                    "Trades",
                    [
                        "Account",
                        "Symbol",
                        "Action",
                        "Shares",
                        "Value",
                        "Lot",
                        "Gain",
                        "Term",
                        "Est. tax",
                    ],
                    [
                        [
                            t.account,
                            t.symbol,
                            t.action,
                            f"{t.shares:,.6g}",
                            _money(t.value),
                            t.lot_id or "",
                            _money(t.realized_gain),
                            t.term or "",
                            _money(t.est_tax),
                        ]
                        for t in result.trades
                    ],
                    {"Shares", "Value", "Gain", "Est. tax"},
                    sheet="Trades",
                )
            )
        rows = []
        for item in result.summary:
            value = item.value
            if isinstance(value, float):
                percent = any(k in item.key.lower() for k in ("drift", "turnover", "tracking"))
                text = f"{value:.2%}" if percent else f"{value:,.2f}"
            else:
                text = str(value)
            rows.append([item.key, text])
        console.print(_table("Summary", ["Item", "Value"], rows, {"Value"}))
    if report.recalculated is not None:
        r = report.recalculated
        left = len(r.uncomputed)
        console.print(
            f"Recalculated {r.formulas - left} of {r.formulas} formula cells"
            + (f"; {left} left for Excel (see Warnings and the Log sheet)" if left else "")
        )
    if report.output:
        console.print(f"Wrote {report.output}")


def _drift_table(result: Any) -> Any:
    """Each line against its target and band, out-of-band lines marked."""
    return _table(
        "Drift",
        ["Line", "Value", "Weight", "Target", "Drift", "Band", "Out of band"],
        [
            [
                r.asset_class or r.symbol or "CASH",
                _money(r.value),
                f"{r.weight:.2%}",
                f"{r.target_weight:.2%}",
                f"{r.drift:+.2%}",
                f"{r.band:.2%}",
                "OUT" if r.out_of_band else "",
            ]
            for r in result.drift
        ],
        {"Value", "Weight", "Target", "Drift", "Band"},
    )


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
    from .app import RunOptions, apply_corporate_actions

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


@main.command()
@click.argument("book", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@OUT_OPTION
@JSON_OPTION
@handle_errors
def recalc(book: Path, out: Path | None, as_json: bool) -> None:
    """Compute every formula (our worksheet functions, tables, dynamic arrays) and store
    the values in the file; cells that cannot be computed are listed in the Log sheet."""
    from .app import RunOptions, run_engine

    report = run_engine(book, "recalc", RunOptions(out=out, recalc=True))
    if as_json:
        emit_json(report.to_json())
        return
    show_report(report)


@main.command()
@click.argument("book", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--pdf",
    "pdf",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the workbook's Report page to this PDF file.",
)
@JSON_OPTION
@handle_errors
def report(book: Path, pdf: Path, as_json: bool) -> None:
    """Print the Report page of a rebalanced workbook to a PDF for the client (needs
    LibreOffice); the workbook is only read."""
    from .report.pdf import workbook_report_pdf

    if pdf.suffix.lower() != ".pdf":
        raise XlRebalancerError(f"{pdf}: give --pdf a file name ending in .pdf")
    written = workbook_report_pdf(book, pdf)
    if as_json:
        emit_json({"ok": True, "command": "report", "output": str(written), "warnings": []})
        return
    _console().print(f"Wrote {written}")


TABLE_LIMIT = 200  # rows printed in full; beyond, failures only (all are in the CSV)


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

    from .app import RunOptions
    from .batch import PAGE_COMMANDS, BatchOptions, report_payload, run_batch, write_reports

    if pdf:
        from .report.pdf import NO_LIBREOFFICE, soffice

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
    from .app import RunOptions
    from .batch import report_payload, write_reports
    from .desk import approve_all, export_blotter, route_fills

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


def _show_batch(result: Any, saved: Sequence[Path] | None) -> None:
    console = _console()
    _print_problems(result.warnings, "Price feed")
    rows = result.rows if len(result.rows) <= TABLE_LIMIT else result.failed
    # Names below the inputs' common folder keep the table narrow; the CSV has full paths.
    try:
        root = os.path.commonpath([os.path.dirname(os.path.abspath(r.workbook)) for r in rows])
    except ValueError:  # different drives
        root = ""

    def name(row: Any) -> str:
        return os.path.relpath(os.path.abspath(row.workbook), root) if root else row.workbook

    colors = {"ok": "green", "skipped": "", "invalid": "yellow", "error": "red", "crashed": "red"}
    table = _table(
        "Batch" if rows is result.rows else f"Batch: the {len(rows)} failed of {len(result.rows)}",
        ["Workbook", "Status", "Trades", "Est. tax", "Largest drift", "Seconds", "Message"],
        [
            [
                name(r),
                _styled((r.status, colors[r.status])),
                "" if r.trades is None else str(r.trades),
                _money(r.estimated_tax),
                "" if r.largest_drift is None else f"{r.largest_drift:.2%}",
                f"{r.seconds:.2f}",
                r.message,
            ]
            for r in rows
        ],
        {"Trades", "Est. tax", "Largest drift", "Seconds"},
    )
    if rows:
        console.print(table)
    ok = len(result.rows) - len(result.failed)
    trades = sum(r.trades or 0 for r in result.rows)
    tax = sum(r.estimated_tax or 0.0 for r in result.rows)
    rate = len(result.rows) / result.seconds if result.seconds else 0.0
    console.print(
        _styled(
            f"{len(result.rows)} workbooks: ",
            (f"{ok} ok", "green"),
            ", ",
            (f"{len(result.failed)} failed", "red" if result.failed else ""),
            f"; {trades} trades, estimated tax {tax:,.2f}; {result.seconds:.1f} s "
            f"({rate:.1f} workbooks/s)",
        )
    )
    if saved:
        console.print(f"Report: {saved[0]}, {saved[1]} and {saved[2]}; tax view: {saved[3]}")


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
    from .app import RunOptions, run_engine
    from .demo import write_demo

    if clients:
        from .batch import BatchOptions, report_payload, run_batch
        from .demo import write_clients

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

    from .isolation import isolated_solver

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


@main.command()
@click.argument("book", required=False, type=click.Path(path_type=Path))
@click.option("--last", "count", type=int, default=20, show_default=True, help="How many runs.")
@JSON_OPTION
@handle_errors
def journal(book: Path | None, count: int, as_json: bool) -> None:
    """The run journal: what each run read, used and wrote (of BOOK, or of every workbook)."""
    from rich.table import Table

    from .journal import entries, journal_path

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


if __name__ == "__main__":
    main()


# The broker round trip's commands (import, export-orders, record-fills) register on main.
from . import cli_trading  # noqa: E402, F401


def run() -> None:
    """The `xl-rebalancer` command (and `python -m xl_rebalancer`): `main`, then a quick exit.

    Once a command has finished, the interpreter's own exit would free every object
    the run made, one by one: 0.15-0.2 s of a 20,000-lot household's cold run. So the
    exit handlers run (logging, temporary files, multiprocessing, anything registered
    with atexit), the output is flushed, and the process ends without that teardown.
    Only the command does this; `main` called in-process (tests, scripts) returns or
    raises SystemExit as click's commands do.

    The cyclic garbage collector is off for the command too: a run's objects live until
    it ends, and the collector's repeated passes over the growing heap (the 20,000 lots,
    their rows, the trades) took 0.5-0.6 s of that household's 3.4 s cold run, while the
    peak memory is the same without it (180 MB either way: nothing the run makes is
    garbage only a cycle collection would free). `batch` turns it back on.
    """
    import atexit
    import gc

    gc.disable()
    try:
        main()
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("text"), as the interpreter does it
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): the interpreter's 120
            status = status or 120
    os._exit(status)
