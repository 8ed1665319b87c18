"""The Excel add-in `xl_rebalancer.xlam`: the Rebalancer tab in every workbook, installed once.

A workbook made from the template carries its own ribbon and macros (xlwings'
"standalone" shape); a user who keeps the portfolio in a workbook of their own gets
neither, and fixing a macro means fixing every copy. The add-in is built here from the
same sources as the template (vba/XlRebalancer.bas, vba/customUI14.xml, xlwings' and
our UDF modules) in the shape of xlwings' own add-ins (`xlwings quickstart --addin`,
`quickstart_addin_ribbon.xlam` in the xlwings wheel): one hidden workbook holding an
`xlwings.conf` sheet, the VBA project and the ribbon, with the add-in content type, so
Excel loads it as an add-in (`IsAddin`) from its start-up folder.

Two things differ from the template's macros, both made here by rewriting its source,
so the two never drift apart:
- every macro names the **active workbook** to Python (`book=` its full name): in an
  add-in, `ThisWorkbook` and `xlwings.Book.caller()` are the add-in itself;
- one more button, **Add Rebalancer sheets**, does what `init --into` does, on the open
  workbook (macros.add_sheets).

`addin install` builds the add-in into Excel's start-up folder with the xlwings settings
it needs (the interpreter, or a conda environment) on its own xlwings.conf sheet.
"""

from __future__ import annotations

import os
import re
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from .doors import (
    CONF_SHEET,
    PACKAGE_MODULES,
    RIBBON_FILE,
    VBA_DIR,
    VENDOR_MODULES,
    WORKBOOK_CODE_NAME,
    write_conf_sheet,
)
from .vbaproject import DOC_SHEET, DOC_WORKBOOK, Module, build_vba_project, document_module

ADDIN_NAME = "xl_rebalancer.xlam"
CT_ADDIN_MAIN = "application/vnd.ms-excel.addin.macroEnabled.main+xml"
MACROS = "xl_rebalancer.excel.macros"
_CALL = re.compile(r"(xl_rebalancer\.excel\.macros\.\w+\()(.*?)(\)\")", re.S)

ACTIVE_BOOK = (
    "' The workbook the user is looking at, never this add-in itself, as a Python\r\n"
    "' string literal for RunPython.\r\n"
    "Private Function ActiveBook() As String\r\n"
    "    If ActiveWorkbook Is Nothing Then\r\n"
    '        Err.Raise vbObjectError + 513, "xl-rebalancer", "Open a workbook first."\r\n'
    "    End If\r\n"
    "    ActiveBook = PyString(ActiveWorkbook.FullName)\r\n"
    "End Function\r\n"
)
ADD_SHEETS = (
    "' Add the rebalancer's input sheets to the active workbook (init --into).\r\n"
    "Public Sub AddSheets()\r\n"
    f'    RunPython "import {MACROS}; {MACROS}.add_sheets(book=" & ActiveBook() & ")"\r\n'
    "End Sub\r\n"
    "\r\n"
    "Public Sub RibbonAddSheets(control As Object)\r\n"
    "    AddSheets\r\n"
    "End Sub\r\n"
)
ADD_SHEETS_BUTTON = (
    '        <group id="xlrbWorkbook" label="Workbook">\n'
    '          <button id="xlrbAddSheets" label="Add Rebalancer sheets" size="large" '
    'imageMso="SheetInsert" screentip="Add Rebalancer sheets" supertip="Add the input '
    "sheets (Accounts, Holdings, TaxLots, Targets, ...) to the active workbook, touching "
    'nothing else." onAction="RibbonAddSheets"/>\n'
    "        </group>\n"
)


