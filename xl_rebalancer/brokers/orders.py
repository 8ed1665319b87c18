"""Order files the brokers' bulk-order screens accept, and a generic one a person can read.

- `ibkr`: TWS BasketTrader CSV (`Action,Quantity,Symbol,SecType,Exchange,Currency,
  TimeInForce,OrderType,LmtPrice,Account,BasketTag`), one file for every account (the
  Account column routes each order), BasketTag = the proposal's checksum.
- `fidelity`: Wealthscape order import, columns in the documented order without a header:
  Account Number, Account Type (blank = automatic), Order Action, Quantity (at most 3
  decimals), Symbol, Price Type, Time In Force, Stop/Limit Price; one file per account.
- `schwab`: Advisor Center's two files: trade orders, and the lot instructions for
  specific-lot relief.
- `csv`: one row per order with its account, side, shares, the lots a sale relieves
  (lot id, acquired, shares), and the proposal's checksum.

Market orders, good for the day: the proposal was priced at the last close, and a limit
is the trader's call. A broker file needs the broker's account number (Accounts'
BrokerAccount column, remembered by `import`), never a masked one (`...731`), and holds
only the accounts at that broker (Accounts' Broker column). The formats that cannot carry
lots (`ibkr`, `fidelity`) come with a lot checklist: the lots each sale must relieve, to
name when the order is placed.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ..engine.fills import Order
from ..errors import InputError, Problem

FORMATS = ("csv", "ibkr", "fidelity", "schwab")
DECIMALS = {"csv": 6, "ibkr": 4, "fidelity": 3, "schwab": 0}
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def _quantity(shares: float, fmt: str, order: Order) -> str:
    places = DECIMALS[fmt]
    rounded = round(shares, places)
    if abs(rounded - shares) > 1e-9:
        raise InputError(
            [
                Problem(
                    f"{order.account} {order.action} {order.symbol}: {shares:g} shares; {fmt} order files "
                    f"take {'whole shares' if places == 0 else f'at most {places} decimals'} (set "
                    "whole_shares, or share_decimals, and rebalance again)",
                    "Trades",
                )
            ]
        )
    return f"{rounded:.{places}f}".rstrip("0").rstrip(".") if places else str(int(rounded))


def _safe(text: str) -> str:
    """A cell a spreadsheet would take for a formula is written as text."""
    return "'" + text if text.startswith(FORMULA_LEADS) else text


def _broker_text(text: str, what: str) -> str:
    if text.startswith(FORMULA_LEADS) or "," in text or "\n" in text:
        raise InputError([Problem(f"{what} {text!r} cannot go into a broker's order file")])
    return text


def _rows(
    fmt: str,
    orders: Sequence[Order],
    numbers: Mapping[str, str],
    tag: str,
    tags: Mapping[str, str] | None = None,
    one_file: bool = False,
) -> dict[str, list[list[str]]]:
    """File suffix → rows (header first where the format has one). `tags` gives an
    order's own proposal id by its account (a firm's blotter holds many proposals);
    `one_file` puts Fidelity's accounts in one import file (each row names its account,
    as Wealthscape's order import takes a list of orders)."""

    def tag_of(order: Order) -> str:
        return (tags or {}).get(order.account, tag)

    def number(order: Order) -> str:
        found = numbers.get(order.account)
        if not found:
            raise InputError(
                [
                    Problem(
                        f"account {order.account!r} has no BrokerAccount on the Accounts sheet: a {fmt} "
                        "order file needs the broker's account number (add it, or import the "
                        "broker's positions file)",
                        "Accounts",
                    )
                ]
            )
        return _broker_text(found, "broker account")

    if fmt == "csv":
        return {"": _csv_rows(orders, numbers, tag)}
    if fmt == "ibkr":
        return {"": _ibkr_rows(orders, number, tag_of)}
    if fmt == "fidelity":
        return _fidelity_rows(orders, number, one_file)
    return _schwab_rows(fmt, orders, number, tag_of)


def _csv_rows(orders: Sequence[Order], numbers: Mapping[str, str], tag: str) -> list[list[str]]:
    """The generic file a person can read: each order with the lots a sale relieves."""
    fmt = "csv"
    rows = [
        [
            "ProposalId",
            "Account",
            "BrokerAccount",
            "Action",
            "Symbol",
            "Quantity",
            "OrderType",
            "LimitPrice",
            "TimeInForce",
            "EstPrice",
            "LotInstructions",
        ]
    ]
    for o in orders:
        lots = "; ".join(
            f"{lot.lot_id} acquired {lot.acquired or 'unknown'}: {lot.shares:g} sh"
            for lot in o.lots
        )
        rows.append(
            [
                tag,
                _safe(o.account),
                _safe(numbers.get(o.account, "")),
                o.action,
                _safe(o.symbol),
                _quantity(o.shares, fmt, o),
                "MKT",
                "",
                "DAY",
                f"{o.price:.4f}" if o.price else "",
                _safe(lots),
            ]
        )
    return rows


