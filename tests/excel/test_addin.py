"""The add-in, tested as far as it goes without Excel: the package as Excel's own add-ins
are made (xlwings' `quickstart_addin_ribbon.xlam`, in the xlwings wheel, is the model),
its VBA read back with olevba, its ribbon against its callbacks and Excel's icon list,
each button's Python target run on a user's workbook named by its path (as the add-in
passes the active workbook), and `addin install/status/uninstall` on a folder."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from defusedxml import ElementTree
from lxml import etree

from tests.conftest import REPO
from tests.excel.test_vba import NS_UI, _subs, modules_of
from tests.excel.xlwings_openpyxl import open_book
from xl_rebalancer.excel import addin, macros
from xl_rebalancer.workbook.package import REL_UI

CORPUS = REPO / "tests" / "data" / "excel-written"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return addin.build_addin(tmp_path_factory.mktemp("addin") / addin.ADDIN_NAME)


def cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "xl_rebalancer", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_the_add_in_is_packaged_as_excels_own_add_ins_are(built: Path):
    xlwings = pytest.importorskip("xlwings")
    model = Path(xlwings.__file__).with_name("quickstart_addin_ribbon.xlam")
    packages = {}
    for path in (built, model):
        with zipfile.ZipFile(path) as archive:
            packages[path] = {n: archive.read(n) for n in archive.namelist()}
            for name, data in packages[path].items():
                if name.endswith((".xml", ".rels")):
                    etree.parse(io.BytesIO(data))  # every part is XML
    for files in packages.values():
        types = ElementTree.fromstring(files["[Content_Types].xml"])
        main = {o.get("PartName"): o.get("ContentType") for o in types}.get("/xl/workbook.xml")
        assert main == addin.CT_ADDIN_MAIN  # what makes IsAddin true when Excel loads it
        assert b'visibility="hidden"' in files["xl/workbook.xml"]
        assert b'codeName="ThisWorkbook"' in files["xl/workbook.xml"]
        assert "xl/vbaProject.bin" in files
        rels = ElementTree.fromstring(files["_rels/.rels"])
        assert any(r.get("Type") in REL_UI for r in rels)
    ours = packages[built]
    assert b'name="xlwings.conf"' in ours["xl/workbook.xml"]


def test_every_macro_passes_the_active_workbook_and_every_button_has_its_callback(built: Path):
    modules = modules_of(built)
    assert {
        "ThisWorkbook",
        "Sheet1",
        "XlRebalancer",
        "xlwings_udfs",
        "xlwings",
        "Dictionary",
    } <= set(modules)
    code = modules["XlRebalancer"].decode("cp1252")
    calls = re.findall(r'RunPython "[^\n]*(?:\n[^\n]*)?', code)
    assert len(calls) >= 12
    for call in calls:
        assert 'book=" & ActiveBook() & ")"' in call, call
    assert "ActiveBook = PyString(ActiveWorkbook.FullName)" in code
    # ThisWorkbook, in an add-in, is the add-in: never what a button acts on.
    assert "ThisWorkbook" not in code
    ribbon = ElementTree.fromstring(zipfile.ZipFile(built).read("customUI/customUI14.xml"))
    subs = _subs(modules["XlRebalancer"])
    buttons = list(ribbon.iter(f"{NS_UI}button"))
    assert buttons[0].get("label") == "Add Rebalancer sheets"
    for button in buttons:
        assert button.get("onAction") in subs, button.get("id")
        assert re.fullmatch(r"\w+ As (Object|IRibbonControl)", subs[button.get("onAction")])
    known = {
        line.strip()
        for line in (REPO / "tests" / "data" / "excel_control_ids.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    icons = {e.get("imageMso") for e in ribbon.iter() if e.get("imageMso")}
    assert icons <= known, sorted(icons - known)
    # The worksheet functions are in the add-in, so any open workbook can call them.
    assert "Function xlrb_drift" in modules["xlwings_udfs"].decode("cp1252")


def test_the_add_in_is_built_from_the_templates_sources():
    """The template's buttons and the add-in's are the same, but for the one the add-in
    adds; its macro module is the template's with the workbook named."""
    from xl_rebalancer.excel import doors

    template = ElementTree.fromstring(doors.ribbon_xml())
    ours = ElementTree.fromstring(addin.addin_ribbon_xml())
    ids = [b.get("id") for b in template.iter(f"{NS_UI}button")]
    assert [b.get("id") for b in ours.iter(f"{NS_UI}button")] == ["xlrbAddSheets", *ids]
    source = (doors.VBA_DIR / "XlRebalancer.bas").read_bytes().decode("cp1252")
    built = addin.addin_macro_source().decode("cp1252")
    for sub in re.findall(r"^Public Sub (\w+)", source, flags=re.M):
        assert f"Public Sub {sub}(" in built


def test_each_button_runs_on_a_users_workbook_named_by_its_path(tmp_path: Path):
    """What RunPython runs from the add-in: the user's own workbook (Excel wrote it) has
    no Rebalancer sheets, so a button says so and offers to add them; Add Rebalancer
    sheets adds them; then the buttons work on it."""
    path = tmp_path / "mine.xlsx"
    shutil.copyfile(CORPUS / "format25.xlsx", path)
    book = open_book(path)
    alerts = book.app.impl.alerts
    macros.rebalance(book=str(path))
    assert alerts[-1][0].startswith("This workbook has no Rebalancer sheets. Add them now")
    assert "Holdings" not in [s.name for s in book.sheets]
    macros.add_sheets(book=str(path))
    assert alerts[-1][0].startswith("Added Settings, Accounts")
    names = [s.name for s in book.sheets]
    assert names[0] == "Sheet1" and {"Accounts", "Holdings", "Targets", "Settings"} <= set(names)
    macros.validate(book=str(path))
    assert alerts[-1][1] == "xl-rebalancer: validate stopped"
    assert "no target weights" in alerts[-1][0]
    macros.add_sheets(book=str(path))
    assert alerts[-1][0] == "This workbook already has the Rebalancer sheets."