def addin_macro_source() -> bytes:
    """XlRebalancer.bas as the add-in runs it: every RunPython call names the active
    workbook, and the Add Rebalancer sheets macro and callback are added."""
    text = (VBA_DIR / "XlRebalancer.bas").read_bytes().decode("cp1252")

    def with_book(match: re.Match[str]) -> str:
        head, args, tail = match.groups()
        separator = ", " if args.strip() else ""
        return f'{head}{args}{separator}book=" & ActiveBook() & "{tail}'

    text = _CALL.sub(with_book, text)
    text = text.replace(
        "through xlwings' RunPython (the xlwings module in this workbook), against this\r\n"
        "' workbook.",
        "through xlwings' RunPython (the xlwings module in this add-in), against the\r\n"
        "' active workbook (never the add-in itself).",
    )
    marker = "' Ribbon callbacks"
    at = text.index(marker)
    text = text[:at] + ACTIVE_BOOK + "\r\n" + ADD_SHEETS + "\r\n" + text[at:]
    return text.encode("cp1252")


def addin_ribbon_xml() -> bytes:
    """The template's ribbon with the Add Rebalancer sheets group first."""
    text = RIBBON_FILE.read_text(encoding="utf-8")
    at = text.index('        <group id="xlrbPrices"')
    return (text[:at] + ADD_SHEETS_BUTTON + text[at:]).encode("utf-8")


def addin_modules(sheet_code: str = "Sheet1") -> list[Module]:
    modules = [
        document_module(WORKBOOK_CODE_NAME, DOC_WORKBOOK),
        document_module(sheet_code, DOC_SHEET),
    ]
    for name in (*PACKAGE_MODULES, *VENDOR_MODULES):
        stem = Path(name).stem
        kind = "class" if name.endswith(".cls") else "module"
        source = (
            addin_macro_source() if name == "XlRebalancer.bas" else (VBA_DIR / name).read_bytes()
        )
        modules.append(Module(stem, kind, source))
    return modules


def interpreter_rows(
    interpreter: str | None, conda: tuple[str, str] | None = None
) -> list[tuple[str, str, str]]:
    """The add-in's own xlwings settings for this machine: the Python to run (or a conda
    environment). They go on the add-in's xlwings.conf sheet, which xlwings reads for
    the add-in's macros, so the user's other xlwings workbooks are not touched."""
    rows: list[tuple[str, str, str]] = []
    if interpreter:
        key = "Interpreter_Win" if sys.platform == "win32" else "Interpreter_Mac"
        rows.append((key, interpreter, "the Python that `addin install` ran under"))
    if conda is not None:
        rows += [
            ("Conda Path", conda[0], "the conda installation"),
            ("Conda Env", conda[1], "the environment with xl-rebalancer"),
        ]
    return rows


def build_addin(path: str | Path, settings: Sequence[tuple[str, str, str]] = ()) -> Path:
    """Write the add-in to `path` (an .xlam), reproducibly, from the sources; `settings`
    are extra rows of its xlwings.conf sheet (interpreter_rows)."""
    from openpyxl import Workbook

    from .template import FIXED_DATE, save_reproducibly

    path = Path(path)
    if path.suffix.lower() != ".xlam":
        raise ValueError(f"{path}: an add-in's name ends in .xlam")
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    ws = wb.active
    ws.title = CONF_SHEET
    write_conf_sheet(ws, settings)
    wb.code_name = WORKBOOK_CODE_NAME
    ws.sheet_properties.codeName = "Sheet1"
    wb.properties.creator = "xl-rebalancer"
    wb.properties.title = "xl-rebalancer add-in"
    wb.properties.version = __version__
    wb.properties.created = FIXED_DATE
    wb.properties.modified = FIXED_DATE
    save_reproducibly(
        wb,
        path,
        macro_enabled=True,
        vba_project=build_vba_project(addin_modules(), project="XlRebalancerAddin"),
        ribbon_xml=addin_ribbon_xml(),
        main_content_type=CT_ADDIN_MAIN,
    )
    _hide_window(path)
    return path


