"""Hypothesis-generated damage to a real workbook, through validate and rebalance.

Every example starts from the two-fund household written by the project's builder and
applies a handful of edits a person (or another program) could make: wrong types,
blanks, text in number cells, Excel error values, Unicode, merged cells, hidden rows,
extra and duplicate headers, deleted rows and sheets, renamed sheets. The run must end
in a result or in one of the project's errors; an InputError must name a sheet and a
cell for every problem. Anything else (a traceback) fails the test, with the edits
that caused it shrunk to the smallest.

XL_REBALANCER_FUZZ_EXAMPLES sets how many workbooks: by default 120, the same ones on
every run so CI is repeatable; when set, fresh random ones (docs/reliability.md reports
such a longer run).
"""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from tests.conftest import TWO_FUNDS, TWO_FUNDS_SETTINGS, write_book
from xl_rebalancer.app import run_engine
from xl_rebalancer.door import RunOptions
from xl_rebalancer.errors import InputError, XlRebalancerError

EXAMPLES = int(os.environ.get("XL_REBALANCER_FUZZ_EXAMPLES", "120"))
SHEETS = ["Accounts", "Holdings", "TaxLots", "Targets", "Prices", "Settings", "Constraints"]
ERRORS = ["#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!"]

values = st.one_of(
    st.none(),
    st.just(""),
    st.just("   "),
    st.sampled_from(ERRORS),
    st.sampled_from(["=1+1", "+AAA", "-5", "@SUM(A1)", "TRUE", "yes", "1,250.50", "25%", "n/a"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
    st.sampled_from(["€uro", "𝔘nicode", "日本株", "عربى", "✓", "AAA ", " bbb"]),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300),
    st.booleans(),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2099, 12, 31)),
)

set_cell = st.tuples(
    st.just("set"), st.sampled_from(SHEETS), st.integers(1, 6), st.integers(1, 10), values
)
merge = st.tuples(
    st.just("merge"),
    st.sampled_from(SHEETS),
    st.integers(1, 5),
    st.integers(1, 6),
    st.integers(0, 2),
)
hide = st.tuples(st.just("hide"), st.sampled_from(SHEETS), st.integers(1, 5), st.none(), st.none())
extra_header = st.tuples(
    st.just("extra_header"),
    st.sampled_from(SHEETS),
    st.integers(1, 12),
    st.none(),
    st.sampled_from(["Extra", "Notes", "Shares", "Symbol", "Account", "", "Cost Basis"]),
)
delete_row = st.tuples(
    st.just("delete_row"), st.sampled_from(SHEETS), st.integers(1, 5), st.none(), st.none()
)
delete_sheet = st.tuples(
    st.just("delete_sheet"), st.sampled_from(SHEETS), st.none(), st.none(), st.none()
)
rename = st.tuples(
    st.just("rename"),
    st.sampled_from(SHEETS),
    st.none(),
    st.none(),
    st.sampled_from(["lower", "upper", "spaced"]),
)
edits = st.lists(
    st.one_of(
        set_cell, set_cell, set_cell, merge, hide, extra_header, delete_row, delete_sheet, rename
    ),
    min_size=1,
    max_size=6,
)


@pytest.fixture(scope="module")
def base_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("fuzz")
    return write_book(folder / "base.xlsx", TWO_FUNDS, TWO_FUNDS_SETTINGS).read_bytes()


def apply(wb: Any, edit: tuple) -> None:
    kind, sheet, row, col, value = edit
    if sheet not in wb.sheetnames:
        return
    ws = wb[sheet]
    if kind == "set":
        cell = ws.cell(row=row, column=col)
        if type(cell).__name__ == "MergedCell":
            return
        cell.value = value
    elif kind == "merge":
        ws.merge_cells(start_row=row, start_column=col, end_row=row + value, end_column=col + 1)
    elif kind == "hide":
        ws.row_dimensions[row].hidden = True
    elif kind == "extra_header":
        cell = ws.cell(row=1, column=row)
        if type(cell).__name__ != "MergedCell":
            cell.value = value
    elif kind == "delete_row":
        ws.delete_rows(row)
    elif kind == "delete_sheet":
        del wb[sheet]
    elif kind == "rename":
        ws.title = {"lower": sheet.lower(), "upper": sheet.upper(), "spaced": f" {sheet} "[:31]}[
            value
        ]


def check(path: Path) -> str:
    """validate, then a dry-run rebalance; the outcome's kind."""
    try:
        run_engine(path, "rebalance", RunOptions(dry_run=True, network=False))
    except InputError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.sheet and problem.cell, problem
            column = problem.cell.split(":")[0].rstrip("0123456789")
            assert column and column.isalpha() and column.isupper(), problem
        return "invalid"
    except XlRebalancerError as exc:
        assert str(exc)
        return type(exc).__name__
    return "ok"


OUTCOMES: dict[str, int] = {}


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="XL_REBALANCER_FUZZ_EXAMPLES" not in os.environ,  # CI: the same every run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)
@given(edits=edits)
def test_damaged_workbooks_never_crash(base_bytes: bytes, tmp_path: Path, edits: list) -> None:
    wb = load_workbook(io.BytesIO(base_bytes))
    for edit in edits:
        apply(wb, edit)
    path = tmp_path / "fuzzed.xlsx"
    try:
        wb.save(path)
    except (ValueError, TypeError):
        return  # openpyxl itself cannot write that value (not a workbook anyone has)
    outcome = check(path)
    OUTCOMES[outcome] = OUTCOMES.get(outcome, 0) + 1


def test_fuzzing_reached_every_outcome():
    """The generator is not so gentle that all pass, nor so rough that all fail to read."""
    if not OUTCOMES:
        pytest.skip("run with the fuzz test")
    print("fuzz outcomes:", OUTCOMES)
    assert OUTCOMES.get("invalid", 0) > 0 and OUTCOMES.get("ok", 0) > 0
