"""Tax-loss-harvest candidates: taxable lots whose loss is worth taking, and what blocks them.

A lot qualifies when its unrealized loss is at least `tlh_min_loss` (money) and at
least `tlh_min_loss_pct` of its basis. Its sale is blocked when a purchase of the
same or a substantially identical security within the wash-sale window, in any
account, would wash the loss (the lot's own purchase excepted). A blocked lot shows
its would-be saving as 0: nothing can be saved by selling it now.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..models.checks import symbol_classes
from ..models.inputs import Portfolio, TaxLot
from ..models.results import HarvestRow
from .lots import averaged, lot_term
from .tax import year_tax, year_to_date
from .wash import (
    Purchase,
    PurchaseIndex,
    count_sale_blockers,
    identical_sets,
    past_purchases,
    sale_blockers,
    same_security,
)

SHOWN = 3  # blockers named in a BlockedBy cell


def harvest_candidates(
    portfolio: Portfolio,
    prices: Mapping[str, float],
    purchases: list[Purchase] | PurchaseIndex | None = None,
    *,
    ytd: tuple[float, float] | None = None,
) -> list[HarvestRow]:
    """One row per qualifying lot, largest saving first."""
    st = portfolio.settings
    valuation = st.valuation_date
    assert valuation is not None
    taxable = {a.account for a in portfolio.accounts if a.taxable}
    identical = identical_sets(portfolio)
    substitutes = substitute_for(portfolio, prices, identical)
    if purchases is None:
        purchases = past_purchases(portfolio)
    index = purchases if isinstance(purchases, PurchaseIndex) else PurchaseIndex(purchases)
    ytd_st, ytd_lt = ytd if ytd is not None else year_to_date(portfolio)[:2]
    before = year_tax(portfolio, ytd_st, ytd_lt)
    rows = []
    lots = list(portfolio.lots)
    if st.lot_method == "average":  # every share at its position's average basis
        positions: dict[tuple[str, str], list[TaxLot]] = {}
        for lot in lots:
            positions.setdefault((lot.account, lot.symbol), []).append(lot)
        lots = [lot for group in positions.values() for lot in averaged(group)]
    for lot in lots:
        if (
            lot.account not in taxable
            or lot.shares <= 0
            or lot.symbol not in prices
            or lot.lock == "lock"
        ):
            continue
        price = prices[lot.symbol]
        loss = lot.cost_basis - lot.shares * price
        if loss < st.tlh_min_loss or loss < st.tlh_min_loss_pct * lot.cost_basis or loss <= 0:
            continue
        term = lot_term(lot, valuation)
        own = (lot.account, lot.lot_id)
        blockers = sale_blockers(
            lot.symbol, valuation, index, st.wash_sale_days, identical, own, limit=SHOWN
        )
        # The BlockedBy cell names the first few; listing every purchase in the window
        # for every lot grew with the square of the lots (and past a cell's 32,767
        # characters), so the rest is a count.
        more = (
            count_sale_blockers(lot.symbol, valuation, index, st.wash_sale_days, identical, own)
            - len(blockers)
            if len(blockers) == SHOWN
            else 0
        )
        # What harvesting this lot alone saves this year, netted with the year so far
        # (engine/tax.py): nothing once the year's losses pass the $3,000 limit.
        after = year_tax(
            portfolio,
            ytd_st - (loss if term == "ST" else 0.0),
            ytd_lt - (loss if term == "LT" else 0.0),
        )
        saving = before.tax - after.tax
        rows.append(
            HarvestRow(
                account=lot.account,
                symbol=lot.symbol,
                lot_id=lot.lot_id,
                shares=lot.shares,
                price=price,
                unrealized_loss=round(loss, 2),
                term=term,
                substitute=substitutes.get(lot.symbol),
                wash_sale="blocked" if blockers else "clear",
                blocked_by="; ".join(b.describe() for b in blockers)
                + (f"; and {more:,} more" if more > 0 else "")
                or None,
                est_tax_saving=0.0 if blockers else round(saving, 2),
            )
        )
    rows.sort(key=lambda r: (-r.est_tax_saving, -r.unrealized_loss, r.account, r.lot_id))
    return rows


def substitute_for(
    portfolio: Portfolio, prices: Mapping[str, float], identical: dict[str, frozenset[str]]
) -> dict[str, str]:
    """What to buy to keep exposure after harvesting each symbol.

    The Targets row's Substitute when given, else the model file's Securities row's
    (when priced); otherwise, with asset-class targets, the
    largest other fund the household holds in the same class that is not substantially
    identical (buying it does not wash the loss).
    """
    chosen = {t.symbol: t.substitute for t in portfolio.targets if t.symbol and t.substitute}
    for sec in portfolio.securities:  # the model's security master, under the Targets row
        if sec.substitute and sec.substitute in prices:
            chosen.setdefault(sec.symbol, sec.substitute)
    classes = symbol_classes(portfolio)
    value: dict[str, float] = {}
    for holding in portfolio.holdings:
        value[holding.symbol] = value.get(holding.symbol, 0.0) + holding.shares * prices.get(
            holding.symbol, 0.0
        )
    for symbol, cls in classes.items():
        if symbol in chosen:
            continue
        peers = [
            s
            for s, c in classes.items()
            if c == cls and not same_security(symbol, s, identical) and s in prices
        ]
        if peers:
            chosen[symbol] = max(peers, key=lambda s: (value.get(s, 0.0), s))
    return chosen
