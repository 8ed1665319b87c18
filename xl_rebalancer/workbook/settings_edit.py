"""Settings changed without Excel (`xl-rebalancer set BOOK strategy=risk_parity`).

A workbook kept on a server for the nightly batch has no Excel to type a strategy, a
plugin's feed or a band into. Each value is read by the Settings sheet's own rules before
anything is written, so a typo is refused with the name it meant and the workbook is
untouched; only the Settings table is rewritten (the splice keeps every other part byte
for byte), and a value goes in as the cell would hold it (a number as a number)."""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem
from ..models.inputs import Settings
from . import schema as s
from .edits import InputRewrite, WorkbookEdit
from .reader import setting_value
from .rows import read_raw_sheets

CELL_TYPES = (str, int, float, bool, dt.date)


def setting_name(text: str) -> str:
    """A setting's name as the Settings sheet reads it (case and spaces do not count)."""
    return "_".join(text.strip().lower().split())


def checked(values: Mapping[str, str]) -> dict[str, Any]:
    """Each NAME=VALUE as the cell will hold it; every refusal at once, before a write.
    A blank value clears the cell, so the setting takes its default again."""
    names = list(Settings.model_fields)
    out: dict[str, Any] = {}
    problems: list[Problem] = []
    for typed, text in values.items():
        name = setting_name(typed)
        if name not in Settings.model_fields:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            problems.append(Problem(f"unknown setting {typed!r}{hint}", "Settings"))
            continue
        if not text.strip():
            out[name] = None
            continue
        try:
            value = setting_value(name, text)
        except InputError as exc:
            problems += [Problem(p.message, "Settings") for p in exc.problems]
            continue
        out[name] = value if isinstance(value, CELL_TYPES) else text
    if problems:
        raise InputError(problems)
    return out


def set_settings(book: Path, values: Mapping[str, str]) -> dict[str, Any]:
    """Settings `values` written into `book`'s Settings table (a row added for a setting
    the sheet does not list yet); returns what was written, by setting name."""
    from ..engine.records import as_text
    from .writer import save_workbook

    wanted = checked(values)
    raw = read_raw_sheets(book, [s.SETTINGS])
    data = raw.get(s.SETTINGS.name)
    if isinstance(data, list):  # the Settings table itself is broken: the reader's words
        raise InputError(data)
    rows = [(r, dict(v)) for r, v in data.rows] if data is not None else []
    title = data.title if data is not None else s.SETTINGS.name
    left = dict(wanted)
    for _, cells in rows:
        name = setting_name(as_text(cells.get("setting")))
        if name in left:
            cells["value"] = left.pop(name)
    rows += [(None, {"setting": name, "value": value}) for name, value in left.items()]
    save_workbook(book, WorkbookEdit(rewrites=[InputRewrite(s.SETTINGS, title, rows, create=True)]))
    return wanted
