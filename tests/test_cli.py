"""The command line as a user runs it: real processes, real files, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.conftest import sha256
from tests.io.test_reader import bad_book  # noqa: F401  (fixture)


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xl_rebalancer", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_demo_writes_a_rebalanced_household(tmp_path: Path):
    run = cli("demo", str(tmp_path / "demo"))
    assert run.returncode == 0, run.stderr
    book = tmp_path / "demo" / "demo_household.xlsm"
    assert "Trades" in run.stdout and "Estimated tax" in run.stdout
    wb = load_workbook(book, read_only=True)
    assert {"Drift", "Trades", "Summary", "Log"} <= set(wb.sheetnames)
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Trade count"] > 0
    assert summary["Largest drift after"] < summary["Largest drift before"]
    assert summary["Total value after"] + summary["Estimated costs"] == pytest.approx(
        summary["Total value before"] + summary["Cash flow"], abs=0.01
    )
    # Tickets an adviser would sign (issue 20): the demo used to buy 2 BND in the Roth
    # and 4 VTIP in the taxable account, and split one fund's buy over several accounts.
    trades = list(wb["Trades"].iter_rows(min_row=2, values_only=True))
    assert summary["Minimum trade"] == 322  # 0.1% of $322,031
    assert all(row[5] >= summary["Minimum trade"] for row in trades)
    # One fund per asset class per account (issue 44): each account that buys into a
    # class buys one fund of it. (A fund may be bought in two accounts when each has the
    # cash: the demo's VWO, where VXUS and VEA hold loss lots a buy would keep blocked.)
    classes = {r[1]: r[3] for r in wb["Holdings"].iter_rows(min_row=2, values_only=True)}
    bought_in: dict[tuple[str, str], set[str]] = {}
    for account, symbol, action, *_ in trades:
        if action == "BUY":
            bought_in.setdefault((account, classes.get(symbol, symbol)), set()).add(symbol)
    assert bought_in and all(len(funds) == 1 for funds in bought_in.values())


def test_validate_lists_every_problem_and_exits_1(bad_book: Path):  # noqa: F811
    before = sha256(bad_book)
    run = cli("validate", str(bad_book))
    assert run.returncode == 1
    for where in ("Accounts!B3", "Holdings!C4", "TaxLots!D4", "Targets!C2:C4", "Constraints!A2"):
        assert where in run.stderr
    assert "Traceback" not in run.stderr
    assert sha256(bad_book) == before
    as_json = cli("validate", str(bad_book), "--json")
    problems = json.loads(as_json.stdout)["problems"]
    assert as_json.returncode == 1 and len(problems) >= 14


def test_validate_ok_and_rebalance_json(two_funds_book: Path):
    ok = cli("validate", str(two_funds_book))
    assert ok.returncode == 0 and "OK" in ok.stdout
    before = sha256(two_funds_book)
    run = cli("rebalance", str(two_funds_book), "--json", "--dry-run")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    # AAA's gain is sold down to its band edge only (in_band_gains = avoid, issue 44;
    # tests/engine/test_rebalance.py works the figures).
    assert [(t["action"], t["symbol"], t["shares"]) for t in data["trades"]] == [
        ("SELL", "AAA", 9),
        ("BUY", "BBB", 15),
    ]
    assert sha256(two_funds_book) == before, "--dry-run wrote the file"


def test_drift_prints_the_table_and_leaves_no_stale_proposal(two_funds_book: Path):
    """After a rebalance, `drift` must not leave the old Trades and Report beside a Summary
    of 0 trades; it prints each line against its band and says a rebalance is due."""
    assert cli("rebalance", str(two_funds_book)).returncode == 0
    assert load_workbook(two_funds_book)["Trades"].max_row > 2
    run = cli("drift", str(two_funds_book))
    assert run.returncode == 0, run.stderr
    assert "Out of band" in run.stdout and "OUT" in run.stdout
    wb = load_workbook(two_funds_book)
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Trade count"] == 0
    drift = [r for r in wb["Drift"].iter_rows(min_row=2, values_only=True) if r[0] or r[1]]
    out_of_band = [r for r in drift if r[8] is True]
    assert out_of_band and summary["Rebalance triggered"] is True
    trades = [r for r in wb["Trades"].iter_rows(min_row=2, values_only=True) if any(r)]
    assert trades == []
    report = [c.value for row in wb["Report"].iter_rows() for c in row]
    assert "Largest trades" in report and "Sell" not in report
    assert wb.active.title == "Drift"


def test_usage_errors_exit_2_and_missing_price_exit_1(tmp_path: Path, two_funds_book: Path):
    assert cli("rebalance").returncode == 2
    assert cli("frobnicate", "x").returncode == 2
    assert cli("rebalance", str(two_funds_book), "--as-of", "yesterday").returncode == 2
    wb = load_workbook(two_funds_book, keep_vba=True)
    wb["Prices"].delete_rows(3)  # BBB's price
    wb.save(two_funds_book)
    run = cli("rebalance", str(two_funds_book))
    assert run.returncode == 1
    assert "Holdings!B3" in run.stderr and "no price for BBB" in run.stderr


def test_init_copies_the_template(tmp_path: Path):
    target = tmp_path / "mine.xlsm"
    assert cli("init", str(target)).returncode == 0
    assert "Settings" in load_workbook(target, read_only=True).sheetnames
    assert cli("init", str(target)).returncode == 1  # exists
    empty = cli("validate", str(target))
    assert empty.returncode == 1 and "no target weights" in empty.stderr


def test_harvest_and_rebalance_write_tax_harvest(demo_files, tmp_path: Path):
    book, prices = demo_files
    out = tmp_path / "harvest.xlsm"
    run = cli("harvest", str(book), "--prices", str(prices), "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert "Tax-loss harvest candidates" in run.stdout
    wb = load_workbook(out, read_only=True)
    assert "TaxHarvest" in wb.sheetnames and "Trades" not in wb.sheetnames
    rows = list(wb["TaxHarvest"].iter_rows(min_row=1, values_only=True))
    assert rows[0][:3] == ("Account", "Symbol", "LotId") and len(rows) > 1
    out2 = tmp_path / "rebalanced.xlsm"
    assert cli("rebalance", str(book), "--prices", str(prices), "--out", str(out2)).returncode == 0
    assert "TaxHarvest" in load_workbook(out2, read_only=True).sheetnames


def test_wash_sale_warnings_name_their_cells(tmp_path: Path):
    """A buy blocked by a recent loss sale names that sale's Transactions cell, and a lot
    kept because selling it would wash names the lot's cell (issue 24)."""
    import datetime as dt

    from tests.conftest import TWO_FUNDS, TWO_FUNDS_SETTINGS, write_book
    from xl_rebalancer.app import run_engine

    sheets = dict(TWO_FUNDS)
    sheets["Transactions"] = [
        {
            "date": dt.date(2026, 1, 10),
            "account": "Brokerage",
            "symbol": "BBB",
            "action": "SELL",
            "shares": 5,
            "price": 90.0,
            "realized_gain": -50.0,
        }
    ]
    book = write_book(tmp_path / "wash.xlsm", sheets, TWO_FUNDS_SETTINGS)
    report = run_engine(book, "rebalance")
    blocked = [w for w in report.warnings if w.message.startswith("no BUY of BBB")]
    assert blocked and blocked[0].sheet == "Transactions" and blocked[0].cell == "C2"
    log = [r for r in load_workbook(book)["Log"].iter_rows(min_row=2, values_only=True)]
    assert any(r[2] == "Transactions" and r[3] == "C2" and "no BUY of BBB" in r[4] for r in log)


