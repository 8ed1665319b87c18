"""`xl-rebalancer addin install|uninstall|status|build`: the Excel add-in.

A subgroup of its own: these commands touch Excel's start-up folder, never a workbook.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import JSON_OPTION, _console, emit_json, handle_errors
from .group import main


@main.group()
def addin() -> None:
    """The Excel add-in: the Rebalancer tab in every workbook, installed once."""


def _addin_folder(folder: Path | None) -> Path:
    from ..errors import WorkbookError
    from ..excel.addin import startup_folder

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
    from ..excel.addin import install

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
    from ..excel.addin import uninstall

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
    from ..excel.addin import addin_settings, status

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
    from ..errors import WorkbookError
    from ..excel.addin import build_addin

    if path.suffix.lower() != ".xlam":
        raise WorkbookError(f"{path}: an add-in's name ends in .xlam")
    written = build_addin(path)
    if as_json:
        emit_json({"ok": True, "command": "addin build", "output": str(written), "warnings": []})
        return
    _console().print(f"Wrote {written}")
