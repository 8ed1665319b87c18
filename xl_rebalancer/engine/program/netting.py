"""Netting and carryover: the year's capital-gains tax as the program counts it.

When the short-term rate is the higher one (ordinary rates), each lot's tax is not its
own: the run's sales net with the gains realized earlier in the year and the
carryovers, as Schedule D nets them, within the loss limit (engine/tax.py). That tax is
convex but for one term, whose regime is a binary the search enumerates instead of
branching on (search.py). Otherwise each lot's sale costs its own tax (sales.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..tax import carryover_rate, loss_limit, year_tax
from .model import TradeModel


def add_netted_tax(t: TradeModel) -> None:
    """The year's capital-gains tax as a function of this run's sales (engine/tax.py).

    With s and l the year's net short- and long-term results (gains realized before the
    run and carryovers included, plus this run's sales), n = s + l, the Schedule D tax
    at two rates rs > rl with loss limit L is

        tax = rs · max(n, −L) − (rs − rl) · max(0, min(l, n))

    (the first term: every net gain at the ordinary rate, or the deduction; the second:
    the part of it that is long-term, refunded down to the long-term rate).

    A net loss beyond the limit is carried to next year, where it offsets gains, so a
    gain realized while the year is past the limit is not free: it uses up carried loss
    (the demo once sold a taxable lot at a $1,807 gain, its tax hidden that way, with the
    IRA's same fund tax-free beside it). The carried loss the run's gains use up is
    charged at rc = min(rl, rs) per money, the least it saves when it offsets a
    long-term gain later. With nL the year without the run's gains (its losses in),
    that is rc · (C(nL) − C(n)), C(x) = max(0, −x − L) the loss carried forward. A loss
    harvested beyond the limit earns nothing now, as before: what it carries is only
    worth what a later year makes of it, and the swap to reach it changes the exposure.
    So the tax part of the objective is

        rs·max(n, −L) − rc·C(n) + rc·C(nL) − (rs − rl)·max(0, min(l, n))

    where the first two terms are max(rs·n, −rs·L + rc·(n + L)), convex: t ≥ rs·n,
    t ≥ −rs·L + rc·(n + L); the third is convex too: p ≥ 0, p ≥ −nL − L at price rc.
    The last is not, so one binary z picks the regime: h ≤ M·z, h ≤ l + M(1 − z),
    h ≤ n + M(1 − z), h ≥ 0, and h is rewarded at rs − rl. The constant tax the year
    had before the run does not change the choice. The Summary shows the run's tax and
    the `Carried loss used by this run's gains`.
    """
    m, st, units, unit_var = t.m, t.st, t.units, t.unit_var
    ytd_st, ytd_lt = t.ytd
    s0 = ytd_st - st.st_loss_carryover
    l0 = ytd_lt - st.lt_loss_carryover
    rs, rl = st.st_tax_rate, st.lt_tax_rate
    st_terms = {unit_var[i]: u.taxed_gain for i, u in enumerate(units) if u.term == "ST"}
    lt_terms = {unit_var[i]: u.taxed_gain for i, u in enumerate(units) if u.term == "LT"}
    all_terms = {**st_terms, **lt_terms}
    big = abs(s0) + abs(l0) + sum(abs(u.taxed_gain) * u.shares for u in units) + 1.0
    limit = loss_limit(st.filing_status)
    rc = carryover_rate(st)
    tax = m.var(1.0, -math.inf, math.inf)  # t above
    m.row({**{v: -rs * c for v, c in all_terms.items()}, tax: 1.0}, lo=rs * (s0 + l0))
    m.row(
        {**{v: -rc * c for v, c in all_terms.items()}, tax: 1.0},
        lo=-rs * limit + rc * (s0 + l0 + limit),
    )
    loss_terms = {v: c for v, c in all_terms.items() if c < 0}
    if rc > 0 and loss_terms:
        p = m.var(rc, 0.0, math.inf)
        m.row({**loss_terms, p: 1.0}, lo=-(s0 + l0) - limit)
    h = m.var(-(rs - rl), 0.0, big)
    z = m.var(0.0, 0.0, 1.0, integer=True, always=True)
    m.row({h: 1.0, z: -big}, hi=0.0)
    m.row({h: 1.0, z: big, **{v: -c for v, c in lt_terms.items()}}, hi=l0 + big)
    m.row({h: 1.0, z: big, **{v: -c for v, c in all_terms.items()}}, hi=s0 + l0 + big)


def run_tax(t: TradeModel, x: Sequence[float]) -> float:
    """The tax the solution adds to the year (the Summary's Estimated tax)."""
    by_term = {"ST": 0.0, "LT": 0.0}
    for i, u in enumerate(t.units):
        if u.term in by_term:
            by_term[u.term] += x[t.unit_var[i]] * u.gain_per_share
    ytd = t.ytd
    return (
        year_tax(t.portfolio, ytd[0] + by_term["ST"], ytd[1] + by_term["LT"]).tax
        - year_tax(t.portfolio, ytd[0], ytd[1]).tax
    )
