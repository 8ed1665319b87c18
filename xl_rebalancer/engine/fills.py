"""Orders from the proposal, and what was executed applied back to lots, holdings and cash.

The proposal is the Trades sheet as the user reviewed it: one row per lot sold, one per
buy. Orders combine a fund's rows per account and side, carrying the lots a sale must
relieve (specific identification, Treas. Reg. §1.1012-1(c): the broker is told which
lots, at the latest by settlement). Its checksum names the proposal in every order file,
so a fills file can be matched to the proposal it executed.

Recording fills: a sale relieves the lots the proposal named, in its order, up to the
shares filled (a partial fill relieves the first lots first), then the oldest lots when
the fill sold more than the proposal named; the Transactions row carries the sold
shares' acquisition date, basis, gain and term for the year's netting. A buy becomes a
new lot at the fill's price and date, fees in its basis (Pub. 551, "Cost Basis").
Every fill leaves a Transactions row whose Ref is the fill's own fingerprint: recording
the same fills again finds them there and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..errors import Problem
from .lots import holding_term
from .records import SHARE_TOL, Record, as_date, as_num, as_symbol, as_text, close_to


class ProposedTrade(BaseModel):
    """One Trades sheet row, as the user reviewed it."""

    model_config = ConfigDict(frozen=True)

    row: int | None = None
    account: str
    symbol: str
    action: str
    shares: float
    price: float | None = None
    lot_id: str | None = None
    acquired: dt.date | None = None
    est_cost: float = 0.0
    cost_basis: float | None = None
    holding_start: dt.date | None = None
    term: str | None = None
    realized_gain: float | None = None


class LotInstruction(BaseModel):
    model_config = ConfigDict(frozen=True)

    lot_id: str
    acquired: dt.date | None
    shares: float


class Order(BaseModel):
    model_config = ConfigDict(frozen=True)

    account: str
    action: str  # BUY or SELL
    symbol: str
    shares: float
    price: float | None = None
    lots: tuple[LotInstruction, ...] = ()


class Fill(BaseModel):
    """What was executed: shares and price, on a day; a sale may name its lot."""

    model_config = ConfigDict(frozen=True)

    account: str
    symbol: str
    action: str
    shares: float
    price: float
    date: dt.date
    lot_id: str | None = None
    fees: float = 0.0
    where: str = ""
    occurrence: int = 1  # the second of two identical executions is a fill of its own

    @property
    def ref(self) -> str:
        key = json.dumps(
            [
                self.account,
                self.symbol,
                self.action,
                round(self.shares, 6),
                round(self.price, 6),
                self.date.isoformat(),
                self.lot_id,
                round(self.fees, 2),
            ]
        )
        digest = "fill:" + hashlib.sha256(key.encode()).hexdigest()[:16]
        return digest if self.occurrence == 1 else f"{digest}.{self.occurrence}"


def proposal(
    rows: Sequence[tuple[int, dict[str, Any]]],
) -> tuple[list[ProposedTrade], list[Problem]]:
    """The Trades sheet's rows, read; a row that cannot be read is named, not skipped."""
    out: list[ProposedTrade] = []
    problems: list[Problem] = []
    for row, values in rows:
        action = as_text(values.get("action")).upper()
        shares = as_num(values.get("shares"))
        account = as_text(values.get("account"))
        symbol = as_symbol(values.get("symbol"))
        if action not in ("BUY", "SELL") or not shares or shares <= 0 or not account or not symbol:
            problems.append(
                Problem(
                    f"Trades row {row}: not a trade this can send (account, "
                    "symbol, BUY/SELL and positive shares)",
                    "Trades",
                    f"A{row}",
                )
            )
            continue
        out.append(
            ProposedTrade(
                row=row,
                account=account,
                symbol=symbol,
                action=action,
                shares=shares,
                price=as_num(values.get("price")),
                lot_id=as_text(values.get("lot_id")) or None,
                acquired=as_date(values.get("acquired")),
                est_cost=as_num(values.get("est_cost")) or 0.0,
                cost_basis=as_num(values.get("cost_basis")),
                holding_start=as_date(values.get("holding_start")),
                term=as_text(values.get("term")).upper() or None,
                realized_gain=as_num(values.get("realized_gain")),
            )
        )
    return out, problems


