"""The parts that make a workbook an Excel add-in: VBA project, ribbon and xlwings config.

The VBA sources live beside this file as `.bas`/`.cls` files, byte for byte as Excel
stores them (CRLF lines, `Attribute VB_Name` first). The workbook is *standalone* in
xlwings' sense (what `xlwings quickstart --standalone` makes): it carries xlwings' own
VBA module (`vba/vendor/xlwings.bas`, BSD-3, from the pinned xlwings version) so that
RunPython and the worksheet functions work without a VBA reference to the add-in's
file path, which differs on every machine. The xlwings add-in can still be installed
beside it (its ribbon imports new functions); the workbook does not depend on it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .vbaproject import DOC_SHEET, DOC_WORKBOOK, Module, build_vba_project, document_module

VBA_DIR = Path(__file__).with_name("vba")
RIBBON_FILE = VBA_DIR / "customUI14.xml"
PACKAGE_MODULES = ("XlRebalancer.bas", "xlwings_udfs.bas")
VENDOR_MODULES = ("vendor/xlwings.bas", "vendor/Dictionary.cls")
XLWINGS_VERSION = "0.37.8"
UDF_MODULE = "xlrebalancer_udfs"
CONF_SHEET = "xlwings.conf"
WORKBOOK_CODE_NAME = "ThisWorkbook"

# xlwings reads column A from A1 down to the first blank key (upper-casing the keys) and
# takes column B as the value. A key in that block overrides the user's own
# ~/.xlwings/xlwings.conf even when its value is blank, so the block holds only keys with
# values; the optional ones are explained below it, in column C, where xlwings never reads.
CONF_ROWS: list[tuple[str, Any, str]] = [
    (
        "UDF Modules",
        UDF_MODULE,
        "The worksheet functions (module shipped with the package); keep this name",
    ),
    ("Debug UDFs", False, "TRUE to run the worksheet functions in a console you start yourself"),
    ("Use UDF Server", False, "TRUE keeps one Python process for the buttons too (faster)"),
    ("Show Console", False, "TRUE shows Python's console window while a button runs"),
]
CONF_OPTIONAL: list[tuple[str, str]] = [
    (
        "Interpreter_Win",
        r"the full path of python.exe of the environment where you ran pip install "
        r"xl-rebalancer[excel], e.g. C:\Users\you\AppData\Local\Programs\Python\Python312"
        r"\python.exe (without it: your own xlwings.conf, else python on PATH)",
    ),
    ("Interpreter_Mac", "the full path, e.g. /Users/you/.venv/bin/python"),
    ("Conda Path", r"only with conda: its folder, e.g. C:\Users\you\miniconda3"),
    ("Conda Env", "only with conda: the environment's name, e.g. base"),
    (
        "PYTHONPATH",
        "not needed after pip install; a source checkout instead: its folder and its udfs "
        "folder, separated by ;",
    ),
]
CONF_OPTIONAL_NOTE = (
    "Optional settings. To use one, type its key in column A and its value in column B in "
    "the first empty row of the block above, with no blank row between. Leave out what you "
    "do not need: a key on this sheet, even with a blank value, overrides your own "
    "xlwings.conf (%USERPROFILE%\\.xlwings\\xlwings.conf on Windows, "
    "~/Library/Containers/com.microsoft.Excel/Data/xlwings.conf on a Mac)."
)


def _source(name: str) -> bytes:
    data = (VBA_DIR / name).read_bytes()
    if b"\n" in data.replace(b"\r\n", b""):
        raise ValueError(f"{name}: VBA sources must use CRLF line endings")
    return data


def vba_modules(sheet_code_names: list[str]) -> list[Module]:
    """Every module of the template's VBA project, in the order Excel lists them."""
    modules = [document_module(WORKBOOK_CODE_NAME, DOC_WORKBOOK)]
    modules += [document_module(name, DOC_SHEET) for name in sheet_code_names]
    for name in (*PACKAGE_MODULES, *VENDOR_MODULES):
        stem = Path(name).stem
        kind = "class" if name.endswith(".cls") else "module"
        modules.append(Module(stem, kind, _source(name)))
    return modules


def vba_project(sheet_code_names: Sequence[str]) -> bytes:
    return _compiled(tuple(sheet_code_names))


@functools.lru_cache(maxsize=4)
def _compiled(sheet_code_names: tuple[str, ...]) -> bytes:
    # Compiled once per process: generated client books all carry the same project.
    return build_vba_project(vba_modules(list(sheet_code_names)))


def ribbon_xml() -> bytes:
    return RIBBON_FILE.read_bytes()


def write_conf_sheet(ws: Any, extra: Sequence[tuple[str, Any, str]] = ()) -> None:
    from openpyxl.styles import Alignment, Font

    from ..workbook.schema import BODY_FONT
    from ..workbook.tables import FMT_BOOL

    def note(row: int, text: str, bold: bool = False) -> None:
        cell = ws.cell(row=row, column=3, value=text)
        cell.font = Font(
            name=BODY_FONT, italic=not bold, bold=bold, color="444444" if bold else "666666"
        )
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        # Rows do not grow to wrapped text by themselves in every program: about 90
        # characters a line in column C's 80-character width (bold runs wider).
        lines = math.ceil(len(text) / (75 if bold else 90))
        if lines > 1:
            ws.row_dimensions[row].height = 15 * lines

    rows = [*CONF_ROWS, *extra]
    for row, (key, value, text) in enumerate(rows, start=1):
        ws.cell(row=row, column=1, value=key)
        cell = ws.cell(row=row, column=2, value=value)
        if isinstance(value, bool):
            cell.number_format = FMT_BOOL  # LibreOffice shows a bare FALSE as 0
        note(row, text)
    first = len(rows) + 2  # one blank row ends the block xlwings reads
    note(first, CONF_OPTIONAL_NOTE, bold=True)
    for row, (key, text) in enumerate(CONF_OPTIONAL, start=first + 1):
        note(row, f"{key}: {text}")
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 24
    ws.column_dimensions["C"].width = 80
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
