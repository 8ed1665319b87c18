"""Lots and sales: every lot (or lot-less position) that may be sold, and the columns
that sell it.

Each sell unit has a column in shares, bounded by the lot (no shorts; a lot marked
`sell` is sold in full), costing its tax per share when the year is not netted in the
program. A position's sale is the sum of its units, in whole shares where whole_shares
says so, carrying the trading cost and, per position, its ticket (tickets.py). A fixed
lot method (not min_tax) relieves the lots in order; min_tax lets the objective choose,
and a withdrawal's loss lots go before its gain lots (losses_before_gains).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

from ...models.inputs import Account, Portfolio, TaxLot
from ..drift import Household
from ..lots import basis_per_share, lot_term, order_lots, tax_rate
from . import tickets
from .model import EPS, SellUnit, TradeModel


def sell_units(
    portfolio: Portfolio,
    household: Household,
    accounts: Mapping[str, Account],
    lots: Mapping[tuple[str, str], list[TaxLot]],
    blocked: Mapping[tuple[str, str], list[TaxLot]],
) -> list[SellUnit]:
    """Every lot (or lot-less position) that may be sold, with its tax per share."""
    st = portfolio.settings
    valuation = st.valuation_date
    assert valuation is not None
    cost_rate = st.cost_bps / 10_000.0
    units = []
    for (account, symbol), held in sorted(household.shares.items()):
        if held <= EPS:
            continue
        price = household.prices[symbol]
        acct = accounts[account]
        position_lots = lots.get((account, symbol), [])
        skip = {id(lot) for lot in blocked.get((account, symbol), [])}
        if not acct.taxable or not position_lots:
            # No tax to weigh, but a locked lot still stays: only the rest may be sold.
            free = held - sum(lot.shares for lot in blocked.get((account, symbol), []))
            if free > EPS:
                units.append(SellUnit(account, symbol, None, free, 0.0, 0.0, False))
            continue
        ordered = order_lots(
            position_lots,
            st.lot_method,
            price=price,
            sale_date=valuation,
            st_rate=st.st_tax_rate,
            lt_rate=st.lt_tax_rate,
        )
        for lot in ordered:
            if id(lot) in skip or lot.shares <= EPS:
                continue
            # The selling cost reduces the amount realized, as on the Trades sheet.
            gain = price * (1 - cost_rate) - basis_per_share(lot)
            term = lot_term(lot, valuation)
            rate = tax_rate(term, st.st_tax_rate, st.lt_tax_rate)
            harvestable = (
                -gain * lot.shares >= st.tlh_min_loss
                and -gain * lot.shares >= st.tlh_min_loss_pct * lot.cost_basis
            )
            taxed = gain if gain > 0 or harvestable else 0.0
            units.append(
                SellUnit(
                    account, symbol, lot, lot.shares, taxed * rate, gain, gain < 0, term, taxed
                )
            )
    return units


def add_sales(t: TradeModel) -> None:
    """A column per sell unit, then per position its sale, ticket and relief order (one
    position at a time: the columns' order is the program's)."""
    st, m, units = t.st, t.m, t.units
    must_sell: dict[tuple[str, str], float] = {}
    for index, unit in enumerate(units):
        allowed = t.can_sell.get((unit.account, unit.symbol), True)
        forced = unit.lot is not None and unit.lot.lock == "sell"
        if forced:
            key = (unit.account, unit.symbol)
            must_sell[key] = must_sell.get(key, 0.0) + unit.shares
        t.unit_var.append(
            m.var(
                0.0 if t.netted and unit.term else unit.tax_per_share,
                unit.shares if forced else 0.0,
                unit.shares if allowed or forced else 0.0,
                scale=t.prices[unit.symbol],
            )
        )
        t.by_position[(unit.account, unit.symbol)].append(index)
    for key, members in t.by_position.items():
        price = t.prices[key[1]]
        held = sum(units[i].shares for i in members)
        allowed = t.can_sell.get(key, True)
        forced = must_sell.get(key, 0.0)
        whole = st.whole_shares and abs(forced - round(forced)) < 1e-9
        cap = (math.floor(held + EPS) if whole else held) if allowed or forced else 0.0
        # A lot marked `sell` with a fraction of a share may close the position fractionally.
        t.sell_var[key] = m.var(
            t.cost_rate * price, forced, max(cap, forced), integer=whole, scale=price
        )
        m.row({**{t.unit_var[i]: 1.0 for i in members}, t.sell_var[key]: -1.0}, 0.0, 0.0)
        if t.tickets and cap > 0:
            tickets.add_sale_ticket(t, key, members, cap)
        if t.exact and st.lot_method != "min_tax" and len(members) > 1:
            _relief_order(t, members)


def _relief_order(t: TradeModel, members: list[int]) -> None:
    """Fixed relief order: a unit is touched only once the one before it is used up."""
    m = t.m
    for first, second in itertools.pairwise(members):
        done = m.var(0.0, 0.0, 1.0, integer=True)
        m.row({t.unit_var[first]: 1.0, done: -t.units[first].shares}, lo=0.0)
        m.row({t.unit_var[second]: 1.0, done: -t.units[second].shares}, hi=0.0)


def losses_before_gains(t: TradeModel) -> None:
    """A taxable account raising a withdrawal sells its loss lots of a line before any of
    the line's gain lots: once a gain lot is sold, every loss lot of the same line in
    that account that may be sold is sold in full. The objective alone prefers the loss
    lot, but a ticket saved or a fund's mix could tip it (the review found a gain lot
    sold while a loss lot of the same line stayed; issue 44). Lots a wash block or a
    Lock keeps are not sell units, so they never force anything."""
    m, units, unit_var, household = t.m, t.units, t.unit_var, t.household
    flows = t.portfolio.flows()
    raising = {a for a, cash in household.cash.items() if cash < -EPS or flows.get(a, 0.0) < 0}
    groups: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
    for i, unit in enumerate(units):
        if unit.account not in raising or unit.term is None or unit.lot is None:
            continue
        line = t.line_of.get(unit.symbol)
        if line is None:
            continue
        losses, gains = groups.setdefault((unit.account, line), ([], []))
        if unit.gain_per_share < 0:
            losses.append(i)
        elif unit.gain_per_share > 0:
            gains.append(i)
    for _, (all_losses, gains) in sorted(groups.items()):
        losses = [i for i in all_losses if m.upper[unit_var[i]] > 0]
        if not losses or not gains:
            continue
        sold = m.var(0.0, 0.0, 1.0, integer=True)
        m.row(
            {**{unit_var[i]: 1.0 for i in gains}, sold: -sum(units[i].shares for i in gains)},
            hi=0.0,
        )
        for i in losses:
            m.row({unit_var[i]: 1.0, sold: -units[i].shares}, lo=0.0)