def checksum(trades: Sequence[ProposedTrade]) -> str:
    """A short fingerprint of the proposal: the same Trades sheet always gives the same."""
    key = json.dumps(
        [
            [
                t.account,
                t.symbol,
                t.action,
                round(t.shares, 6),
                t.lot_id,
                t.acquired.isoformat() if t.acquired else None,
            ]
            for t in trades
        ]
    )
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def orders(trades: Sequence[ProposedTrade]) -> list[Order]:
    """One order per account, fund and side, sells first (their cash pays for the buys)."""
    grouped: dict[tuple[str, str, str], list[ProposedTrade]] = defaultdict(list)
    for t in trades:
        grouped[(t.account, t.symbol, t.action)].append(t)
    out = [
        Order(
            account=account,
            action=action,
            symbol=symbol,
            shares=round(sum(t.shares for t in rows), 6),
            price=rows[0].price,
            lots=tuple(
                LotInstruction(lot_id=t.lot_id, acquired=t.acquired, shares=t.shares)
                for t in rows
                if action == "SELL" and t.lot_id
            ),
        )
        for (account, symbol, action), rows in grouped.items()
    ]
    return sorted(out, key=lambda o: (o.action != "SELL", o.account, o.symbol))


def fills_from_proposal(trades: Sequence[ProposedTrade], day: dt.date) -> list[Fill]:
    """The proposal as executed exactly: every row at its own price, its estimated cost as
    the fee."""
    return [
        Fill(
            account=t.account,
            symbol=t.symbol,
            action=t.action,
            shares=t.shares,
            price=t.price or 0.0,
            date=day,
            lot_id=t.lot_id,
            fees=t.est_cost,
            where=f"Trades row {t.row}",
        )
        for t in trades
    ]


@dataclass
class FillResult:
    accounts: list[Record]
    holdings: list[Record]
    lots: list[Record]
    transactions: list[Record]
    applied: list[Fill] = field(default_factory=list)
    already: list[Fill] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def apply_fills(
    accounts: Sequence[tuple[int, dict[str, Any]]],
    holdings: Sequence[tuple[int, dict[str, Any]]],
    lots: Sequence[tuple[int, dict[str, Any]]],
    transactions: Sequence[tuple[int, dict[str, Any]]],
    fills: Sequence[Fill],
    trades: Sequence[ProposedTrade] = (),
    lot_method: str = "fifo",
) -> FillResult:
    """The tables after `fills`; fills already on Transactions (by Ref) are left out.

    What is booked is what the proposal priced (engine/book.py): under `lot_method`
    average a sale's basis is the position's average (Reg. §1.1012-1(e)), and a buy
    the proposal made a wash-sale replacement carries the loss moved into it and its
    tacked holding start (IRC §1091(d), §1223(3))."""
    result = FillResult(
        accounts=[(r, dict(v)) for r, v in accounts],
        holdings=[(r, dict(v)) for r, v in holdings],
        lots=[(r, dict(v)) for r, v in lots],
        transactions=[(r, dict(v)) for r, v in transactions],
    )
    refs = {as_text(v.get("ref")) for _, v in transactions if v.get("ref")}
    names = {as_text(v.get("account")).lower(): v for _, v in result.accounts}
    planned: dict[tuple[str, str], list[ProposedTrade]] = defaultdict(list)
    replacing: dict[tuple[str, str], list[float]] = {}  # [wash per share, shares left]
    starts: dict[tuple[str, str], dt.date | None] = {}
    for t in trades:
        if t.action == "SELL" and t.lot_id:
            planned[(t.account.lower(), t.symbol)].append(t)
        if t.action == "BUY" and t.cost_basis is not None and t.price is not None:
            moved = round(t.cost_basis - round(t.shares * t.price + t.est_cost, 2), 2)
            if moved > 0.005:
                replacing[(t.account.lower(), t.symbol)] = [moved / t.shares, t.shares]
                starts[(t.account.lower(), t.symbol)] = t.holding_start
    count: dict[str, int] = defaultdict(int)
    for original in fills:
        # Two identical executions in one file (10 sh at 300, twice) are two fills.
        count[original.ref] += 1
        n = count[original.ref]
        fill = original if n == 1 else original.model_copy(update={"occurrence": n})
        if fill.ref in refs:
            result.already.append(fill)
            continue
        account = names.get(fill.account.lower())
        if account is None:
            result.problems.append(
                Problem(
                    f"{fill.where}: account {fill.account!r} is not on the "
                    "Accounts sheet; fill not recorded"
                )
            )
            continue
        key = (fill.account.lower(), fill.symbol)
        if fill.action == "SELL":
            if lot_method == "average":
                _average(result, fill)
            if not _sell(result, fill, planned[key]):
                continue
        else:
            _buy(result, fill)
            if key in replacing:
                _wash_into(result, fill, replacing[key], starts[key])
        cash = as_num(account.get("cash")) or 0.0
        flow = fill.shares * fill.price
        account["cash"] = round(
            cash + (flow - fill.fees if fill.action == "SELL" else -flow - fill.fees), 2
        )
        _holding(result, fill)
        refs.add(fill.ref)
        result.applied.append(fill)
    return result


