"""A couple's household across Fidelity and Schwab, imported as a new user would (issue 42).

The downloads in files/household/ follow each broker's published layout (see its
README): Fidelity's current history header names the account twice (`Account`, the name,
and `Account Number`), Schwab's per-account files name their account only in the file
name, and Schwab masks numbers to `...518`.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner
from openpyxl import load_workbook

from tests.tax.helpers import run, sheet
from tests.test_json_contract import yahoo_unreachable  # noqa: F401 (a fixture)
from xl_rebalancer.cli import main
from xl_rebalancer.excel.template import build_workbook

FILES = Path(__file__).parent / "files" / "household"
VALUATION = dt.date(2026, 12, 4)
FIDELITY = [FILES / "Portfolio_Positions_Dec-04-2026.csv", FILES / "Accounts_History.csv"]
SCHWAB = [
    FILES / "All-Accounts-Positions-2026-12-04-172031.csv",
    FILES / "Individual_XXX518_Transactions_20261204-172245.csv",
]
PRICES = {"VTI": 300.0, "VEA": 50.0, "BND": 72.0}


TARGETS = {"VTI": 0.5, "VEA": 0.2, "BND": 0.3}


def start(
    tmp_path: Path,
    flows: list[dict] | None = None,
    targets: dict[str, float] = TARGETS,
    prices: dict[str, float] = PRICES,
    substitutes: dict[str, str] | None = None,
    **settings: object,
) -> Path:
    """A workbook with targets, prices (as manual Prices rows) and settings, and no
    accounts yet."""
    substitutes = substitutes or {}
    return build_workbook(
        tmp_path / "household.xlsm",
        {
            "CashFlows": flows or [],
            "Targets": [
                {"symbol": s, "target_weight": w, "substitute": substitutes.get(s)}
                for s, w in targets.items()
            ],
            "Prices": [
                {"symbol": s, "price": p, "as_of": VALUATION, "source": "manual"}
                for s, p in prices.items()
            ],
        },
        settings={
            "valuation_date": VALUATION,
            "trigger": "always",
            "cost_bps": 0,
            "min_trade_value": 0,
            "whole_shares": True,
            **settings,
        },
    )


def accounts(book: Path) -> dict[str, dict]:
    return {r["Account"]: r for r in sheet(book, "Accounts")}


def test_fidelity_history_is_keyed_by_account_number_not_name(tmp_path: Path):
    book = start(tmp_path)
    run("import", book, *map(str, FIDELITY))
    found = accounts(book)
    # Three accounts, each once, named from the positions file: no ghost `Joint WROS`
    # or `ROTH IRA` keyed by the history's name column.
    assert sorted(found) == [
        "Health Savings Account 245678901",
        "Joint WROS X12345678",
        "ROTH IRA 234567890",
    ]
    assert {r["BrokerAccount"] for r in found.values()} == {"X12345678", "234567890", "245678901"}
    # The history's buys are the taxable account's lots (VEA: 100 sold FIFO on
    # 2026-11-20 from the 2022 lot of 600 at 48: 500 left, basis 24,000).
    lots = {
        (r["LotId"]): r for r in sheet(book, "TaxLots") if r["Account"] == "Joint WROS X12345678"
    }
    assert {k: v["Shares"] for k, v in lots.items()} == {
        "VTI-20210315": 400,
        "VTI-20230601": 200,
        "VEA-20220201": 500,
        "VEA-20240910": 500,
    }
    assert lots["VEA-20220201"]["CostBasis"] == 24000
    sold = [r for r in sheet(book, "Transactions") if r["Action"] == "SELL"]
    assert [(r["Account"], r["Symbol"], r["Shares"]) for r in sold] == [
        ("Joint WROS X12345678", "VEA", 100)
    ]
    run("validate", book)


NAMES = [
    "Joint WROS=Joint Taxable",
    "ROTH IRA=Roth IRA",
    "Health Savings Account=HSA",
    "Rollover IRA=Rollover IRA",
    "...518=Schwab Individual",
]


def import_household(book: Path, *extra: str) -> dict:
    args = [str(f) for f in FIDELITY + SCHWAB]
    for mapping in NAMES:
        args += ["--account", mapping]
    return run("import", book, *args, *extra)


def test_name_mappings_are_remembered_and_the_second_import_changes_nothing(tmp_path: Path):
    book = start(tmp_path)
    import_household(book)
    found = accounts(book)
    assert sorted(found) == [
        "HSA",
        "Joint Taxable",
        "Rollover IRA",
        "Roth IRA",
        "Schwab Individual",
    ]
    assert found["Joint Taxable"]["BrokerAccount"] == "X12345678"
    assert found["Joint Taxable"]["BrokerName"] == "Joint WROS"
    assert found["Joint Taxable"]["Broker"] == "fidelity"
    assert found["Schwab Individual"]["BrokerAccount"] == "...518"
    assert found["Schwab Individual"]["Broker"] == "schwab"
    assert found["Rollover IRA"]["Type"] == "tax_deferred"
    assert found["Joint Taxable"]["Cash"] == 12500 and found["Schwab Individual"]["Cash"] == 7200
    # The per-account Schwab file names its account only in its file name: its buys are
    # the Individual account's.
    bought = {
        (r["Account"], r["Symbol"], r["Shares"])
        for r in sheet(book, "Transactions")
        if r["Action"] == "BUY"
    }
    assert ("Schwab Individual", "VEA", 500) in bought
    assert ("Roth IRA", "VTI", 50) in bought
    transactions = len(sheet(book, "Transactions"))
    # Without --account, the same downloads land on the same accounts: nothing changes.
    again = run("import", book, *[str(f) for f in FIDELITY + SCHWAB])
    assert again["changes"] == []
    assert sorted(accounts(book)) == sorted(found)
    assert len(sheet(book, "Transactions")) == transactions


LOTS_MAP = "account=Acct,symbol=Ticker,shares=Qty,acquired=Opened,cost_basis=Total Cost"


def test_a_lots_only_file_keeps_cash_and_its_map_is_its_own(tmp_path: Path):
    book = start(tmp_path)
    import_household(book)
    before = {name: r["Cash"] for name, r in accounts(book).items()}
    # The lots file and a broker's positions in one import: --map is the lots file's.
    run(
        "import",
        book,
        str(FILES / "schwab_individual_lots.csv"),
        str(FIDELITY[0]),
        "--map",
        LOTS_MAP,
    )
    after = {name: r["Cash"] for name, r in accounts(book).items()}
    assert after == before  # the lots file says nothing about cash
    assert after["Schwab Individual"] == 7200 and after["Joint Taxable"] == 12500
    lots = {
        r["LotId"]: (r["Shares"], r["CostBasis"])
        for r in sheet(book, "TaxLots")
        if r["Account"] == "Schwab Individual"
    }
    assert lots == {
        "VTI-20190510": (300, 45000),
        "VTI-20240220": (233, 55920),
        "VEA-20210601": (700, 35000),
        "VEA-20250303": (500, 26000),
    }
    run("validate", book)
    # A map no file answers to is named, not applied to the brokers' files.
    result = CliRunner().invoke(
        main, ["import", str(book), str(FIDELITY[0]), "--map", LOTS_MAP, "--json"]
    )
    assert result.exit_code == 1 and "no file has all these headers" in result.stdout


def household_with_lots(
    tmp_path: Path,
    flows: list[dict] | None = None,
    targets: dict[str, float] = TARGETS,
    prices: dict[str, float] = PRICES,
    substitutes: dict[str, str] | None = None,
    **settings: object,
) -> Path:
    book = start(tmp_path, flows, targets, prices, substitutes, **settings)
    import_household(book)
    run("import", book, str(FILES / "schwab_individual_lots.csv"), "--map", LOTS_MAP)
    return book


def test_fills_keep_the_book_valid_ira_buys_make_no_lots_and_lot_ids_stay_unique(
    tmp_path: Path,
):
    book = household_with_lots(tmp_path)
    run("rebalance", book)  # record-fills needs a proposal to match fills to
    fills = tmp_path / "fills.csv"
    fills.write_text(
        "Account,Symbol,Action,Quantity,Price,Date\n"
        "Joint Taxable,VEA,BUY,10,50.00,2026-12-07\n"
        "Schwab Individual,VEA,BUY,20,50.00,2026-12-07\n"
        "Roth IRA,VTI,BUY,5,300.00,2026-12-07\n"
        "Rollover IRA,VEA,BUY,30,50.00,2026-12-07\n"
    )
    run("record-fills", book, str(fills))
    lots = sheet(book, "TaxLots")
    ids = [r["LotId"] for r in lots]
    assert len(ids) == len(set(ids))  # unique in the workbook
    bought = {(r["Account"], r["LotId"]): r["Shares"] for r in lots if "20261207" in r["LotId"]}
    assert bought == {
        ("Joint Taxable", "VEA-20261207"): 10,
        ("Schwab Individual", "VEA-20261207-2"): 20,
    }
    # The IRAs keep no lots: their Holdings grew, and the book still validates.
    held = {(r["Account"], r["Symbol"]): r["Shares"] for r in sheet(book, "Holdings")}
    assert held[("Roth IRA", "VTI")] == 505 and held[("Rollover IRA", "VEA")] == 1030
    assert not [r for r in lots if r["Account"] in ("Roth IRA", "Rollover IRA")]
    run("validate", book)


def test_validate_refuses_a_lot_id_used_in_two_accounts(tmp_path: Path):
    book = household_with_lots(tmp_path)
    wb = load_workbook(book, keep_vba=True)
    ws = wb["TaxLots"]
    header = [c.value for c in ws[1]]
    account, lot_id = header.index("Account") + 1, header.index("LotId") + 1
    rows = {ws.cell(r, account).value: r for r in range(2, ws.max_row + 1)}
    # A user types the Joint account's VTI-20210315 as the Individual's lot's id.
    ws.cell(rows["Schwab Individual"], lot_id).value = "VTI-20210315"
    wb.save(book)
    result = CliRunner().invoke(main, ["validate", str(book), "--json"])
    assert result.exit_code == 1
    assert "LotId VTI-20210315 is used twice" in result.stdout and "unique" in result.stdout


def test_recorded_fills_apply_the_runs_cash_flows_once(tmp_path: Path):
    flows = [
        {"account": "Joint Taxable", "amount": 50000, "note": "bonus"},
        {"account": "Roth IRA", "amount": -20000, "note": "qualified distribution"},
    ]
    book = household_with_lots(tmp_path, flows)
    before = {name: r["Cash"] for name, r in accounts(book).items()}
    proposal = run("rebalance", book)["trades"]
    spent: dict[str, float] = {}
    for t in proposal:
        sign = 1 if t["action"] == "SELL" else -1
        spent[t["account"]] = (
            spent.get(t["account"], 0.0) + sign * t["value"] - (t["est_cost"] or 0)
        )
    assert spent["Joint Taxable"] < -40000  # the deposit is spent on buys
    # The Roth sells what its cash (3,000) lacks of the withdrawal.
    assert before["Roth IRA"] + spent["Roth IRA"] >= 20000 - 0.01
    run("record-fills", book, "--date", "2026-12-07")
    after = {name: r["Cash"] for name, r in accounts(book).items()}
    # Cash = before + the flow + what the fills brought in or spent: never negative.
    assert (
        abs(after["Joint Taxable"] - (before["Joint Taxable"] + 50000 + spent["Joint Taxable"]))
        < 0.02
    )
    assert abs(after["Roth IRA"] - (before["Roth IRA"] - 20000 + spent["Roth IRA"])) < 0.02
    assert min(after.values()) >= 0
    assert [r["AppliedOn"].date() for r in sheet(book, "CashFlows")] == [dt.date(2026, 12, 7)] * 2
    run("validate", book)
    # The next run neither spends the deposit nor raises the withdrawal again.
    again = run("rebalance", book)["trades"]
    assert not [t for t in again if t["account"] == "Roth IRA" and t["action"] == "SELL"]
    assert sum(t["value"] for t in again) < 0.01 * sum(t["value"] for t in proposal)


def type_full_numbers(book: Path, numbers: dict[str, str]) -> None:
    """What the user does once: the full account numbers over Schwab's masked ones."""
    wb = load_workbook(book, keep_vba=True)
    ws = wb["Accounts"]
    header = [c.value for c in ws[1]]
    name, number = header.index("Account") + 1, header.index("BrokerAccount") + 1
    for r in range(2, ws.max_row + 1):
        if ws.cell(r, name).value in numbers:
            ws.cell(r, number).value = numbers[ws.cell(r, name).value]
    wb.save(book)


