"""Tax-lot arithmetic: holding periods, lot order per relief method, gains per lot slice."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from ..models.inputs import TaxLot

Term = Literal["ST", "LT"]


@functools.lru_cache(maxsize=8192)
def long_term_from(holding_from: dt.date) -> dt.date:
    """The first sale date that is long-term for a holding that runs from this date.

    IRS Pub. 550 ("Holding Period"): start counting on the day after acquisition; the
    day of sale counts; long-term when held more than one year. Rev. Rul. 66-7: the
    year is counted in calendar months, not days, so property acquired on the last day
    of a month is long-term from the first day of the thirteenth month after: bought
    2023-02-28, a sale on 2024-02-29 (a leap day) is still short-term, 2024-03-01 is
    long-term. The same calendar day a year after the day following acquisition does
    all of that, a 29 February start moving to 1 March.
    """
    start = holding_from + dt.timedelta(days=1)
    try:
        return start.replace(year=start.year + 1)
    except ValueError:  # started on 29 February
        return dt.date(start.year + 1, 3, 1)


def holding_term(holding_from: dt.date, sale_date: dt.date, inherited: bool = False) -> Term:
    """ST or LT for a sale on `sale_date`.

    Inherited property is long-term however briefly held (IRC §1223(9)).
    """
    if inherited:
        return "LT"
    return "LT" if sale_date >= long_term_from(holding_from) else "ST"


def lot_term(lot: TaxLot, sale_date: dt.date) -> Term:
    return holding_term(lot.holding_from, sale_date, lot.inherited)


@dataclass(frozen=True)
class LotSlice:
    """Part of a lot taken by a sale, with its share of basis and the gain it realizes."""

    lot: TaxLot
    shares: float
    basis: float
    proceeds: float
    term: Term

    @property
    def gain(self) -> float:
        return self.proceeds - self.basis


def basis_per_share(lot: TaxLot) -> float:
    return lot.cost_basis / lot.shares if lot.shares > 0 else 0.0


def tax_rate(term: Term, st_rate: float, lt_rate: float) -> float:
    return st_rate if term == "ST" else lt_rate


def order_lots(
    lots: Iterable[TaxLot],
    method: str,
    *,
    price: float,
    sale_date: dt.date,
    st_rate: float,
    lt_rate: float,
) -> list[TaxLot]:
    """Lots in the order a sale relieves them.

    min_tax sorts by tax per dollar raised (losses first, the largest saving first):
    for raising a given amount from one position that greedy order is exact, as for
    any fractional knapsack.
    """
    lots = [lot for lot in lots if lot.shares > 0]
    if method in ("fifo", "average"):
        return sorted(lots, key=lambda lot: (lot.acquired, lot.lot_id))
    if method == "lifo":
        return sorted(lots, key=lambda lot: (lot.acquired, lot.lot_id), reverse=True)
    if method == "hifo":
        return sorted(lots, key=lambda lot: (-basis_per_share(lot), lot.acquired, lot.lot_id))

    def tax_per_dollar(lot: TaxLot) -> tuple[float, dt.date, str]:
        rate = tax_rate(lot_term(lot, sale_date), st_rate, lt_rate)
        return (
            (price - basis_per_share(lot)) * rate / price if price > 0 else 0.0,
            lot.acquired,
            lot.lot_id,
        )

    return sorted(lots, key=tax_per_dollar)


def averaged(lots: Sequence[TaxLot]) -> list[TaxLot]:
    """A position under the average-cost method: each lot re-based at the average.

    Single-category method (Treas. Reg. §1.1012-1(e); IRS Pub. 564, Table 3): the basis
    of every share is the total basis of the position (per account and symbol) over its
    shares; lots are kept for their dates only, because the shares sold are the ones
    acquired first for the holding period. Bases are left unrounded here, so a sale's
    basis is the average times the shares sold, rounded once.
    """
    shares = sum(lot.shares for lot in lots)
    if shares <= 0:
        return list(lots)
    average = sum(lot.cost_basis for lot in lots) / shares
    return [lot.model_copy(update={"cost_basis": average * lot.shares}) for lot in lots]


def relieve(
    lots: Sequence[TaxLot],
    shares: float,
    *,
    price: float,
    sale_date: dt.date,
) -> list[LotSlice]:
    """Take `shares` from already-ordered lots; never more than a lot holds."""
    remaining = shares
    out = []
    for lot in lots:
        if remaining <= 1e-9:
            break
        take = min(lot.shares, remaining)
        basis = round(basis_per_share(lot) * take, 2) if take < lot.shares else lot.cost_basis
        out.append(LotSlice(lot, take, basis, take * price, lot_term(lot, sale_date)))
        remaining -= take
    return out
