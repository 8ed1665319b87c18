"""Charles Schwab downloads: positions, realized gain/loss (closed lots), transactions.

Layouts as the public importers' fixtures show them (see docs/brokers.md, "From your broker and
back"): a title row `Positions for account Individual ...1234 as of 09:31 AM ET,
2024/01/15`, a blank row, the header, the positions, then `Cash & Cash Investments` and
`Account Total`. The all-accounts download repeats a title line (`Individual ...1234`)
and a header per account. The 2025 layout renames columns (`Qty (Quantity)`,
`Mkt Val (Market Value)`); both read the same.
"""

from __future__ import annotations

import re

from ..models.brokers import BrokerPosition, BrokerStatement
from .common import (
    Collector,
    Line,
    account_in_title,
    closed_lot,
    date,
    find_header,
    header_or_problem,
    is_cusip,
    records,
    trade,
)

POSITIONS = {
    "symbol": ["Symbol"],
    "description": ["Description"],
    "shares": ["Quantity", "Qty"],
    "price": ["Price"],
    "value": ["Market Value", "Mkt Val"],
    "cost_basis": ["Cost Basis"],
    "type": ["Security Type", "Asset Type"],
}
REALIZED = {
    "symbol": ["Symbol"],
    "shares": ["Quantity", "Qty"],
    "opened": ["Opened Date", "Open Date", "Date Acquired"],
    "closed": ["Closed Date", "Close Date"],
    "proceeds": ["Proceeds"],
    "cost_basis": ["CostBasis", "Cost Basis", "Cost Basis (CB)"],
    "lt": ["Long Term Gain/Loss"],
    "st": ["Short Term Gain/Loss"],
    "disallowed": ["Disallowed Loss"],
}
TRANSACTIONS = {
    "date": ["Date"],
    "action": ["Action"],
    "symbol": ["Symbol"],
    "shares": ["Quantity"],
    "price": ["Price"],
    "fees": ["Fees & Comm", "Fees & Commissions"],
    "amount": ["Amount"],
}
SECURITY_TYPES = {
    "equity",
    "etfs & closed end funds",
    "etf",
    "etfs",
    "mutual fund",
    "mutual funds",
    "fixed income",
    "preferred",
}
NOT_SUPPORTED = ("option", "future", "warrant", "crypto")
CASH_ROWS = ("cash & cash investments", "cash & money market", "cash and money market")


def looks_like(lines: list[Line]) -> str | None:
    """Which Schwab file this is, by its header."""
    head = " ".join(",".join(line.cells) for line in lines[:12]).lower()
    if find_header(lines[:12], POSITIONS, ["symbol", "shares", "value", "type"]):
        return "positions"
    if "closed date" in head and "proceeds" in head:
        return "realized"
    if "fees & comm" in head and "action" in head:
        return "transactions"
    return None


def _title_account(lines: list[Line], before: int) -> tuple[str, str] | None:
    for index in range(before - 1, -1, -1):
        cells = [c for c in lines[index].cells if c]
        if len(cells) == 1:
            found = account_in_title(cells[0])
            if found:
                return found
    return None


def _titled(lines: list[Line], header: int, statement: BrokerStatement) -> str | None:
    """The account named in the title above `header`, noted on the statement."""
    titled = _title_account(lines, header)
    if titled is None:
        return None
    statement.account_names[titled[0]] = titled[1]
    return titled[0]


def _as_of(lines: list[Line]) -> object:
    for line in lines[:3]:
        text = " ".join(line.cells)
        match = re.search(r"(\d{4}/\d{2}/\d{2}|\d{2}/\d{2}/\d{4})", text)
        if match:
            try:
                return date(match.group(1))
            except ValueError:
                return None
    return None