def read_csv(path: str) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_orders_go_to_their_broker_under_full_numbers_with_a_lot_checklist(tmp_path: Path):
    # Bonds up to 60%: the taxable accounts sell stock too, lot by lot.
    book = household_with_lots(tmp_path, targets={"VTI": 0.15, "VEA": 0.25, "BND": 0.6})
    trades = run("rebalance", book)["trades"]
    out = tmp_path / "orders"
    fidelity = run("export-orders", book, "--format", "fidelity", "--out", str(out))
    fidelity_accounts = {"Joint Taxable", "Roth IRA", "HSA"}
    assert {o["account"] for o in fidelity["orders"]} <= fidelity_accounts
    written = {row[0] for f in fidelity["files"] for row in read_csv(f)}
    assert written <= {"X12345678", "234567890", "245678901"}  # never Schwab's ...731
    assert any("Schwab Individual" in w["message"] for w in fidelity["warnings"])
    # Fidelity's file cannot name lots: the checklist names each lot a sale relieves.
    sold = [t for t in trades if t["action"] == "SELL" and t["account"] == "Joint Taxable"]
    assert sold, "the taxable Fidelity account sells"
    checklist = read_csv(fidelity["lot_checklist_file"])
    assert checklist[0][:3] == ["Account", "BrokerAccount", "Symbol"]
    assert {(r[0], r[4], float(r[6])) for r in checklist[1:] if r[0] == "Joint Taxable"} == {
        ("Joint Taxable", t["lot_id"], t["shares"]) for t in sold
    }
    assert all(r[7] == "specify lots when you place the order" for r in checklist[1:])
    # Schwab's numbers are masked in its downloads: refused at their cell, not written.
    refused = CliRunner().invoke(
        main, ["export-orders", str(book), "--format", "schwab", "--out", str(out), "--json"]
    )
    problem = json.loads(refused.stdout)["problems"][0]
    assert refused.exit_code == 1 and "...518" in problem["message"]
    assert problem["sheet"] == "Accounts" and problem["cell"] == "D6"  # Schwab Individual
    type_full_numbers(book, {"Rollover IRA": "44556731", "Schwab Individual": "77889518"})
    schwab = run("export-orders", book, "--format", "schwab", "--out", str(out))
    assert {o["account"] for o in schwab["orders"]} <= {"Rollover IRA", "Schwab Individual"}
    rows = [r for f in schwab["files"] for r in read_csv(f)[1:]]
    assert rows and {r[0] for r in rows} <= {"44556731", "77889518"}
    # No account of this household is at IBKR: the basket is refused, naming why.
    ibkr = CliRunner().invoke(
        main, ["export-orders", str(book), "--format", "ibkr", "--out", str(out), "--json"]
    )
    assert ibkr.exit_code == 1 and "no account with orders is at ibkr" in ibkr.stdout
    # The generic file has every account, and no masked number.
    generic = run("export-orders", book, "--format", "csv", "--out", str(out))
    assert {o["account"] for o in generic["orders"]} == {t["account"] for t in trades}
    # The full numbers still match Schwab's masked ones: a new import maps alike.
    assert run("import", book, *[str(f) for f in SCHWAB])["changes"] == []


