"""A generated advisory firm: client workbooks made the way a firm makes them, through the
command line (`init`, then `import` of each custodian's downloads and the firm's model
file), and the custodians' files of executions for a blotter.

Every download follows the layout the broker publishes, as the fixtures in
tests/brokers/files/ do (their READMEs name the sources):
- Fidelity: `Portfolio_Positions_Mmm-dd-yyyy.csv` (every account of the household, the
  `SPAXX**` core cash, the footer) and the current all-accounts `Accounts_History.csv`
  (`Run Date,Account,Account Number,Action,…`; ` YOU BOUGHT …`, ` YOU SOLD …`), which is
  also the custodian's record of the day's executions;
- Schwab: the all-accounts positions (`Individual ...518` titles, masked numbers, the
  2025 headers) and the per-account transactions download named
  `Individual_XXX518_Transactions_<time>.csv`;
- Interactive Brokers: a Flex Query XML, `OpenPositions` with SUMMARY and LOT rows, the
  `CashReport`, and `Trades` (`accountId`, `buySell`, `tradePrice`, `netCash`) for the
  executions.
Schwab publishes no all-accounts history layout at hand, so its executions come back in
the fills layout (Account = the full number, Symbol, Action, Quantity, Price, Date, Fees).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import load_workbook

from tests.tax.helpers import run

DOWNLOADED = dt.date(2026, 12, 4)
PRICES = {"VTI": 300.0, "VEA": 50.0, "BND": 72.0}
NAMES = {
    "VTI": "VANGUARD TOTAL STOCK MARKET ETF",
    "VEA": "VANGUARD FTSE DEVELOPED MARKETS ETF",
    "BND": "VANGUARD TOTAL BOND MARKET ETF",
}
MODEL = {"VTI": 50, "VEA": 20, "BND": 30}  # the firm's model, in percent


@dataclass
class Account:
    name: str  # the workbook's name for it
    number: str  # the custodian's full number
    label: str  # the custodian's name for it (Joint WROS, ROTH IRA, Individual)
    cash: float
    # symbol → lots (shares, price paid, bought on)
    lots: dict[str, list[tuple[float, float, dt.date]]]
    do_not_trade: bool = False

    @property
    def masked(self) -> str:
        return f"...{self.number[-3:]}"

    def shares(self, symbol: str) -> float:
        return sum(n for n, _, _ in self.lots[symbol])

    def basis(self, symbol: str) -> float:
        return sum(n * p for n, p, _ in self.lots[symbol])


@dataclass
class Client:
    name: str
    custodian: str  # fidelity, schwab, ibkr
    accounts: list[Account]
    cash_flow: float = 0.0  # a deposit (+) or withdrawal (-) into the first account
    do_not_trade: bool = False
    settings: dict[str, object] = field(default_factory=dict)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def clients() -> list[Client]:
    """Six households at three custodians: off the model (so the night's run trades),
    one with a deposit, one with a withdrawal, one held whole (do_not_trade), one with an
    account held (a pending transfer)."""
    return [
        Client(
            "adams",
            "fidelity",
            [
                Account(
                    "Joint Taxable",
                    "X10000001",
                    "Joint WROS",
                    4000,
                    {
                        "VTI": [(300, 200.0, d("2021-03-15")), (100, 240.0, d("2023-06-01"))],
                        "VEA": [(400, 45.0, d("2022-02-01"))],
                    },
                ),
                Account(
                    "Roth IRA",
                    "200000011",
                    "ROTH IRA",
                    2000,
                    {"BND": [(300, 75.0, d("2020-05-01"))]},
                ),
            ],
            cash_flow=25000,  # a deposit to invest
        ),
        Client(
            "baker",
            "fidelity",
            [
                Account(
                    "Individual",
                    "X10000002",
                    "Individual",
                    1500,
                    {
                        "VTI": [(500, 150.0, d("2019-01-10"))],
                        "BND": [(200, 80.0, d("2021-08-02"))],
                        "VEA": [(100, 40.0, d("2020-04-01"))],
                    },
                )
            ],
            cash_flow=-20000,  # a withdrawal to raise
        ),
        Client(
            "chen",
            "schwab",
            [
                Account(
                    "Individual",
                    "44410518",
                    "Individual",
                    6000,
                    {
                        "VTI": [(200, 210.0, d("2020-07-01"))],
                        "VEA": [(900, 42.0, d("2021-11-15"))],
                    },
                ),
                Account(
                    "Rollover IRA",
                    "44420731",
                    "Rollover IRA",
                    3000,
                    {"BND": [(900, 70.0, d("2018-01-05"))]},
                ),
            ],
        ),
        Client(
            "diaz",
            "schwab",
            [
                Account(
                    "Individual",
                    "55510622",
                    "Individual",
                    2500,
                    {"VTI": [(150, 180.0, d("2019-09-09"))], "VEA": [(300, 44.0, d("2022-03-03"))]},
                ),
                # A pending transfer out: held, its funds still count toward the drift.
                Account(
                    "Roth IRA",
                    "55520844",
                    "Roth Contributory IRA",
                    500,
                    {"BND": [(100, 71.0, d("2021-02-02"))]},
                    do_not_trade=True,
                ),
            ],
        ),
        Client(
            "evans",
            "ibkr",
            [
                Account(
                    "Taxable",
                    "U1000005",
                    "Taxable",
                    8000,
                    {
                        "VTI": [(60, 190.0, d("2020-03-20")), (40, 260.0, d("2024-08-01"))],
                        "BND": [(600, 73.0, d("2022-10-10"))],
                    },
                )
            ],
        ),
        Client(
            "foster",
            "ibkr",
            [
                Account(
                    "Taxable",
                    "U1000006",
                    "Taxable",
                    3000,
                    {"VTI": [(10, 200.0, d("2021-01-04"))], "VEA": [(1000, 49.0, d("2023-05-05"))]},
                )
            ],
            do_not_trade=True,  # the client asked to hold everything this month
        ),
    ]


# the custodians' downloads ------------------------------------------------------------


def money(value: float) -> str:
    return f"${value:,.2f}" if value >= 0 else f"-${-value:,.2f}"


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


FIDELITY_POSITIONS = [
    "Account Number",
    "Account Name",
    "Symbol",
    "Description",
    "Quantity",
    "Last Price",
    "Last Price Change",
    "Current Value",
    "Today's Gain/Loss Dollar",
    "Today's Gain/Loss Percent",
    "Total Gain/Loss Dollar",
    "Total Gain/Loss Percent",
    "Percent Of Account",
    "Cost Basis Total",
    "Average Cost Basis",
    "Type",
]
FIDELITY_HISTORY = [
    "Run Date",
    "Account",
    "Account Number",
    "Action",
    "Symbol",
    "Description",
    "Type",
    "Exchange Quantity",
    "Exchange Currency",
    "Currency",
    "Price",
    "Quantity",
    "Exchange Rate",
    "Commission",
    "Fees",
    "Accrued Interest",
    "Amount",
    "Settlement Date",
]
FIDELITY_FOOTER = [
    [],
    [
        "The data and information in this spreadsheet is provided to you solely for your use "
        "and is not for distribution."
    ],
    [f"Date downloaded {DOWNLOADED:%b-%d-%Y} 5:12 p.m ET"],
]


def fidelity_history_row(
    account: str,
    label: str,
    day: dt.date,
    side: str,
    symbol: str,
    shares: float,
    price: float,
    fees: float = 0.0,
) -> list[str]:
    verb = "YOU BOUGHT" if side == "BUY" else "YOU SOLD"
    gross = shares * price
    amount = -(gross + fees) if side == "BUY" else gross - fees
    quantity = shares if side == "BUY" else -shares
    return [
        f"{day:%m/%d/%Y}",
        label,
        account,
        f" {verb} {NAMES[symbol]} ({symbol}) (Cash)",
        symbol,
        NAMES[symbol],
        "Cash",
        "0",
        "",
        "USD",
        f"{price:g}",
        f"{quantity:g}",
        "0",
        f"{fees:.2f}" if fees else "",
        "",
        "",
        f"{amount:.2f}",
        f"{day + dt.timedelta(days=1):%m/%d/%Y}",
    ]


def fidelity_downloads(client: Client, folder: Path) -> list[Path]:
    positions = [FIDELITY_POSITIONS]
    history = [FIDELITY_HISTORY]
    for a in client.accounts:
        positions.append(
            [a.number, a.label, "SPAXX**", "HELD IN MONEY MARKET", "", "", "", money(a.cash)]
        )
        positions[-1] += ["", "", "", "", "", "", "", "Cash"]
        for symbol, lots in a.lots.items():
            value = a.shares(symbol) * PRICES[symbol]
            basis = a.basis(symbol)
            positions.append(
                [
                    a.number,
                    a.label,
                    symbol,
                    NAMES[symbol],
                    f"{a.shares(symbol):g}",
                    money(PRICES[symbol]),
                    "+$0.00",
                    money(value),
                    "+$0.00",
                    "+0.00%",
                    money(value - basis),
                    f"{(value - basis) / basis:+.2%}",
                    "",
                    money(basis),
                    money(basis / a.shares(symbol)),
                    "Cash",
                ]
            )
            for shares, price, day in lots:
                history.append(
                    fidelity_history_row(a.number, a.label, day, "BUY", symbol, shares, price)
                )
    history.sort(
        key=lambda r: (
            dt.datetime.strptime(r[0], "%m/%d/%Y") if r[0][0].isdigit() else dt.datetime.max
        ),
        reverse=True,
    )
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_csv(
            folder / f"Portfolio_Positions_{DOWNLOADED:%b-%d-%Y}.csv", positions + FIDELITY_FOOTER
        ),
        write_csv(folder / "Accounts_History.csv", [[], [], *history, [], *FIDELITY_FOOTER]),
    ]


SCHWAB_POSITIONS = [
    "Symbol",
    "Description",
    "Qty (Quantity)",
    "Price",
    "Price Chng $ (Price Change $)",
    "Price Chng % (Price Change %)",
    "Mkt Val (Market Value)",
    "Day Chng $ (Day Change $)",
    "Day Chng % (Day Change %)",
    "Cost Basis",
    "Gain $ (Gain/Loss $)",
    "Gain % (Gain/Loss %)",
    "Ratings",
    "Reinvest?",
    "Reinvest Capital Gains?",
    "% of Acct (% of Account)",
    "Security Type",
]


def schwab_downloads(client: Client, folder: Path) -> list[Path]:
    rows: list[list[str]] = [
        [f"Positions for All-Accounts as of 05:20 PM ET, {DOWNLOADED:%Y/%m/%d}"]
    ]
    files = []
    folder.mkdir(parents=True, exist_ok=True)
    for a in client.accounts:
        rows += [[], [f"{a.label} {a.masked}"], SCHWAB_POSITIONS]
        total = a.cash
        for symbol in a.lots:
            value = a.shares(symbol) * PRICES[symbol]
            basis = a.basis(symbol)
            total += value
            rows.append(
                [
                    symbol,
                    NAMES[symbol],
                    f"{a.shares(symbol):,g}",
                    money(PRICES[symbol]),
                    "$0.00",
                    "0%",
                    money(value),
                    "$0.00",
                    "0%",
                    money(basis),
                    money(value - basis),
                    f"{(value - basis) / basis:.2%}",
                    "--",
                    "Yes",
                    "--",
                    "--",
                    "ETFs & Closed End Funds",
                ]
            )
        rows.append(
            ["Cash & Cash Investments", "--", "--", "--", "--", "--", money(a.cash)]
            + ["--"] * 9
            + ["Cash and Money Market"]
        )
        rows.append(["Account Total", "--", "--", "--", "--", "--", money(total)] + ["--"] * 10)
        # The per-account history names its account only in the file name.
        history = [
            [
                "Date",
                "Action",
                "Symbol",
                "Description",
                "Quantity",
                "Price",
                "Fees & Comm",
                "Amount",
            ]
        ]
        for symbol, lots in a.lots.items():
            for shares, price, day in lots:
                history.append(
                    [
                        f"{day:%m/%d/%Y}",
                        "Buy",
                        symbol,
                        NAMES[symbol],
                        f"{shares:g}",
                        money(price),
                        "",
                        money(-shares * price),
                    ]
                )
        history.append(["Transactions Total", "", "", "", "", "", "", ""])
        label = a.label.replace(" ", "_")
        files.append(
            write_csv(
                folder / f"{label}_XXX{a.number[-3:]}_Transactions_20261204-172245.csv", history
            )
        )
    files.insert(0, write_csv(folder / "All-Accounts-Positions-2026-12-04-172031.csv", rows))
    return files


def ibkr_download(client: Client, folder: Path) -> list[Path]:
    positions, cash = [], []
    for a in client.accounts:
        for symbol, lots in a.lots.items():
            common = (
                f'accountId="{a.number}" acctAlias="" currency="USD" fxRateToBase="1" '
                f'assetCategory="STK" symbol="{symbol}" description="{NAMES[symbol]}"'
            )
            positions.append(
                f'<OpenPosition {common} position="{a.shares(symbol):g}" markPrice="{PRICES[symbol]:g}" '
                f'positionValue="{a.shares(symbol) * PRICES[symbol]:g}" costBasisMoney="{a.basis(symbol):g}" '
                'levelOfDetail="SUMMARY" openDateTime="" />'
            )
            for shares, price, day in lots:
                positions.append(
                    f'<OpenPosition {common} position="{shares:g}" markPrice="{PRICES[symbol]:g}" '
                    f'positionValue="{shares * PRICES[symbol]:g}" costBasisPrice="{price:g}" '
                    f'costBasisMoney="{shares * price:g}" levelOfDetail="LOT" '
                    f'openDateTime="{day:%Y%m%d};100000" holdingPeriodDateTime="{day:%Y%m%d};100000" />'
                )
        cash.append(
            f'<CashReportCurrency accountId="{a.number}" currency="BASE_SUMMARY" endingCash="{a.cash:g}" />'
        )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{client.name}-flex.xml"
    path.write_text(
        flex(
            client.accounts[0].number,
            "<OpenPositions>\n" + "\n".join(positions) + "\n</OpenPositions>\n"
            "<CashReport>\n" + "\n".join(cash) + "\n</CashReport>",
        ),
        encoding="utf-8",
    )
    return [path]


def flex(account: str, body: str, name: str = "Positions") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<FlexQueryResponse queryName="{name}" type="AF">\n<FlexStatements count="1">\n'
        f'<FlexStatement accountId="{account}" fromDate="{DOWNLOADED:%Y%m%d}" '
        f'toDate="{DOWNLOADED:%Y%m%d}" period="LastBusinessDay" whenGenerated="{DOWNLOADED:%Y%m%d};180000">\n'
        f"{body}\n</FlexStatement>\n</FlexStatements>\n</FlexQueryResponse>\n"
    )


# the firm ----------------------------------------------------------------------------


def set_settings(book: Path, values: dict[str, object]) -> None:
    """What the adviser types on the Settings sheet."""
    wb = load_workbook(book, keep_vba=True)
    ws = wb["Settings"]
    rows = {ws.cell(r, 1).value: r for r in range(2, ws.max_row + 1)}
    for name, value in values.items():
        ws.cell(rows[name], 2).value = value
    wb.save(book)


def set_accounts(book: Path, column: str, values: dict[str, object]) -> None:
    """What the adviser types on the Accounts sheet (a full number over Schwab's masked
    one, TRUE under DoNotTrade)."""
    wb = load_workbook(book, keep_vba=True)
    ws = wb["Accounts"]
    header = [c.value for c in ws[1]]
    name, at = header.index("Account") + 1, header.index(column) + 1
    for r in range(2, ws.max_row + 1):
        if ws.cell(r, name).value in values:
            ws.cell(r, at).value = values[ws.cell(r, name).value]
    wb.save(book)


def build_firm(root: Path) -> dict[str, Path]:
    """The firm's folder of client workbooks (root/clients), each made by `init` and
    `import` of its custodian's downloads (root/downloads/<client>) and the model file;
    the import's own backups stay beside them. Returns client name → workbook."""
    folder = root / "clients"
    folder.mkdir(parents=True)
    model = write_csv(
        root / "model.csv", [["Symbol", "Weight"], *[[s, str(w)] for s, w in MODEL.items()]]
    )
    books = {}
    for client in clients():
        book = folder / f"{client.name}.xlsm"
        run("init", book)
        downloads = root / "downloads" / client.name
        files = {"fidelity": fidelity_downloads, "schwab": schwab_downloads, "ibkr": ibkr_download}[
            client.custodian
        ](client, downloads)
        mapping = []
        for a in client.accounts:
            key = a.masked if client.custodian == "schwab" else a.number
            mapping += ["--account", f"{key}={a.name}"]
        run("import", book, str(model), *map(str, files), *mapping)
        # What the adviser types once: Schwab's full numbers over its masked ones (an
        # order file needs them), the deposit or withdrawal, what is held.
        if client.custodian == "schwab":
            set_accounts(book, "BrokerAccount", {a.name: a.number for a in client.accounts})
        held = {a.name: True for a in client.accounts if a.do_not_trade}
        if held:
            set_accounts(book, "DoNotTrade", held)
        settings = dict(client.settings)
        if client.cash_flow:
            settings["cash_flow"] = client.cash_flow
        if client.do_not_trade:
            settings["do_not_trade"] = True
        if settings:
            set_settings(book, settings)
        books[client.name] = book
    # A broken client: a typing slip in a lot's shares.
    broken = folder / "garcia.xlsm"
    run("init", broken)
    downloads = root / "downloads" / "garcia"
    garcia = Client(
        "garcia",
        "ibkr",
        [Account("Taxable", "U1000007", "Taxable", 100, {"VTI": [(10, 250.0, d("2022-01-03"))]})],
    )
    run(
        "import",
        broken,
        str(model),
        *map(str, ibkr_download(garcia, downloads)),
        "--account",
        "U1000007=Taxable",
    )
    wb = load_workbook(broken, keep_vba=True)
    ws = wb["TaxLots"]
    header = [c.value for c in ws[1]]
    ws.cell(2, header.index("Shares") + 1).value = "ten"
    wb.save(broken)
    books["garcia"] = broken
    return books


def write_prices(path: Path, days: list[dt.date], prices: dict[str, float] = PRICES) -> Path:
    return write_csv(
        path, [["Date", *prices], *[[f"{day}", *map(str, prices.values())] for day in days]]
    )


# the custodians' executions ----------------------------------------------------------

TRADED = dt.date(2026, 12, 7)
SLIP = 0.01  # buys fill a cent above the last close, sells a cent below


def allocation(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def fill_price(row: dict[str, str]) -> float:
    price = float(row["EstPrice"])
    return round(price + SLIP if row["Side"] == "BUY" else price - SLIP, 2)


def fidelity_fills(rows: list[dict[str, str]], path: Path) -> Path:
    """The day's executions as Fidelity's all-accounts history shows them, with a
    dividend among them (not a fill)."""
    history = [FIDELITY_HISTORY]
    for r in rows:
        history.append(
            fidelity_history_row(
                r["BrokerAccount"],
                r["Account"],
                TRADED,
                r["Side"],
                r["Symbol"],
                float(r["Shares"]),
                fill_price(r),
            )
        )
    first = rows[0]
    history.append(
        [
            f"{TRADED:%m/%d/%Y}",
            first["Account"],
            first["BrokerAccount"],
            " DIVIDEND RECEIVED VANGUARD TOTAL STOCK MARKET ETF (VTI) (Cash)",
            "VTI",
            NAMES["VTI"],
            "Cash",
            "0",
            "",
            "USD",
            "",
            "0.000",
            "0",
            "",
            "",
            "",
            "12.34",
            "",
        ]
    )
    return write_csv(path, [[], [], *history, [], *FIDELITY_FOOTER])


def ibkr_fills(rows: list[dict[str, str]], path: Path, commission: float = 1.0) -> Path:
    """The day's executions as an IBKR Flex Query's Trade rows, $1 commission each."""
    trades = []
    for i, r in enumerate(rows, start=1):
        shares, price = float(r["Shares"]), fill_price(r)
        gross = shares * price
        net = -(gross + commission) if r["Side"] == "BUY" else gross - commission
        quantity = shares if r["Side"] == "BUY" else -shares
        trades.append(
            f'<Trade accountId="{r["BrokerAccount"]}" currency="USD" assetCategory="STK" '
            f'symbol="{r["Symbol"]}" description="{NAMES[r["Symbol"]]}" tradeID="9{i:05d}" '
            f'tradeDate="{TRADED:%Y%m%d}" dateTime="{TRADED:%Y%m%d};103000" quantity="{quantity:g}" '
            f'tradePrice="{price:g}" ibCommission="{-commission:g}" netCash="{net:.2f}" '
            f'buySell="{r["Side"]}" levelOfDetail="EXECUTION" />'
        )
    path.write_text(
        flex(rows[0]["BrokerAccount"], "<Trades>\n" + "\n".join(trades) + "\n</Trades>", "Trades"),
        encoding="utf-8",
    )
    return path


def schwab_fills(rows: list[dict[str, str]], path: Path) -> Path:
    """Schwab's executions in the fills layout, under each account's full number."""
    out = [["Account", "Symbol", "Action", "Quantity", "Price", "Date", "Fees", "ProposalId"]]
    for r in rows:
        out.append(
            [
                r["BrokerAccount"],
                r["Symbol"],
                r["Side"],
                r["Shares"],
                f"{fill_price(r):.2f}",
                f"{TRADED}",
                "0",
                r["ProposalId"],
            ]
        )
    return write_csv(path, out)


def schwab_account_fills(rows: list[dict[str, str]], folder: Path) -> Path:
    """One Schwab account's executions as its transactions download shows them: no
    account column, the account masked in the file name (`Individual_XXX518_…`)."""
    number = rows[0]["BrokerAccount"]
    out = [
        ["Date", "Action", "Symbol", "Description", "Quantity", "Price", "Fees & Comm", "Amount"]
    ]
    for r in rows:
        shares, price = float(r["Shares"]), fill_price(r)
        amount = -shares * price if r["Side"] == "BUY" else shares * price
        out.append(
            [
                f"{TRADED:%m/%d/%Y}",
                "Buy" if r["Side"] == "BUY" else "Sell",
                r["Symbol"],
                NAMES[r["Symbol"]],
                f"{shares:g}",
                money(price),
                "",
                money(amount),
            ]
        )
    out.append(["Transactions Total", "", "", "", "", "", "", ""])
    return write_csv(folder / f"Individual_XXX{number[-3:]}_Transactions_20261207-170000.csv", out)