def _ibkr_rows(
    orders: Sequence[Order], number: Callable[[Order], str], tag_of: Callable[[Order], str]
) -> list[list[str]]:
    """TWS BasketTrader's CSV: one file for every account, the Account column routing
    each order."""
    fmt = "ibkr"
    rows = [
        [
            "Action",
            "Quantity",
            "Symbol",
            "SecType",
            "Exchange",
            "Currency",
            "TimeInForce",
            "OrderType",
            "LmtPrice",
            "Account",
            "BasketTag",
        ]
    ]
    rows += [
        [
            o.action,
            _quantity(o.shares, fmt, o),
            _broker_text(o.symbol, "symbol"),
            "STK",
            "SMART",
            "USD",
            "DAY",
            "MKT",
            "",
            number(o),
            tag_of(o),
        ]
        for o in orders
    ]
    return rows


def _fidelity_rows(
    orders: Sequence[Order], number: Callable[[Order], str], one_file: bool
) -> dict[str, list[list[str]]]:
    """Wealthscape's order import, without a header: a file per account unless
    `one_file`."""
    fmt = "fidelity"
    per: dict[str, list[list[str]]] = {}
    for o in orders:
        per.setdefault("" if one_file else f"-{number(o)}", []).append(
            [
                number(o),
                "",
                "Buy" if o.action == "BUY" else "Sell",
                _quantity(o.shares, fmt, o),
                _broker_text(o.symbol, "symbol"),
                "Market",
                "Day",
                "",
            ]
        )
    return per


def _schwab_rows(
    fmt: str,
    orders: Sequence[Order],
    number: Callable[[Order], str],
    tag_of: Callable[[Order], str],
) -> dict[str, list[list[str]]]:
    """Advisor Center's two files: the trade orders, and the lot instructions for
    specific-lot relief."""
    trades = [["Account", "Action", "Quantity", "Symbol", "OrderType", "Duration", "ProposalId"]]
    lots = [["Account", "Symbol", "LotId", "Acquired", "Quantity", "ProposalId"]]
    for o in orders:
        trades.append(
            [
                number(o),
                o.action.title(),
                _quantity(o.shares, fmt, o),
                _broker_text(o.symbol, "symbol"),
                "Market",
                "Day",
                tag_of(o),
            ]
        )
        lots += [
            [
                number(o),
                o.symbol,
                _broker_text(lot.lot_id, "lot id"),
                lot.acquired.strftime("%m/%d/%Y") if lot.acquired else "",
                f"{lot.shares:.6f}".rstrip("0").rstrip("."),
                tag_of(o),
            ]
            for lot in o.lots
        ]
    return {"-trades": trades, "-lots": lots}


def _write_csv(path: Path, rows: Sequence[Sequence[str]]) -> None:
    """One CSV, written whole or not at all."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".~xlreb.", suffix=".csv")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(buffer.getvalue())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_orders(
    orders: Sequence[Order],
    fmt: str,
    folder: Path,
    stem: str,
    tag: str,
    numbers: Mapping[str, str],
    *,
    tags: Mapping[str, str] | None = None,
    one_file: bool = False,
) -> list[Path]:
    """The order files in `folder`, each written whole or not at all; their paths."""
    if fmt not in FORMATS:
        raise InputError([Problem(f"unknown order format {fmt!r}; one of {', '.join(FORMATS)}")])
    planned = _rows(fmt, orders, numbers, tag, tags, one_file)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for suffix, rows in planned.items():
        path = folder / f"{stem}-orders-{fmt}{suffix}-{tag}.csv"
        _write_csv(path, rows)
        written.append(path)
    return written


# Formats whose files cannot say which lots a sale relieves: the broker then relieves
# its default (Fidelity: first in, first out) unless told when the order is placed.
NO_LOTS = ("ibkr", "fidelity")
CHECKLIST_HEADER = [
    "Account",
    "BrokerAccount",
    "Symbol",
    "SellShares",
    "LotId",
    "Acquired",
    "LotShares",
    "Instruction",
]
INSTRUCTION = "specify lots when you place the order"


def lot_checklist(orders: Sequence[Order], numbers: Mapping[str, str]) -> list[list[str]]:
    """One row per lot a sale must relieve, for the formats that cannot carry lots: what
    to tell the broker (specific identification, Treas. Reg. §1.1012-1(c)(8): by
    settlement at the latest), else it sells its default lots, perhaps the very lot the
    proposal kept to stay clear of a wash sale."""
    rows: list[list[str]] = []
    for o in orders:
        if o.action != "SELL":
            continue
        for lot in o.lots:
            rows.append(
                [
                    _safe(o.account),
                    _safe(numbers.get(o.account, "")),
                    _safe(o.symbol),
                    f"{o.shares:g}",
                    _safe(lot.lot_id),
                    lot.acquired.isoformat() if lot.acquired else "unknown",
                    f"{lot.shares:g}",
                    INSTRUCTION,
                ]
            )
    return rows


def write_checklist(
    rows: Sequence[Sequence[str]], fmt: str, folder: Path, stem: str, tag: str
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}-lot-checklist-{fmt}-{tag}.csv"
    _write_csv(path, [CHECKLIST_HEADER, *rows])
    return path
