"""Fidelity downloads: Portfolio_Positions, Realized_Gain_Loss, Accounts_History.

Positions carry every account in one file (`Account Number`, `Account Name`), the core
money market as `SPAXX**` with a basis of `n/a`, `Pending Activity` rows, 401(k) funds
under a CUSIP, and a footer of `Date downloaded …` and legal text after a blank line.
"""

from __future__ import annotations

import contextlib
import re

from ..models.brokers import BrokerPosition, BrokerStatement
from .common import (
    Collector,
    Line,
    closed_lot,
    date,
    find_header,
    header_or_problem,
    is_cusip,
    records,
    trade,
)

POSITIONS = {
    "account": ["Account Number"],
    "account_name": ["Account Name"],
    "symbol": ["Symbol"],
    "description": ["Description"],
    "shares": ["Quantity"],
    "price": ["Last Price"],
    "value": ["Current Value"],
    "cost_basis": ["Cost Basis Total", "Cost Basis"],
    "type": ["Type"],
}
REALIZED = {
    "account": ["Account Number", "Account"],
    "symbol": ["Symbol(CUSIP)", "Symbol"],
    "shares": ["Quantity"],
    "acquired": ["Date Acquired"],
    "sold": ["Date Sold"],
    "proceeds": ["Proceeds"],
    "cost_basis": ["Cost Basis"],
    "st": ["Short Term Gain/Loss"],
    "lt": ["Long Term Gain/Loss"],
}
HISTORY = {
    "date": ["Run Date"],
    # The current all-accounts history has both `Account` (the name) and `Account
    # Number`: the number is the account (most specific name first, see match_header).
    "account": ["Account Number", "Account"],
    "account_name": ["Account Name", "Account"],
    "action": ["Action"],
    "symbol": ["Symbol"],
    "shares": ["Quantity"],
    "price": ["Price"],
    "amount": ["Amount"],
}


def looks_like(lines: list[Line]) -> str | None:
    top = lines[:12]
    if find_header(top, POSITIONS, ["account", "symbol", "shares", "value"]):
        return "positions"
    if find_header(top, REALIZED, ["symbol", "acquired", "sold", "proceeds"]):
        return "realized"
    if find_header(top, HISTORY, ["date", "action", "symbol", "amount"]):
        return "history"
    return None


def _is_cash(symbol: str, description: str) -> bool:
    return symbol.endswith("**") or "money market" in description.lower()


def read_positions(lines: list[Line], file: str) -> BrokerStatement:
    found = Collector(file)
    statement = BrokerStatement(broker="fidelity", file=file)
    hit = find_header(lines, POSITIONS, ["account", "symbol", "shares", "value"])
    if hit is None:
        found.add(None, "no positions header (Account Number, Symbol, Quantity, Current Value)")
        statement.problems.extend(found.problems)
        return statement
    header, columns = hit
    for record in records(lines, header, columns):
        account = record.get("account")
        symbol = record.get("symbol")
        at = record.line.number
        if not account or account.lower().startswith(("date downloaded", "the data")):
            break
        if account not in statement.account_names:
            statement.snapshot_accounts.append(account)
            statement.account_names[account] = record.get("account_name")
            statement.cash[account] = 0.0
        description = record.get("description")
        if symbol.lower().startswith("pending activity"):
            statement.cash[account] += found.number(record, "value") or 0.0
            found.add(at, f"pending activity of {record.get('value')} counted as cash", "info")
            continue
        if _is_cash(symbol, description):
            statement.cash[account] += found.number(record, "value") or 0.0
            continue
        shares = found.number(record, "shares", required=True)
        if shares is None or not symbol:
            continue
        statement.positions.append(
            BrokerPosition(
                account=account,
                where=found.where(at),
                symbol=symbol.upper(),
                description=description,
                shares=shares,
                price=found.number(record, "price"),
                value=found.number(record, "value"),
                cost_basis=found.number(record, "cost_basis"),
                cusip=symbol if is_cusip(symbol) else None,
                security_type=record.get("type") or None,
            )
        )
    _as_of_footer(lines, statement)
    statement.problems.extend(found.problems)
    return statement


def _as_of_footer(lines: list[Line], statement: BrokerStatement) -> None:
    for line in lines[-20:]:
        text = " ".join(line.cells)
        if "date downloaded" in text.lower():
            match = re.search(r"(\w{3}-\d{2}-\d{4}|\d{2}/\d{2}/\d{4})", text)
            if match:
                with contextlib.suppress(ValueError):
                    statement.as_of = date(match.group(1))


def read_realized(lines: list[Line], file: str, account: str | None) -> BrokerStatement:
    found = Collector(file)
    statement = BrokerStatement(broker="fidelity", file=file)
    if account is None:  # Realized_Gain_Loss_Account_X12345678.csv names its account
        named = re.search(r"Account_([A-Z0-9]+)", file)
        account = named.group(1) if named else None
    hit = header_or_problem(
        lines, REALIZED, ["symbol", "acquired", "sold", "proceeds"], found, "realized"
    )
    for record in records(lines, *hit) if hit else ():
        raw = record.get("symbol")
        symbol = raw.split("(")[0].strip().upper() if raw else ""
        if symbol and not symbol.lower().startswith("total"):
            sale = closed_lot(
                found,
                record,
                record.get("account") or account,
                symbol,
                sold="sold",
                acquired="acquired",
            )
            if sale is not None:
                statement.transactions.append(sale)
    statement.problems.extend(found.problems)
    return statement


def read_history(lines: list[Line], file: str, account: str | None) -> BrokerStatement:
    found = Collector(file)
    statement = BrokerStatement(broker="fidelity", file=file)
    hit = header_or_problem(
        lines, HISTORY, ["date", "action", "symbol", "amount"], found, "history"
    )
    columns = hit[1] if hit else {}
    for record in records(lines, *hit) if hit else ():
        action = record.get("action").upper()
        symbol = record.get("symbol").upper()
        if not symbol or _is_cash(symbol, action):
            continue
        if action.startswith(("YOU BOUGHT", "REINVESTMENT", "BOUGHT")):
            kind = "BUY"
        elif action.startswith(("YOU SOLD", "SOLD")):
            kind = "SELL"
        else:
            continue  # dividends, transfers of cash, fees
        number = record.get("account")
        if number and columns.get("account_name") != columns.get("account"):
            statement.account_names.setdefault(number, record.get("account_name"))
        moved = trade(found, record, number or account or "", symbol, kind)
        if moved is not None and action.startswith("REINVESTMENT"):
            moved = moved.model_copy(update={"reinvested": True})
        if moved is not None:
            statement.transactions.append(moved)
    statement.problems.extend(found.problems)
    return statement
