"""The firm's model file (Settings model_file, docs/model.md): one file of targets, bands
and the security master that every client workbook follows (issue 48).

Client workbooks are built as a firm builds them: `init --model`, then `import` of the
brokers' downloads in tests/brokers/files; the model is examples/model.xlsx, edited
with openpyxl as a person edits it in Excel.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from tests.libreoffice import needs_libreoffice
from tests.tax.helpers import run, sheet
from xl_rebalancer.cli import main
from xl_rebalancer.excel.template import build_workbook
from xl_rebalancer.models.inputs import Security
from xl_rebalancer.workbook.model_file import load_model

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "model.xlsx"
BROKERS = ROOT / "tests" / "brokers" / "files"
HOUSEHOLD = BROKERS / "household"
VALUATION = "2026-12-04"
PRICES = {
    "VTI": 300.0,
    "VEA": 50.0,
    "BND": 72.0,
    "MUB": 107.0,
    "IEFA": 75.0,
    "SCHB": 25.0,
    "AGG": 98.0,
}


def cli(*args: str) -> dict:
    result = CliRunner().invoke(main, [*args, "--json"])
    return json.loads(result.stdout)


def price_file(path: Path, prices: dict[str, float] = PRICES) -> Path:
    path.write_text(
        "date,symbol,close\n" + "".join(f"{VALUATION},{s},{p}\n" for s, p in prices.items())
    )
    return path


def set_cell(book: Path, title: str, match: tuple[str, str], column: str, value: object) -> str:
    """The `column` cell of the row whose `match[0]` column reads `match[1]`, set as a
    person would in Excel; returns its address."""
    wb = load_workbook(book)
    ws = wb[title]
    header = [c.value for c in ws[1]]
    key, col = header.index(match[0]), header.index(column)
    for row in ws.iter_rows(min_row=2):
        if row[key].value == match[1]:
            row[col].value = value
            wb.save(book)
            return row[col].coordinate
    raise AssertionError(f"no {match} on {title}")


def drift_targets(book: Path) -> dict[str, float]:
    return {r["AssetClass"]: r["TargetWeight"] for r in sheet(book, "Drift")}


@pytest.fixture
def firm(tmp_path: Path) -> Path:
    """A firm's folder: model.xlsx beside clients/, three households from three brokers'
    downloads, each following the model."""
    shutil.copy(EXAMPLE, tmp_path / "model.xlsx")
    clients = tmp_path / "clients"
    model = str(tmp_path / "model.xlsx")
    books = {
        "fidelity": (
            [HOUSEHOLD / "Portfolio_Positions_Dec-04-2026.csv", HOUSEHOLD / "Accounts_History.csv"],
            ["Joint WROS=Joint Taxable", "ROTH IRA=Roth IRA", "Health Savings Account=HSA"],
        ),
        "schwab": (
            [
                HOUSEHOLD / "All-Accounts-Positions-2026-12-04-172031.csv",
                HOUSEHOLD / "Individual_XXX518_Transactions_20261204-172245.csv",
            ],
            ["Rollover IRA=Rollover IRA", "...518=Schwab Individual"],
        ),
        "vanguard": ([BROKERS / "vanguard.csv"], ["55512345=IRA"]),
    }
    for name, (files, names) in books.items():
        book = clients / f"{name}.xlsm"
        assert cli("init", str(book), "--model", model)["ok"]
        accounts = [a for n in names for a in ("--account", n)]
        run("import", book, *map(str, files), *accounts)
    run(
        "import",
        clients / "schwab.xlsm",
        str(HOUSEHOLD / "schwab_individual_lots.csv"),
        "--map",
        "account=Acct,symbol=Ticker,shares=Qty,acquired=Opened,cost_basis=Total Cost",
    )
    # The program's own backups sit beside the clients, and so does a copy of the model:
    # neither is a client.
    shutil.copy(EXAMPLE, clients / "model-copy.xlsx")
    price_file(tmp_path / "prices.csv")
    return tmp_path


def batch(firm: Path, command: str = "rebalance") -> list[dict[str, str]]:
    report = firm / "report"
    result = CliRunner().invoke(
        main,
        [
            "batch",
            str(firm / "clients"),
            "--command",
            command,
            "--prices",
            str(firm / "prices.csv"),
            "--as-of",
            VALUATION,
            "--workers",
            "1",
            "--report",
            str(report),
        ],
    )
    with open(report.with_suffix(".csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert result.exit_code == 0, (result.output, rows)
    return rows


def test_one_model_file_drives_every_client_and_a_change_reaches_all_at_the_next_batch(
    firm: Path,
):
    clients = firm / "clients"
    books = sorted(clients.glob("*.xlsm"))
    books = [b for b in books if ".before-" not in b.name]
    assert [b.stem for b in books] == ["fidelity", "schwab", "vanguard"]
    for book in books:
        settings = {r["Setting"]: r["Value"] for r in sheet(book, "Settings")}
        assert settings["model_file"] == "../model.xlsx"  # relative: the folder can move
        # import classed every imported fund from the security master.
        assert all(r["AssetClass"] for r in sheet(book, "Holdings")), book.name
        assert sheet(book, "Targets") == []  # no copy of the model in any workbook
    assert {r["Symbol"]: r["AssetClass"] for r in sheet(clients / "schwab.xlsm", "Holdings")} == {
        "BND": "Bonds",
        "VEA": "International Stocks",
        "VTI": "US Stocks",
    }

    rows = batch(firm)
    assert sorted(r["workbook"].split("/")[-1] for r in rows) == [
        "fidelity.xlsm",
        "schwab.xlsm",
        "vanguard.xlsm",
    ]  # the model copy and the import backups are no clients
    assert all(r["status"] == "ok" for r in rows), rows
    for book in books:
        assert drift_targets(book) == {
            "US Stocks": 0.45,
            "International Stocks": 0.2,
            "Bonds": 0.33,
            "CASH": 0.02,
        }
    # The Vanguard IRA holds no international fund: the model's Buy fund fills the class.
    trades = sheet(clients / "vanguard.xlsm", "Trades")
    assert any(t["Symbol"] == "VEA" and t["Action"] == "BUY" for t in trades), trades
    # A wash sale (VEA sold 2026-11-20) blocks VEA at Fidelity: the model's Substitute
    # for VEA (IEFA) keeps the exposure, and VEA itself is not bought.
    trades = sheet(clients / "fidelity.xlsm", "Trades")
    bought = {t["Symbol"] for t in trades if t["Action"] == "BUY"}
    assert "IEFA" in bought and "VEA" not in bought, trades
    assert "SCHB" not in bought  # a Substitute waits while its fund may be bought

    # The firm changes the model once: every client sees it at the next run.
    set_cell(firm / "model.xlsx", "Targets", ("AssetClass", "US Stocks"), "TargetWeight", 0.35)
    set_cell(firm / "model.xlsx", "Targets", ("AssetClass", "Bonds"), "TargetWeight", 0.43)
    rows = batch(firm)
    assert all(r["status"] == "ok" for r in rows), rows
    for book in books:
        targets = drift_targets(book)
        assert targets["US Stocks"] == 0.35 and targets["Bonds"] == 0.43, book.name
        log = [r["Message"] for r in sheet(book, "Log")]
        assert any(m.startswith("model file ") and "4 target rows" in m for m in log)


def test_a_class_held_nowhere_buys_the_models_fund_for_each_account_type(tmp_path: Path):
    """Bonds held by no fund: BND is the model's Buy fund in tax-deferred and tax-exempt
    accounts, MUB in taxable ones; no Holdings row names either."""
    shutil.copy(EXAMPLE, tmp_path / "model.xlsx")
    book = build_workbook(
        tmp_path / "client.xlsm",
        {
            "Accounts": [
                {"account": "Taxable", "type": "taxable", "cash": 40_000},
                {"account": "Roth", "type": "tax_exempt", "cash": 30_000},
            ],
            "Holdings": [
                {"account": "Taxable", "symbol": "VTI", "shares": 300},
                {"account": "Roth", "symbol": "VEA", "shares": 600},
            ],
            "TaxLots": [
                {
                    "account": "Taxable",
                    "symbol": "VTI",
                    "lot_id": "VTI-1",
                    "acquired": dt.date(2020, 1, 2),
                    "shares": 300,
                    "cost_basis": 45_000,
                }
            ],
        },
        settings={"model_file": "model.xlsx", "valuation_date": dt.date(2026, 12, 4)},
    )
    prices = price_file(tmp_path / "prices.csv")
    assert run("validate", book, "--prices", str(prices))["ok"]
    run("rebalance", book, "--prices", str(prices))
    buys = {
        (t["Account"], t["Symbol"]): t["Shares"]
        for t in sheet(book, "Trades")
        if t["Action"] == "BUY"
    }
    bonds = {key for key in buys if key[1] in {"BND", "MUB"}}
    assert bonds, buys
    assert bonds <= {("Roth", "BND"), ("Taxable", "MUB")}, bonds
    drift = {r["AssetClass"]: r for r in sheet(book, "Drift")}
    assert drift["Bonds"]["Value"] == 0 and drift["Bonds"]["PostTradeWeight"] > 0.28


def test_validate_names_both_cells_when_the_workbook_disagrees_with_the_model(tmp_path: Path):
    shutil.copy(EXAMPLE, tmp_path / "model.xlsx")
    book = tmp_path / "client.xlsm"
    assert cli("init", str(book), "--model", str(tmp_path / "model.xlsx"))["ok"]
    run("import", book, str(BROKERS / "vanguard.csv"), "--account", "55512345=IRA")
    # The client's own copy of an older model, and a class typed by hand.
    old = tmp_path / "old-model.csv"
    old.write_text("AssetClass,Weight\nUS Stocks,60%\nBonds,40%\n")
    said = run("import", book, str(old))["warnings"]
    assert any(
        w["sheet"] == "Settings" and "the runs use that file's targets" in w["message"]
        for w in said
    ), said
    cell = set_cell(book, "Holdings", ("Symbol", "BND"), "AssetClass", "Fixed Income")
    result = CliRunner().invoke(main, ["validate", str(book), "--json", "--as-of", VALUATION])
    doc = json.loads(result.stdout)
    assert result.exit_code == 0 and doc["ok"], doc  # warnings: the model file wins
    said = {(w["sheet"], w["cell"]): w["message"] for w in doc["warnings"]}
    assert (
        "the model file sets US Stocks to 45.00% ([model.xlsx]Targets!B2), not 60.00%"
        in (said[("Targets", "C2")])
    )
    assert "set Bonds to" not in said[("Targets", "C3")]
    assert "([model.xlsx]Targets!B4), not 40.00%" in said[("Targets", "C3")]
    assert said[("Holdings", cell)].startswith(
        "BND is in asset class Fixed Income here but Bonds in the model file "
        "([model.xlsx]Securities!B12)"
    )
    # The run uses the model's targets and class.
    run("drift", book, "--prices", str(price_file(tmp_path / "p.csv")), "--as-of", VALUATION)
    assert drift_targets(book)["Bonds"] == 0.33


def test_problems_in_the_model_file_name_its_file_sheet_and_cell(tmp_path: Path):
    model = shutil.copy(EXAMPLE, tmp_path / "model.xlsx")
    book = tmp_path / "client.xlsm"
    assert cli("init", str(book), "--model", str(model))["ok"]
    run("import", book, str(BROKERS / "vanguard.csv"), "--account", "55512345=IRA")
    set_cell(model, "Targets", ("AssetClass", "Bonds"), "TargetWeight", "a third")
    set_cell(model, "Securities", ("Symbol", "AGG"), "Symbol", "BND")
    set_cell(model, "Securities", ("Symbol", "VEA"), "AssetClass", None)
    doc = cli("validate", str(book))
    assert not doc["ok"]
    errors = {(e["sheet"], e["cell"]): e["message"] for e in doc["problems"]}
    assert errors[("[model.xlsx]Targets", "B4")] == "TargetWeight: expected a number, got 'a third'"
    assert errors[("[model.xlsx]Securities", "A13")] == "BND is listed twice (also row 12)"
    assert errors[("[model.xlsx]Securities", "B8")] == (
        "VEA is marked Buy but has no AssetClass to buy it for"
    )
    # The weights no longer add up: named over the model's own column.
    set_cell(model, "Targets", ("AssetClass", "Bonds"), "TargetWeight", 0.3)
    set_cell(model, "Securities", ("Symbol", "BND"), "Symbol", "AGG")
    set_cell(model, "Securities", ("Symbol", "VEA"), "AssetClass", "International Stocks")
    doc = cli("validate", str(book))
    assert [(e["sheet"], e["cell"], e["message"]) for e in doc["problems"]] == [
        ("[model.xlsx]Targets", "B2:B5", "target weights add up to 97.0000%, not 100%")
    ]
    # A model file that is not there: the setting's cell.
    model.unlink()
    doc = cli("validate", str(book))
    settings = {r["Setting"]: i + 2 for i, r in enumerate(sheet(book, "Settings"))}
    assert [(e["sheet"], e["cell"]) for e in doc["problems"]] == [
        ("Settings", f"B{settings['model_file']}")
    ]
    assert "model.xlsx: no such file" in doc["problems"][0]["message"]


def test_a_class_with_no_fund_and_no_buy_fund_says_where_to_name_one(tmp_path: Path):
    model = tmp_path / "model.xlsx"
    shutil.copy(EXAMPLE, model)
    set_cell(model, "Securities", ("Symbol", "VEA"), "Buy", "no")
    book = tmp_path / "client.xlsm"
    assert cli("init", str(book), "--model", str(model))["ok"]
    run("import", book, str(BROKERS / "vanguard.csv"), "--account", "55512345=IRA")
    doc = cli("validate", str(book))
    assert [(e["sheet"], e["cell"], e["message"]) for e in doc["problems"]] == [
        (
            "[model.xlsx]Targets",
            "A3",
            "no symbol is in asset class International Stocks; mark a fund of the class Buy "
            "on the model file's Securities sheet, or add a Holdings row (Shares 0 is fine) "
            "naming the fund to buy",
        )
    ]


def test_a_model_csv_of_fund_targets_with_bands(tmp_path: Path):
    """The CSV `import` reads is a model file too (targets only), bands included."""
    model = tmp_path / "model.csv"
    model.write_text("Symbol,Weight,BandAbs\nVTI,60,3%\nBND,38,\nCASH,2,\n")
    book = tmp_path / "client.xlsm"
    assert cli("init", str(book), "--model", str(model))["ok"]
    run("import", book, str(BROKERS / "vanguard.csv"), "--account", "55512345=IRA")
    prices = price_file(tmp_path / "prices.csv")
    run("drift", book, "--prices", str(prices), "--as-of", VALUATION)
    drift = {r["Symbol"]: (r["TargetWeight"], r["Band"]) for r in sheet(book, "Drift")}
    assert drift["VTI"] == (0.6, 0.03)
    assert drift["BND"] == (0.38, 0.05)
    # A bad cell is named as Excel names a cell of an open CSV.
    model.write_text("Symbol,Weight,BandAbs\nVTI,60,lots\nBND,38,\nCASH,2,\n")
    doc = cli("validate", str(book))
    assert [(e["sheet"], e["cell"]) for e in doc["problems"]] == [("[model.csv]model", "C2")]


@needs_libreoffice
def test_a_model_saved_by_libreoffice_reads_the_same(tmp_path: Path):
    from tests.libreoffice import convert

    saved = convert(EXAMPLE, "xlsx", tmp_path / "out", tmp_path / "profile", recalc=False)
    ours, theirs = load_model(EXAMPLE), load_model(saved)
    assert theirs.targets == ours.targets
    assert theirs.securities == ours.securities
    assert len(ours.securities) == 14


def test_the_buy_column_reads_as_excel_users_type_it():
    def buy(value: object) -> object:
        return Security.model_validate({"symbol": "X", "asset_class": "C", "buy": value}).buy

    every = ("taxable", "tax_deferred", "tax_exempt")
    assert buy(True) == every and buy("x") == every and buy("TRUE") == every
    assert buy(None) is None and buy(False) is None and buy("") is None
    assert buy("Tax Deferred, tax-exempt") == ("tax_deferred", "tax_exempt")
    with pytest.raises(ValueError):
        buy("roth")


def test_the_ribbon_in_excel_follows_the_model_file_as_the_command_line_does(tmp_path: Path):
    """The live-Excel door (xlwings over an in-memory Excel) reads the model file beside
    the open workbook, and its Rebalance button gives the command line's trades."""
    from tests.excel.test_macros import comparable, table
    from tests.excel.xlwings_openpyxl import open_book
    from xl_rebalancer.excel import macros

    shutil.copy(EXAMPLE, tmp_path / "model.xlsx")
    live = tmp_path / "live.xlsm"
    assert cli("init", str(live), "--model", str(tmp_path / "model.xlsx"))["ok"]
    run("import", live, str(BROKERS / "vanguard.csv"), "--account", "55512345=IRA")
    rows = [
        {"symbol": s, "price": p, "as_of": dt.date(2026, 12, 4), "source": "manual"}
        for s, p in PRICES.items()
    ]
    wb = load_workbook(live, keep_vba=True)
    ws = wb["Prices"]
    for i, row in enumerate(rows, start=2):
        ws.cell(i, 1, row["symbol"]), ws.cell(i, 2, row["price"])
        ws.cell(i, 3, row["as_of"]), ws.cell(i, 4, row["source"])
    ws.tables["tblPrices"].ref = f"A1:D{len(rows) + 1}"
    settings = wb["Settings"]
    for cells in settings.iter_rows(min_row=2):
        if cells[0].value == "valuation_date":
            cells[1].value = dt.date(2026, 12, 4)
    wb.save(live)
    file = tmp_path / "file.xlsm"
    shutil.copy(live, file)
    book = open_book(live)
    macros.rebalance()
    run("rebalance", file)
    excel = table(book.impl.wb["Trades"])
    assert any(t["Symbol"] == "VEA" and t["Action"] == "BUY" for t in excel), excel
    assert comparable(excel) == comparable(sheet(file, "Trades"))
