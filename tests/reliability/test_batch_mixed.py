"""`batch` over a folder as users keep one (issue 45): good households, the backups the
program left beside them, a workbook with an error in it and hostile files. Every backup
is skipped by one rule and stays byte for byte the earlier state it keeps; one bad book
never stops the others; the report names each failure with its sentence."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

from tests.brokers.test_round_trip import FILES
from tests.conftest import TWO_FUNDS, TWO_FUNDS_SETTINGS, sha256, write_book
from tests.reliability.commands import cli as run_cli
from tests.reliability.test_hostile import LAUGHS, repack, with_doctype


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """A batch of workbooks takes longer than one command."""
    return run_cli(*args, timeout=timeout)


def test_batch_skips_every_backup_and_survives_bad_and_hostile_books(demo_files, tmp_path: Path):
    book, prices = demo_files
    folder = tmp_path / "clients"
    folder.mkdir()
    household = folder / "household.xlsm"
    shutil.copyfile(book, household)
    # The backups the program writes, each by the command that writes it.
    assert cli("rebalance", str(household), "--prices", str(prices)).returncode == 0
    fills = cli("record-fills", str(household), "--date", "2026-01-16", "--json")
    assert fills.returncode == 0, fills.stdout + fills.stderr
    # Import leaves lots without a date to fill in: that client is invalid until then.
    shutil.copyfile(book, folder / "imported.xlsm")
    imported = cli(
        "import",
        str(folder / "imported.xlsm"),
        str(FILES / "schwab_positions.csv"),
        "--account",
        "...1234=Taxable Joint",
        "--json",
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    backups = {Path(json.loads(run.stdout)["backup"]) for run in (fills, imported)}
    actions = folder / "household.before-actions-20261120-101500.xlsm"
    shutil.copyfile(book, actions)
    backups.add(actions)
    assert {p.name.split(".")[1].split("-")[1] for p in backups} == {"fills", "import", "actions"}
    kept = {p: sha256(p) for p in backups}

    two_funds = write_book(folder / "two_funds.xlsm", TWO_FUNDS, TWO_FUNDS_SETTINGS)
    bad_data = {k: [dict(r) for r in v] for k, v in TWO_FUNDS.items()}
    bad_data["Accounts"][0]["type"] = "brokerage account"
    write_book(folder / "bad_type.xlsm", bad_data, TWO_FUNDS_SETTINGS)
    (folder / "empty.xlsx").write_bytes(b"")
    (folder / "notes.xlsx").write_text("not a workbook, a note someone renamed\n")
    (folder / "half.xlsm").write_bytes(two_funds.read_bytes()[:4000])
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    with zipfile.ZipFile(two_funds) as package:
        workbook_xml = package.read("xl/workbook.xml")
    repack(two_funds, folder / "xxe.xlsm", {"xl/workbook.xml": with_doctype(workbook_xml, secret)})
    repack(two_funds, folder / "laughs.xlsm", {"xl/sharedStrings.xml": LAUGHS})

    run = cli(
        "batch",
        str(folder),
        "--command",
        "rebalance",
        "--prices",
        str(prices),
        "--report",
        str(tmp_path / "report"),
        "--json",
    )
    assert run.returncode == 1, run.stdout + run.stderr  # some books failed
    assert "Traceback" not in run.stderr and "TOP-SECRET" not in run.stdout
    report = json.loads(run.stdout)
    rows = {Path(r["workbook"]).name: r for r in report["rows"]}
    assert sorted(rows) == [
        "bad_type.xlsm",
        "empty.xlsx",
        "half.xlsm",
        "household.xlsm",
        "imported.xlsm",
        "laughs.xlsm",
        "notes.xlsx",
        "two_funds.xlsm",
        "xxe.xlsm",
    ], "a backup was run as a client"
    assert rows["household.xlsm"]["status"] == "ok", rows["household.xlsm"]
    assert rows["two_funds.xlsm"]["status"] == "ok", rows["two_funds.xlsm"]
    for name in (
        "bad_type.xlsm",
        "empty.xlsx",
        "half.xlsm",
        "laughs.xlsm",
        "notes.xlsx",
        "xxe.xlsm",
    ):
        assert rows[name]["status"] != "ok", name
        message = rows[name]["message"]
        assert message and "internal error" not in message and "Traceback" not in message, rows[
            name
        ]
    assert all(sha256(p) == digest for p, digest in kept.items()), "a backup was rewritten"
