"""Every kind of package we write, judged by Microsoft's Open XML SDK validator (Office
2021 rules; tests/openxml_sdk.py): the template, the add-in, the workbook after each
command that writes it, and workbooks Excel, LibreOffice and XlsxWriter wrote after
`init --into`, `import` and `rebalance`. The SDK validates the ribbon's customUI part
against its schema too. No error is allowed but the one known false alarm (the order of
a <font>'s children)."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import pytest

from tests import openxml_sdk
from tests.conftest import REPO
from tests.io.corpus import CORPUS, run_one
from tests.io.test_excel_written import _formulas_book, _xlsxwriter_book, cli
from tests.libreoffice import SOFFICE, convert
from xl_rebalancer.app import run_engine
from xl_rebalancer.door import RunOptions
from xl_rebalancer.excel.addin import build_addin

pytestmark = pytest.mark.skipif(
    openxml_sdk.missing() is not None, reason=str(openxml_sdk.missing())
)


def test_the_validator_reports_what_excel_would_repair(tmp_path: Path):
    # A control: a worksheet with an attribute the schema has not and its <cols> after
    # <sheetData> (CT_Worksheet is a sequence); Excel offers to repair such a file.
    book = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(CORPUS / "format25.xlsx") as src, zipfile.ZipFile(book, "w") as out:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<sheetData", b'<sheetData rogue="1"', 1)
                data = re.sub(
                    b"(<sheetData.*?</sheetData>|<sheetData[^>]*/>)",
                    rb"\1<cols/>",
                    data,
                    count=1,
                    flags=re.S,
                )
            out.writestr(item, data)
    found = openxml_sdk.errors(book)[str(book)]
    assert any("sheet1.xml" in e and "rogue" in e for e in found), found
    assert len(found) >= 2, found


def test_every_package_we_write_passes_microsofts_validator(tmp_path: Path, demo_files):
    book, prices = demo_files
    written = [REPO / "workbook_template.xlsm", build_addin(tmp_path / "xl_rebalancer.xlam")]
    for command in ("rebalance", "harvest", "realized", "drift"):
        work = tmp_path / "demo" / f"{command}.xlsm"
        work.parent.mkdir(exist_ok=True)
        shutil.copyfile(book, work)
        run_engine(work, command, RunOptions(prices_file=prices, recalc=command == "rebalance"))
        written.append(work)
    filled = tmp_path / "demo" / "filled.xlsm"
    shutil.copyfile(written[2], filled)  # the rebalanced household: its proposal, filled
    done = cli("record-fills", str(filled), "--date", "2026-12-07")
    assert done.returncode == 0, done.stdout + done.stderr
    written.append(filled)
    new = tmp_path / "new.xlsm"
    assert cli("init", str(new)).returncode == 0
    written.append(new)

    # Other programs' workbooks after a user's first session.
    sources = [CORPUS / n for n in ("chart_axis21.xlsx", "chartsheet02.xlsx", "comment04.xlsx",
                                    "image14.xlsx", "table24.xlsx", "textbox05.xlsx",
                                    "macro01.xlsm", "button07.xlsm")]  # fmt: skip
    (tmp_path / "built").mkdir()
    sources.append(_xlsxwriter_book(tmp_path / "built" / "built.xlsm"))
    if SOFFICE:
        sources.append(convert(CORPUS / "table24.xlsx", "xlsx", tmp_path / "lo", tmp_path / "p"))
    for source in sources:
        outcome = run_one(source, tmp_path / "run" / source.parent.name / source.stem)
        assert outcome.status == "clean", f"{source.name}: {outcome.step}: {outcome.detail}"
        written.append(tmp_path / "run" / source.parent.name / source.stem / source.name)

    # --recalc on a user's sheet of formulas (a spill among them), text box and picture.
    notes = _formulas_book(tmp_path / "built" / "notes.xlsx")
    outcome = run_one(notes, tmp_path / "run" / "notes")
    assert outcome.status == "clean", outcome.detail
    book = tmp_path / "run" / "notes" / "notes.xlsx"
    done = cli("recalc", str(book))
    assert done.returncode == 0, done.stdout + done.stderr
    written.append(book)

    found = openxml_sdk.errors(*written)
    assert len(found) == len(written)
    failing = {Path(p).name: e[:3] for p, e in found.items() if e}
    assert not failing, failing