def apply_cash_flows(
    result: FillResult,
    flows: Sequence[tuple[int, dict[str, Any]]],
    setting: float,
    day: dt.date,
) -> tuple[list[Record], bool]:
    """The run's deposits and withdrawals moved into the accounts' Cash, once.

    The proposal spent a deposit (or sold to raise a withdrawal): once its fills are
    recorded the money has moved, so each CashFlows row not yet applied is added to its
    account's Cash and dated (AppliedOn), and the cash_flow setting, the first account's
    shorthand, is added and goes back to 0. Without this a deposit the buys spent leaves
    Cash negative, and a withdrawal is raised again on the next run. Returns the CashFlows
    rows as they now are, and whether the setting was applied."""
    by_name = {as_text(v.get("account")).lower(): v for _, v in result.accounts}
    rows = [(r, dict(v)) for r, v in flows]

    def credit(account: str, amount: float, what: str) -> bool:
        values = by_name.get(account.lower())
        if values is None:
            result.problems.append(
                Problem(
                    f"{what}: account {account!r} is not on the Accounts sheet; not applied",
                    "CashFlows",
                    None,
                    "warning",
                )
            )
            return False
        before = as_num(values.get("cash")) or 0.0
        values["cash"] = round(before + amount, 2)
        result.changes.append(
            f"Accounts: {as_text(values.get('account'))} cash {before:,.2f} → "
            f"{values['cash']:,.2f} ({what} {amount:+,.2f})"
        )
        return True

    for row, values in rows:
        amount = as_num(values.get("amount"))
        if values.get("applied_on") not in (None, "") or not amount:
            continue
        if credit(as_text(values.get("account")), amount, f"CashFlows row {row}"):
            values["applied_on"] = day
    applied_setting = False
    if setting and result.accounts:
        first = as_text(result.accounts[0][1].get("account"))
        applied_setting = credit(first, setting, "the cash_flow setting")
    return rows, applied_setting


