"""The template's VBA project and ribbon, read back by tools that are not ours.

olevba (oletools) decompresses every module; LibreOffice imports the project into its
Basic IDE. Both must see exactly the `.bas`/`.cls` files of the repository.
"""

from __future__ import annotations

import importlib
import inspect
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from defusedxml import ElementTree
from hypothesis import given, settings
from hypothesis import strategies as st
from oletools.olevba import VBA_Parser, decompress_stream

from tests.conftest import REPO, TWO_FUNDS, TWO_FUNDS_SETTINGS, write_book
from xl_rebalancer.app import run_engine
from xl_rebalancer.excel import doors
from xl_rebalancer.excel.vbaproject import (
    DOC_SHEET,
    DOC_WORKBOOK,
    Module,
    ProjectNotEditable,
    build_vba_project,
    compress,
    decompress,
    document_module,
    with_sheet_modules,
)
from xl_rebalancer.workbook.package import REL_UI, RIBBON_PART

TEMPLATE = REPO / "workbook_template.xlsm"
NS_UI = "{http://schemas.microsoft.com/office/2009/07/customui}"


def modules_of(path: Path) -> dict[str, bytes]:
    parser = VBA_Parser(str(path))
    try:
        return {
            vba_filename.rsplit(".", 1)[0]: code.encode("cp1252") if isinstance(code, str) else code
            for _, _, vba_filename, code in parser.extract_macros()
        }
    finally:
        parser.close()


@given(st.text(alphabet=st.characters(min_codepoint=9, max_codepoint=126), max_size=12000))
@settings(max_examples=60, deadline=None)
def test_compression_reads_back_with_oletools(text: str):
    data = text.encode("ascii")
    container = compress(data)
    assert bytes(decompress_stream(bytearray(container))) == data
    assert decompress(container) == data


def test_long_module_compresses_and_reads_back():
    # The 46 KB xlwings module: several 4 KB chunks, long copy tokens late in each chunk
    # (where the PyPI ms-ovba package gets the length wrong).
    source = (doors.VBA_DIR / "vendor" / "xlwings.bas").read_bytes()
    container = compress(source)
    assert len(container) < len(source) / 2
    assert bytes(decompress_stream(bytearray(container))) == source


def test_olevba_lists_every_module_identical_to_the_sources():
    found = modules_of(TEMPLATE)
    for name in (*doors.PACKAGE_MODULES, *doors.VENDOR_MODULES):
        stem = Path(name).stem
        assert found.pop(stem) == (doors.VBA_DIR / name).read_bytes(), name
    # What remains: the workbook's and each sheet's code-behind, as Excel writes them.
    assert found.pop("ThisWorkbook").startswith(b'Attribute VB_Name = "ThisWorkbook"\r\n')
    assert set(found) == {f"Sheet{i}" for i in range(1, len(found) + 1)}


def test_vendored_xlwings_module_is_the_pinned_release():
    xlwings = pytest.importorskip("xlwings")
    assert xlwings.__version__ == doors.XLWINGS_VERSION
    shipped = Path(xlwings.__file__).with_name("xlwings.bas").read_bytes()
    assert (doors.VBA_DIR / "vendor" / "xlwings.bas").read_bytes() == shipped


def _subs(code: bytes) -> dict[str, str]:
    text = code.decode("cp1252")
    return {
        m.group(1): m.group(2)
        for m in re.finditer(r"^Public Sub (\w+)\(([^)]*)\)", text, flags=re.MULTILINE)
    }


