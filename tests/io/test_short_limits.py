"""Negative weight limits are refused at their cell (issue 20): no short positions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner

from tests.tax.helpers import household, lot
from xl_rebalancer.cli import main


def test_negative_limits_are_refused_at_their_cell(tmp_path: Path):
    book = household(
        tmp_path / "short.xlsx",
        lots=[lot("Taxable", "X", "X1", dt.date(2020, 1, 2), 10, 100)],
        targets={"X": 1.0},
        prices={"X": 10.0},
        valuation=dt.date(2026, 6, 30),
    )
    from openpyxl import load_workbook

    wb = load_workbook(book)
    wb["Constraints"].append(["symbol", "X", -0.1, None, None, None])
    wb.save(book)
    result = CliRunner().invoke(main, ["validate", str(book), "--json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 1 and not doc["ok"]
    [problem] = [p for p in doc["problems"] if p["sheet"] == "Constraints"]
    assert load_workbook(book)["Constraints"][problem["cell"]].value == -0.1
    assert "short positions are not supported" in problem["message"]
