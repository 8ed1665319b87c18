"""The ribbon's macros, run as RunPython runs them: `xw.Book.caller()` is the workbook,
read and written through xlwings' real API over an in-memory "Excel" (openpyxl)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.conftest import TWO_FUNDS, TWO_FUNDS_SETTINGS, write_book
from tests.excel.xlwings_openpyxl import open_book
from tests.test_apply_actions import BOOK as ACTIONS_BOOK
from tests.test_apply_actions import SETTINGS as ACTIONS_SETTINGS
from xl_rebalancer.app import apply_corporate_actions, run_engine
from xl_rebalancer.excel import macros


def table(ws, header_row: int = 1) -> list[dict]:
    values = list(ws.iter_rows(min_row=header_row, values_only=True))
    header = values[0]
    return [dict(zip(header, r, strict=False)) for r in values[1:] if any(v is not None for v in r)]


def comparable(rows: list[dict]) -> list[tuple]:
    """Rows as Excel would show them (Excel hands every number back as a float)."""
    out = []
    for row in rows:
        out.append(
            tuple(
                (
                    k,
                    round(float(v), 6)
                    if isinstance(v, int | float) and not isinstance(v, bool)
                    else v,
                )
                for k, v in row.items()
            )
        )
    return out


@pytest.fixture
def books(tmp_path: Path) -> tuple[Path, Path]:
    live = write_book(tmp_path / "live.xlsm", TWO_FUNDS, TWO_FUNDS_SETTINGS)
    file = tmp_path / "file.xlsm"
    shutil.copy(live, file)
    return live, file


def test_rebalance_button_gives_the_command_lines_numbers(books):
    live, file = books
    book = open_book(live)
    macros.rebalance()
    (prompt, title) = book.app.impl.alerts[-1]
    assert title == "xl-rebalancer: rebalance" and "trades" in prompt
    run_engine(file, "rebalance")
    excel = book.impl.wb
    saved = load_workbook(file)
    for sheet in ("Trades", "Drift", "TaxHarvest"):
        assert comparable(table(excel[sheet])) == comparable(table(saved[sheet])), sheet
    ours = {r["Key"]: r["Value"] for r in table(excel["Summary"])}
    theirs = {r["Key"]: r["Value"] for r in table(saved["Summary"])}
    for key in ("Estimated tax", "Trade count", "Total value before", "Cash after"):
        assert ours[key] == pytest.approx(theirs[key]), key
    assert ours["Input hash"] and ours["Input hash"] != theirs["Input hash"]  # values vs file
    # The Report page: the same blocks, cell for cell, and the same two charts.
    live_report, file_report = excel["Report"], saved["Report"]
    for row in file_report.iter_rows():
        for cell in row:
            theirs_value = cell.value
            ours_value = live_report[cell.coordinate].value
            if isinstance(theirs_value, int | float):
                assert ours_value == pytest.approx(theirs_value), cell.coordinate
            else:
                assert ours_value == theirs_value, cell.coordinate
    charts = book.impl.charts["Report"]
    assert sorted(c["name"] for c in charts) == ["xlrbReportAccounts", "xlrbReportClasses"]


def test_engine_sheets_are_rewritten_in_place_with_their_charts(books):
    live, _ = books
    book = open_book(live)
    macros.rebalance()
    wb = book.impl.wb
    trades_ws = wb["Trades"]
    first = table(trades_ws)
    macros.rebalance()
    assert wb["Trades"] is trades_ws, "the sheet was replaced: formulas pointing at it break"
    assert table(wb["Trades"]) == first
    assert [t for t in wb["Trades"].tables] == ["tblTrades"]
    charts = book.impl.charts["Drift"]
    assert sorted(c["name"] for c in charts) == ["xlrbAllocation", "xlrbDrift"]
    allocation = next(c for c in charts if c["name"] == "xlrbAllocation")
    assert allocation["type"] == "bar_clustered"
    # Symbol, Weight and TargetWeight of AAA, BBB and CASH.
    assert allocation["source"] == "$B$1:$B$4,$D$1:$D$4,$E$1:$E$4"


def test_bad_input_is_a_message_and_log_rows_not_a_traceback(books):
    live, _ = books
    book = open_book(live)
    ws = book.impl.wb["Holdings"]
    ws["C2"] = "a hundred"
    before = {name: table(book.impl.wb[name]) for name in ("Holdings", "TaxLots", "Accounts")}
    macros.rebalance()
    prompt, title = book.app.impl.alerts[-1]
    assert title == "xl-rebalancer: rebalance stopped"
    assert "Holdings!C2" in prompt and "Traceback" not in prompt
    log = table(book.impl.wb["Log"])
    assert any(r["Sheet"] == "Holdings" and r["Cell"] == "C2" for r in log)
    assert "Trades" not in book.impl.wb.sheetnames
    assert {name: table(book.impl.wb[name]) for name in before} == before


def test_a_bug_is_reported_plainly(books, monkeypatch):
    live, _ = books
    book = open_book(live)

    def broken(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr("xl_rebalancer.engine.rebalance.rebalance", broken)
    assert macros.run("rebalance") is None
    prompt, _ = book.app.impl.alerts[-1]
    assert prompt.startswith("internal error (ZeroDivisionError: float division by zero)")


def test_a_native_solver_crash_is_an_alert_and_a_log_row(books, monkeypatch):
    """The ribbon's rebalance solves in a worker process too: one killed by SIGSEGV
    inside the solve (fault injection, see isolation.py) leaves the workbook's input as
    it was and says what happened in the alert and on the Log sheet."""
    live, _ = books
    book = open_book(live)
    before = {name: table(book.impl.wb[name]) for name in ("Holdings", "TaxLots", "Accounts")}
    monkeypatch.setenv("XL_REBALANCER_CRASH_SOLVER", "1")
    assert macros.run("rebalance") is None
    prompt, title = book.app.impl.alerts[-1]
    assert title == "xl-rebalancer: rebalance stopped"
    assert "optimizer (HiGHS) crashed" in prompt and "Traceback" not in prompt
    log = table(book.impl.wb["Log"])
    assert any("optimizer (HiGHS) crashed" in str(r["Message"]) for r in log)
    assert "Trades" not in book.impl.wb.sheetnames
    assert {name: table(book.impl.wb[name]) for name in before} == before


def test_validate_button_writes_the_log(books):
    live, _ = books
    book = open_book(live)
    macros.validate()
    log = table(book.impl.wb["Log"])
    assert log[0]["Message"].startswith("validate: no errors (1 accounts, 2 holdings, 3 lots")


def test_apply_corporate_actions_button_matches_the_command_line(tmp_path: Path):
    live = write_book(tmp_path / "live.xlsm", ACTIONS_BOOK, ACTIONS_SETTINGS)
    file = tmp_path / "file.xlsm"
    shutil.copy(live, file)
    book = open_book(live)
    macros.apply_corporate_actions()
    prompt, _ = book.app.impl.alerts[-1]
    assert "Applied: AAPL-2020, KD-2021." in prompt
    backups = list(tmp_path.glob("live.before-actions-*.xlsm"))
    assert len(backups) == 1
    apply_corporate_actions(file)
    saved = load_workbook(file)
    for sheet in ("TaxLots", "Holdings", "Accounts", "CorporateActions"):
        assert comparable(table(book.impl.wb[sheet])) == comparable(table(saved[sheet])), sheet
    # A second press applies nothing more.
    macros.apply_corporate_actions()
    assert "No action was due." in book.app.impl.alerts[-1][0]


def test_broker_buttons_match_the_command_line(tmp_path: Path):
    """Import, Export Orders and Record Fills through the live workbook give the tables
    and files the command line gives."""
    from tests.brokers.test_round_trip import FILES, start
    from xl_rebalancer.door import RunOptions
    from xl_rebalancer.trading import export_orders, import_files, record_fills

    live = start(tmp_path)
    file = tmp_path / "file.xlsm"
    shutil.copy(live, file)
    files = [FILES / "ibkr_flex.xml", FILES / "statement.ofx"]
    book = open_book(live)
    macros.import_files([str(f) for f in files])
    assert "change(s) from ibkr_flex.xml, statement.ofx" in book.app.impl.alerts[-1][0]
    import_files(file, files)
    saved = load_workbook(file)
    for sheet in ("Accounts", "Holdings", "TaxLots", "Transactions"):
        assert comparable(table(book.impl.wb[sheet])) == comparable(table(saved[sheet])), sheet
    macros.import_files([str(f) for f in files])
    assert "nothing changed" in book.app.impl.alerts[-1][0]

    macros.rebalance()
    run_engine(file, "rebalance")
    macros.export_orders()
    prompt = book.app.impl.alerts[-1][0]
    cli = export_orders(file, "csv", tmp_path / "cli")
    assert f"proposal {cli.checksum}" in prompt
    (written,) = tmp_path.glob("household-orders-csv-*.csv")
    assert written.read_text() == cli.files[0].read_text()

    macros.record_fills(None)
    assert "fill(s) recorded" in book.app.impl.alerts[-1][0]
    record_fills(file, None, options=RunOptions())
    saved = load_workbook(file)
    for sheet in ("Accounts", "TaxLots"):
        assert comparable(table(book.impl.wb[sheet])) == comparable(table(saved[sheet])), sheet
