"""A fills file: what was executed, one row per execution (a broker's export or typed).

Columns (headers matched loosely): Account (the workbook's name or the broker's number),
Symbol, Action (BUY/SELL, also Bought/Sold), Shares (or Quantity), Price, Date (blank:
the day given to record-fills), and optional LotId, Fees, ProposalId. A broker's own
history of trades is read too (read_fill_rows)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.fills import Fill
from ..errors import InputError, Problem
from . import fidelity, ibkr, schwab
from .common import Collector, check_file, csv_lines, find_header, read_text, records

FIELDS = {
    "account": ["Account", "Account Number", "BrokerAccount"],
    "symbol": ["Symbol", "Ticker"],
    "action": ["Action", "Side", "Buy/Sell"],
    "shares": ["Shares", "Quantity", "Filled Quantity", "Qty"],
    "price": ["Price", "Fill Price", "Avg Price", "Execution Price"],
    "date": ["Date", "Trade Date", "Fill Date"],
    "lot_id": ["LotId", "Lot Id", "Lot"],
    "fees": ["Fees", "Commission", "Fees & Comm"],
    "proposal": ["ProposalId", "BasketTag"],
}


@dataclass
class FillsFile:
    """A fills file, read: each fill under the account the file names (a number or a
    name), the proposal id each row names (aligned with `fills`), and the broker whose
    layout it is (`generic` for the fills layout above)."""

    fills: list[Fill] = field(default_factory=list)
    proposals: list[str | None] = field(default_factory=list)
    broker: str = "generic"
    notes: list[Problem] = field(default_factory=list)


def read_fill_rows(path: Path, day: dt.date) -> FillsFile:
    """Every execution in the file, its account as written. The fills layout above, or a
    broker's own history of trades: Fidelity's `Accounts_History.csv` (all accounts,
    `Account Number`), Schwab's transactions download (its account in the title or the
    file name) and an IBKR Flex Query's `Trade` rows (`accountId`). A broker's history
    is the record of what was executed: its buys and sells are the fills, fees are what
    the amount paid or received differs from shares × price by, and dividends
    reinvested are left to `import` (no order of ours filled them)."""
    file = path.name
    check_file(path)
    with open(path, "rb") as handle:
        head = handle.read(4096).decode("latin-1")
    if not ibkr.looks_like(head):
        lines = csv_lines(read_text(path), file)
        # A broker's history first: Fidelity's has every column of the fills layout
        # too, with actions (` YOU BOUGHT …`) only its own reader understands.
        history = fidelity.looks_like(lines) == "history" or schwab.looks_like(lines) == (
            "transactions"
        )
        hit = find_header(lines, FIELDS, ["account", "symbol", "action", "shares", "price"])
        if hit is not None and not history:
            return _generic(lines, hit, file, day)
    from . import read_statement

    try:
        statement = read_statement(path)
    except InputError:
        statement = None
    trades = (
        [t for t in statement.transactions if t.action in ("BUY", "SELL") and not t.closed_lot]
        if statement is not None and statement.broker != "generic"
        else []
    )
    if statement is None or not trades:
        raise InputError(
            [
                Problem(
                    "no fills in this file: neither the fills layout (Account, Symbol, Action, "
                    "Shares, Price) nor a broker's history with buys and sells (Fidelity "
                    "Accounts_History, Schwab transactions, IBKR Flex Trades)",
                    file,
                )
            ]
        )
    errors = [p for p in statement.problems if p.level == "error"]
    if errors:
        raise InputError(statement.problems)
    out = FillsFile(broker=statement.broker)
    for t in trades:
        where = f"{file} {t.where}"
        if t.reinvested:
            out.notes.append(
                Problem(
                    f"{t.where}: {t.shares:g} {t.symbol} reinvested on {t.date}: a dividend, "
                    "not a fill; import the history to record it",
                    file,
                    None,
                    "info",
                )
            )
            continue
        if not t.account or t.price is None or not t.shares:
            out.notes.append(
                Problem(
                    f"{t.where}: {t.action} {t.symbol} without "
                    + ("an account" if not t.account else "a price or shares")
                    + "; not a fill this can record",
                    file,
                )
            )
            continue
        gross = t.shares * t.price
        fees = 0.0
        if t.amount is not None:
            fees = t.amount - gross if t.action == "BUY" else gross - t.amount
            fees = round(fees, 2) if fees > 0.005 else 0.0
        out.fills.append(
            Fill(
                account=t.account,
                symbol=t.symbol.upper(),
                action=t.action,
                shares=abs(t.shares),
                price=t.price,
                date=t.date,
                fees=fees,
                where=where,
            )
        )
        out.proposals.append(None)
    errors = [p for p in out.notes if p.level == "error"]
    if errors:
        raise InputError(out.notes)
    return out


def _generic(lines: list[Any], hit: Any, file: str, day: dt.date) -> FillsFile:
    found = Collector(file)
    out = FillsFile()
    for record in records(lines, *hit):
        at = record.line.number
        action = record.get("action").upper()
        action = {"BOUGHT": "BUY", "SOLD": "SELL", "B": "BUY", "S": "SELL"}.get(action, action)
        if action not in ("BUY", "SELL"):
            found.add(at, f"action {record.get('action')!r}: BUY or SELL")
            continue
        if not record.get("account"):
            found.add(at, "account is blank")
            continue
        shares = found.number(record, "shares", required=True)
        price = found.number(record, "price", required=True)
        when = found.date(record, "date") or day
        if shares is None or price is None:
            continue
        if shares == 0:
            continue  # an order that did not fill
        out.fills.append(
            Fill(
                account=record.get("account"),
                symbol=record.get("symbol").upper(),
                action=action,
                shares=abs(shares),
                price=price,
                date=when,
                lot_id=record.get("lot_id") or None,
                fees=abs(found.number(record, "fees") or 0.0),
                where=f"{file} line {at}",
            )
        )
        out.proposals.append(record.get("proposal") or None)
    errors = [p for p in found.problems if p.level == "error"]
    if errors:
        raise InputError(found.problems)
    return out


def place(number: str, accounts: Mapping[str, str]) -> str | None:
    """The workbook account a file's account is: by name or BrokerAccount (lower case
    keys), or a masked number (`...518`) matching one full number ending in its digits."""
    from ..engine.sync import same_number

    found = accounts.get(number.lower())
    if found is not None:
        return found
    hits = {name for key, name in accounts.items() if same_number(number.lower(), key)}
    return hits.pop() if len(hits) == 1 else None


def read_fills(
    path: Path, day: dt.date, accounts: Mapping[str, str]
) -> tuple[list[Fill], set[str]]:
    """The fills, and the proposal ids the file names. `accounts` maps broker numbers and
    names (lower case) to the workbook's account names."""
    read = read_fill_rows(path, day)
    missing: list[Problem] = []
    fills: list[Fill] = []
    proposals: set[str] = set()
    for fill, proposal in zip(read.fills, read.proposals, strict=True):
        account = place(fill.account, accounts)
        if account is None:
            missing.append(
                Problem(
                    f"{fill.where.removeprefix(path.name + ' ')}: account {fill.account!r} is not "
                    "on the Accounts sheet (by name or BrokerAccount)",
                    path.name,
                )
            )
            continue
        fills.append(fill.model_copy(update={"account": account}))
        if proposal:
            proposals.add(proposal)
    if missing:
        raise InputError(missing)
    return fills, proposals
