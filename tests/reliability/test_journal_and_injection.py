"""The run journal reproduces a trade list; text from the workbook never becomes a formula."""

from __future__ import annotations

import copy
import json
import os
import shutil
import zipfile
from pathlib import Path

from openpyxl import load_workbook

from tests.conftest import TWO_FUNDS, TWO_FUNDS_SETTINGS, write_book
from tests.test_cli import cli
from xl_rebalancer.journal import entries, journal_path


def test_every_run_is_journaled_and_reproducible(demo_files: tuple[Path, Path], tmp_path: Path):
    book, prices = demo_files
    keep = tmp_path / "as-it-was.xlsm"
    work = tmp_path / "household.xlsm"
    shutil.copy2(book, keep)
    shutil.copy2(book, work)
    run = cli("rebalance", str(work), "--prices", str(prices))
    assert run.returncode == 0, run.stderr
    (tmp_path / "broken.xlsm").write_text("not a workbook")
    bad = cli("rebalance", str(tmp_path / "broken.xlsm"))
    assert bad.returncode == 1
    log = list(entries(Path(os.environ["XL_REBALANCER_JOURNAL"])))
    assert journal_path() == Path(os.environ["XL_REBALANCER_JOURNAL"])
    ok, failed = log[-2], log[-1]
    assert ok["status"] == "ok" and failed["status"] == "error"
    assert "not a readable Excel workbook" in failed["message"]
    assert ok["workbook"] == str(work.resolve()) and ok["engine_version"]
    assert ok["settings"]["lot_method"] and ok["prices"]["VTI"][2] == "file"
    assert ok["options"]["prices_file_sha256"] and ok["trade_count"] > 0
    # The Log sheet carries the same fingerprint.
    log_sheet = [r[-1] for r in load_workbook(work)["Log"].iter_rows(min_row=2, values_only=True)]
    assert any(ok["trades_sha256"] in str(m) for m in log_sheet)
    assert any(ok["inputs_sha256"] in str(m) for m in log_sheet)
    # Reproduce: the kept input, the recorded options, a dry run: the same trade list.
    again = cli("rebalance", str(keep), "--prices", str(prices), "--dry-run", "--json")
    assert again.returncode == 0, again.stderr
    replay = list(entries())[-1]
    assert replay["options"]["dry_run"] is True
    assert replay["input_sha256"] == ok["input_sha256"]
    assert replay["inputs_sha256"] == ok["inputs_sha256"]
    assert replay["trades_sha256"] == ok["trades_sha256"]
    assert json.loads(again.stdout)["trades"]
    shown = cli("journal", str(work), "--json")
    assert shown.returncode == 0, shown.stderr
    lines = json.loads(shown.stdout)["entries"]
    assert [x["trades_sha256"] for x in lines] == [ok["trades_sha256"]]
    table = cli("journal")
    assert "household.xlsm" in table.stdout and "broken.xlsm" in table.stdout


HOSTILE = ['=HYPERLINK("http://evil","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)"]


def test_names_that_look_like_formulas_stay_text(tmp_path: Path):
    """Account names and lot ids typed as formulas come back as text in every sheet the
    engine writes, with Excel's quote prefix, and read back unchanged."""
    data = copy.deepcopy(TWO_FUNDS)
    evil = HOSTILE[0]
    data["Accounts"][0]["account"] = evil
    for row in data["Holdings"] + data["TaxLots"]:
        row["account"] = evil
    for row, name in zip(data["TaxLots"], HOSTILE[1:], strict=True):
        row["lot_id"] = name
    book = write_book(tmp_path / "evil.xlsm", data, TWO_FUNDS_SETTINGS)
    run = cli("rebalance", str(book))
    assert run.returncode == 0, run.stderr
    wb = load_workbook(book)
    found = 0
    for title in ("Trades", "Drift", "TaxHarvest", "Log", "Summary"):
        if title not in wb.sheetnames:
            continue
        for row in wb[title].iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith(("=", "+", "-", "@")):
                    found += 1
                    assert cell.data_type == "s", (title, cell.coordinate)
                    assert cell.quotePrefix, (title, cell.coordinate)
    assert found >= 3
    with zipfile.ZipFile(book) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/sheet"):
                assert "<f>HYPERLINK" not in archive.read(name).decode()
    trades = list(wb["Trades"].iter_rows(min_row=2, values_only=True))
    assert trades and trades[0][0] == evil  # the value is the user's, unchanged
    # The batch report's CSV gets the apostrophe a CSV needs.
    report = tmp_path / "report"
    batch = cli("batch", str(book), "--out", str(tmp_path / "out"), "--report", str(report))
    assert batch.returncode == 0, batch.stderr
    text = report.with_suffix(".csv").read_text()
    assert "\n=" not in text and ",=" not in text
