"""Caps: the limits the program holds softly, and the in_band_gains gain cap.

cash_min/cash_max, max_turnover, max_realized_gain and the min/max weights of Targets
and Constraints are soft: a slack at SOFT_PENALTY per money, so the search always finds
the trade list that breaks them least. Which one it had to break is named afterwards
(broken): `infeasible` = stop raises InfeasibleError with each limit's cell, `relax`
keeps that closest trade list with warnings.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...errors import InfeasibleError, Problem
from .model import CENT, TradeModel

SOFT_PENALTY = 1_000.0  # money of objective per money of a broken soft limit


def _soft(
    t: TradeModel,
    terms: dict[int, float],
    now: float,
    lo: float | None,
    hi: float | None,
    label: str,
    where: tuple[str, int | None, str, str],
) -> None:
    """`where` is (sheet, row, field of the minimum, field of the maximum)."""
    m = t.m
    sheet, row, lo_field, hi_field = where
    if lo is not None:
        slack = m.var(SOFT_PENALTY)
        m.row({**terms, slack: 1.0}, lo=lo - now)
        t.soft_vars.append((slack, f"{label}: below its minimum", (sheet, row, lo_field)))
    if hi is not None:
        slack = m.var(SOFT_PENALTY)
        m.row({**terms, slack: -1.0}, hi=hi - now)
        t.soft_vars.append((slack, f"{label}: above its maximum", (sheet, row, hi_field)))


def add_soft_limits(t: TradeModel) -> None:
    """cash_min/cash_max, max_turnover, max_realized_gain, then each weight limit."""
    st, prices, total = t.st, t.prices, t.total
    _soft(
        t,
        dict(t.total_cash_terms),
        t.household.total_cash,
        st.cash_min * total if st.cash_min > 0 else None,
        st.cash_max * total if st.cash_max < 1 else None,
        "cash (cash_min/cash_max)",
        ("Settings", None, "cash_min", "cash_max"),
    )
    if st.max_turnover is not None:
        terms = {v: prices[k[1]] for k, v in t.sell_var.items()} | {
            v: prices[k[1]] for k, v in t.buy_var.items()
        }
        _soft(
            t,
            terms,
            0.0,
            None,
            # On the total before the cash flow, as the Summary's Turnover is measured.
            2 * st.max_turnover * (total - sum(t.portfolio.flows().values())),
            "max_turnover",
            ("Settings", None, "max_turnover", "max_turnover"),
        )
    if st.max_realized_gain is not None:
        terms = {t.unit_var[i]: u.gain_per_share for i, u in enumerate(t.units) if u.gain_per_share}
        _soft(
            t,
            terms,
            0.0,
            None,
            st.max_realized_gain,
            "max_realized_gain",
            ("Settings", None, "max_realized_gain", "max_realized_gain"),
        )
    _add_weight_limits(t)


def _add_weight_limits(t: TradeModel) -> None:
    """The min/max weights: a group of (account, symbol) positions and account cash."""
    household, prices, total = t.household, t.prices, t.total
    for label, members, lo, hi, (sheet, row) in t.weight_limits:
        terms: dict[int, float] = {}
        now = 0.0
        for account, symbol in members:
            if symbol is None:
                for var, coef in t.cash_terms.get(account, {}).items():
                    terms[var] = terms.get(var, 0.0) + coef
                now += household.cash.get(account, 0.0)
                continue
            now += household.shares.get((account, symbol), 0.0) * prices.get(symbol, 0.0)
            if (account, symbol) in t.sell_var:
                terms[t.sell_var[(account, symbol)]] = -prices[symbol]
            if (account, symbol) in t.buy_var:
                terms[t.buy_var[(account, symbol)]] = prices[symbol]
        _soft(
            t,
            terms,
            now,
            None if lo is None else lo * total,
            None if hi is None else hi * total,
            label,
            (sheet, row, "min_weight", "max_weight"),
        )


def add_gain_cap(t: TradeModel) -> None:
    """in_band_gains = avoid: no more gain (money) than the plan that moves only what is
    beyond the bands (gain_tax_cap, plan.py)."""
    t.gain_tax_terms = {
        t.unit_var[i]: u.gain_per_share for i, u in enumerate(t.units) if u.gain_per_share > 0
    }
    if t.gain_tax_cap is not None and t.gain_tax_terms:
        # in_band_gains = avoid: no more gain (money) than the plan that moves only what
        # is beyond the bands (weighted by each lot's own rate, the cap let a long-term
        # gain replace a short-term one that the year's netting made cheaper) (a cent's leeway for the solver's tolerances: both
        # plans are made of the same whole shares, so that plan meets the cap). Gains
        # only, not the netted tax: capped on the netted tax, a harvest that plan makes
        # became a must, and a harvest past the loss limit let gains through. Soft, at
        # the soft limits' price, so no household is made infeasible by it. A lower
        # price does not hold: a lot with a 2% gain moves fifty dollars inside the bands
        # per dollar of gain.
        t.m.row({**t.gain_tax_terms, t.m.var(SOFT_PENALTY): -1.0}, hi=t.gain_tax_cap + CENT)


def broken(t: TradeModel, x: Sequence[float]) -> list[Problem]:
    """The soft limits the solution breaks; under `infeasible` = stop, InfeasibleError."""
    st = t.st
    found = [
        Problem(
            f"{label} by {x[var]:,.2f}: no trade list meets it together with the hard rules "
            "(no shorts, no negative cash, whole shares, NoBuy/NoSell, wash sales, "
            "minimum trade)",
            sheet,
            None,
            "error" if st.infeasible == "stop" else "warning",
            row,
            fld,
        )
        for var, label, (sheet, row, fld) in t.soft_vars
        if x[var] > 0.01
    ]
    if found and st.infeasible == "stop":
        raise InfeasibleError(
            "no trade list meets every limit; change a limit named in the details, or set "
            "infeasible to relax to get the closest trade list with warnings",
            found,
        )
    return found
