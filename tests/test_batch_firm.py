"""The firm's side of `batch`: a client's page as a PDF, the firm-wide tax view, spouses
in two workbooks checked together for wash sales, and the review as a workbook."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree
from openpyxl import load_workbook

from tests.conftest import TWO_FUNDS, write_book
from tests.libreoffice import needs_libreoffice
from xl_rebalancer.batch import BatchOptions, household_units, run_batch
from xl_rebalancer.batch_report import write_reports
from xl_rebalancer.cli import main
from xl_rebalancer.demo import write_clients

DAY = dt.date(2026, 1, 15)
DISCLOSURE = (
    "For discussion only; not tax advice. Estimated taxes use the flat rates in your "
    "settings. Harbor Point Advisers LLC is a registered investment adviser."
)


def set_settings(book: Path, values: dict[str, Any]) -> None:
    """Type settings into a workbook's Settings sheet, as a user does."""
    wb = load_workbook(book, keep_vba=True)
    ws = wb["Settings"]
    rows = {str(r[0].value).strip(): r[0].row for r in ws.iter_rows(min_row=2) if r[0].value}
    for name, value in values.items():
        row = rows.get(name) or ws.max_row + 1
        ws.cell(row=row, column=1, value=name)
        ws.cell(row=row, column=2, value=value)
    wb.save(book)


