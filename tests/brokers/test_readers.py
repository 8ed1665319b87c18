"""Each broker file read as its layout says (files/README.md names the layouts)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from xl_rebalancer.brokers import read_statement
from xl_rebalancer.brokers.common import number
from xl_rebalancer.errors import InputError

FILES = Path(__file__).parent / "files"


def by_symbol(statement):
    return {p.symbol: p for p in statement.positions}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("$1,234.56", 1234.56),
        ("-$12.50", -12.5),
        ("(12.50)", -12.5),
        ("+0.41%", 0.41),
        ("--", None),
        ("n/a", None),
        ("", None),
        ("1,000", 1000.0),
    ],
)
def test_money_as_brokers_write_it(text, value):
    assert number(text) == value


def test_schwab_positions_title_cash_total_and_unsupported_rows():
    st = read_statement(FILES / "schwab_positions.csv")
    assert st.broker == "schwab" and st.as_of == dt.date(2024, 12, 31)
    assert st.snapshot_accounts == ["...1234"] and st.account_names["...1234"] == "Individual"
    assert st.cash == {"...1234": 6650.0}
    vti = by_symbol(st)["VTI"]
    assert (vti.shares, vti.price, vti.value, vti.cost_basis) == (110, 290, 31900, 20890)
    assert "AAPL 01/17/2025 250.00 C" not in by_symbol(st)
    messages = [str(p) for p in st.problems]
    assert any("line 6" in m and "Option" in m and "not imported" in m for m in messages)
    # The option's value is counted in the Account Total check: no false mismatch.
    assert not any("Account Total" in m for m in messages)


def test_schwab_2025_renamed_headers_read_the_same():
    st = read_statement(FILES / "schwab_positions_2025.csv")
    assert by_symbol(st)["VTI"].shares == 110 and by_symbol(st)["VTI"].value == 31900
    assert st.cash == {"...1234": 1000.0} and st.problems == []


def test_schwab_realized_closed_lots():
    st = read_statement(FILES / "schwab_realized.csv")
    (sale,) = st.transactions
    assert sale.account == "...1234" and sale.closed_lot
    assert (sale.date, sale.acquired) == (dt.date(2024, 6, 10), dt.date(2021, 3, 10))
    assert (sale.shares, sale.amount, sale.cost_basis) == (40, 10395, 7602)
    assert sale.realized_gain == 2793 and sale.term == "LT"


def test_schwab_transactions_trades_only():
    st = read_statement(FILES / "schwab_transactions.csv")
    assert [(t.action, t.symbol, t.shares) for t in st.transactions] == [
        ("BUY", "BND", 10),
        ("SELL", "VTI", 40),
    ]


def test_fidelity_positions_cash_pending_cusip_footer():
    st = read_statement(FILES / "fidelity_positions.csv")
    assert st.broker == "fidelity" and st.as_of == dt.date(2024, 12, 31)
    assert st.account_names == {"X12345678": "ROTH IRA", "Z98765432": "INDIVIDUAL - TOD"}
    assert st.cash["X12345678"] == pytest.approx(2500.12 - 100.0)  # SPAXX** and pending
    assert set(by_symbol(st)) == {"VXUS", "315911750"}
    assert by_symbol(st)["315911750"].cusip == "315911750"
    assert by_symbol(st)["VXUS"].cost_basis == 16000


def test_vanguard_two_blocks_settlement_fund_is_cash():
    st = read_statement(FILES / "vanguard.csv")
    assert st.cash == {"55512345": 1500.25}
    assert {p.symbol: p.shares for p in st.positions} == {"BND": 120, "VTI": 30}
    assert sorted((t.date, t.symbol, t.shares) for t in st.transactions) == [
        (dt.date(2022, 3, 1), "BND", 100),
        (dt.date(2023, 2, 1), "VTI", 30),
        (dt.date(2024, 11, 1), "BND", 20),
    ]  # the dividend row is not a trade


def test_ibkr_summary_counted_once_lots_from_lot_rows():
    st = read_statement(FILES / "ibkr_flex.xml")
    assert [(p.symbol, p.shares) for p in st.positions] == [("VTI", 25)]
    assert sorted((x.acquired, x.shares, x.cost_basis) for x in st.lots) == [
        (dt.date(2022, 3, 15), 15, 3000),
        (dt.date(2024, 8, 1), 10, 2700),
    ]
    assert st.cash == {"U1234567": 812.4}
    assert any("OPT" in str(p) for p in st.problems)


def test_ofx_positions_tickers_cash_and_history():
    st = read_statement(FILES / "statement.ofx")
    assert st.broker == "ofx" and st.cash == {"98765432": 1234.56}
    assert {p.symbol: p.shares for p in st.positions} == {"VTI": 110, "BND": 100}
    assert [t.action for t in st.transactions].count("SELL") == 1
    assert all(t.ref and t.ref.startswith("ofx:") for t in st.transactions)


def test_generic_csv_with_a_column_map(tmp_path: Path):
    path = tmp_path / "lots.csv"
    path.write_text(
        "Acct,Ticker,Qty,Total Cost,Opened\n"
        'Joint,VTI,10,"$2,000.00",2020-01-02\n'
        'Joint,VTI,5,"$1,500.00",2023-06-01\n'
        'Joint,CASH,,"$250.00",\n'
    )
    st = read_statement(
        path,
        mapping="account=Acct,symbol=Ticker,shares=Qty,"
        "cost_basis=Total Cost,acquired=Opened,value=Total Cost",
    )
    assert [(p.symbol, p.shares, p.cost_basis) for p in st.positions] == [("VTI", 15, 3500)]
    assert len(st.lots) == 2 and st.cash == {"Joint": 250.0}


def test_untrusted_files_are_refused_cleanly(tmp_path: Path):
    binary = tmp_path / "positions.csv"
    binary.write_bytes(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(InputError, match="not a text file"):
        read_statement(binary)
    bomb = tmp_path / "flex.xml"
    bomb.write_text(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
        "<FlexQueryResponse>&a;</FlexQueryResponse>"
    )
    with pytest.raises(InputError, match="not a readable Flex"):
        read_statement(bomb)
    with pytest.raises(InputError, match="--map"):
        read_statement(FILES / "vanguard.csv", mapping="colour=Blue")


def test_fidelity_history_and_realized():
    history = read_statement(FILES / "Accounts_History.csv")
    assert history.broker == "fidelity"
    assert sorted((t.date, t.action, t.shares) for t in history.transactions) == [
        (dt.date(2023, 3, 1), "BUY", 318.5),
        (dt.date(2024, 11, 1), "SELL", 20),
        (dt.date(2024, 12, 16), "BUY", 1.5),
    ]  # dividends and the money market are not trades
    realized = read_statement(FILES / "Realized_Gain_Loss_Account_X12345678.csv")
    (sale,) = realized.transactions
    assert sale.account == "X12345678" and sale.symbol == "VXUS"
    assert sale.realized_gain == pytest.approx(159.98) and sale.term == "LT"
    assert sale.acquired == dt.date(2023, 3, 1)


def test_fidelity_history_rebuilds_lots_that_add_up(tmp_path):
    """318.5 bought, 20 sold first-in-first-out, 1.5 reinvested: the 300 VXUS in the
    positions file, as two lots with the basis each keeps."""
    from tests.brokers.test_round_trip import start
    from tests.tax.helpers import run, sheet

    book = start(tmp_path)
    run(
        "import",
        book,
        str(FILES / "fidelity_positions.csv"),
        str(FILES / "Accounts_History.csv"),
        "--account",
        "X12345678=Taxable",
        "--account",
        "*=Taxable",
        "--account",
        "Z98765432=Old 401k",
    )
    lots = {r["LotId"]: r for r in sheet(book, "TaxLots") if r["Account"] == "Taxable"}
    assert lots["VXUS-20230301"]["Shares"] == 298.5
    assert lots["VXUS-20230301"]["CostBasis"] == pytest.approx(16880.50 * 298.5 / 318.5, abs=0.01)
    assert lots["VXUS-20241216"]["Shares"] == 1.5
