"""The reader on real workbooks: every mistake reported with its cell, the file untouched."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.conftest import TWO_FUNDS, TWO_FUNDS_SETTINGS, sha256, write_book
from xl_rebalancer.errors import InputError
from xl_rebalancer.workbook.reader import read_workbook

BAD = {
    "Accounts": [
        {"account": "Brokerage", "type": "taxable", "cash": 1000},
        {"account": "IRA", "type": "brokerage", "cash": 0},  # row 3: enum
        {"account": "Roth", "type": "tax_exempt", "cash": "lots"},  # row 4: number
    ],
    "Holdings": [
        {"account": "Brokerage", "symbol": "VTI", "shares": 10},  # row 2: lots != 10
        {"account": "Joint", "symbol": "BND", "shares": 5},  # row 3: account
        {"account": "IRA", "symbol": "VXUS", "shares": -5},  # row 4: negative
    ],
    "TaxLots": [
        {
            "account": "Brokerage",
            "symbol": "VTI",
            "lot_id": "A",
            "acquired": dt.date(2020, 1, 2),
            "shares": 4,
            "cost_basis": 800,
        },
        {
            "account": "Brokerage",
            "symbol": "VTI",
            "lot_id": "A",
            "acquired": dt.date(2021, 1, 4),
            "shares": 4,
            "cost_basis": 900,
        },  # row 3: dup id
        {
            "account": "Brokerage",
            "symbol": "VXUS",
            "lot_id": "C",
            "acquired": "15/03/2024",
            "shares": 1,
            "cost_basis": 50,
        },  # row 4: date
        {
            "account": "Brokerage",
            "symbol": "BND",
            "lot_id": "D",
            "acquired": dt.date(2022, 1, 3),
            "shares": 1,
            "cost_basis": "#N/A",
        },  # row 5: error
        {
            "account": "Brokerage",
            "symbol": "BND",
            "lot_id": "E",
            "acquired": dt.date(2027, 1, 4),
            "shares": 1,
            "cost_basis": 70,
        },  # row 6: future
    ],
    "Targets": [
        {"symbol": "VTI", "target_weight": 0.6},
        {"symbol": "BND", "target_weight": 0.3},
        {"symbol": "VXUS", "target_weight": 0.3},  # sum 120%
    ],
    "Constraints": [
        {"scope": "sector", "name": "Tech", "max_weight": 0.3},  # row 2: enum
        {"scope": "symbol", "name": "VTI", "max_weight": 1.5},  # row 3: > 1
    ],
}
BAD_SETTINGS = {
    "valuation_date": dt.date(2026, 6, 30),
    "lot_method": "fifo2",
    "cash_min": 0.5,
    "cash_max": 0.1,
}


@pytest.fixture
def bad_book(tmp_path: Path) -> Path:
    path = write_book(tmp_path / "bad.xlsm", BAD, BAD_SETTINGS)
    wb = load_workbook(path, keep_vba=True)
    settings = wb["Settings"]
    settings.cell(row=settings.max_row + 1, column=1, value="max_turnvoer")  # unknown setting
    settings.cell(row=settings.max_row, column=2, value=0.2)
    tx = wb["Transactions"]
    tx.delete_cols(5)  # drop Shares
    wb.save(path)
    return path


def _cells(exc: InputError) -> dict[str, str]:
    return {p.where: p.message for p in exc.problems}


def test_every_mistake_named_with_its_cell(bad_book: Path):
    before, mtime = sha256(bad_book), os.stat(bad_book).st_mtime_ns
    with pytest.raises(InputError) as caught:
        read_workbook(bad_book)
    found = _cells(caught.value)
    settings_row = {
        name: i + 2
        for i, name in enumerate(
            __import__("xl_rebalancer.models", fromlist=["Settings"]).Settings.model_fields
        )
    }
    expected = {
        "Accounts!B3": "not one of",
        "Accounts!C4": "expected a number",
        "Holdings!A3": "not on the Accounts sheet",
        "Holdings!C4": "at least 0",
        "Holdings!C2": "add up to 8",
        "TaxLots!C3": "used twice",
        "TaxLots!D4": "2024-03-15",
        "TaxLots!F5": "#N/A",
        "Constraints!D3": "at most 1",
        "Targets!C2:C4": "add up to 120.0000%",
        "Constraints!A2": "not one of",
        f"Settings!B{settings_row['lot_method']}": "fifo2",
        f"Settings!B{settings_row['cash_max']}": "cash_min",
        "Transactions!A1": "missing required column Shares",
    }
    for where, words in expected.items():
        assert where in found, f"{where} not reported; got {sorted(found)}"
        assert words in found[where], f"{where}: {found[where]!r} lacks {words!r}"
    unknown = [p for p in caught.value.problems if "max_turnvoer" in p.message]
    assert unknown and "did you mean max_turnover" in unknown[0].message
    assert unknown[0].cell.startswith("A")
    future = [w for w in caught.value.warnings if w.where == "TaxLots!D6"]
    assert future and "after the valuation date" in future[0].message
    assert sha256(bad_book) == before and os.stat(bad_book).st_mtime_ns == mtime


def test_good_book_reads_into_models(two_funds_book: Path):
    book = read_workbook(two_funds_book)
    p = book.portfolio
    assert [a.account for a in p.accounts] == ["Brokerage"]
    assert {(h.symbol, h.shares) for h in p.holdings} == {("AAA", 100), ("BBB", 30)}
    assert p.settings.valuation_date == dt.date(2026, 1, 15)
    assert p.settings.lot_method == "fifo" and p.settings.cost_bps == 0
    assert p.lots[0].acquired == dt.date(2020, 1, 2) and p.lots[0].row == 2
    assert book.locator.cell("TaxLots", 3, "shares") == "E3"


def test_headers_match_loosely_and_columns_move(tmp_path: Path):
    """`cost_basis`, `Cost Basis` and `COSTBASIS` are one column; order is free; extras kept."""
    path = write_book(tmp_path / "loose.xlsm", TWO_FUNDS, TWO_FUNDS_SETTINGS)
    wb = load_workbook(path, keep_vba=True)
    lots = wb["TaxLots"]
    rows = [[c.value for c in r] for r in lots.iter_rows(min_row=2, max_row=4, max_col=6)]
    del wb["TaxLots"]
    ws = wb.create_sheet("Tax Lots")
    ws.append(["Note", "cost_basis", "SHARES", "Acquired", "lot id", "Symbol", "Account"])
    for account, symbol, lot_id, acquired, shares, basis in rows:
        ws.append(["keep me", basis, shares, acquired.isoformat(), lot_id, symbol.lower(), account])
    wb.save(path)
    p = read_workbook(path).portfolio
    assert sorted((lot.lot_id, lot.symbol, lot.shares, lot.cost_basis) for lot in p.lots) == [
        ("B1", "BBB", 30, 2400.0),
        ("L1", "AAA", 60, 1800.0),
        ("L2", "AAA", 40, 2800.0),
    ]


def test_table_found_by_name_on_a_renamed_sheet(tmp_path: Path):
    path = write_book(tmp_path / "renamed.xlsm", TWO_FUNDS, TWO_FUNDS_SETTINGS)
    wb = load_workbook(path, keep_vba=True)
    wb["Holdings"].title = "My Positions"
    wb.save(path)
    p = read_workbook(path).portfolio
    assert {h.symbol for h in p.holdings} == {"AAA", "BBB"}


def test_blank_rows_skipped_and_settings_blank_means_default(tmp_path: Path):
    data = {**TWO_FUNDS, "Holdings": [TWO_FUNDS["Holdings"][0], {}, TWO_FUNDS["Holdings"][1]]}
    path = write_book(tmp_path / "blank.xlsm", data, {**TWO_FUNDS_SETTINGS, "band_abs": None})
    p = read_workbook(path).portfolio
    assert len(p.holdings) == 2 and p.settings.band_abs == 0.05


def test_missing_sheet_and_not_a_workbook(tmp_path: Path):
    from xl_rebalancer.errors import WorkbookError

    path = write_book(tmp_path / "noacc.xlsm", TWO_FUNDS, TWO_FUNDS_SETTINGS)
    wb = load_workbook(path, keep_vba=True)
    del wb["Accounts"]
    wb.save(path)
    with pytest.raises(InputError) as caught:
        read_workbook(path)
    assert any(p.sheet == "Accounts" and "missing" in p.message for p in caught.value.problems)
    junk = tmp_path / "junk.xlsx"
    junk.write_text("not a zip")
    with pytest.raises(WorkbookError, match="not a readable Excel workbook"):
        read_workbook(junk)


def test_asset_class_targets_need_classes(tmp_path: Path):
    data = {
        **TWO_FUNDS,
        "Targets": [
            {"asset_class": "Stocks", "target_weight": 0.6},
            {"asset_class": "Bonds", "target_weight": 0.4},
        ],
    }
    path = write_book(tmp_path / "classes.xlsm", data, TWO_FUNDS_SETTINGS)
    with pytest.raises(InputError) as caught:
        read_workbook(path)
    found = _cells(caught.value)
    assert "no asset class" in found["Holdings!B2"]
    assert "no symbol is in asset class Bonds" in found["Targets!B3"]
