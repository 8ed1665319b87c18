"""`xl-rebalancer set`: settings changed without Excel, on a workbook Excel wrote.

The workbook is XlsxWriter's comparison file macro01.xlsm (made by Excel; the corpus in
tests/data/excel-written) with the rebalancer's sheets added by `init --into`, so the
save meets the user's own VBA project, sheets and styles, not only our template's."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from lxml import etree
from openpyxl import load_workbook

from tests.io.corpus import CORPUS, parts, unparsed


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xl_rebalancer", *args], capture_output=True, text=True
    )


def settings(book: Path) -> dict[str, object]:
    ws = load_workbook(book, read_only=True)["Settings"]
    return {r[0]: r[1] for r in ws.iter_rows(min_row=2, values_only=True) if r[0]}


def sheet_part(book: Path, title: str) -> str:
    """The package part of the sheet named `title` (workbook.xml and its relationships)."""
    package = parts(book)
    ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    rid = next(
        s.get(ns)
        for s in etree.fromstring(package["xl/workbook.xml"]).iter("{*}sheet")
        if s.get("name") == title
    )
    rels = etree.fromstring(package["xl/_rels/workbook.xml.rels"])
    target = next(r.get("Target") for r in rels if r.get("Id") == rid)
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def attached(tmp_path: Path) -> Path:
    book = tmp_path / "macro01.xlsm"
    shutil.copyfile(CORPUS / "macro01.xlsm", book)
    run = cli("init", "--into", str(book))
    assert run.returncode == 0, run.stdout + run.stderr
    return book


def test_set_writes_each_value_as_the_sheet_reads_it_and_touches_nothing_else(tmp_path: Path):
    book = attached(tmp_path)
    before = parts(book)
    run = cli(
        "set",
        str(book),
        "strategy=Risk Parity",
        "risk_free_rate=3%",
        "band_abs=0.04",
        "user_age=",
        "--json",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stderr == ""
    said = json.loads(run.stdout)["settings"]
    assert said == {
        "strategy": "risk_parity",
        "risk_free_rate": 0.03,
        "band_abs": 0.04,
        "user_age": None,
    }

    values = settings(book)
    assert values["strategy"] == "risk_parity"  # the name as the sheet spells it
    assert values["risk_free_rate"] == 0.03 and isinstance(values["risk_free_rate"], float)
    assert values["band_abs"] == 0.04
    assert values["user_age"] is None

    # Only the Settings sheet (and the shared strings its text may use) changed: the
    # user's VBA project, the ribbon, every other sheet and the styles are as they were.
    after = parts(book)
    changed = {n for n in before if before[n] != after.get(n)}
    tables = {n for n in changed if n.startswith("xl/tables/") and b'"tblSettings"' in after[n]}
    ours = {sheet_part(book, "Settings"), "xl/sharedStrings.xml", "docProps/core.xml", *tables}
    assert changed <= ours, changed
    assert after["xl/vbaProject.bin"] == before["xl/vbaProject.bin"]
    assert not unparsed(book)

    check = cli("validate", str(book), "--json")
    assert check.returncode == 0, check.stdout


def test_a_refused_value_names_what_was_meant_and_writes_nothing(tmp_path: Path):
    book = attached(tmp_path)
    digest = hashlib.sha256(book.read_bytes()).hexdigest()
    run = cli(
        "set", str(book), "stratgy=hrp", "lookback_days=abc", "strategy=min_varaince", "--json"
    )
    assert run.returncode == 1
    messages = [p["message"] for p in json.loads(run.stdout)["problems"]]
    assert "unknown setting 'stratgy'; did you mean strategy?" in messages
    assert any("lookback_days" in m and "'abc'" in m for m in messages), messages
    assert any("'min_varaince' is not one of" in m for m in messages), messages
    assert hashlib.sha256(book.read_bytes()).hexdigest() == digest

    bare = cli("set", str(book), "strategy")
    assert bare.returncode == 1 and "is not NAME=VALUE" in bare.stderr
    assert hashlib.sha256(book.read_bytes()).hexdigest() == digest
