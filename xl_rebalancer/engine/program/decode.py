"""Decode: the search's solution as the decision the plan records.

The status and what the in_band_gains rule measures (the gain sold, the tax the run
adds to the year), the soft limits broken (caps.py), then shares: a position's sale on
the share grid and split into lot slices (exact path: the lots the program chose,
rounded so they add up; relaxed path: rounded down, in relief order), buys on the grid,
and each account's sales topped up by a step where rounding left it a cent short.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...errors import Problem
from ...models.inputs import Settings, TaxLot
from ..drift import Household
from . import caps, netting
from .model import EPS, SellUnit, TradeModel


def share_step(settings: Settings) -> float:
    """The smallest amount of a share a trade row may carry: 1 with whole_shares, else
    10^-share_decimals (brokers take 3 decimals for fractional orders)."""
    return 1.0 if settings.whole_shares else 10.0**-settings.share_decimals


def snap(shares: float, step: float, how: str = "nearest") -> float:
    """`shares` on the grid of `step` ("nearest", "down" or "up"), as a clean decimal:
    0.1 + 0.2 shares is written 0.3, never 0.30000000000000004."""
    ticks = shares / step
    whole = {
        "nearest": math.floor(ticks + 0.5),
        "down": math.floor(ticks + 1e-7),
        "up": math.ceil(ticks - 1e-7),
    }[how]
    digits = max(0, round(-math.log10(step)))
    return round(whole * step, digits)


def lot_take(take: float, lot_shares: float, step: float) -> float:
    """Shares taken from one lot: all of it keeps the lot's own count (a fractional lot
    sold whole), a part is rounded down to the share grid."""
    return lot_shares if take >= lot_shares - 1e-6 else snap(take, step, "down")


@dataclass
class Decision:
    """What the solver chose, in shares, before it becomes Trade rows."""

    sells: dict[tuple[str, str], list[tuple[TaxLot | None, float]]] = field(default_factory=dict)
    buys: dict[tuple[str, str], float] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    status: str = ""
    # What the in_band_gains rule caps and reports, before rows are rounded: the gain of
    # the lots sold at a gain, and the tax the run adds to the year (the Summary's
    # Estimated tax).
    gain_tax: float = 0.0
    tax: float = 0.0
    # in_band_gains = allow: the tax above the plan that moves only what is beyond the
    # bands (None when not measured).
    in_band_tax: float | None = None


def decode(t: TradeModel, solution: np.ndarray | None, message: str) -> Decision:
    """The decision the search's `solution` (None: none found) makes."""
    decision = Decision()
    decision.status = ("LP relaxation, rounded" if t.relaxed else "exact MILP") + f": {message}"
    if solution is None:
        # Every limit is soft, so only the hard rules can contradict each other here, or
        # the solver itself failed; rebalance() stops or falls back, as `infeasible` says.
        raise RuntimeError(f"HiGHS found no solution: {message}")
    x = solution.tolist()  # plain floats: numpy scalars are slow in the Python loops below
    decision.gain_tax = sum(x[v] * c for v, c in t.gain_tax_terms.items())
    decision.tax = netting.run_tax(t, x)
    decision.warnings += caps.broken(t, x)
    _sells(t, x, decision)
    step = share_step(t.st)
    for key, var in t.buy_var.items():
        shares = snap(x[var], step, "down" if t.relaxed else "nearest")
        if shares > EPS:
            decision.buys[key] = float(shares)
    _cover_accounts(decision, t.household, t.units, t.cost_rate, step)
    return decision