def sheet_table(book: Path, title: str) -> list[dict[str, Any]]:
    wb = load_workbook(book, read_only=True, data_only=True)
    try:
        values = [tuple(r) for r in wb[title].iter_rows(values_only=True)]
    finally:
        wb.close()
    return [dict(zip(values[0], r, strict=False)) for r in values[1:] if any(r)]


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def firm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three generated clients run as a firm's night: one with names, a disclosure and
    a deposit, one with a withdrawal, one plain; the review, the tax view and PDFs."""
    root = tmp_path_factory.mktemp("firm")
    books, prices = write_clients(root / "books", 3, holdings=12, lots=6)
    set_settings(
        books[0],
        {
            "client_name": "Jane and John Doe",
            "firm_name": "Harbor Point Advisers LLC",
            "disclosure": DISCLOSURE,
            "cash_flow": 10_000,
        },
    )
    set_settings(books[1], {"cash_flow": -1_500, "st_loss_carryover": 2_500})
    digests = {b: b.read_bytes() for b in books}
    report = root / "out" / "REPORT"
    args = ["batch", str(root / "books"), "--prices", str(prices), "--out", str(root / "out")]
    pdf = ["--pdf"] if shutil.which("soffice") else []
    run = CliRunner().invoke(main, [*args, *pdf, "--workers", "1", "--report", str(report)])
    assert run.exit_code == 0, run.output
    return {
        "books": books,
        "out": root / "out",
        "report": report,
        "inputs_untouched": all(b.read_bytes() == digests[b] for b in books),
    }


@needs_libreoffice
def test_the_pdf_is_the_report_page_alone_with_names_date_disclosure_and_cash_flow(firm):
    out = firm["out"]
    first = out / "client-0001.proposal.pdf"
    assert first.exists() and firm["inputs_untouched"]
    info = subprocess.run(["pdfinfo", str(first)], capture_output=True, text=True, check=True)
    assert "Pages:           1" in info.stdout
    text = subprocess.run(
        ["pdftotext", "-layout", str(first), "-"], capture_output=True, text=True, check=True
    ).stdout
    today = dt.date.today()
    assert "Rebalance proposal" in text
    assert "Prepared for Jane and John Doe by Harbor Point Advisers LLC" in text
    assert f"{today.strftime('%B')} {today.day}, {today.year}" in text
    assert "Deposit of $10,000.00 invested by this proposal." in text
    assert "registered investment adviser" in " ".join(text.split())
    # Plain words, and only the Report: no other sheet's header made it into the page.
    assert "Share of the portfolio traded" in text and "Furthest from target" in text
    assert "Turnover" not in text and "Largest drift" not in text
    assert "LotId" not in text and "TargetWeight" not in text
    second = subprocess.run(
        ["pdftotext", str(out / "client-0002.proposal.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Withdrawal of $1,500.00 raised by this proposal." in second
    assert "Prepared for" not in second  # no client name: no "Prepared for" line
    third = subprocess.run(
        ["pdftotext", str(out / "client-0003.proposal.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "No deposit or withdrawal." in third


@needs_libreoffice
def test_report_command_prints_a_saved_workbooks_page_and_leaves_it_alone(firm, tmp_path):
    book = firm["out"] / "client-0001.xlsm"
    before = book.read_bytes()
    pdf = tmp_path / "page.pdf"
    run = CliRunner().invoke(main, ["report", str(book), "--pdf", str(pdf)])
    assert run.exit_code == 0, run.output
    assert book.read_bytes() == before
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Prepared for Jane and John Doe" in text and "Deposit of $10,000.00" in text
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert "Pages:           1" in info.stdout
    # A workbook never rebalanced has no page to print: said, not a traceback.
    fresh = firm["books"][2]
    run = CliRunner().invoke(main, ["report", str(fresh), "--pdf", str(tmp_path / "x.pdf")])
    assert run.exit_code != 0 and "no Report sheet" in run.output


def test_without_libreoffice_pdf_is_refused_in_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    books, prices = write_clients(tmp_path / "books", 1, holdings=12, lots=6)
    run = CliRunner().invoke(main, ["batch", str(books[0]), "--prices", str(prices), "--pdf"])
    assert run.exit_code == 1
    assert "needs LibreOffice (soffice), which was not found" in run.output
    assert "nothing was run" in run.output


def test_tax_view_agrees_with_each_workbooks_summary_and_harvest_sheets(firm):
    rows = {Path(r["workbook"]).name: r for r in csv_rows(Path(f"{firm['report']}-tax.csv"))}
    assert len(rows) == 3
    for book in firm["books"]:
        saved = firm["out"] / book.name
        summary = {r["Key"]: r["Value"] for r in sheet_table(saved, "Summary")}
        settings = {r["Setting"]: r["Value"] for r in sheet_table(saved, "Settings")}
        harvest = sheet_table(saved, "TaxHarvest")
        row = rows[book.name]
        assert float(row["ytd_realized_st"]) == pytest.approx(
            summary["Year ST gain before this run"]
        )
        assert float(row["ytd_realized_lt"]) == pytest.approx(
            summary["Year LT gain before this run"]
        )
        assert float(row["st_carryover"]) == pytest.approx(settings["st_loss_carryover"] or 0)
        assert float(row["lt_carryover"]) == pytest.approx(settings["lt_loss_carryover"] or 0)
        clear = [h for h in harvest if h["WashSale"] == "clear"]
        assert float(row["harvestable_loss"]) == pytest.approx(
            sum(h["UnrealizedLoss"] for h in clear)
        )
        assert int(row["harvestable_lots"]) == len(clear)
        assert float(row["estimated_tax"]) == pytest.approx(summary["Estimated tax"])
        assert float(row["year_tax"]) == pytest.approx(summary["Year tax on capital gains"])
        assert float(row["st_carryforward"]) == pytest.approx(
            summary["ST loss carried to next year"]
        )
    # The carryover typed in Settings is the one the view shows.
    assert float(rows["client-0002.xlsm"]["st_carryover"]) == 2_500
    # The same table is the review workbook's second sheet.
    review = firm["report"].with_suffix(".xlsx")
    sheet = sheet_table(review, "Tax view")
    assert sorted(r["Workbook"] for r in sheet) == sorted(rows)
    for r in sheet:
        assert r["Year's est. tax"] == pytest.approx(float(rows[r["Workbook"]]["year_tax"]))


def test_review_workbook_links_each_client_and_is_formatted(firm, tmp_path):
    review = firm["report"].with_suffix(".xlsx")
    wb = load_workbook(review)
    ws = wb["Review"]
    header = [c.value for c in ws[1]]
    assert header[:4] == ["Workbook", "Client", "Household", "Status"]
    # Where each proposal stands and who holds the accounts, as in REPORT.csv.
    assert {"Proposal", "Custodians", "Do not trade"} <= set(header)
    with open(firm["report"].with_suffix(".csv"), encoding="utf-8") as handle:
        rows = {Path(r["workbook"]).name: r for r in csv.DictReader(handle)}
    for row in range(2, ws.max_row + 1):
        name = ws.cell(row=row, column=1).value
        said = ws.cell(row=row, column=header.index("Custodians") + 1).value
        assert (said or "") == rows[name]["custodians"], name
    assert ws.freeze_panes == "B2" and ws.auto_filter.ref.startswith("A1:")
    for row in range(2, ws.max_row + 1):
        cell = ws.cell(row=row, column=1)
        target = cell.hyperlink.target
        assert not Path(target).is_absolute()  # relative: the folder moves as a whole
        assert (review.parent / target).exists(), target
    value = ws.cell(row=2, column=header.index("Value") + 1)
    assert isinstance(value.value, float) and "#,##0.00" in value.number_format
    share = ws.cell(row=2, column=header.index("Share traded") + 1)
    assert share.number_format == "0.00%"
    assert wb["Tax view"].freeze_panes == "B2"
    # Every XML part is well-formed.
    with zipfile.ZipFile(review) as archive:
        for name in archive.namelist():
            if name.endswith((".xml", ".rels")):
                etree.fromstring(archive.read(name))


@needs_libreoffice
def test_review_workbook_opens_in_libreoffice(firm, tmp_path):
    from tests.libreoffice import convert

    review = firm["report"].with_suffix(".xlsx")
    pdf = convert(review, "pdf", tmp_path / "pdf", tmp_path / "profile", recalc=False)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "client-0001.xlsm" in text and "Jane and John Doe" in text


# spouses --------------------------------------------------------------------------------


def _spouses(folder: Path, jane_household: str, john_household: str) -> tuple[Path, Path]:
    """Jane must sell AAA and buy BBB; her AAA lot L2 is at a loss. John bought AAA ten
    days ago and sold BBB at a loss a week ago, in his own workbook."""
    jane_data = copy.deepcopy(TWO_FUNDS)  # the two-fund household, with lot L2 at a loss
    jane_data["TaxLots"][1]["cost_basis"] = 3000.0
    jane_data["Targets"] = [
        {"symbol": "AAA", "target_weight": 0.3},
        {"symbol": "BBB", "target_weight": 0.7},
    ]
    for price in jane_data["Prices"]:
        price["as_of"] = DAY
    jane = write_book(
        folder / "jane.xlsx",
        jane_data,
        {"valuation_date": DAY, "cost_bps": 0, "household": jane_household},
    )
    john = write_book(
        folder / "john.xlsx",
        {
            # The same account name as Jane's: his purchases must still read as his.
            "Accounts": [{"account": "Brokerage", "type": "taxable", "cash": 0.0}],
            "Holdings": [{"account": "Brokerage", "symbol": "AAA", "shares": 10}],
            "TaxLots": [
                {
                    "account": "Brokerage",
                    "symbol": "AAA",
                    "lot_id": "J1",
                    "acquired": DAY - dt.timedelta(days=10),
                    "shares": 10,
                    "cost_basis": 600.0,
                }
            ],
            "Transactions": [
                {
                    "date": DAY - dt.timedelta(days=7),
                    "account": "Brokerage",
                    "symbol": "BBB",
                    "action": "SELL",
                    "shares": 10,
                    "price": 100.0,
                    "realized_gain": -700.0,
                    "acquired": dt.date(2025, 6, 1),
                    "term": "ST",
                }
            ],
            "Targets": [{"symbol": "AAA", "target_weight": 1.0}],
            "Prices": [
                {"symbol": "AAA", "price": 60.0, "as_of": DAY, "source": "manual"},
                {"symbol": "BBB", "price": 100.0, "as_of": DAY, "source": "manual"},
            ],
        },
        {"valuation_date": DAY, "cost_bps": 0, "household": john_household},
    )
    return jane, john


def _jane(folder: Path, jane_household: str, john_household: str) -> tuple[Any, Any]:
    jane, _ = _spouses(folder, jane_household, john_household)
    result = run_batch([folder], BatchOptions(workers=1, out_dir=folder / "out"))
    assert all(r.ok for r in result.rows), [r.message for r in result.rows]
    row = next(r for r in result.rows if Path(r.workbook) == jane)
    saved = folder / "out" / jane.name
    return row, saved


def test_spouses_sharing_a_household_are_checked_together_for_wash_sales(tmp_path):
    """IRS Pub. 550, "Wash Sales": a loss is disallowed when your spouse buys the fund
    within 30 days. Jane's loss lot of AAA is kept because John bought AAA ten days
    ago, and she does not buy BBB a week after John sold BBB at a loss."""
    (tmp_path / "apart").mkdir()
    (tmp_path / "together").mkdir()
    apart, apart_book = _jane(tmp_path / "apart", "DOE-1", "SMITH-7")
    together, together_book = _jane(tmp_path / "together", "DOE-1", "doe-1")
    assert (apart.household, together.household) == ("DOE-1", "DOE-1")

    apart_trades = sheet_table(apart_book, "Trades")
    assert any(t["Action"] == "BUY" and t["Symbol"] == "BBB" for t in apart_trades)
    assert any(t["LotId"] == "L2" for t in apart_trades)  # the loss lot sold first

    trades = sheet_table(together_book, "Trades")
    assert not any(t["Action"] == "BUY" and t["Symbol"] == "BBB" for t in trades)
    assert not any(t["LotId"] == "L2" for t in trades)
    harvest = {h["LotId"]: h for h in sheet_table(together_book, "TaxHarvest")}
    assert harvest["L2"]["WashSale"] == "blocked"
    assert "john.xlsx" in harvest["L2"]["BlockedBy"]
    assert "Brokerage (john.xlsx)" in harvest["L2"]["BlockedBy"]
    log = " ".join(str(r.get("Message")) for r in sheet_table(together_book, "Log"))
    assert "no BUY of BBB" in log and "john.xlsx" in log
    # Harvestable losses in the tax view leave out the lot John's purchase blocks.
    assert apart.harvestable_loss == pytest.approx(600.0)
    assert together.harvestable_loss == 0.0


def test_a_loss_sold_tonight_in_one_spouses_workbook_stops_the_others_buy(tmp_path):
    """Neither has anything on record; Jane's proposal tonight sells her AAA loss lot,
    John's would buy AAA with his deposit: run together, John's buy is dropped."""
    day = DAY
    jane = write_book(
        tmp_path / "a-jane.xlsx",
        {
            "Accounts": [{"account": "Brokerage", "type": "taxable", "cash": 0.0}],
            "Holdings": [
                {"account": "Brokerage", "symbol": "AAA", "shares": 50},
                {"account": "Brokerage", "symbol": "BBB", "shares": 10},
            ],
            "TaxLots": [
                {
                    "account": "Brokerage",
                    "symbol": "AAA",
                    "lot_id": "L1",
                    "acquired": dt.date(2025, 3, 1),
                    "shares": 50,
                    "cost_basis": 4000.0,
                },
                {
                    "account": "Brokerage",
                    "symbol": "BBB",
                    "lot_id": "B1",
                    "acquired": dt.date(2025, 3, 1),
                    "shares": 10,
                    "cost_basis": 1000.0,
                },
            ],
            "Targets": [
                {"symbol": "AAA", "target_weight": 0.2},
                {"symbol": "BBB", "target_weight": 0.8},
            ],
            "Prices": [
                {"symbol": "AAA", "price": 60.0, "as_of": day, "source": "manual"},
                {"symbol": "BBB", "price": 100.0, "as_of": day, "source": "manual"},
            ],
        },
        {"valuation_date": day, "cost_bps": 0, "household": "DOE"},
    )
    john = write_book(
        tmp_path / "b-john.xlsx",
        {
            "Accounts": [{"account": "IRA", "type": "tax_deferred", "cash": 5000.0}],
            "Holdings": [],
            "TaxLots": [],
            "Targets": [{"symbol": "AAA", "target_weight": 1.0}],
            "Prices": [{"symbol": "AAA", "price": 60.0, "as_of": day, "source": "manual"}],
        },
        {"valuation_date": day, "cost_bps": 0, "household": "DOE"},
    )
    assert household_units([jane, john]) == [(jane, john)]
    from xl_rebalancer.door import RunOptions

    result = run_batch([jane, john], BatchOptions(workers=1, run=RunOptions(dry_run=True)))
    rows = {Path(r.workbook).name: r for r in result.rows}
    assert all(r.ok for r in result.rows), [r.message for r in result.rows]
    assert rows["a-jane.xlsx"].sells and rows["a-jane.xlsx"].realized_lt is not None
    assert rows["b-john.xlsx"].trades == 0
    messages = [str(p.get("message")) for p in rows["b-john.xlsx"].problems]
    assert any(
        "no BUY of AAA" in m and "(a-jane.xlsx)" in m and "tonight's proposal" in m
        for m in messages
    )
    # Apart, John buys it.
    set_settings(john, {"household": "SMITH"})
    alone = run_batch([jane, john], BatchOptions(workers=1, run=RunOptions(dry_run=True)))
    assert {Path(r.workbook).name: r.trades for r in alone.rows}["b-john.xlsx"] == 1


def test_reports_are_written_whole(tmp_path):
    books, prices = write_clients(tmp_path / "books", 1, holdings=12, lots=6)
    from xl_rebalancer.door import RunOptions

    result = run_batch(
        books, BatchOptions(workers=1, run=RunOptions(prices_file=prices, dry_run=True))
    )
    assert result.rows[0].ok, result.rows[0].message
    files = write_reports(result, tmp_path / "r" / "REPORT")
    assert [p.name for p in files] == ["REPORT.csv", "REPORT.json", "REPORT.xlsx", "REPORT-tax.csv"]
    assert not list((tmp_path / "r").glob(".~*"))


@needs_libreoffice
def test_a_dry_run_puts_the_pdf_where_the_workbook_would_have_been_saved(tmp_path):
    from xl_rebalancer.door import RunOptions

    books, prices = write_clients(tmp_path / "books", 1, holdings=12, lots=6)
    before = sorted(p.name for p in (tmp_path / "books").iterdir())
    options = BatchOptions(
        workers=1,
        out_dir=tmp_path / "out",
        pdf=True,
        run=RunOptions(prices_file=prices, dry_run=True),
    )
    result = run_batch(books, options)
    assert result.rows[0].pdf == str(tmp_path / "out" / "client-0001.proposal.pdf"), result.rows[0]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["client-0001.proposal.pdf"]
    assert sorted(p.name for p in (tmp_path / "books").iterdir()) == before