def test_every_ribbon_icon_is_an_excel_control_id():
    """An imageMso Excel does not know shows a blank button. Checked against Microsoft's
    published control identifiers (tests/data/excel_control_ids.txt: those in both
    Office 2016 and Microsoft 365)."""
    known = {
        line.strip()
        for line in (REPO / "tests" / "data" / "excel_control_ids.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    root = ElementTree.fromstring(doors.ribbon_xml())
    icons = {e.get("imageMso") for e in root.iter() if e.get("imageMso")}
    assert icons and icons <= known, sorted(icons - known)


def test_every_ribbon_button_calls_an_existing_sub():
    with zipfile.ZipFile(TEMPLATE) as archive:
        ribbon = ElementTree.fromstring(archive.read(RIBBON_PART))
        rels = ElementTree.fromstring(archive.read("_rels/.rels"))
    assert any(r.get("Type") == REL_UI[1] and r.get("Target") == RIBBON_PART for r in rels)
    subs: dict[str, str] = {}
    for code in modules_of(TEMPLATE).values():
        subs.update(_subs(code))
    labels = []
    for button in ribbon.iter(f"{NS_UI}button"):
        labels.append(button.get("label"))
        action = button.get("onAction")
        assert action in subs, f"{button.get('id')}: no Public Sub {action}"
        # Office calls onAction with the control: one argument, no more.
        assert re.fullmatch(r"\w+ As (Object|IRibbonControl)", subs[action]), subs[action]
    assert labels == [
        "Refresh Prices",
        "Validate",
        "Drift",
        "Optimize",
        "Rebalance",
        "Harvest",
        "Apply Corporate Actions",
        "Import",
        "Export Orders",
        "Record Fills",
    ]


def test_every_runpython_call_names_an_existing_function():
    code = (doors.VBA_DIR / "XlRebalancer.bas").read_text("cp1252")
    calls = re.findall(r'RunPython "([^"]+)"', code)
    assert len(calls) == 11
    for call in calls:
        statements = [x.strip() for x in call.split(";")]
        assert statements[0].startswith("import ")
        module = importlib.import_module(statements[0].removeprefix("import "))
        target = statements[1]
        name, _, rest = target[len(module.__name__) + 1 :].partition("(")
        assert target.startswith(module.__name__ + ".")
        func = getattr(module, name)
        assert callable(func)
        required = [p for p in inspect.signature(func).parameters.values() if p.default is p.empty]
        if rest == ")":
            assert not required, f"{target} must run without arguments"
        else:  # the VBA adds the argument (the picked files, a fills file, or None)
            assert len(required) == 1, target


def test_vba_path_literal_is_python_literal():
    """PyString's escaping, done in Python the way the VBA does it, reads back exactly."""
    import ast

    def py_string(text: str) -> str:
        safe = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ._:-")
        return "'" + "".join(c if c in safe else f"\\u{ord(c):04X}" for c in text) + "'"

    for path in [r"C:\Users\O'Brien\Downloads\Positions (1).csv", '/Users/zoë/a"b.ofx']:
        assert ast.literal_eval(py_string(path)) == path
    code = (doors.VBA_DIR / "XlRebalancer.bas").read_text("cp1252")
    assert 'If c Like "[A-Za-z0-9 ._:-]" Then' in code
    assert 'out = out & "\\u" & Right$("0000" & Hex$(AscW(c)), 4)' in code


def test_xlwings_conf_sheet_reads_as_xlwings_reads_it():
    from openpyxl import load_workbook

    ws = load_workbook(TEMPLATE, keep_vba=True)[doors.CONF_SHEET]
    keys = []
    row = 1
    while ws.cell(row=row, column=1).value:  # xlwings: A1 down to the first blank
        keys.append(ws.cell(row=row, column=1).value.upper())
        row += 1
    assert len(keys) == len(set(keys)) == len(doors.CONF_ROWS)
    conf = {k: ws.cell(row=i, column=2).value for i, k in enumerate(keys, start=1)}
    assert conf["UDF MODULES"] == doors.UDF_MODULE
    importlib.import_module(conf["UDF MODULES"])
    # A key xlwings reads, even blank, overrides the user's own ~/.xlwings/xlwings.conf
    # (GetConfig stops at the sheet): only keys with values are in the block.
    assert all(value is not None and value != "" for value in conf.values()), conf
    assert not {"INTERPRETER_WIN", "INTERPRETER_MAC", "CONDA PATH", "CONDA ENV"} & set(conf)
    # The optional keys are explained below the block, where xlwings never reads.
    below = [ws.cell(row=r, column=3).value or "" for r in range(row, ws.max_row + 1)]
    assert all(ws.cell(row=r, column=1).value is None for r in range(row, ws.max_row + 1))
    for key, _ in doors.CONF_OPTIONAL:
        assert any(text.startswith(f"{key}:") for text in below), key
    assert any("overrides your own" in text for text in below)


def _sheet_code_names(book: Path) -> list[str]:
    from openpyxl import load_workbook

    wb = load_workbook(book, keep_vba=True)
    return [ws.sheet_properties.codeName for ws in wb.worksheets]


def _project_streams(book: Path) -> dict[str, bytes]:
    import olefile

    with zipfile.ZipFile(book) as archive:
        ole = olefile.OleFileIO(archive.read("xl/vbaProject.bin"))
    try:
        return {"/".join(p): ole.openstream(p).read() for p in ole.listdir()}
    finally:
        ole.close()


def _assert_modules_match_sheets(book: Path) -> None:
    """Every sheet has a codeName with its document module, no module is left for a sheet
    that is gone, and the PROJECT and PROJECTwm streams list the same modules."""
    names = _sheet_code_names(book)
    assert all(names) and len({n.lower() for n in names}) == len(names)
    found = modules_of(book)
    documents = {
        name
        for name, code in found.items()
        if f'Attribute VB_Base = "{DOC_SHEET}"'.encode() in code
    }
    assert documents == set(names)
    streams = _project_streams(book)
    project = streams["PROJECT"].decode("cp1252").split("\r\n")
    listed = {line[9:].split("/")[0] for line in project if line.startswith("Document=")}
    assert listed == documents | {"ThisWorkbook"}
    workspace = project[project.index("[Workspace]") + 1 :]
    assert {line.split("=")[0] for line in workspace if line} == set(found)
    wm = streams["PROJECTwm"]
    for name in found:
        assert name.encode() + b"\0" + name.encode("utf-16-le") + b"\0\0" in wm


def test_saving_through_the_engine_keeps_vba_and_ribbon(tmp_path: Path):
    book = write_book(tmp_path / "household.xlsm", TWO_FUNDS, TWO_FUNDS_SETTINGS)
    before = modules_of(book)
    with zipfile.ZipFile(book) as archive:
        ribbon = archive.read(RIBBON_PART)
    run_engine(book, "rebalance")
    with zipfile.ZipFile(book) as archive:
        assert archive.read(RIBBON_PART) == ribbon
        rels = ElementTree.fromstring(archive.read("_rels/.rels"))
        assert any(r.get("Type") == REL_UI[1] for r in rels)
        vba = archive.read("xl/vbaProject.bin")
    after = modules_of(book)
    # Every module that was there reads back byte for byte; the sheets the run added got
    # their own code-behind, as Excel gives a sheet inserted by hand.
    for name, code in before.items():
        if name in after:
            assert after[name] == code, name
    assert after["XlRebalancer"] == (doors.VBA_DIR / "XlRebalancer.bas").read_bytes()
    _assert_modules_match_sheets(book)
    # A second run replaces the same sheets: they keep their codeNames, the project its bytes.
    names = _sheet_code_names(book)
    run_engine(book, "rebalance")
    assert _sheet_code_names(book) == names
    with zipfile.ZipFile(book) as archive:
        assert archive.read("xl/vbaProject.bin") == vba


def test_orphaned_sheet_module_is_removed_and_user_code_kept(tmp_path: Path):
    """A project with a module for a sheet that no longer exists (what the engine's saves
    used to leave behind) and a user's own module: the orphan goes, the user's code stays."""
    from openpyxl import load_workbook

    book = write_book(tmp_path / "household.xlsm", TWO_FUNDS, TWO_FUNDS_SETTINGS)
    wb = load_workbook(book, keep_vba=True)
    names = [ws.sheet_properties.codeName for ws in wb.worksheets]
    user = b'Attribute VB_Name = "MyMacros"\r\nSub Hello()\r\n    MsgBox "hi"\r\nEnd Sub\r\n'
    modules = [
        document_module("ThisWorkbook", DOC_WORKBOOK),
        *(document_module(n, DOC_SHEET) for n in names),
        document_module("Sheet99", DOC_SHEET, "' a sheet deleted long ago\r\n"),
        Module("MyMacros", "module", user),
    ]
    with zipfile.ZipFile(book) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members["xl/vbaProject.bin"] = build_vba_project(modules)
    with zipfile.ZipFile(book, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    assert "Sheet99" in modules_of(book)
    run_engine(book, "rebalance")
    found = modules_of(book)
    assert "Sheet99" not in found
    assert found["MyMacros"] == user
    _assert_modules_match_sheets(book)


def test_project_with_a_form_is_left_as_it_was(tmp_path: Path):
    """A UserForm is a storage of its own (designer data): such a project is not rewritten."""
    from xl_rebalancer.excel.vbaproject import compound_file

    streams = {
        "PROJECT": b'ID="{00000000-0000-0000-0000-000000000000}"\r\n',
        "VBA/dir": compress(b""),
        "UserForm1/f": b"\0" * 8,
    }
    project = compound_file(streams)
    with pytest.raises(ProjectNotEditable):
        with_sheet_modules(project, ["Sheet1"])


@pytest.mark.libreoffice
def test_libreoffice_imports_every_module(tmp_path: Path):
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice not installed")
    shutil.copy(TEMPLATE, tmp_path / "t.xlsm")
    subprocess.run(
        [
            soffice,
            "--headless",
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--convert-to",
            "ods",
            "--outdir",
            str(tmp_path),
            str(tmp_path / "t.xlsm"),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    with zipfile.ZipFile(tmp_path / "t.ods") as archive:
        basic = {
            Path(n).stem: archive.read(n).decode()
            for n in archive.namelist()
            if n.startswith("Basic/VBAProject/") and not n.endswith("script-lb.xml")
        }
    assert set(basic) == set(modules_of(TEMPLATE))
    assert "xl_rebalancer.excel.macros.apply_corporate_actions()" in basic["XlRebalancer"]
    assert "Public Function RunPython(PythonCommand As String)" in basic["xlwings"]