def _sell(result: FillResult, fill: Fill, planned: list[ProposedTrade]) -> bool:
    mine = [
        (index, values)
        for index, (_, values) in enumerate(result.lots)
        if as_text(values.get("account")).lower() == fill.account.lower()
        and as_symbol(values.get("symbol")) == fill.symbol
    ]
    held = sum(as_num(v.get("shares")) or 0.0 for _, v in mine)
    if mine and held + SHARE_TOL < fill.shares:
        result.problems.append(
            Problem(
                f"{fill.where}: sells {fill.shares:g} {fill.symbol} in {fill.account}, whose lots hold "
                f"{held:g}; fill not recorded"
            )
        )
        return False
    by_id = {as_text(v.get("lot_id")): (i, v) for i, v in mine}
    order: list[tuple[int, dict[str, Any], float]] = []
    if fill.lot_id and fill.lot_id in by_id:
        order.append((*by_id[fill.lot_id], fill.shares))
    else:
        for t in planned:
            if t.lot_id in by_id:
                order.append((*by_id[t.lot_id], t.shares))
        oldest = sorted(mine, key=lambda x: as_date(x[1].get("acquired")) or dt.date.max)
        order += [(i, v, float("inf")) for i, v in oldest]
    left = fill.shares
    price_net = fill.price - fill.fees / fill.shares
    for _index, values, cap in order:
        shares = as_num(values.get("shares")) or 0.0
        take = min(shares, cap, left)
        if take <= SHARE_TOL:
            continue
        basis = as_num(values.get("cost_basis")) or 0.0
        part = basis * take / shares if shares else 0.0
        start = as_date(values.get("holding_start")) or as_date(values.get("acquired"))
        inherited = str(values.get("inherited")).strip().lower() in ("true", "1", "yes", "x")
        term = holding_term(start, fill.date, inherited) if start else None
        acquired = as_date(values.get("acquired"))
        # WashAdjustment is already inside CostBasis (docs/workbook.md): the lot's
        # share of CostBasis is the whole basis of the shares sold.
        wash = as_num(values.get("wash_adjustment")) or 0.0
        wash_part = wash * take / shares if shares else 0.0
        cost = part
        # What the proposal said of the lot's shares (engine/book.wash_adjusted): a
        # replacement lot the run also sold carries the loss moved into it and the
        # tacked term; a loss sale keeps out of its gain the part a replacement washed,
        # and its row shows it as the gain above proceeds less basis (code W).
        disallowed = 0.0
        named = next((t for t in planned if t.lot_id == as_text(values.get("lot_id"))), None)
        if named is not None and named.cost_basis is not None and cap != float("inf"):
            carried = named.cost_basis * take / named.shares - part
            if carried > 0.01:
                cost = part + carried
                term = named.term or term
            if named.realized_gain is not None and named.price is not None:
                value = round(named.shares * named.price, 2)
                washed = named.realized_gain - (value - named.est_cost - named.cost_basis)
                disallowed = washed * take / named.shares if washed > 0.01 else 0.0
        result.transactions.append(
            (
                None,
                {
                    "date": fill.date,
                    "account": fill.account,
                    "symbol": fill.symbol,
                    "action": "SELL",
                    "shares": round(take, 6),
                    "price": round(fill.price, 6),
                    "realized_gain": round(take * price_net - cost + disallowed, 2),
                    "acquired": acquired,
                    "cost_basis": round(cost, 2),
                    "term": term,
                    "ref": fill.ref
                    if left == fill.shares
                    else f"{fill.ref}:{as_text(values.get('lot_id'))}",
                },
            )
        )
        keep = shares - take
        values["shares"] = round(keep, 6)
        values["cost_basis"] = round(basis - part, 2)
        if wash:
            values["wash_adjustment"] = round(wash - wash_part, 2)
        result.changes.append(
            f"TaxLots: {fill.account} {fill.symbol} lot "
            f"{as_text(values.get('lot_id'))} relieved of {take:g} sh"
        )
        left -= take
        if left <= SHARE_TOL:
            break
    result.lots = [
        (r, v)
        for r, v in result.lots
        if not (
            as_text(v.get("account")).lower() == fill.account.lower()
            and as_symbol(v.get("symbol")) == fill.symbol
            and (as_num(v.get("shares")) or 0.0) <= SHARE_TOL
        )
    ]
    if not mine:  # a tax-advantaged account without lots: the sale is all there is
        result.transactions.append(
            (
                None,
                {
                    "date": fill.date,
                    "account": fill.account,
                    "symbol": fill.symbol,
                    "action": "SELL",
                    "shares": fill.shares,
                    "price": round(fill.price, 6),
                    "ref": fill.ref,
                },
            )
        )
    result.changes.append(
        f"Transactions: {fill.date} {fill.account} SELL {fill.shares:g} "
        f"{fill.symbol} at {fill.price:,.4f}"
    )
    return True


def _wants_lot(result: FillResult, fill: Fill) -> bool:
    """Whether a buy becomes a lot on TaxLots. Not where Holdings holds the fund without
    lots (the lots would no longer add up to Holdings), nor in a tax-advantaged account
    that keeps no lots at all: lots are for taxable accounts, or wherever the user keeps
    them."""
    account = fill.account.lower()

    def mine(values: dict[str, Any]) -> bool:
        return as_text(values.get("account")).lower() == account

    held = any(mine(v) and as_symbol(v.get("symbol")) == fill.symbol for _, v in result.holdings)
    lots = [v for _, v in result.lots if mine(v)]
    if held and not any(as_symbol(v.get("symbol")) == fill.symbol for v in lots):
        return False
    if lots:
        return True
    row = next((v for _, v in result.accounts if mine(v)), {})
    return (as_text(row.get("type")).lower().replace(" ", "_") or "taxable") == "taxable"


