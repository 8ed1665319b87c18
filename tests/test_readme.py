"""The README's walk-through, run as written (issue 46): every command of "Your first
household" in order, on the sample broker downloads of tests/brokers/files, with the
step a user does by hand in Excel (dates, asset classes, targets) typed by openpyxl."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

from openpyxl import load_workbook

REPO = Path(__file__).resolve().parents[1]  # not from conftest: the script runs it alone

SECTION = "## Your first household"


def walk_through() -> tuple[str, list[str]]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index(SECTION)
    end = readme.index("\n## ", start + len(SECTION))
    section = readme[start:end]
    return section, re.findall(r"```bash\n(.*?)```", section, re.S)


def type_in_excel(book: Path) -> None:
    """Step 3 as the README's table says it, typed into the tables (grown as Excel grows
    a table when a row is typed under it)."""
    wb = load_workbook(book, keep_vba=True)

    def put(sheet: str, cells: dict[str, object]) -> None:
        ws = wb[sheet]
        for ref, value in cells.items():
            ws[ref] = value
        table = next(iter(ws.tables.values()))
        first, last = table.ref.split(":")
        column = last.rstrip("0123456789")
        rows = max(int(last[len(column) :]), *(int(r.lstrip("ABCDEFGHIJ")) for r in cells))
        table.ref = f"{first}:{column}{rows}"

    assert wb["TaxLots"]["C2"].value == "VTI-NODATE" and wb["TaxLots"]["C4"].value == "BND-NODATE"
    put("TaxLots", {"D2": dt.datetime(2021, 3, 10), "D4": dt.datetime(2022, 6, 15)})
    classes = {"VTI": "US Stocks", "BND": "Bonds"}
    holdings = wb["Holdings"]
    put("Holdings", {f"D{r}": classes[holdings[f"B{r}"].value] for r in range(2, 6)})
    put("Holdings", {"A6": "IRA", "B6": "VXUS", "C6": 0, "D6": "International Stocks"})
    put(
        "Targets",
        {
            "B2": "US Stocks",
            "C2": 0.55,
            "B3": "International Stocks",
            "C3": 0.15,
            "B4": "Bonds",
            "C4": 0.28,
            "A5": "CASH",
            "C5": 0.02,
        },
    )
    wb.save(book)


def test_the_readme_walk_through_runs_as_written(tmp_path: Path):
    section, blocks = walk_through()
    # What step 3 types is what its table says.
    for text in ("2021-03-10", "2022-06-15", "IRA, VXUS, 0, International Stocks", "0.55", "0.28"):
        assert text in section, text
    assert "don't mix" in section
    commands = [line for block in blocks for line in block.splitlines()]
    assert commands[0].startswith("source .venv/bin/activate")
    (tmp_path / "tests").symlink_to(REPO / "tests")
    bin_dir = Path(sys.executable).parent
    script = [f'export PATH="{bin_dir}:$PATH"', "set -euo pipefail"]
    for line in commands[1:]:
        script.append(line)
        if (
            line.strip().startswith("schwab_transactions.csv vanguard.csv")
            and "--dry-run" not in line
        ):
            script.append(f'"{sys.executable}" "{__file__}" household.xlsm')  # step 3, in Excel
    run = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    walk = tmp_path / "out" / "walk"
    # What the README says of the run: the IRA's VTI is sold, not the taxable lot with its
    # gain, the international fund is bought in both accounts, and no tax is due.
    wb = load_workbook(walk / "household.xlsm", read_only=True)
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Estimated tax"] == 0
    trades = list(wb["Trades"].iter_rows(min_row=2, values_only=True))
    assert {(t[0], t[1], t[2]) for t in trades if t[0]} >= {
        ("IRA", "VTI", "SELL"),
        ("IRA", "VXUS", "BUY"),
        ("Taxable", "VXUS", "BUY"),
    }
    assert not any(t[0] == "Taxable" and t[2] == "SELL" for t in trades)
    lots = {r[2]: r for r in wb["TaxLots"].iter_rows(min_row=2, values_only=True) if r[0]}
    assert lots["VTI-20230201"][4] == 13  # 30 less the 17 filled
    assert any(key.startswith("VXUS-") for key in lots)
    assert list((walk / "orders").glob("household-orders-csv-*.csv"))
    assert "40 sh. VTI" in run.stdout  # the year's sale from Schwab's realized file


if __name__ == "__main__":  # the Excel step, run by the test's script
    type_in_excel(Path(sys.argv[1]))
