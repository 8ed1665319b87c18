"""`apply-actions` end to end on a real workbook: lots, holdings and cash rewritten in
place, statuses written back, a backup beside it, the Log listing every change, the
ribbon and the user's extra columns kept, and a second run changing nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from tests.conftest import sha256, write_book
from xl_rebalancer.cli import main
from xl_rebalancer.workbook.package import ribbon_relationships

D = dt.date
BOOK = {
    "Accounts": [
        {"account": "Brokerage", "type": "taxable", "cash": 100.0},
        {"account": "IRA", "type": "tax_deferred", "cash": 0.0},
    ],
    "Holdings": [
        {"account": "Brokerage", "symbol": "IBM", "shares": 227, "asset_class": "US Stocks"},
        {"account": "IRA", "symbol": "AAPL", "shares": 10, "asset_class": "US Stocks"},
    ],
    "TaxLots": [
        {
            "account": "Brokerage",
            "symbol": "IBM",
            "lot_id": "I1",
            "acquired": D(2009, 6, 1),
            "shares": 227,
            "cost_basis": 6356.00,
        },
    ],
    "Targets": [{"asset_class": "US Stocks", "target_weight": 1.0}],
    "CorporateActions": [
        {
            "action_id": "KD-2021",
            "type": "spinoff",
            "symbol": "IBM",
            "effective_date": D(2021, 11, 3),
            "ratio": 0.2,
            "new_symbol": "KD",
            "basis_allocation": 0.0418,
            "new_symbol_price": 20.45,
        },
        {
            "action_id": "AAPL-2020",
            "type": "split",
            "symbol": "AAPL",
            "effective_date": D(2020, 8, 31),
            "ratio": 4,
        },
        {
            "action_id": "LATER",
            "type": "cash_dividend",
            "symbol": "IBM",
            "effective_date": D(2027, 3, 10),
            "cash_per_share": 1.68,
        },
    ],
}
SETTINGS = {"valuation_date": D(2021, 12, 1)}


def rows(path: Path, sheet: str) -> list[dict]:
    wb = load_workbook(path, data_only=True)
    ws = wb[sheet]
    values = list(ws.iter_rows(values_only=True))
    header = values[0]
    return [dict(zip(header, r, strict=False)) for r in values[1:] if any(v is not None for v in r)]


def test_apply_actions_end_to_end(tmp_path: Path):
    book = write_book(tmp_path / "household.xlsm", BOOK, SETTINGS)
    # A column of the user's own inside the lots table must survive.
    from openpyxl.worksheet.table import TableColumn

    wb = load_workbook(book, keep_vba=True)
    ws = wb["TaxLots"]
    table = ws.tables["tblTaxLots"]
    ws["J1"], ws["J2"] = "Broker note", "from 2009 statement"
    table.ref = table.autoFilter.ref = "A1:J2"
    table.tableColumns.append(TableColumn(id=10, name="Broker note"))
    wb.save(book)
    ribbon = ribbon_relationships(book)

    result = CliRunner().invoke(main, ["apply-actions", str(book), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["applied"] == ["AAPL-2020", "KD-2021"]
    backup = Path(data["backup"])
    assert backup.exists() and backup.parent == book.parent

    lots = {(r["Symbol"], r["LotId"]): r for r in rows(book, "TaxLots")}
    assert lots[("IBM", "I1")]["CostBasis"] == pytest.approx(6090.32)
    assert lots[("IBM", "I1")]["Broker note"] == "from 2009 statement"
    assert lots[("KD", "I1-KD")]["Shares"] == 45
    assert lots[("KD", "I1-KD")]["CostBasis"] == pytest.approx(263.34)
    assert lots[("KD", "I1-KD")]["Acquired"].date() == D(2009, 6, 1)
    holdings = {(r["Account"], r["Symbol"]): r for r in rows(book, "Holdings")}
    assert holdings[("IRA", "AAPL")]["Shares"] == 40
    assert holdings[("Brokerage", "KD")]["Shares"] == 45
    assert holdings[("Brokerage", "KD")]["AssetClass"] == "US Stocks"
    cash = {r["Account"]: r["Cash"] for r in rows(book, "Accounts")}
    assert cash["Brokerage"] == pytest.approx(108.18)
    actions = {r["ActionId"]: r for r in rows(book, "CorporateActions")}
    assert actions["KD-2021"]["Status"] == "applied" and actions["KD-2021"]["AppliedOn"]
    assert actions["LATER"]["Status"] in (None, "pending")
    log = " ".join(str(r["Message"]) for r in rows(book, "Log"))
    assert "I1-KD" in log and "gain 5.84 LT" in log and "LATER" in log
    assert ribbon_relationships(book) == ribbon, "the ribbon must survive apply-actions"
    table = load_workbook(book)["TaxLots"].tables["tblTaxLots"]
    assert table.ref == "A1:J3"  # two lots now, and the user's column kept

    # The workbook still validates and rebalances with the new lots.
    assert CliRunner().invoke(main, ["validate", str(book)]).exit_code == 0

    # Applying again changes nothing at all.
    before = sha256(book)
    again = CliRunner().invoke(main, ["apply-actions", str(book)])
    assert again.exit_code == 0 and "nothing changed" in again.output
    assert sha256(book) == before


def test_bad_action_rows_are_named_by_cell_and_nothing_is_written(tmp_path: Path):
    bad = dict(BOOK)
    bad["CorporateActions"] = [
        {
            "action_id": "S1",
            "type": "spinoff",
            "symbol": "IBM",
            "effective_date": D(2021, 11, 3),
            "ratio": 0.2,
            "new_symbol": "KD",
        },
        {
            "action_id": "M1",
            "type": "merger",
            "symbol": "IBM",
            "effective_date": D(2021, 11, 3),
            "ratio": 0.5,
        },
        {
            "action_id": "M1",
            "type": "split",
            "symbol": "IBM",
            "effective_date": D(2021, 11, 3),
            "ratio": 2,
        },
        {
            "action_id": "R1",
            "type": "split",
            "symbol": "IBM",
            "effective_date": D(2021, 11, 3),
            "ratio": -2,
        },
        {
            "action_id": "U1",
            "type": "split",
            "symbol": "ZZZ",
            "effective_date": D(2021, 11, 3),
            "ratio": 2,
        },
    ]
    book = write_book(tmp_path / "bad.xlsm", bad, SETTINGS)
    before = sha256(book)
    result = CliRunner(env={"COLUMNS": "300"}).invoke(main, ["apply-actions", str(book)])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "BasisAllocation" in text  # the spin-off without an allocation
    assert "NewSymbol" in text  # the merger without a new symbol
    assert "used twice" in text  # duplicate ActionId
    assert "E5" in text  # the ratio ≤ 0, at its cell
    assert sha256(book) == before
    assert not list(tmp_path.glob("*before-actions*"))

    # With the row errors fixed, an action on a symbol nobody holds is named too.
    unknown = dict(BOOK)
    unknown["CorporateActions"] = [bad["CorporateActions"][4]]
    book2 = write_book(tmp_path / "unknown.xlsm", unknown, SETTINGS)
    result = CliRunner(env={"COLUMNS": "300"}).invoke(main, ["apply-actions", str(book2)])
    assert result.exit_code == 1
    assert "ZZZ is not held" in " ".join(result.output.split())


def test_pub_550_nondividend_distributions_reduce_basis_then_are_a_gain(tmp_path: Path):
    # IRS Pub. 550, "Nondividend Distributions", Example: stock bought for $100; a
    # nondividend distribution of $80 reduces the basis to $20; a later one of $30
    # first reduces it to zero and the other $10 is a long-term capital gain. Here ten
    # shares bought for $100 in 2007, $8 then $3 a share returned.
    book = write_book(
        tmp_path / "roc.xlsm",
        {
            "Accounts": [{"account": "Brokerage", "type": "taxable", "cash": 0.0}],
            "Holdings": [{"account": "Brokerage", "symbol": "REIT", "shares": 10}],
            "TaxLots": [
                {
                    "account": "Brokerage",
                    "symbol": "REIT",
                    "lot_id": "R1",
                    "acquired": D(2007, 3, 1),
                    "shares": 10,
                    "cost_basis": 100.0,
                }
            ],
            "Targets": [{"symbol": "REIT", "target_weight": 1.0}],
            "CorporateActions": [
                {
                    "action_id": "ROC-2010",
                    "type": "return_of_capital",
                    "symbol": "REIT",
                    "effective_date": D(2010, 6, 1),
                    "cash_per_share": 8,
                },
                {
                    "action_id": "ROC-2020",
                    "type": "return_of_capital",
                    "symbol": "REIT",
                    "effective_date": D(2020, 6, 1),
                    "cash_per_share": 3,
                },
            ],
        },
        {"valuation_date": D(2020, 12, 31)},
    )
    result = CliRunner().invoke(main, ["apply-actions", str(book), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["applied"] == ["ROC-2010", "ROC-2020"]
    (lot,) = rows(book, "TaxLots")
    assert (lot["Shares"], lot["CostBasis"]) == (10, 0)
    assert rows(book, "Accounts")[0]["Cash"] == pytest.approx(110)
    log = " ".join(str(r["Message"]) for r in rows(book, "Log"))
    assert "ROC-2020: Brokerage REIT lot R1" in log and "gain 10.00 LT" in log