def _buy(result: FillResult, fill: Fill) -> None:
    # A LotId is unique in the workbook: two accounts buying a fund the same day get
    # VEA-20261207 and VEA-20261207-2.
    taken = {as_text(v.get("lot_id")) for _, v in result.lots}
    base = f"{fill.symbol}-{fill.date:%Y%m%d}"
    lot_id, n = base, 1
    while lot_id in taken:
        n += 1
        lot_id = f"{base}-{n}"
    cost = round(fill.shares * fill.price + fill.fees, 2)
    with_lot = _wants_lot(result, fill)
    if with_lot:
        result.lots.append(
            (
                None,
                {
                    "account": fill.account,
                    "symbol": fill.symbol,
                    "lot_id": lot_id,
                    "acquired": fill.date,
                    "shares": fill.shares,
                    "cost_basis": cost,
                },
            )
        )
    result.transactions.append(
        (
            None,
            {
                "date": fill.date,
                "account": fill.account,
                "symbol": fill.symbol,
                "action": "BUY",
                "shares": fill.shares,
                "price": round(fill.price, 6),
                "acquired": fill.date,
                "cost_basis": cost,
                "ref": fill.ref,
            },
        )
    )
    result.changes.append(
        f"TaxLots: {fill.account} {fill.symbol} lot {lot_id} added: "
        f"{fill.shares:g} sh at {fill.price:,.4f}"
        if with_lot
        else f"Transactions: {fill.date} {fill.account} BUY {fill.shares:g} {fill.symbol} "
        f"at {fill.price:,.4f} (no lots kept for it)"
    )


def _average(result: FillResult, fill: Fill) -> None:
    """Re-base the position's lots at its average basis per share before a sale, so the
    shares sold carry the average and the shares kept the rest (single-category method,
    Reg. §1.1012-1(e); Pub. 564). The total basis is unchanged to the cent."""
    mine = [
        v
        for _, v in result.lots
        if as_text(v.get("account")).lower() == fill.account.lower()
        and as_symbol(v.get("symbol")) == fill.symbol
    ]
    shares = sum(as_num(v.get("shares")) or 0.0 for v in mine)
    if len(mine) < 2 or shares <= SHARE_TOL:
        return
    total = round(sum(as_num(v.get("cost_basis")) or 0.0 for v in mine), 2)
    wash = round(sum(as_num(v.get("wash_adjustment")) or 0.0 for v in mine), 2)
    left, wash_left = total, wash
    for i, values in enumerate(mine):
        n = as_num(values.get("shares")) or 0.0
        last = i == len(mine) - 1
        values["cost_basis"] = left if last else round(total * n / shares, 2)
        left = round(left - values["cost_basis"], 2)
        if wash:
            values["wash_adjustment"] = wash_left if last else round(wash * n / shares, 2)
            wash_left = round(wash_left - values["wash_adjustment"], 2)


def _wash_into(
    result: FillResult, fill: Fill, replacing: list[float], start: dt.date | None
) -> None:
    """The lot a replacement buy just made takes the loss the proposal moved into it,
    for the shares filled (up to the proposal's), in CostBasis and WashAdjustment, and
    the tacked holding start."""
    per_share, left = replacing
    shares = min(fill.shares, left)
    replacing[1] = left - shares
    lot = next(
        (
            v
            for _, v in reversed(result.lots)
            if as_text(v.get("account")).lower() == fill.account.lower()
            and as_symbol(v.get("symbol")) == fill.symbol
            and as_date(v.get("acquired")) == fill.date
        ),
        None,
    )
    moved = round(per_share * shares, 2)
    if lot is None or moved <= 0:
        return
    lot["cost_basis"] = round((as_num(lot.get("cost_basis")) or 0.0) + moved, 2)
    lot["wash_adjustment"] = round((as_num(lot.get("wash_adjustment")) or 0.0) + moved, 2)
    if start is not None and shares >= fill.shares - SHARE_TOL:
        lot["holding_start"] = start
    result.changes.append(
        f"TaxLots: lot {as_text(lot.get('lot_id'))} takes {moved:,.2f} of disallowed "
        "wash-sale loss into its basis"
        + (f", holding period from {start.isoformat()}" if lot.get("holding_start") else "")
    )


def _holding(result: FillResult, fill: Fill) -> None:
    sign = -1.0 if fill.action == "SELL" else 1.0
    for _, values in result.holdings:
        if (
            as_text(values.get("account")).lower() == fill.account.lower()
            and as_symbol(values.get("symbol")) == fill.symbol
        ):
            shares = round((as_num(values.get("shares")) or 0.0) + sign * fill.shares, 6)
            values["shares"] = shares
            if close_to(shares, 0.0, SHARE_TOL):
                result.holdings = [(r, v) for r, v in result.holdings if v is not values]
            return
    has_rows = any(
        as_text(v.get("account")).lower() == fill.account.lower() for _, v in result.holdings
    )
    has_lots = any(
        as_text(v.get("account")).lower() == fill.account.lower() for _, v in result.lots
    )
    if sign > 0 and (has_rows or not has_lots):
        result.holdings.append(
            (None, {"account": fill.account, "symbol": fill.symbol, "shares": fill.shares})
        )
