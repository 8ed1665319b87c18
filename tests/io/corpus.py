"""Workbooks other programs wrote, taken through a user's first session with the rebalancer.

Each workbook is attached (`init --into`), given a household (`import` of a lots file
and of a model portfolio file) and rebalanced with offline prices, all through the
command line in-process. After every step each XML part must parse with lxml, and every
part of the user's must be byte for byte what it was, except the parts the engine must
edit (the package's directories, styles, strings, properties, the VBA project) and a
sheet's `tabSelected` and `codeName` attributes. A workbook the rebalancer cannot edit
must be refused with a sentence and left byte-identical.

Used by tests/io/test_excel_written.py (a sample) and benchmarks/corpus_run.py (all).
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from click.testing import CliRunner
from lxml import etree

from xl_rebalancer.cli import main

CORPUS = Path(__file__).resolve().parents[1] / "data" / "excel-written"
# Parts the engine edits in any workbook it attaches to or runs on.
ENGINE_EDITS = {
    "[content_types].xml",
    "_rels/.rels",
    "xl/workbook.xml",
    "xl/_rels/workbook.xml.rels",
    "xl/styles.xml",
    "xl/sharedstrings.xml",
    "xl/calcchain.xml",
    "docprops/app.xml",
    "docprops/core.xml",
    "docprops/custom.xml",
    "xl/vbaproject.bin",
}
LOTS = """Account,Symbol,Quantity,CostBasis,Acquired,Price
Joint Taxable,VTI,120,21000.00,2019-03-14,290.00
Joint Taxable,VTI,30,9300.00,2024-11-02,290.00
Joint Taxable,BND,200,16200.00,2021-06-01,72.00
Rollover IRA,VXUS,300,16500.00,2020-02-10,61.00
Rollover IRA,BND,100,7900.00,2022-01-05,72.00
"""
LOTS_MAP = (
    "account=Account,symbol=Symbol,shares=Quantity,cost_basis=CostBasis,"
    "acquired=Acquired,price=Price"
)
MODEL = "Symbol,TargetWeight\nVTI,50%\nVXUS,25%\nBND,25%\n"
PRICES = "date,symbol,close\n2026-12-04,VTI,290.00\n2026-12-04,VXUS,61.00\n2026-12-04,BND,72.00\n"
ACCOUNTS = "Joint Taxable=Joint Taxable,Rollover IRA=Rollover IRA"
_SHEET_ATTRS = re.compile(rb'\s(?:tabSelected|codeName)="[^"]*"')


@dataclass
class Outcome:
    name: str
    status: str = "clean"  # clean, refused, broken
    step: str = ""
    detail: str = ""
    changed_user_parts: list[str] = field(default_factory=list)


def _run(*args: str) -> dict:
    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    try:
        return json.loads(result.stdout)
    except ValueError:
        return {"ok": False, "error": f"no JSON (exit {result.exit_code}): {result.output[-300:]}"}


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


def unparsed(path: Path) -> list[str]:
    """XML parts of the package that lxml does not parse, with the reason."""
    bad = []
    for name, data in parts(path).items():
        if name.lower().endswith((".xml", ".rels", ".vml")):
            try:
                etree.fromstring(data, etree.XMLParser(resolve_entities=False))
            except etree.XMLSyntaxError as exc:
                bad.append(f"{name}: {exc}")
    return bad


def changed_user_parts(before: dict[str, bytes], after_path: Path) -> list[str]:
    """The user's parts that are gone or differ (sheet attributes the engine sets aside)."""
    after = parts(after_path)
    after_lower = {n.lower(): n for n in after}
    changed = []
    for name, data in before.items():
        if name.lower() in ENGINE_EDITS:
            continue
        new = after_lower.get(name.lower())
        if new is None:
            changed.append(f"{name} (gone)")
            continue
        if after[new] == data:
            continue
        sheet = name.startswith(("xl/worksheets/sheet", "xl/chartsheets/sheet"))
        if sheet and _SHEET_ATTRS.sub(b"", after[new]) == _SHEET_ATTRS.sub(b"", data):
            continue
        changed.append(name)
    return changed


def run_one(source: Path, work: Path) -> Outcome:
    """One workbook through attach, import (lots, then model) and rebalance."""
    outcome = Outcome(source.name)
    work.mkdir(parents=True, exist_ok=True)
    book = work / source.name
    shutil.copyfile(source, book)
    original = parts(book)
    lots, model, prices = work / "lots.csv", work / "model.csv", work / "prices.csv"
    lots.write_text(LOTS)
    model.write_text(MODEL)
    prices.write_text(PRICES)
    steps = [
        ("init --into", ["init", "--into", str(book)]),
        ("import lots", ["import", str(book), str(lots), "--map", LOTS_MAP, "--account", ACCOUNTS]),
        ("import model", ["import", str(book), str(model)]),
        ("rebalance", ["rebalance", str(book), "--prices", str(prices), "--as-of", "2026-12-04"]),
    ]
    for step, args in steps:
        before = book.read_bytes()
        answer = _run(*args)
        if not answer.get("ok"):
            outcome.step = step
            outcome.detail = str(answer.get("error") or answer.get("problems"))
            unchanged = book.read_bytes() == before
            outcome.status = "refused" if step == "init --into" and unchanged else "broken"
            if step != "init --into" and unchanged:
                outcome.status = "broken"  # attached, then a later step failed
            return outcome
        bad = unparsed(book)
        if bad:
            outcome.status, outcome.step, outcome.detail = "broken", step, bad[0]
            return outcome
        changed = changed_user_parts(original, book)
        if changed:
            outcome.status, outcome.step = "broken", step
            outcome.changed_user_parts = changed
            outcome.detail = f"user parts changed: {', '.join(changed[:5])}"
            return outcome
    return outcome