def _sells(t: TradeModel, x: list[float], decision: Decision) -> None:
    """Each position's sale on the share grid, as lot slices."""
    st, units, unit_var = t.st, t.units, t.unit_var
    step = share_step(st)
    for key, members in t.by_position.items():
        held = sum(units[i].shares for i in members)
        shares = x[t.sell_var[key]]
        # All of a position is its own count (a fractional holding sold in full);
        # anything less is on the grid of whole shares or share_decimals.
        if shares >= held - step / 2:
            shares = held
        else:
            shares = snap(shares, step, "down" if t.relaxed else "nearest")
        if shares <= EPS:
            continue
        chosen = (
            list(members)
            if st.lot_method != "min_tax"
            else sorted(members, key=lambda i: -x[unit_var[i]] / max(units[i].shares, EPS))
        )
        if not t.relaxed:
            chosen = [i for i in members if x[unit_var[i]] > EPS]
            decision.sells[key] = _sliced(
                [(units[i], x[unit_var[i]]) for i in chosen], shares, step
            )
            continue
        left, slices = shares, []
        for i in chosen + [i for i in members if i not in chosen]:
            if left <= EPS:
                break
            take = lot_take(min(units[i].shares, left), units[i].shares, step)
            if take > EPS:
                slices.append((units[i].lot, take))
                left -= take
        decision.sells[key] = slices


def _cover_accounts(
    decision: Decision,
    household: Household,
    units: list[SellUnit],
    cost_rate: float,
    step: float,
) -> None:
    """Sales rounded to the share grid still cover each account's withdrawal and costs.

    The program raises a withdrawal to the cent; a sale rounded to the nearest share (or
    thousandth) and rows valued to the cent can leave the account a cent short. Such a
    position sells one more step, from the lot its relief order would take next. Buys
    need no such care: recording them caps each at the cash the account has.
    """
    room: dict[int, float] = {id(u.lot): u.shares for u in units if u.lot is not None}
    cash = dict(household.cash)
    for (account, symbol), slices in decision.sells.items():
        price = household.prices[symbol]
        for _, shares in slices:
            value = round(shares * price, 2)
            cash[account] += value - round(value * cost_rate, 2)
    for account, left in cash.items():
        keys = sorted(
            (k for k in decision.sells if k[0] == account),
            key=lambda k: -sum(n for _, n in decision.sells[k]) * household.prices[k[1]],
        )
        for key in keys:
            price = household.prices[key[1]]
            slices = decision.sells[key]
            held = household.shares.get(key, 0.0)
            while left < -EPS and sum(n for _, n in slices) + step <= held + 1e-9:
                k = next(
                    (
                        k
                        for k, (lot, n) in enumerate(slices)
                        if room.get(id(lot), held) - n >= step - 1e-9
                    ),
                    None,
                )
                if k is None:
                    break
                lot, n = slices[k]
                before = round(n * price, 2)
                slices[k] = (lot, snap(n + step, step))
                after = round(slices[k][1] * price, 2)
                left += (
                    after - before - (round(after * cost_rate, 2) - round(before * cost_rate, 2))
                )
            if left >= -EPS:
                break


def _sliced(
    chosen: list[tuple[SellUnit, float]], total: float, step: float
) -> list[tuple[TaxLot | None, float]]:
    """Lot rows on the share grid (whole shares, or share_decimals), adding up to the
    position's total.

    The program's per-lot amounts are continuous (only the position total is an integer
    variable, and none is in fractional mode): a lot sold in full keeps its own count;
    a part of a lot is rounded down to the grid, and the steps that leaves short go to
    the lots the program wanted most of what was rounded away.
    """
    takes: list[float] = []
    for unit, want in chosen:
        takes.append(lot_take(want, unit.shares, step))
    short = snap(max(total - sum(takes), 0.0), step, "down")
    order = sorted(range(len(chosen)), key=lambda k: -(chosen[k][1] - takes[k]))
    for k in order:
        if short < step - 1e-9:
            break
        add = min(snap(chosen[k][0].shares - takes[k], step, "down"), short)
        if add <= 0:
            continue
        takes[k] = snap(takes[k] + add, step)
        short = snap(short - add, step)
    return [(unit.lot, take) for (unit, _), take in zip(chosen, takes, strict=True) if take > EPS]