def test_addin_install_status_and_uninstall_on_a_folder(tmp_path: Path):
    folder, home = tmp_path / "XLSTART", tmp_path / "home"
    first = cli("addin", "install", "--dir", str(folder), "--json", home=home)
    assert first.returncode == 0, first.stdout + first.stderr
    assert json.loads(first.stdout)["action"] == "installed"
    installed = folder / addin.ADDIN_NAME
    conf = zipfile.ZipFile(installed).read("xl/sharedStrings.xml").decode()
    assert sys.executable in conf  # the add-in's own xlwings.conf names this Python
    before = installed.read_bytes()
    again = cli("addin", "install", "--dir", str(folder), home=home)
    assert again.returncode == 0 and "nothing changed" in again.stdout
    assert installed.read_bytes() == before
    status = cli("addin", "status", "--dir", str(folder), "--json", home=home)
    assert json.loads(status.stdout)["installed"] == json.loads(status.stdout)["version"]
    gone = cli("addin", "uninstall", "--dir", str(folder), home=home)
    assert gone.returncode == 0 and "Removed" in gone.stdout
    assert not installed.exists()
    assert (
        json.loads(cli("addin", "status", "--dir", str(folder), "--json", home=home).stdout)[
            "installed"
        ]
        is None
    )
    assert list(folder.iterdir()) == []  # nothing of the install left behind


def test_an_older_add_in_is_replaced_and_a_newer_one_kept(tmp_path: Path):
    folder = tmp_path / "XLSTART"
    folder.mkdir()
    old = folder / addin.ADDIN_NAME
    addin.build_addin(old)
    core = zipfile.ZipFile(old).read("docProps/core.xml").decode()

    def stamped(version: str) -> None:
        with zipfile.ZipFile(old) as archive:
            members = [(i, archive.read(i.filename)) for i in archive.infolist()]
        with zipfile.ZipFile(old, "w") as out:
            for info, data in members:
                if info.filename == "docProps/core.xml":
                    data = re.sub(r"<cp:version>[^<]*", f"<cp:version>{version}", core).encode()
                out.writestr(info, data)

    stamped("0.0.1")
    assert addin.install(folder).action == "replaced"
    assert addin.addin_version(old) == addin.__version__
    stamped("99.0")
    assert addin.install(folder).action == "kept"
    assert addin.addin_version(old) == "99.0"


def test_without_excel_the_command_says_so_and_offers_dir(tmp_path: Path):
    if sys.platform in ("win32", "darwin"):
        pytest.skip("this machine may have Excel")
    run = cli("addin", "install", home=tmp_path)
    assert run.returncode == 1
    said = " ".join((run.stdout + run.stderr).split())
    assert "Excel is not installed on this machine" in said and "--dir FOLDER" in said


def test_the_buttons_never_overwrite_a_users_own_summary_sheet(tmp_path: Path):
    """In Excel too (the ribbon writes through xlwings): a user's `Summary` keeps its
    cells; the engine writes `Summary (rebalancer)` beside it and finds it again."""
    from openpyxl import load_workbook

    from tests.io.corpus import run_one

    source = tmp_path / "mine.xlsx"
    wb = load_workbook(CORPUS / "format25.xlsx")
    wb.active.title = "Summary"
    wb.active["A1"] = "my own summary"
    wb.save(source)
    assert run_one(source, tmp_path / "run").status == "clean"
    path = tmp_path / "run" / "mine.xlsx"
    wb = load_workbook(path)
    del wb["Summary (rebalancer)"]  # as if the engine had never written beside it
    prices = wb["Prices"]  # Excel has no --prices: the prices typed on the sheet
    for row, (symbol, price) in enumerate((("VTI", 290.0), ("VXUS", 61.0), ("BND", 72.0)), 2):
        for col, value in enumerate((symbol, price, "2026-12-04", "manual"), 1):
            prices.cell(row=row, column=col, value=value)
    table = prices.tables["tblPrices"]
    table.ref = table.autoFilter.ref = "A1:D4"
    wb.save(path)
    book = open_book(path)
    macros.rebalance(book=str(path))
    macros.drift(book=str(path))
    names = [sh.name for sh in book.sheets]
    assert names.count("Summary (rebalancer)") == 1
    assert book.sheets["Summary"].range("A1").value == "my own summary"
    assert book.sheets["Summary (rebalancer)"].range("A1").value == "Key"  # its header


def test_other_settings_replace_an_add_in_of_the_same_version_and_status_shows_them(
    tmp_path: Path,
):
    """A second install with a conda environment was 'kept' (same version), silently
    still running the first Python; it is replaced now, and status says what it runs."""
    folder = tmp_path / "XLSTART"
    assert addin.install(folder, interpreter="/usr/bin/python3").action == "installed"
    assert addin.install(folder, interpreter="/usr/bin/python3").action == "kept"
    state = addin.install(folder, conda=("/opt/miniconda3", "rebal"))
    assert state.action == "updated"
    settings = addin.addin_settings(folder / addin.ADDIN_NAME)
    assert settings["Conda Env"] == "rebal" and "Interpreter_Mac" not in settings
    shown = cli("addin", "status", "--dir", str(folder), home=tmp_path)
    assert "Conda Env = rebal" in shown.stdout