def price_file(tmp_path: Path) -> Path:
    """Closing prices of every fund held or targeted, as a price file lists them."""
    path = tmp_path / "prices.csv"
    path.write_text(
        "Date,Symbol,Close\n" + "".join(f"{VALUATION},{s},{p}\n" for s, p in PRICES.items())
    )
    return path


def test_realized_needs_no_prices_and_names_a_sale_after_the_valuation_date(
    tmp_path: Path,
    yahoo_unreachable: list[str],  # noqa: F811 (the fixture imported above)
):
    book = household_with_lots(tmp_path, prices={})
    run("rebalance", book, "--prices", str(price_file(tmp_path)))
    fills = tmp_path / "fills.csv"
    fills.write_text(
        "Account,Symbol,Action,Quantity,Price,Date,LotId\n"
        "Joint Taxable,VTI,SELL,10,300.00,2026-12-07,VTI-20210315\n"
    )
    run("record-fills", book, str(fills))
    asked = len(yahoo_unreachable)
    realized = run("realized", book)  # no --prices, no price on the sheet
    assert len(yahoo_unreachable) == asked  # and no feed asked
    later = [w for w in realized["warnings"] if "after the valuation date" in w["message"]]
    assert len(later) == 1 and "10 VTI in Joint Taxable on 2026-12-07" in later[0]["message"]
    assert later[0]["sheet"] == "Transactions" and later[0]["cell"].startswith("A")
    assert not [r for r in realized["realized"] if r["date_sold"] == "2026-12-07"]


