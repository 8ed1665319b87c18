"""User text printed by the command line is text (issue 26): an account name or lot id
that looks like the terminal library's markup ("[/bold]", "[/]") prints as itself, and
never ends a run in a traceback after the workbook was saved."""

from __future__ import annotations

import copy
from pathlib import Path

from tests.conftest import TWO_FUNDS, TWO_FUNDS_SETTINGS, write_book
from tests.reliability.commands import cli

MARKUP = ["Joint [/bold] account", "lot[/]", "[red]L2[/red]"]


def test_markup_in_names_prints_as_text(tmp_path: Path):
    data = copy.deepcopy(TWO_FUNDS)
    account = MARKUP[0]
    data["Accounts"][0]["account"] = account
    for row in data["Holdings"] + data["TaxLots"]:
        row["account"] = account
    data["TaxLots"][0]["lot_id"] = MARKUP[1]
    data["TaxLots"][1]["lot_id"] = MARKUP[2]
    book = write_book(tmp_path / "markup.xlsm", data, TWO_FUNDS_SETTINGS)

    ok = cli("validate", str(book))
    assert ok.returncode == 0, ok.stderr
    assert "Traceback" not in ok.stderr
    run = cli("rebalance", str(book))
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert account in run.stdout and MARKUP[1] in run.stdout, run.stdout

    # A problem whose message quotes the user's text: validate's table, not a traceback.
    from openpyxl import load_workbook

    wb = load_workbook(book, keep_vba=True)
    wb["Accounts"]["B2"] = "[/] not a type"
    wb.save(book)
    bad = cli("validate", str(book))
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr
    assert "Accounts!B2" in bad.stderr and "'[/]_not_a_type'" in bad.stderr, bad.stderr
