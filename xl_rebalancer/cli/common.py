"""What every command shares: its output (rich tables, problems with their cells), the
one JSON document of --json, errors turned into messages and exit codes, and the options
several commands take.

Apart from main.py and the command modules so each command module imports only this and
the group, never another command module: the circle cli.py and cli_trading.py made
(each importing the other) cannot come back.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import InputError, Problem, XlRebalancerError

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
    from ..models.types import MAX_DATE, MIN_DATE

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


def _problems_json(problems: Sequence[Problem]) -> list[dict[str, Any]]:
    return [p.to_json() for p in problems]


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
