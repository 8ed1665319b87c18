"""`main`, the one click group every command registers on (`xl-rebalancer [--debug]`).

A module of its own, importing no command module: the command modules import `main` from
here to register on it, and cli/__init__.py imports them all, so nothing imports back.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import __version__
from .common import emit_json, failure_json


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
    from ..quiet import set_verbose

    set_verbose(verbose or debug)
