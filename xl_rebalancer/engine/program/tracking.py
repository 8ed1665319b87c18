"""Tracking: how far each target line (and each fund of a shared line) ends from its goal.

Each line has an L1 distance from its goal, in money: 1 per money beyond the band
edge, risk_aversion per money off target inside the band (0 with rebalance_to =
band_edge), both scaled by the line's volatility over the others' when a risk model is
at hand (a bound on the tracking error, plan.risk_scales). With band_edge a line only
moves toward its target (toward_target). The funds sharing a line (an asset class, a
symbol and its Substitute) are kept near their share of its goal at MEMBER_WEIGHT, a
tie-break only.
"""

from __future__ import annotations

from collections import defaultdict

from .model import TradeModel, _Model

# Weight of each fund's own distance from its share of an asset-class goal: a tie-break
# only. The mix of funds inside a class is cosmetic, so it may never outweigh a dollar
# of tax (it used to be 0.1, and the program sold a lot at a $2,706 gain to keep the mix
# when a fund at its basis in the same class would have done); it still decides which
# fund a class's new money goes to when nothing else does. Swapping funds inside a class
# costs trading costs and tickets, so funds are not churned for nothing.
MEMBER_WEIGHT = 0.001


def fund_terms(t: TradeModel) -> dict[str, dict[int, float]]:
    """Per symbol, the money its sales (−) and buys (+) move, by column."""
    vars_of: dict[str, dict[int, float]] = defaultdict(dict)
    for (_, symbol), var in t.sell_var.items():
        vars_of[symbol][var] = -t.prices[symbol]
    for (_, symbol), var in t.buy_var.items():
        vars_of[symbol][var] = t.prices[symbol]
    return vars_of


def _terms(vars_of: dict[str, dict[int, float]], members: set[str]) -> dict[int, float]:
    terms: dict[int, float] = {}
    for symbol in members:
        terms.update(vars_of.get(symbol, {}))
    return terms


def add_lines(t: TradeModel, vars_of: dict[str, dict[int, float]]) -> None:
    """The L1 distance of each line from its goal (or its band)."""
    st, m, total = t.st, t.m, t.total
    value = t.household.values()
    for line in t.lines:
        if line.kind == "cash":
            terms, now = dict(t.total_cash_terms), t.household.total_cash
            weight = min(max(line.weight, st.cash_min), st.cash_max)
        else:
            members = set(line.members)
            # Summed in the line's own order: a set's order changes with the process's hash
            # seed, and the last bit of a bound is enough to change HiGHS's path.
            terms, now = _terms(vars_of, members), sum(value.get(s, 0.0) for s in line.members)
            weight = line.weight
        # Two prices per line: `risk_aversion` per money off target inside the band
        # (nothing with rebalance_to = band_edge), the full price beyond it.
        band = line.band * total
        inner = st.risk_aversion if st.rebalance_to == "target" else 0.0
        inner = inner if t.inner_price is None else t.inner_price
        scale = t.line_scale.get(line.key, 1.0) if t.line_scale else 1.0
        over = [m.var(scale)] + ([m.var(inner * scale, 0.0, band)] if band > 0 else [])
        under = [m.var(scale)] + ([m.var(inner * scale, 0.0, band)] if band > 0 else [])
        m.row({**terms, **{v: -1.0 for v in over}}, hi=weight * total - now)
        m.row({**terms, **{v: 1.0 for v in under}}, lo=weight * total - now)
        if st.rebalance_to == "band_edge" and line.kind != "cash":
            toward_target(m, terms, now, weight * total, scale)


def toward_target(
    m: _Model, terms: dict[int, float], now: float, goal: float, scale: float
) -> None:
    """rebalance_to = band_edge: a line moves only toward its target, so nothing
    underweight is sold (to harvest a loss, say) and nothing is bought past its target.
    Priced above any drift (2 per money), not hard: a withdrawal larger than what is over
    target must still be raised.

    A line may move up to its target, not only to its band edge: the drift price brings
    it to the edge, and past the edge nothing prices it (inside the band is free), so
    only money that must go somewhere goes further, such as a deposit that would leave
    cash beyond its band. Stopped at the edge, a $283k deposit left cash at 7.3% against
    a 0% target with a 5% band (issue 44)."""
    lo, hi = (goal - now, 0.0) if now > goal else (0.0, goal - now)
    below, above = m.var(2.0 * scale), m.var(2.0 * scale)
    m.row({**terms, below: 1.0}, lo=lo)
    m.row({**terms, above: -1.0}, hi=hi)


def add_members(t: TradeModel, vars_of: dict[str, dict[int, float]]) -> None:
    """Asset-class lines, and symbol lines with a Substitute: the tie-break between the
    funds that share a line."""
    m, goals = t.m, t.member_goals
    value = t.household.values()
    for line in t.lines:
        if line.kind == "cash" or len(line.members) < 2 or not goals:
            continue
        for member in line.members:
            if member not in goals or member not in t.prices:
                continue
            over = m.var(MEMBER_WEIGHT)
            under = m.var(MEMBER_WEIGHT)
            terms, now = _terms(vars_of, {member}), value.get(member, 0.0)
            m.row({**terms, over: -1.0}, hi=goals[member] - now)
            m.row({**terms, under: 1.0}, lo=goals[member] - now)
