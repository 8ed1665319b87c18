"""Interactive Brokers Flex Query XML: OpenPositions (SUMMARY and LOT rows), CashReport, Trades.

A Flex file can carry both a SUMMARY row and the LOT rows of the same position: the
position is counted once (SUMMARY, else the lots' sum) and the LOT rows become the tax
lots. Parsed with defusedxml: the file is untrusted input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError, Problem
from ..models.brokers import BrokerLot, BrokerPosition, BrokerStatement, BrokerTransaction
from .common import MAX_FILE_BYTES, date, number

SUPPORTED = {"STK", "FUND", "ETF", ""}


def looks_like(head: str) -> bool:
    return "<FlexQueryResponse" in head or "<FlexStatements" in head


def _num(element: Any, name: str) -> float | None:
    try:
        return number(element.get(name, "") or "")
    except ValueError:
        return None


def _date(element: Any, *names: str) -> Any:
    for name in names:
        try:
            value = date(element.get(name, "") or "")
        except ValueError:
            value = None
        if value is not None:
            return value
    return None


def read(path: Path) -> BrokerStatement:
    from defusedxml import ElementTree

    file = path.name
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InputError([Problem("larger than any Flex statement; is this the right file?", file)])
    try:
        root = ElementTree.parse(str(path)).getroot()
    except Exception as exc:  # defusedxml refuses entity tricks with its own exceptions
        raise InputError([Problem(f"not a readable Flex Query XML file: {exc}", file)]) from None
    statement = BrokerStatement(broker="ibkr", file=file)
    lots_seen: dict[tuple[str, str], float] = {}
    summary: dict[tuple[str, str], BrokerPosition] = {}
    for index, row in enumerate(root.iter("OpenPosition"), start=1):
        account = row.get("accountId", "")
        symbol = (row.get("symbol") or "").strip().upper()
        where = f"OpenPosition {index} ({symbol})"
        if account and account not in statement.cash:
            statement.snapshot_accounts.append(account)
            statement.lot_accounts.append(account)
            statement.account_names[account] = row.get("acctAlias") or account
            statement.cash[account] = 0.0
        category = row.get("assetCategory", "")
        if category not in SUPPORTED:
            statement.problems.append(
                Problem(
                    f"{where}: asset category {category} is not supported; not imported",
                    file,
                    None,
                    "warning",
                )
            )
            continue
        if row.get("currency", "USD") != "USD":
            statement.problems.append(
                Problem(
                    f"{where}: currency {row.get('currency')}; amounts taken as they are",
                    file,
                    None,
                    "warning",
                )
            )
        shares = _num(row, "position")
        if shares is None or not symbol:
            statement.problems.append(Problem(f"{where}: no position or symbol", file))
            continue
        basis = _num(row, "costBasisMoney")
        if row.get("levelOfDetail", "SUMMARY").upper() == "LOT":
            acquired = _date(row, "holdingPeriodDateTime", "openDateTime")
            statement.lots.append(
                BrokerLot(
                    account=account,
                    where=where,
                    symbol=symbol,
                    shares=shares,
                    cost_basis=basis if basis is not None else 0.0,
                    acquired=acquired,
                    lot_id=row.get("originatingOrderID")
                    or row.get("originatingTransactionID")
                    or None,
                )
            )
            lots_seen[(account, symbol)] = lots_seen.get((account, symbol), 0.0) + shares
            if basis is None:
                statement.problems.append(Problem(f"{where}: lot without costBasisMoney", file))
            continue
        summary[(account, symbol)] = BrokerPosition(
            account=account,
            where=where,
            symbol=symbol,
            shares=shares,
            price=_num(row, "markPrice"),
            value=_num(row, "positionValue"),
            cost_basis=basis,
            cusip=row.get("cusip") or None,
            description=row.get("description", ""),
            security_type=category or None,
        )
    statement.positions.extend(summary.values())
    for (account, symbol), shares in lots_seen.items():
        if (account, symbol) not in summary:
            statement.positions.append(
                BrokerPosition(
                    account=account, where=f"LOT rows of {symbol}", symbol=symbol, shares=shares
                )
            )
    for row in root.iter("CashReportCurrency"):
        if (
            row.get("currency") in ("BASE_SUMMARY", "USD")
            and row.get("accountId") in statement.cash
        ):
            statement.cash[row.get("accountId")] = _num(row, "endingCash") or 0.0
    for index, row in enumerate(root.iter("Trade"), start=1):
        if row.get("levelOfDetail", "EXECUTION").upper() not in ("EXECUTION", "ORDER"):
            continue
        if row.get("assetCategory", "STK") not in SUPPORTED:
            continue
        side = (row.get("buySell") or "").upper()
        when = _date(row, "tradeDate", "dateTime")
        quantity = _num(row, "quantity")
        if side not in ("BUY", "SELL") or when is None or quantity is None:
            continue
        net = _num(row, "netCash")
        statement.transactions.append(
            BrokerTransaction(
                account=row.get("accountId", ""),
                where=f"Trade {index}",
                date=when,
                action=side,
                symbol=(row.get("symbol") or "").upper(),  # type: ignore[arg-type]
                shares=abs(quantity),
                price=_num(row, "tradePrice"),
                amount=abs(net) if net is not None else None,
                ref=f"ibkr:{row.get('tradeID')}" if row.get("tradeID") else None,
            )
        )
    if not statement.snapshot_accounts and not statement.transactions:
        statement.problems.append(Problem("no OpenPosition or Trade rows in the Flex file", file))
    return statement