def read_positions(lines: list[Line], file: str) -> BrokerStatement:
    found = Collector(file)
    statement = BrokerStatement(broker="schwab", file=file, as_of=_as_of(lines))  # type: ignore[arg-type]
    start = 0
    while (hit := find_header(lines, POSITIONS, ["symbol", "shares", "value"], start)) is not None:
        header, columns = hit
        titled = _title_account(lines, header)
        if titled is None:
            found.add(
                lines[header].number,
                "no account title above this header (`Positions for account <name> ...1234`)",
            )
            start = header + 1
            continue
        account, name = titled
        statement.snapshot_accounts.append(account)
        statement.account_names[account] = name
        statement.cash.setdefault(account, 0.0)
        total = None
        skipped = 0.0  # what was left out, so the Account Total check still adds up
        for record in records(lines, header, columns):
            symbol = record.get("symbol")
            label = symbol.lower()
            at = record.line.number
            if label.startswith("account total"):
                total = found.number(record, "value")
                continue
            if label.startswith("positions total"):
                continue
            kind = record.get("type").lower()
            if label in CASH_ROWS or "money market" in kind or label.startswith("cash"):
                statement.cash[account] += found.number(record, "value") or 0.0
                continue
            if any(word in kind for word in NOT_SUPPORTED):
                skipped += found.number(record, "value") or 0.0
                found.add(
                    at,
                    f"{symbol}: security type {record.get('type')!r} is not "
                    "supported; the position was not imported",
                    "warning",
                )
                continue
            if kind and kind not in SECURITY_TYPES:
                found.add(
                    at,
                    f"{symbol}: unknown security type {record.get('type')!r}; "
                    "imported as a security, check it",
                    "warning",
                )
            shares = found.number(record, "shares", required=True)
            if shares is None or not symbol:
                continue
            statement.positions.append(
                BrokerPosition(
                    account=account,
                    where=found.where(at),
                    symbol=symbol.upper(),
                    description=record.get("description"),
                    shares=shares,
                    price=found.number(record, "price"),
                    value=found.number(record, "value"),
                    cost_basis=found.number(record, "cost_basis"),
                    cusip=symbol if is_cusip(symbol) else None,
                    security_type=record.get("type") or None,
                )
            )
        if total is not None:
            held = (
                skipped
                + statement.cash[account]
                + sum(p.value or 0.0 for p in statement.positions if p.account == account)
            )
            if abs(held - total) > 1.0:
                found.add(
                    lines[header].number,
                    f"account {account}: positions and cash add up "
                    f"to {held:,.2f}, the file's Account Total is {total:,.2f}",
                    "warning",
                )
        start = header + 1
    if not statement.snapshot_accounts:
        found.add(None, "no positions header (Symbol, Quantity, Market Value) found")
    statement.problems.extend(found.problems)
    return statement


def read_realized(lines: list[Line], file: str, account: str | None) -> BrokerStatement:
    found = Collector(file)
    statement = BrokerStatement(broker="schwab", file=file)
    hit = header_or_problem(
        lines, REALIZED, ["symbol", "shares", "closed", "proceeds"], found, "realized gain/loss"
    )
    if hit is not None:
        account = _titled(lines, hit[0], statement) or account or file_account(file, statement)
        for record in records(lines, *hit):
            symbol = record.get("symbol").upper()
            if symbol and not symbol.lower().startswith("total"):
                sale = closed_lot(found, record, account, symbol, sold="closed", acquired="opened")
                if sale is not None:
                    statement.transactions.append(sale)
    statement.problems.extend(found.problems)
    return statement


BUY_ACTIONS = ("buy", "reinvest shares", "reinvest")
SELL_ACTIONS = ("sell",)


FILE_ACCOUNT = re.compile(r"^(?P<name>.+?)_X{2,}(?P<digits>\d{3,})_[A-Za-z]+_")


def file_account(file: str, statement: BrokerStatement) -> str | None:
    """Schwab's per-account downloads name their account only in the file name:
    `Individual_XXX518_Transactions_20261204-172245.csv` is `...518`, the number the
    positions file's title shows (`Individual ...518`)."""
    match = FILE_ACCOUNT.match(file)
    if match is None:
        return None
    number = f"...{match.group('digits')}"
    statement.account_names.setdefault(number, match.group("name").replace("_", " "))
    return number


def read_transactions(lines: list[Line], file: str, account: str | None) -> BrokerStatement:
    found = Collector(file)
    statement = BrokerStatement(broker="schwab", file=file)
    hit = header_or_problem(
        lines, TRANSACTIONS, ["date", "action", "symbol", "shares", "amount"], found, "transactions"
    )
    if hit is not None:
        account = _titled(lines, hit[0], statement) or account or file_account(file, statement)
        for record in records(lines, *hit):
            action = record.get("action").lower()
            symbol = record.get("symbol").upper()
            kind = (
                "BUY"
                if action in BUY_ACTIONS
                else "SELL"
                if action in SELL_ACTIONS
                else "SPLIT"
                if "split" in action
                else None
            )
            if kind is None or not symbol:
                continue  # dividends, interest, journals, totals: not trades
            moved = trade(found, record, account or "", symbol, kind)
            if moved is not None and action.startswith("reinvest"):
                moved = moved.model_copy(update={"reinvested": True})
            if moved is not None:
                statement.transactions.append(moved)
    statement.problems.extend(found.problems)
    return statement
