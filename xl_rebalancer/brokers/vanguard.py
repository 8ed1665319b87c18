"""Vanguard's `OfxDownload.csv` (a CSV despite its name): holdings, a blank line, trades.

The settlement fund (VMFXX and its siblings) is the account's cash. The transactions
block lets the lots be rebuilt from the buys (engine.sync)."""

from __future__ import annotations

from ..models.brokers import BrokerPosition, BrokerStatement, BrokerTransaction
from .common import Collector, Line, find_header, is_cusip, records

HOLDINGS = {
    "account": ["Account Number"],
    "name": ["Investment Name"],
    "symbol": ["Symbol"],
    "shares": ["Shares"],
    "price": ["Share Price"],
    "value": ["Total Value"],
}
TRADES = {
    "account": ["Account Number"],
    "date": ["Trade Date"],
    "type": ["Transaction Type"],
    "symbol": ["Symbol"],
    "shares": ["Shares"],
    "price": ["Share Price"],
    "principal": ["Principal Amount"],
    "fees": ["Commissions and Fees", "Commission Fees"],
    "net": ["Net Amount"],
}
SETTLEMENT_FUNDS = {"VMFXX", "VMMXX", "VMRXX", "VUSXX", "VYFXX"}
BUYS = ("buy", "reinvestment", "conversion (incoming)", "exchange (incoming)")
SELLS = ("sell", "conversion (outgoing)", "exchange (outgoing)")
TRANSFER_IN = ("transfer (incoming)", "transfer (receiving)")


def looks_like(lines: list[Line]) -> bool:
    return find_header(lines[:5], HOLDINGS, ["account", "name", "shares", "value"]) is not None


def read(lines: list[Line], file: str) -> BrokerStatement:
    found = Collector(file)
    statement = BrokerStatement(broker="vanguard", file=file)
    hit = find_header(lines, HOLDINGS, ["account", "name", "shares", "value"])
    if hit is None:
        found.add(None, "no holdings header (Account Number, Investment Name, Shares, Total Value)")
        statement.problems.extend(found.problems)
        return statement
    header, columns = hit
    for record in records(lines, header, columns):
        account = record.get("account")
        symbol = record.get("symbol").upper()
        if not account:
            continue
        if account not in statement.cash:
            statement.snapshot_accounts.append(account)
            statement.account_names[account] = account
            statement.cash[account] = 0.0
        if symbol in SETTLEMENT_FUNDS or "money market" in record.get("name").lower():
            statement.cash[account] += found.number(record, "value") or 0.0
            continue
        shares = found.number(record, "shares", required=True)
        if shares is None:
            continue
        if not symbol:
            found.add(
                record.line.number, f"{record.get('name')!r} has no symbol; not imported", "warning"
            )
            continue
        statement.positions.append(
            BrokerPosition(
                account=account,
                where=found.where(record.line.number),
                symbol=symbol,
                description=record.get("name"),
                shares=shares,
                price=found.number(record, "price"),
                value=found.number(record, "value"),
                cusip=symbol if is_cusip(symbol) else None,
            )
        )
    trades = find_header(lines, TRADES, ["account", "date", "type", "shares"], header + 1)
    if trades is not None:
        _trades(lines, *trades, found, statement)
    statement.problems.extend(found.problems)
    return statement


def _trades(
    lines: list[Line],
    header: int,
    columns: dict[str, int],
    found: Collector,
    statement: BrokerStatement,
) -> None:
    for record in records(lines, header, columns):
        kind = record.get("type").lower()
        symbol = record.get("symbol").upper()
        if not symbol or symbol in SETTLEMENT_FUNDS:
            continue
        action = (
            "BUY"
            if kind in BUYS
            else "SELL"
            if kind in SELLS
            else "TRANSFER_IN"
            if kind in TRANSFER_IN
            else "SPLIT"
            if "split" in kind
            else None
        )
        if action is None:
            continue  # dividends, sweeps, capital gain distributions paid in cash
        when = found.date(record, "date", required=True)
        shares = found.number(record, "shares", required=True)
        if when is None or shares is None:
            continue
        principal = found.number(record, "principal")
        net = found.number(record, "net")
        fees = found.number(record, "fees") or 0.0
        amount = (
            abs(net) if net is not None else (abs(principal) if principal is not None else None)
        )
        if amount is not None and net is None:
            amount = amount + fees if action == "BUY" else amount - fees
        statement.transactions.append(
            BrokerTransaction(
                account=record.get("account"),
                where=found.where(record.line.number),
                date=when,
                action=action,  # type: ignore[arg-type]
                symbol=symbol,
                shares=abs(shares),
                price=found.number(record, "price"),
                amount=amount,
            )
        )
