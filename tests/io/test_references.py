"""Structured references, names and spill references rewritten to A1, checked against the
ranges Microsoft's documentation gives for each form ("Using structured references with
Excel tables": a table in A1:D6 with a header row and no totals row)."""

from __future__ import annotations

import pytest

from xl_rebalancer.formulas.references import ReferenceError_, TableInfo, expand

SALES = TableInfo(
    "DeptSales", "Sales Data", 1, 1, 4, 6, ("Sales Person", "Region", "Sales Amount", "Com %")
)
WITH_TOTALS = TableInfo("Totals", "T", 2, 3, 3, 8, ("A", "B"), header_rows=1, totals_rows=1)
TABLES = {"DEPTSALES": SALES, "TOTALS": WITH_TOTALS}
NAMES = {"BAND": "Settings!$B$3", "RATE": "0.05", "TWO_CELLS": "'My Sheet'!$A$1:$A$2"}


def _spill(sheet: str, cell: str) -> str | None:
    return "'Dash'!$G$2:$L$7" if (sheet.lower(), cell) == ("dash", "G2") else None


def rewrite(formula: str, sheet: str = "Dash", row: int = 3, col: int = 9) -> str:
    return expand(formula, sheet=sheet, row=row, col=col, tables=TABLES, names=NAMES, spill=_spill)


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("=SUM(DeptSales[Sales Amount])", "=SUM('Sales Data'!$C$2:$C$6)"),
        ("=DeptSales[[#Headers],[Region]]", "='Sales Data'!$B$1"),
        ("=ROWS(DeptSales[#All])", "=ROWS('Sales Data'!$A$1:$D$6)"),
        ("=ROWS(DeptSales[#Data])", "=ROWS('Sales Data'!$A$2:$D$6)"),
        ("=SUM(DeptSales[[Region]:[Com %]])", "=SUM('Sales Data'!$B$2:$D$6)"),
        ("=COUNTA(DeptSales[[#Headers],[#Data],[Region]])", "=COUNTA('Sales Data'!$B$1:$B$6)"),
        ("=SUM(deptsales)", "=SUM('Sales Data'!$A$2:$D$6)"),  # names are case-blind
        ("=SUM(Totals[[#Data],[#Totals],[B]])", "=SUM('T'!$C$4:$C$8)"),
        ("=Totals[[#Totals],[A]]", "='T'!$B$8"),
        (
            '=COUNTIF(DeptSales[Region],"DeptSales[Region]")',
            "=COUNTIF('Sales Data'!$B$2:$B$6,\"DeptSales[Region]\")",
        ),
        ("=Band*Rate", "=Settings!$B$3*(0.05)"),
        ("=SUM(Two_Cells)", "=SUM('My Sheet'!$A$1:$A$2)"),
        ("=SUM(G2#)", "=SUM('Dash'!$G$2:$L$7)"),
        ("=ROWS(_xlfn.ANCHORARRAY(G2))", "=ROWS('Dash'!$G$2:$L$7)"),
        ("=SUM('Dash'!$G$2#)", "=SUM('Dash'!$G$2:$L$7)"),
        ("=SUM(Other!G2#)", "=SUM(Other!G2#)"),  # no block there: left for the parser
        ("=A1+Sheet1!B2+SUM(C:C)", "=A1+Sheet1!B2+SUM(C:C)"),
    ],
)
def test_forms(formula: str, expected: str):
    assert rewrite(formula) == expected


def test_this_row_inside_the_table():
    # Excel stores [@[Sales Amount]] as DeptSales[[#This Row],[Sales Amount]] in the file.
    formula = "=DeptSales[[#This Row],[Sales Amount]]*DeptSales[[#This Row],[Com %]]"
    assert rewrite(formula, "Sales Data", 4, 5) == "='Sales Data'!$C$4*'Sales Data'!$D$4"
    assert rewrite("=[@Region]", "Sales Data", 5, 2) == "='Sales Data'!$B$5"
    assert rewrite("=[@[Com %]]", "Sales Data", 2, 1) == "='Sales Data'!$D$2"


def test_bad_references_are_refused_not_guessed():
    with pytest.raises(ReferenceError_, match="no column"):
        rewrite("=SUM(DeptSales[Profit])")
    with pytest.raises(ReferenceError_, match="outside its rows"):
        rewrite("=DeptSales[[#This Row],[Region]]", "Sales Data", 9, 2)
    with pytest.raises(ReferenceError_, match="outside a table"):
        rewrite("=[@Region]", "Dash", 3, 9)
