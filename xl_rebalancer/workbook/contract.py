"""The workbook contract as a document, written from the schema and the Settings model.

`docs/workbook.md` is this text: every sheet, column and setting with its default, taken
from the same definitions the reader, writer and template use, so the document cannot
say one thing while the code does another. `make docs` writes it; a test fails when the
committed file differs from what this module writes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import schema as s

HEADER = """\
# The workbook contract

<!-- Written by `make docs` (docs/build.py) from xl_rebalancer/workbook/schema.py (with
schema_docs.py) and the Settings model in xl_rebalancer/models/inputs.py. Do not edit by
hand: a test fails when this file differs from what the code writes. -->

Every sheet you fill in, every sheet the engine writes, and every setting with its
default. Names here are the contract: the engine reads and writes exactly these.

## General rules

- Each sheet holds one Excel table (`tbl<Sheet>`) with its header in row 1. Headers match
  ignoring case, spaces and underscores (`Cost Basis`, `cost_basis` and `CostBasis` are
  one column). Column order is free, blank rows are skipped, extra columns are kept.
- Weights are fractions (0.25 is 25%). Money is in the base currency. Dates are Excel
  dates or ISO text (`2024-03-15`). Symbols are upper-cased; `CASH` is reserved.
- Bad input stops the run before anything is written, with every problem named by its
  sheet and cell. Warnings go to the Log sheet.
- Your sheets are changed only by the commands that say so (`apply-actions`, `import`,
  `record-fills`, each with a backup). Engine sheets are replaced whole on every run.
"""

FORMATS = {
    s.FMT_MONEY: "money",
    s.FMT_PRICE: "price",
    s.FMT_SHARES: "shares",
    s.FMT_PCT: "percent",
    s.FMT_DATE: "date",
    s.FMT_DATETIME: "date and time",
    s.FMT_RATIO: "ratio",
}


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _sheet(spec: s.SheetSpec, owner: str) -> list[str]:
    lines = [f"### {spec.name}", ""]
    if spec.description:
        lines += [spec.description, ""]
    if not spec.columns:
        return lines
    lines += [f"Table `{spec.table}`, {owner}.", ""]
    lines += ["| Column | Required | Shown as | Meaning |", "|---|---|---|---|"]
    for col in spec.columns:
        shown = FORMATS.get(col.number_format or "", col.number_format or "")
        required = "yes" if col.required else ""
        lines.append(f"| `{col.header}` | {required} | {shown} | {_cell(col.description)} |")
    return [*lines, ""]


def _default(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _settings() -> list[str]:
    from ..models.inputs import Settings

    defaults = Settings()
    lines = [
        "## Settings",
        "",
        "One row per setting on the Settings sheet (`Setting`, `Value`); a blank or missing "
        "row takes the default.",
        "",
        "| Setting | Default | Allowed | Meaning |",
        "|---|---|---|---|",
    ]
    for name, info in Settings.model_fields.items():
        allowed = ", ".join(f"`{c}`" for c in Settings.choices(name))
        if not allowed and Settings.is_bool(name):
            allowed = "TRUE, FALSE"
        default = _default(getattr(defaults, name))
        if name == "valuation_date":
            default = "today"
        lines.append(
            f"| `{name}` | {_cell(default)} | {allowed} | {_cell(info.description or '')} |"
        )
    return [*lines, ""]


def _commands() -> list[str]:
    """Every command with its one-line help and options, from the command line itself."""
    import click

    from ..cli import main

    lines = [
        "## Commands",
        "",
        "`xl-rebalancer COMMAND --help` prints each command's full help.",
        "",
        "| Command | What it does | Options |",
        "|---|---|---|",
    ]
    context = click.Context(main)
    for name in main.list_commands(context):
        command = main.get_command(context, name)
        if command is None or command.hidden:
            continue
        options = [
            "/".join(p.opts) for p in command.params if isinstance(p, click.Option) and p.opts
        ]
        arguments = [p.human_readable_name for p in command.params if isinstance(p, click.Argument)]
        usage = " ".join([name, *arguments])
        lines.append(
            f"| `{usage}` | {_cell(_first_paragraph(command.help or ''))} | "
            f"{', '.join(f'`{o}`' for o in options)} |"
        )
    return [*lines, ""]


def _first_paragraph(text: str) -> str:
    import inspect

    return " ".join(inspect.cleandoc(text).split("\n\n")[0].split())


def workbook_markdown() -> str:
    """The contract document, deterministic for one version of the code."""
    lines = [HEADER, "## Sheets you fill in", ""]
    for spec in s.INPUT_SHEETS:
        if spec is s.PRICES:
            continue
        lines += _sheet(spec, "yours: the engine reads it and never rewrites it unasked")
    lines += _sheet(s.PRICES, "yours; `refresh-prices` and `run` rewrite the rows they fetch")
    lines += _settings()
    lines += ["## Sheets the engine writes", "", "Replaced whole on every run.", ""]
    for spec in s.OUTPUT_SHEETS:
        lines += _sheet(spec, "written by the engine")
    lines += _commands()
    return "\n".join(lines).rstrip() + "\n"
