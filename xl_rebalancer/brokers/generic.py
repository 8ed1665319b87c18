"""Any CSV of positions or lots, its columns named by the user (`--map shares=Qty,...`)
or found by their usual names. A row with an acquisition date is a lot; the position is
the sum of its rows. A Symbol of CASH is the account's cash; a file without one says
nothing about cash, and the accounts' cash is left as it is."""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import InputError, Problem
from ..models.brokers import BrokerLot, BrokerPosition, BrokerStatement
from .common import Collector, Line, find_header, is_cusip, norm, records

FIELDS = {
    # An account number beats a name (see common.match_header).
    "account": ["Account Number", "Account", "Acct", "Account Name"],
    "symbol": ["Symbol", "Ticker"],
    "shares": ["Shares", "Quantity", "Qty", "Units"],
    "cost_basis": ["Cost Basis", "CostBasis", "Basis", "Cost Basis Total"],
    "acquired": ["Acquired", "Date Acquired", "Open Date", "Purchase Date", "Trade Date"],
    "lot_id": ["Lot", "Lot Id", "LotId"],
    "price": ["Price", "Last Price"],
    "value": ["Value", "Market Value", "Current Value"],
}


def parse_map(text: str | None, file: str) -> dict[str, list[str]]:
    """`shares=Qty, cost_basis=Total Cost` → the fields with the user's headers first."""
    fields = {k: list(v) for k, v in FIELDS.items()}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, _, header = part.partition("=")
        name = name.strip().lower()
        if name not in FIELDS or not header.strip():
            raise InputError(
                [
                    Problem(
                        f"--map {part.strip()!r}: use field=Header with a field among "
                        f"{', '.join(FIELDS)}",
                        file,
                    )
                ]
            )
        fields[name] = [header.strip()]
    return fields


def describes(lines: list[Line], text: str | None) -> bool:
    """Whether `--map` was written for this file: one of its first lines has every
    header the map names (an import of several files applies the map to its own file
    only, and reads the brokers' files as their layouts say)."""
    named = [header for _, header in _pairs(text)]
    if not named:
        return False
    for line in lines[:30]:
        cells = {norm(c) for c in line.cells}
        if all(norm(h) in cells for h in named):
            return True
    return False


def _pairs(text: str | None) -> list[tuple[str, str]]:
    out = []
    for part in (text or "").split(","):
        name, _, header = part.partition("=")
        if name.strip() and header.strip():
            out.append((name.strip().lower(), header.strip()))
    return out


def read(
    lines: list[Line], file: str, mapping: Mapping[str, list[str]], account: str | None
) -> BrokerStatement:
    found = Collector(file)
    statement = BrokerStatement(broker="generic", file=file)
    hit = find_header(lines, mapping, ["symbol", "shares"])
    if hit is None:
        raise InputError(
            [
                Problem(
                    "no header with a symbol and a shares column; name them with --map "
                    "(for example --map symbol=Ticker,shares=Qty)",
                    file,
                )
            ]
        )
    header, columns = hit
    positions: dict[tuple[str, str], BrokerPosition] = {}
    for record in records(lines, header, columns):
        at = record.line.number
        acct = record.get("account") or account or ""
        symbol = record.get("symbol").upper()
        if acct not in statement.account_names:
            statement.snapshot_accounts.append(acct)
            statement.account_names[acct] = acct
        if symbol == "CASH":
            # Only a file that states cash sets it: a lots-only file leaves cash alone.
            statement.cash[acct] = statement.cash.get(acct, 0.0) + (
                found.number(record, "value") or found.number(record, "shares") or 0.0
            )
            continue
        shares = found.number(record, "shares", required=True)
        if shares is None or not symbol:
            continue
        basis = found.number(record, "cost_basis")
        acquired = found.date(record, "acquired") if "acquired" in columns else None
        if acquired is not None:
            statement.lots.append(
                BrokerLot(
                    account=acct,
                    where=found.where(at),
                    symbol=symbol,
                    shares=shares,
                    cost_basis=basis or 0.0,
                    acquired=acquired,
                    lot_id=record.get("lot_id") or None,
                )
            )
            if acct not in statement.lot_accounts:
                statement.lot_accounts.append(acct)
        old = positions.get((acct, symbol))
        positions[(acct, symbol)] = BrokerPosition(
            account=acct,
            where=old.where if old else found.where(at),
            symbol=symbol,
            shares=shares + (old.shares if old else 0.0),
            price=found.number(record, "price"),
            cost_basis=(basis or 0.0) + (old.cost_basis or 0.0 if old else 0.0)
            if basis is not None
            else (old.cost_basis if old else None),
            cusip=symbol if is_cusip(symbol) else None,
        )
    statement.positions.extend(positions.values())
    statement.problems.extend(found.problems)
    return statement
