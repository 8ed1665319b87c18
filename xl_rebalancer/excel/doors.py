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

# Keys in column A from A1, values in column B (xlwings reads the block down to the
# first blank key and upper-cases the keys); column C explains each for the user.
CONF_ROWS: list[tuple[str, Any, str]] = [
    (
        "Interpreter_Win",
        None,
        r"Blank: python on PATH. Otherwise the full path of python.exe of the environment "
        r"where you ran pip install xl-rebalancer[excel], e.g. "
        r"C:\Users\you\AppData\Local\Programs\Python\Python312\python.exe",
    ),
    (
        "Interpreter_Mac",
        None,
        "Blank: python on PATH. Otherwise the full path, e.g. /Users/you/.venv/bin/python",
    ),
    ("Conda Path", None, r"Only with conda: its folder, e.g. C:\Users\you\miniconda3"),
    ("Conda Env", None, "Only with conda: the environment's name, e.g. base"),
    (
        "PYTHONPATH",
        None,
        "Blank after pip install (the package is found by the interpreter). A source "
        "checkout instead: its folder and its udfs folder, separated by ;",
    ),
    (
        "UDF Modules",
        UDF_MODULE,
        "The worksheet functions (module shipped with the package); keep this name",
    ),
    ("Debug UDFs", False, "TRUE to run the worksheet functions in a console you start yourself"),
    ("Use UDF Server", False, "TRUE keeps one Python process for the buttons too (faster)"),
    ("Show Console", False, "TRUE shows Python's console window while a button runs"),
]


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


def write_conf_sheet(ws: Any) -> None:
    from openpyxl.styles import Alignment, Font

    from ..io.tables import FMT_BOOL

    for row, (key, value, note) in enumerate(CONF_ROWS, start=1):
        ws.cell(row=row, column=1, value=key)
        cell = ws.cell(row=row, column=2, value=value)
        if isinstance(value, bool):
            cell.number_format = FMT_BOOL  # LibreOffice shows a bare FALSE as 0
        ws.cell(row=row, column=3, value=note).font = Font(italic=True, color="666666")
        ws.cell(row=row, column=3).alignment = Alignment(wrap_text=True, vertical="top")
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 24
    ws.column_dimensions["C"].width = 80
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
