"""The trade program's entry: choose the path, build the program rule by rule (RULES),
search it, decode it (see engine/program/__init__.py for the rules and where each lives).

Variables, all in shares:
    y[u]  sold from each sell unit u (a tax lot; or a whole position without lots)
    n[p]  sold per position p = (account, symbol), the sum of its units; integer
    b[q]  bought per buyable position q = (account, symbol); integer
plus money-valued deviations of each target line above/below its goal, slacks on the
soft limits, and binaries for minimum trade sizes, fixed lot order and same-run
wash sales.

Objective (money), as docs/decisions.md states it:
    Σ lines  1 × money beyond the band edge + risk_aversion × money off target inside
             the band (0 inside with rebalance_to = band_edge), each line's price
             scaled by its volatility relative to the others when a risk model is at
             hand (a bound on the tracking error)                         tracking.py
    + cost_bps × money traded + ticket_cost × trades (exact path)  accounts, tickets
    + the tax the run adds to the year, netted as Schedule D nets it with the gains
      realized earlier in the year and the carryovers (a loss counts only when the
      lot passes the harvest thresholds, so small losses are not churned)  netting.py
    + MEMBER_WEIGHT × each fund's distance from its share of its class goal (tie-break)
    + LOCATION_WEIGHT × money bought outside its Location                 location.py
    + the harvest tax a buy forecloses, once per fund bought                  wash.py
    + SOFT_PENALTY × any soft limit broken.                                   caps.py

The adviser's rules (issue 44, docs/decisions.md): one fund per line bought in each
account (tickets.one_fund_per_line), a withdrawal's loss lots before its gain lots
(sales.losses_before_gains), no buy outside a fund's Location while its Location
account keeps the cash (location.location_before_cash), and with gain_tax_cap
(in_band_gains = avoid, see plan.py) no more gain than the plan that moves only what is
beyond the bands (caps.add_gain_cap).

Hard rules: no shorts (units bounded by their lots), no negative cash in any account
(each account pays for its own buys), whole shares, NoBuy/NoSell, wash sales (blocked
lots and buys are left out; a loss sold this run forbids buying the security, or one
substantially identical, in any account), minimum trade value. Limits: cash_min/cash_max,
max_turnover, max_realized_gain, and min/max weights. They are soft in the model (a
slack at a large price), so the solver always finds the trade list that breaks them
least; when it must break one, the setting `infeasible` decides: `stop` (the default)
raises InfeasibleError naming each broken limit and its cell, nothing written;
`relax` keeps that closest trade list and reports them as warnings.

Above EXACT_LIMIT integer variables the integrality is relaxed, and the solution is
rounded to whole shares and repaired so every hard rule still holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ...models.inputs import Portfolio
from ..drift import Household, TargetLine
from ..tax import year_to_date
from . import accounts, caps, netting, sales, search, tickets, tracking, wash
from .decode import Decision, decode
from .location import location_before_cash
from .model import SellUnit, TradeModel, WeightLimit

EXACT_LIMIT = 400  # integer variables solved exactly; above, LP relaxation + rounding


def solve_trades(
    portfolio: Portfolio,
    household: Household,
    lines: list[TargetLine],
    units: list[SellUnit],
    can_sell: Mapping[tuple[str, str], bool],
    can_buy: Mapping[tuple[str, str], bool],
    identical: Mapping[str, frozenset[str]],
    weight_limits: list[WeightLimit],
    member_goals: Mapping[str, float] | None = None,
    *,
    relax: bool | None = None,
    line_scale: Mapping[str, float] | None = None,
    location: Mapping[str, str] | None = None,
    ytd: tuple[float, float] | None = None,
    inner_price: float | None = None,
    gain_tax_cap: float | None = None,
    foreclosed: Mapping[str, float] | None = None,
    rules: Sequence[Rule] | None = None,
) -> Decision:
    """Choose sells per lot and buys per account: the program built (build), searched
    and decoded.

    Parameters
    ----------
    lines : target lines; goals are weight × total value (after the cash flow).
    can_sell, can_buy : per (account, symbol), after NoBuy/NoSell and wash-sale blocks.
    weight_limits : (label, members, min, max, (sheet, row)) where members are (account, symbol) pairs
        whose post-trade value is bounded; ("*", None) stands for an account's cash.
    member_goals : money goal per fund of an asset-class line (the class goal split by
        current weights), tracked with MEMBER_WEIGHT.
    relax : force the LP relaxation (True) or exact integers (False); default by size.
    line_scale : price of a money unit off target per line key (1 when absent); the
        rebalance sets it from the risk model, volatility over the median line's.
    location : preferred account type per symbol (asset location); buying it in
        another type of account costs LOCATION_WEIGHT per money unit.
    ytd : short- and long-term gains realized this year before the run (tax.year_to_date,
        read from the portfolio when not given).
    inner_price : price of a money unit off target inside the band, instead of what
        risk_aversion and rebalance_to say (0: the plan that moves only what is beyond
        the bands, which in_band_gains measures the gain it needs with).
    gain_tax_cap : most gain the lots the plan sells at a gain may realize (in_band_gains
        = avoid: what the plan moving only what is beyond the bands realizes). Losses
        are not counted: a harvest stays the objective's choice, and cannot let a gain
        through.
    foreclosed : per symbol, the tax a harvest of its (and its twins') loss lots would
        save; a buy of it in any account keeps those lots from being harvested for the
        wash-sale window, so the objective charges it once per fund bought.
    rules : the rules that build the program, in order (RULES when not given, read at
        the call, so a test may replace trades.RULES for a whole plan).
    """
    relaxed = relax if relax is not None else _estimate(portfolio, units, can_buy) > EXACT_LIMIT
    t = TradeModel(
        portfolio,
        household,
        lines,
        units,
        can_sell,
        can_buy,
        identical,
        weight_limits,
        member_goals,
        line_scale,
        location,
        ytd if ytd is not None else year_to_date(portfolio)[:2],
        inner_price,
        gain_tax_cap,
        foreclosed,
        relaxed,
    )
    if relaxed:
        # The large-household LP has no binaries for the rules below: each is settled
        # before the program is built. Same-run washes are never chosen, allowed or not:
        # selling a loss and buying the security back in the same run only defers the
        # loss it was sold for.
        wash.settle_wash_conflicts(t)
        tickets.one_fund_chosen(t)
    build(t, RULES if rules is None else rules)
    solution, message = _search(t)
    return decode(t, solution, message)


def _estimate(
    portfolio: Portfolio, units: list[SellUnit], can_buy: Mapping[tuple[str, str], bool]
) -> int:
    """The integer variables the exact program would have. Size decides the path before
    anything is built: the exact program keeps binaries for minimum trades, lot order
    and wash sales; the large-household LP leaves them out (relaxed they mean nothing)
    and enforces those rules when decoding."""
    st = portfolio.settings
    positions = {(u.account, u.symbol) for u in units}
    buyable = sum(1 for allowed in can_buy.values() if allowed)
    estimate = (len(positions) + buyable) * (
        2 if st.min_trade_value > 0 or st.ticket_cost > 0 else 1
    )
    if st.lot_method != "min_tax":
        estimate += len(units)
    return estimate


@dataclass(frozen=True)
class Rule:
    """One rule family's piece of the program: `add` puts its columns and rows into the
    shared model when `applies` says the run needs it. Asked in turn, not up front: a
    condition may read what an earlier rule added (the buys' ticket binaries)."""

    name: str
    add: Callable[[TradeModel], None]
    applies: Callable[[TradeModel], bool] = lambda t: True


def _lines(t: TradeModel) -> None:
    tracking.add_lines(t, tracking.fund_terms(t))


def _members(t: TradeModel) -> None:
    tracking.add_members(t, tracking.fund_terms(t))


# The program's rules, in the program's order: the columns' and rows' order is the
# one HiGHS searches, and its path (so a plan the node limit stops) depends on it. A rule
# reads the shared columns the rules before it named (model.TradeModel).
RULES: tuple[Rule, ...] = (
    Rule("sales", sales.add_sales),  # lots, positions, their tickets and relief order
    Rule(
        "losses_before_gains",
        sales.losses_before_gains,
        lambda t: t.exact and t.st.lot_method == "min_tax",
    ),
    Rule("buys", accounts.add_buys),  # each account's buys, their tickets and location cost
    Rule("one_fund_per_line", tickets.one_fund_per_line, lambda t: bool(t.buy_flag)),
    Rule(
        "foreclosed_harvests",
        wash.foreclosed_harvests,
        lambda t: bool(t.buy_flag) and bool(t.foreclosed),
    ),
    Rule("cash", accounts.add_cash),  # no account below zero
    Rule(
        "location_before_cash",
        location_before_cash,
        lambda t: bool(t.buy_flag) and bool(t.location),
    ),
    Rule("lines", _lines),  # the drift from each line's goal
    Rule("members", _members),  # the tie-break between a line's funds
    Rule("soft_limits", caps.add_soft_limits),
    Rule("netted_tax", netting.add_netted_tax, lambda t: t.netted),
    Rule("gain_cap", caps.add_gain_cap),
    Rule("same_run_washes", wash.add_same_run_washes, lambda t: t.exact),
)


def build(t: TradeModel, rules: Sequence[Rule] = RULES) -> None:
    """Every rule that applies adds its columns and rows, in the order given (RULES is
    the program's; a test leaves one out to see what it holds)."""
    for rule in rules:
        if rule.applies(t):
            rule.add(t)


def _search(t: TradeModel) -> tuple[np.ndarray | None, str]:
    """The program searched (search.py); a search the clock cut off stops the run."""
    solution, message = t.m.solve(t.relaxed, search.ABS_GAP * t.total)
    search.stop_at_time_limit(message)
    return solution, message
