"""`validate` names the root cause of each mistake, once, with the likely fix, and holds
back what only follows from it (issue 24): every case through the command line, with
the words the user reads."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from tests.conftest import TWO_FUNDS, TWO_FUNDS_SETTINGS, write_book


def book(
    tmp_path: Path,
    name: str,
    change: Callable[[dict[str, Any]], None] | None = None,
    edit: Callable[[Any], None] | None = None,
) -> Path:
    data = copy.deepcopy(TWO_FUNDS)
    if change:
        change(data)
    path = write_book(tmp_path / f"{name}.xlsm", data, TWO_FUNDS_SETTINGS)
    if edit:
        wb = load_workbook(path, keep_vba=True)
        edit(wb)
        wb.save(path)
    return path


def validate(path: Path) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
    run = subprocess.run(
        [sys.executable, "-m", "xl_rebalancer", "validate", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "300"},
    )
    out = json.loads(run.stdout)
    return run.returncode, out["problems"], out["warnings"]


def said(problems: list[dict[str, Any]]) -> list[str]:
    return [f"{p['sheet']}!{p['cell']}: {p['message']}" for p in problems]


def test_every_problem_of_a_row_and_none_that_follows_from_it(tmp_path: Path):
    def three(data: dict[str, Any]) -> None:
        data["TaxLots"][1].update(lot_id="L1", shares="forty", acquired=dt.date(2026, 6, 1))

    code, errors, warnings = validate(book(tmp_path, "three", three))
    assert code == 1
    assert said(errors) == [
        "TaxLots!E3: Shares: expected a number, got 'forty'",
        "TaxLots!C3: LotId L1 is used twice in Brokerage (also row 2)",
    ]
    assert "TaxLots!D3: acquired 2026-06-01 is after the valuation date" in said(warnings)[0]
    # "Holdings says 100 shares but its lots add up to ..." follows from E3: held back.
    assert warnings[-1]["message"].startswith("1 follow-on problem of the errors above held")


def test_a_misspelt_account_type_is_one_problem_with_its_fix(tmp_path: Path):
    def ira(data: dict[str, Any]) -> None:
        data["Accounts"][0]["type"] = "IRA"

    code, errors, _ = validate(book(tmp_path, "ira", ira))
    assert code == 1
    assert said(errors) == [
        "Accounts!B2: Type: 'ira' is not one of 'taxable', 'tax_deferred' or 'tax_exempt'; "
        "did you mean 'tax_deferred' (a traditional IRA, 401(k) or 403(b))?"
    ]


def test_a_misspelt_header_names_the_column_to_rename(tmp_path: Path):
    def shraes(wb: Any) -> None:
        for cell in wb["TaxLots"][1]:
            if cell.value == "Shares":
                cell.value = "Shraes"

    code, errors, _ = validate(book(tmp_path, "header", edit=shraes))
    assert code == 1
    assert said(errors) == [
        "TaxLots!A1: missing required column Shares; did you mean the column 'Shraes' at E1? "
        "Rename it Shares"
    ]


def test_a_percentage_typed_as_a_whole_number(tmp_path: Path):
    def percent(data: dict[str, Any]) -> None:
        data["Targets"][0]["target_weight"] = 33
        data["Targets"][1]["target_weight"] = 0.67

    code, errors, _ = validate(book(tmp_path, "percent", percent))
    assert code == 1
    assert said(errors) == [
        "Targets!C2: TargetWeight must be at most 1 (got 33); did you mean 0.33 (33%)?"
    ]


def test_a_formula_without_a_saved_result_is_not_called_blank(tmp_path: Path):
    def formula(wb: Any) -> None:
        wb["Accounts"]["C2"] = "=500*2"  # openpyxl saves formulas without results

    code, errors, _ = validate(book(tmp_path, "formula", edit=formula))
    assert code == 1
    assert said(errors) == [
        "Accounts!C2: a formula with no saved result (the file was saved by a program that "
        "does not calculate); open and save it in Excel, or run `xl-rebalancer recalc` on "
        "the workbook"
    ]


def test_a_symbol_no_price_knows_and_a_missing_lots_sheet(tmp_path: Path):
    def typo(data: dict[str, Any]) -> None:
        data["Holdings"].append({"account": "Brokerage", "symbol": "AAB", "shares": 5})

    code, errors, _ = validate(book(tmp_path, "typo", typo))
    assert code == 1
    assert said(errors) == [
        "Holdings!B4: AAB has no price on the Prices sheet, which prices every other "
        "holding; did you mean AAA?"
    ]
    code, errors, _ = validate(book(tmp_path, "nolots", edit=lambda wb: wb.remove(wb["TaxLots"])))
    assert code == 1
    assert len(errors) == 1 and errors[0]["sheet"] == "TaxLots"
    assert errors[0]["message"].startswith(
        "there is no TaxLots sheet, so the taxable positions (AAA in Brokerage, BBB in "
        "Brokerage) have no purchase lots and their tax cannot be estimated"
    )


def test_ten_planted_mistakes_are_ten_root_causes(tmp_path: Path):
    def plant(data: dict[str, Any]) -> None:
        data["Accounts"][0]["type"] = "IRA"  # 1
        data["Accounts"].append({"account": "Roth", "type": "tax_exempt", "cash": -50.0})  # 2
        data["Holdings"].append({"account": "Brokerage", "symbol": "AAB", "shares": 5})  # 3
        # 4, 5, 6: text in Shares, a LotId used twice, bought after the valuation date
        data["TaxLots"][1].update(lot_id="L1", shares="forty", acquired=dt.date(2026, 6, 1))
        data["Targets"][0]["target_weight"] = 50  # 7
        data["Prices"][1]["price"] = -100.0  # 8

    def edit(wb: Any) -> None:
        wb["Accounts"]["C2"] = "=500*2"  # 9
        settings = wb["Settings"]
        settings.cell(settings.max_row + 1, 1, "cost_bsp")  # 10
        settings.cell(settings.max_row, 2, 5)

    code, errors, warnings = validate(book(tmp_path, "ten", plant, edit))
    assert code == 1
    roots = [p for p in errors + warnings if p["level"] != "info"]
    assert sorted(f"{p['sheet']}!{p['cell']}" for p in roots) == sorted(
        [
            "Accounts!B2",
            "Accounts!C3",
            "Holdings!B4",
            "TaxLots!E3",
            "TaxLots!C3",
            "TaxLots!D3",
            "Targets!C2",
            "Prices!B3",
            "Accounts!C2",
            f"Settings!A{load_workbook(tmp_path / 'ten.xlsm')['Settings'].max_row}",
        ]
    ), said(roots)
    hints = " ".join(p["message"] for p in roots)
    for fix in ("did you mean 'tax_deferred'", "did you mean AAA?", "did you mean 0.5 (50%)?"):
        assert fix in hints
    assert "did you mean cost_bps?" in hints