def test_a_price_file_covering_every_symbol_asks_no_feed_and_an_unpriced_substitute_is_named(
    tmp_path: Path,
    yahoo_unreachable: list[str],  # noqa: F811 (the fixture imported above)
):
    book = household_with_lots(tmp_path, prices={}, substitutes={"VEA": "IEFA"})
    result = run("rebalance", book, "--prices", str(price_file(tmp_path)), "--dry-run")
    said = [w["message"] for w in result["warnings"]]
    assert not [m for m in said if "Yahoo" in m], said
    named = [w for w in result["warnings"] if w["message"].startswith("Substitute IEFA")]
    assert len(named) == 1 and named[0]["sheet"] == "Targets" and named[0]["cell"] == "F3"


def test_the_households_round_trip_through_the_command_line(tmp_path: Path):
    """Import the downloads, rebalance with a deposit, export every format, record the
    whole proposal as filled, validate, and import the same downloads again: nothing
    changes (the fills are newer than the files)."""
    book = household_with_lots(
        tmp_path,
        flows=[{"account": "Joint Taxable", "amount": 50000, "note": "deposit"}],
        targets={"VTI": 0.15, "VEA": 0.25, "BND": 0.6},  # every account trades
    )
    assert len(accounts(book)) == 5
    type_full_numbers(book, {"Rollover IRA": "44556731", "Schwab Individual": "77889518"})
    proposal = run("rebalance", book)
    assert proposal["trades"]
    out = tmp_path / "orders"
    exported = {}
    exported["csv"] = run("export-orders", book, "--format", "csv", "--out", str(out))
    assert exported["csv"]["proposal_status"] == "exported"
    # The whole proposal is exported: a second export is refused (never sent twice)...
    again = CliRunner().invoke(
        main, ["export-orders", str(book), "--format", "fidelity", "--out", str(out), "--json"]
    )
    assert again.exit_code == 1 and "is exported and not yet filled" in again.stdout
    # ... unless asked for outright (--force: the same proposal in each broker's format).
    for fmt in ("fidelity", "schwab"):
        exported[fmt] = run("export-orders", book, "--format", fmt, "--out", str(out), "--force")
        assert exported[fmt]["proposal"] == exported["csv"]["proposal"]
    by_broker = {o["account"] for fmt in ("fidelity", "schwab") for o in exported[fmt]["orders"]}
    assert by_broker == {o["account"] for o in exported["csv"]["orders"]}  # each once
    for name in out.iterdir():
        assert "..." not in name.read_text()  # no masked number in any order file
    ibkr = CliRunner().invoke(
        main,
        ["export-orders", str(book), "--format", "ibkr", "--out", str(out), "--json", "--force"],
    )
    assert ibkr.exit_code == 1 and "no account with orders is at ibkr" in ibkr.stdout

    recorded = run("record-fills", book, "--date", "2026-12-07")
    assert recorded["recorded"] == len(proposal["trades"])
    run("validate", book)
    assert min(r["Cash"] for r in accounts(book).values()) >= 0
    tables = {
        name: sheet(book, name) for name in ("Accounts", "Holdings", "TaxLots", "Transactions")
    }
    again = run("import", book, *[str(f) for f in FIDELITY + SCHWAB])
    assert again["changes"] == []
    assert {name: sheet(book, name) for name in tables} == tables
    # The next run spends no deposit again and finds the book on target.
    following = run("rebalance", book)["trades"]
    assert sum(t["value"] for t in following) < 0.01 * sum(t["value"] for t in proposal["trades"])


def test_an_account_mapping_that_matches_nothing_is_said(tmp_path: Path):
    """`--account 1234=Taxable` (the digits without the `...` Schwab shows) was ignored
    without a word and the account came in under the broker's name."""
    from click.testing import CliRunner

    from xl_rebalancer.cli import main
    from xl_rebalancer.excel.template import build_workbook

    book = build_workbook(tmp_path / "book.xlsm")
    positions = Path(__file__).parent / "files" / "schwab_positions.csv"
    result = CliRunner().invoke(
        main,
        ["import", str(book), str(positions), "--account", "1234=Taxable", "--dry-run", "--json"],
    )
    doc = json.loads(result.stdout)
    said = [w["message"] for w in doc["warnings"]]
    assert any("--account 1234=Taxable matched no account in the files" in m for m in said), said
    assert any("...1234" in m for m in said if "matched no account" in m)
