"""A fills file: what was executed, one row per execution (a broker's export or typed).

Columns (headers matched loosely): Account (the workbook's name or the broker's number),
Symbol, Action (BUY/SELL, also Bought/Sold), Shares (or Quantity), Price, Date (blank:
the day given to record-fills), and optional LotId, Fees, ProposalId."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from ...engine.fills import Fill
from ...errors import InputError, Problem
from .common import Collector, csv_lines, find_header, read_text, records

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


def read_fills(
    path: Path, day: dt.date, accounts: Mapping[str, str]
) -> tuple[list[Fill], set[str]]:
    """The fills, and the proposal ids the file names. `accounts` maps broker numbers and
    names (lower case) to the workbook's account names."""
    file = path.name
    lines = csv_lines(read_text(path), file)
    hit = find_header(lines, FIELDS, ["account", "symbol", "action", "shares", "price"])
    if hit is None:
        raise InputError(
            [Problem("no fills header (Account, Symbol, Action, Shares, Price)", file)]
        )
    found = Collector(file)
    fills: list[Fill] = []
    proposals: set[str] = set()
    for record in records(lines, *hit):
        at = record.line.number
        action = record.get("action").upper()
        action = {"BOUGHT": "BUY", "SOLD": "SELL", "B": "BUY", "S": "SELL"}.get(action, action)
        account = accounts.get(record.get("account").lower())
        if action not in ("BUY", "SELL"):
            found.add(at, f"action {record.get('action')!r}: BUY or SELL")
            continue
        if account is None:
            found.add(
                at,
                f"account {record.get('account')!r} is not on the Accounts sheet "
                "(by name or BrokerAccount)",
            )
            continue
        shares = found.number(record, "shares", required=True)
        price = found.number(record, "price", required=True)
        when = found.date(record, "date") or day
        if shares is None or price is None:
            continue
        if shares == 0:
            continue  # an order that did not fill
        if record.get("proposal"):
            proposals.add(record.get("proposal"))
        fills.append(
            Fill(
                account=account,
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
    errors = [p for p in found.problems if p.level == "error"]
    if errors:
        raise InputError(found.problems)
    return fills, proposals