def _hide_window(path: Path) -> None:
    """An add-in's workbook window is hidden, as Excel saves one (visibility="hidden")."""
    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info.filename)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in members:
            if info.filename == "xl/workbook.xml":
                text = re.sub(r'\svisibility="[^"]*"', "", data.decode("utf-8"), count=1)
                text = text.replace("<workbookView", '<workbookView visibility="hidden"', 1)
                data = text.encode("utf-8")
            out.writestr(info, data)


def addin_version(path: Path) -> str | None:
    """The version an add-in file was built from (docProps/core.xml's cp:version)."""
    try:
        with zipfile.ZipFile(path) as archive:
            core = archive.read("docProps/core.xml").decode("utf-8")
    except (OSError, KeyError, zipfile.BadZipFile):
        return None
    found = re.search(r"<cp:version>([^<]*)</cp:version>", core)
    return found.group(1) if found else None


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.+-]", text))


# --- where Excel looks ------------------------------------------------------------------


def startup_folder() -> Path | None:
    """Excel's start-up folder for add-ins on this machine, or None where Excel is not."""
    home = Path.home()
    if sys.platform == "win32":
        appdata = os.environ.get("APPDATA")
        return Path(appdata) / "Microsoft" / "Excel" / "XLSTART" if appdata else None
    if sys.platform == "darwin":
        group = home / "Library" / "Group Containers" / "UBF8T346G9.Office"
        folder = group / "User Content.localized" / "Startup.localized" / "Excel"
        return folder if group.exists() else None
    return None


@dataclass
class AddinState:
    folder: Path
    path: Path
    installed: str | None  # version found there, or None
    current: str = __version__
    action: str = ""  # installed, replaced, kept, removed, absent


def install(
    folder: Path,
    *,
    force: bool = False,
    interpreter: str | None = None,
    conda: tuple[str, str] | None = None,
) -> AddinState:
    """Put the add-in into `folder`, its xlwings.conf naming `interpreter` (or `conda`);
    an add-in there already is replaced only by a newer version (or with force)."""
    target = folder / ADDIN_NAME
    state = AddinState(folder, target, addin_version(target) if target.exists() else None)
    newer = state.installed is not None and (
        _version_key(state.installed) > _version_key(__version__)
    )
    if newer and not force:
        state.action = "kept"
        return state
    folder.mkdir(parents=True, exist_ok=True)
    # Built beside it and renamed over it: Excel never finds half an add-in there. The
    # same version with the same settings is left as it is (builds are reproducible);
    # other settings (a conda environment, another Python) replace it.
    built = build_addin(
        folder / f".~{ADDIN_NAME}.{os.getpid()}.xlam", interpreter_rows(interpreter, conda)
    )
    if state.installed is not None and target.read_bytes() == built.read_bytes():
        built.unlink()
        state.action = "kept"
        return state
    same_version = state.installed == __version__
    os.replace(built, target)
    state.action = "updated" if same_version else "replaced" if state.installed else "installed"
    state.installed = __version__
    return state


def addin_settings(path: Path) -> dict[str, str]:
    """The xlwings settings on an add-in's own xlwings.conf sheet (the interpreter), read
    as xlwings reads them: column A down to the first blank key, values in column B."""
    from ..workbook.cells import Package

    out: dict[str, str] = {}
    try:
        with Package(path) as book:
            for key, value in book.rows(CONF_SHEET, 1, 1, 2):
                if not key:
                    break
                out[str(key)] = "" if value is None else str(value)
    except Exception:  # not an add-in of ours, or damaged: nothing to show
        return {}
    return out


def uninstall(folder: Path) -> AddinState:
    target = folder / ADDIN_NAME
    state = AddinState(folder, target, addin_version(target) if target.exists() else None)
    if target.exists():
        target.unlink()
        state.action = "removed"
    else:
        state.action = "absent"
    return state


def status(folder: Path) -> AddinState:
    target = folder / ADDIN_NAME
    state = AddinState(folder, target, addin_version(target) if target.exists() else None)
    state.action = "present" if target.exists() else "absent"
    return state
