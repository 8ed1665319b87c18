"""What import says when the files and the workbook do not agree, and what it keeps."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from click.testing import CliRunner
from openpyxl import load_workbook

from tests.brokers.test_round_trip import FILES, start
from tests.tax.helpers import lot, run, sheet
from xl_rebalancer.cli import main
from xl_rebalancer.excel.template import build_workbook


def messages(doc: dict) -> list[str]:
    return [f"{w['sheet']}: {w['message']}" for w in doc["warnings"]]


def test_position_without_lots_gets_a_dateless_lot_named_at_its_cell(tmp_path: Path):
    book = start(tmp_path)
    doc = run("import", book, str(FILES / "schwab_positions.csv"), "--account", "...1234=Joint")
    said = messages(doc)
    assert any(
        "schwab_positions.csv: line 4: Joint VTI: 110 of 110 shares have no lot" in m
        and "20,890.00" in m
        for m in said
    ), said
    lots = {r["LotId"]: r for r in sheet(book, "TaxLots")}
    assert lots["VTI-NODATE"]["Acquired"] is None and lots["VTI-NODATE"]["CostBasis"] == 20890
    # The workbook does not pretend: validate points at the cell to fill in.
    result = CliRunner().invoke(main, ["validate", str(book), "--json"])
    assert result.exit_code == 1 and "TaxLots" in result.stdout and "Acquired" in result.stdout


def test_the_users_own_lots_are_kept_when_they_add_up_or_when_shares_were_sold(tmp_path: Path):
    valuation = dt.date(2024, 12, 31)
    book = build_workbook(
        tmp_path / "own.xlsm",
        {
            "Accounts": [
                {"account": "Joint", "type": "taxable", "cash": 0, "broker_account": "...1234"}
            ],
            "TaxLots": [
                lot("Joint", "VTI", "A", dt.date(2019, 5, 1), 60, 9000, lock="lock"),
                lot("Joint", "VTI", "B", dt.date(2020, 5, 1), 50, 8000),
                lot("Joint", "BND", "C", dt.date(2019, 5, 1), 120, 9000),
            ],
            "Targets": [{"symbol": "VTI", "target_weight": 1.0}],
        },
        settings={"valuation_date": valuation},
    )
    doc = run("import", book, str(FILES / "schwab_positions.csv"))
    lots = {r["LotId"]: r for r in sheet(book, "TaxLots")}
    # VTI: 110 on both sides: the user's lots (and their Lock) stay exactly as typed.
    assert lots["A"]["Shares"] == 60 and lots["A"]["Lock"] == "lock" and lots["B"]["Shares"] == 50
    # BND: the lots hold 120, the broker 100: nothing is guessed, the message says what to do.
    assert lots["C"]["Shares"] == 120
    assert any(
        "BND: the lots on TaxLots hold 120 shares, the broker's position 100" in m
        for m in messages(doc)
    )
    assert not any(c["sheet"] == "TaxLots" for c in doc["changes"])


def test_cusip_and_unsupported_rows_are_named_with_file_and_line(tmp_path: Path):
    book = start(tmp_path)
    doc = run("import", book, str(FILES / "fidelity_positions.csv"), str(FILES / "ibkr_flex.xml"))
    said = messages(doc)
    assert any(
        "fidelity_positions.csv: line 5: 315911750 is a CUSIP without a ticker" in m for m in said
    ), said
    assert any("ibkr_flex.xml: OpenPosition 4" in m and "OPT is not supported" in m for m in said)
    types = {r["Account"]: r["Type"] for r in sheet(book, "Accounts")}
    assert types["ROTH IRA X12345678"] == "tax_exempt"
    # A Roth needs no lots: positions only, no dateless lot.
    assert not [r for r in sheet(book, "TaxLots") if r["Account"] == "ROTH IRA X12345678"]


def test_formula_text_in_a_file_stays_text(tmp_path: Path):
    book = start(tmp_path)
    evil = tmp_path / "evil.csv"
    evil.write_text(
        "Account,Symbol,Shares,Cost Basis,Acquired\n"
        '"=HYPERLINK(""http://x"",""y"")",VTI,1,100,2020-01-02\n'
    )
    run("import", book, str(evil))
    ws = load_workbook(book)["Accounts"]
    cell = ws["A2"]
    assert cell.value.startswith("=HYPERLINK") and cell.data_type == "s"


def test_realized_file_replaces_the_historys_plain_sale(tmp_path: Path):
    book = start(tmp_path)
    run(
        "import",
        book,
        str(FILES / "schwab_transactions.csv"),
        "--account",
        "...1234=Joint",
        "--account",
        "*=Joint",
    )
    sells = [r for r in sheet(book, "Transactions") if r["Action"] == "SELL"]
    assert len(sells) == 1 and sells[0]["Acquired"] is None
    doc = run("import", book, str(FILES / "schwab_realized.csv"))
    sells = [r for r in sheet(book, "Transactions") if r["Action"] == "SELL"]
    assert len(sells) == 1, sells
    assert sells[0]["RealizedGain"] == 2793 and sells[0]["Term"] == "LT"
    assert {c["kind"] for c in doc["changes"] if c["sheet"] == "Transactions"} == {
        "added",
        "removed",
    }