def test_a_long_list_shows_its_first_rows_and_says_where_the_rest_are():
    """A large household's 5,000 trade rows took rich seconds to lay out on the terminal
    (issue 25); the terminal shows the first TERMINAL_ROWS and names the sheet."""
    from rich.console import Console

    from xl_rebalancer.cli.common import TERMINAL_ROWS, _table

    rows = [[f"S{i:04d}", f"{i:,}"] for i in range(1, 1201)]
    console = Console(record=True, width=100)
    console.print(_table("Trades", ["Symbol", "Value"], rows, {"Value"}, sheet="Trades"))
    text = console.export_text()
    assert f"S{TERMINAL_ROWS:04d}" in text and f"S{TERMINAL_ROWS + 1:04d}" not in text
    assert f"The first {TERMINAL_ROWS} of 1,200 rows; all are on the Trades sheet" in text
    short = Console(record=True, width=100)
    short.print(_table("Trades", ["Symbol", "Value"], rows[:3], {"Value"}, sheet="Trades"))
    assert "S0003" in short.export_text() and "The first" not in short.export_text()


def test_the_command_exits_quickly_but_runs_exit_handlers_and_flushes():
    """cli.run leaves without the interpreter's teardown; what a library registered with
    atexit still runs, the output is all there, and the exit code is main's."""
    script = (
        "import atexit, sys\n"
        "from xl_rebalancer import cli\n"
        "atexit.register(lambda: print('handler ran', flush=True))\n"
        "sys.argv = ['xl-rebalancer', *sys.argv[1:]]\n"
        "print('x' * 100000, end='')\n"  # buffered, unflushed output must not be lost
        "cli.run()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout.startswith("x" * 100000)
    assert "version" in done.stdout and done.stdout.rstrip().endswith("handler ran")
    bad = subprocess.run([sys.executable, "-c", script, "--bogus"], capture_output=True, text=True)
    assert bad.returncode == 2 and "No such option" in bad.stderr
    assert "handler ran" in bad.stdout
