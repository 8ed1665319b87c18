"""OFX/QFX investment statements, any broker, read with ofxtools.

ofxtools parses with its own regular expressions (no XML entities, no DTDs), so a
hostile file cannot expand or fetch anything. Positions come from INVPOSLIST, cash from
INVBAL's AVAILCASH, tickers from SECLIST (a CUSIP stays a CUSIP when the list lacks a
ticker), and the trades from INVTRANLIST so lots can be rebuilt (engine.sync).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem
from ..models.brokers import BrokerPosition, BrokerStatement, BrokerTransaction
from .common import MAX_FILE_BYTES, is_cusip

BUYS = {"BUYSTOCK", "BUYMF", "BUYOTHER", "BUYDEBT", "REINVEST"}
SELLS = {"SELLSTOCK", "SELLMF", "SELLOTHER", "SELLDEBT"}
NOT_SUPPORTED = {"POSOPT", "BUYOPT", "SELLOPT", "CLOSUREOPT"}


def looks_like(head: str) -> bool:
    return "OFXHEADER" in head or "<OFX>" in head.upper()


def _date(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def read(path: Path) -> BrokerStatement:
    from ofxtools.Parser import OFXTree

    if path.stat().st_size > MAX_FILE_BYTES:
        raise InputError(
            [Problem("larger than any broker statement; is this the right file?", path.name)]
        )
    tree = OFXTree()
    try:
        with open(path, "rb") as handle:
            tree.parse(handle)
        ofx = tree.convert()
    except Exception as exc:  # ofxtools raises its own ParseError, ValueError, KeyError…
        raise InputError([Problem(f"not a readable OFX statement: {exc}", path.name)]) from None
    file = path.name
    statement = BrokerStatement(broker="ofx", file=file)
    tickers = {}
    for security in getattr(ofx, "securities", None) or []:
        info = security.secinfo
        if info.ticker:
            tickers[info.secid.uniqueid] = info.ticker.strip().upper()

    def symbol(secid: Any, what: str) -> str:
        found = tickers.get(secid.uniqueid)
        if found:
            return found
        statement.problems.append(
            Problem(
                f"{what}: security {secid.uniqueid} ({secid.uniqueidtype}) has no ticker in the "
                "statement's security list; imported under that id",
                file,
                None,
                "warning",
            )
        )
        return str(secid.uniqueid)

    for stmt in ofx.statements:
        if type(stmt).__name__ != "INVSTMTRS":
            continue
        account = str(stmt.invacctfrom.acctid)
        statement.snapshot_accounts.append(account)
        statement.account_names[account] = account
        statement.as_of = _date(stmt.dtasof)
        if getattr(stmt, "curdef", "USD") not in (None, "USD"):
            statement.problems.append(
                Problem(
                    f"account {account}: statement currency {stmt.curdef}; amounts are taken as "
                    "they are (the workbook has one currency)",
                    file,
                    None,
                    "warning",
                )
            )
        balance = getattr(stmt, "invbal", None)
        statement.cash[account] = float(balance.availcash) if balance is not None else 0.0
        for position in stmt.invposlist or []:
            kind = type(position).__name__
            inv = position.invpos
            if kind in NOT_SUPPORTED or inv.postype == "SHORT":
                statement.problems.append(
                    Problem(
                        f"{kind} {inv.secid.uniqueid}: options and short positions are not "
                        "supported; not imported",
                        file,
                        None,
                        "warning",
                    )
                )
                continue
            name = symbol(inv.secid, f"position {inv.secid.uniqueid}")
            statement.positions.append(
                BrokerPosition(
                    account=account,
                    where=f"position {name}",
                    symbol=name,
                    shares=float(inv.units),
                    price=float(inv.unitprice),
                    value=float(inv.mktval),
                    cost_basis=float(inv.avgcostbasis) * float(inv.units)
                    if getattr(inv, "avgcostbasis", None) is not None
                    else None,
                    cusip=inv.secid.uniqueid if is_cusip(str(inv.secid.uniqueid)) else None,
                    security_type=kind,
                )
            )
        for item in stmt.invtranlist or []:
            _transaction(item, account, file, statement, symbol)
    if not statement.snapshot_accounts:
        statement.problems.append(Problem("no investment statement (INVSTMTRS) in the file", file))
    return statement


def _transaction(
    item: Any, account: str, file: str, statement: BrokerStatement, symbol: Any
) -> None:
    kind = type(item).__name__
    if kind in NOT_SUPPORTED:
        return
    inner = getattr(item, "invbuy", None) or getattr(item, "invsell", None) or item
    invtran = getattr(inner, "invtran", None)
    if invtran is None or getattr(inner, "secid", None) is None:
        return  # income, expenses, cash transfers: no shares move
    name = symbol(inner.secid, f"transaction {invtran.fitid}")
    common = {
        "account": account,
        "where": f"transaction {invtran.fitid}",
        "date": _date(invtran.dttrade),
        "symbol": name,
        "ref": f"ofx:{invtran.fitid}",
    }
    if kind in BUYS or kind in SELLS:
        units = abs(float(inner.units))
        statement.transactions.append(
            BrokerTransaction(
                **common,
                action="BUY" if kind in BUYS else "SELL",
                shares=units,
                price=float(inner.unitprice),
                amount=abs(float(inner.total)),
            )
        )
    elif kind == "SPLIT":
        statement.transactions.append(
            BrokerTransaction(
                **common, action="SPLIT", ratio=float(item.numerator) / float(item.denominator)
            )
        )
    elif kind == "TRANSFER":
        units = float(item.units)
        basis = getattr(item, "avgcostbasis", None)
        statement.transactions.append(
            BrokerTransaction(
                **common,
                action="TRANSFER_IN" if units > 0 else "TRANSFER_OUT",
                shares=abs(units),
                amount=abs(float(basis) * units) if basis is not None else None,
                acquired=_date(item.dtpurchase) if getattr(item, "dtpurchase", None) else None,
            )
        )
