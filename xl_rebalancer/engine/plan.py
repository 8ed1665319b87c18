"""From the household to the trade program's inputs and back: what each line and fund
should hold, what may be bought and sold, the weight limits, asset location and risk
prices; then the program's decision recorded as trade rows with their reasons, or the
simple fallback (sell what is over, buy what is under) when the solver fails.

Asset-class targets are spread over the class's funds in proportion to their current
value (equally when the class holds nothing yet); a symbol line's Substitute keeps what
it holds.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import Problem
from ..models.checks import symbol_classes
from ..models.inputs import Portfolio, TaxLot
from ..models.results import Trade
from .book import EPS, Book
from .drift import (
    Household,
    TargetLine,
    is_out_of_band,
    line_value,
)
from .lots import lot_term, tax_rate
from .program.decode import Decision, snap
from .program.sales import sell_units
from .program.tickets import capped_symbols
from .program.trades import solve_trades

RISK_SCALE_MIN, RISK_SCALE_MAX = 0.25, 4.0


def desired_values(
    portfolio: Portfolio,
    household: Household,
    lines: list[TargetLine],
) -> dict[str, float]:
    st = portfolio.settings
    total = household.total_value
    cash_line = next(line for line in lines if line.kind == "cash")
    cash_weight = min(max(cash_line.weight, st.cash_min), st.cash_max)
    invested = 1.0 - cash_line.weight
    scale = (1.0 - cash_weight) / invested if invested > EPS else 0.0
    values = household.values()
    desired: dict[str, float] = {}
    for line in lines:
        if line.kind == "cash":
            continue
        goal = line.weight * scale
        current = line_value(line, values, 0.0)
        if st.rebalance_to == "band_edge":
            weight = current / total if total else 0.0
            if is_out_of_band(weight - line.weight, line.band):
                goal = min(max(weight, goal - line.band), goal + line.band)
            else:
                goal = weight
        goal_value = goal * total
        members = [m for m in line.members if m in household.prices] or list(line.members)
        if not members:
            continue
        if line.kind == "symbol":
            # The fund itself, and its Substitute keeping what it holds (selling it only
            # to buy the fund back would realize its gain for nothing).
            kept = {m: min(values.get(m, 0.0), goal_value) for m in members[1:]}
            desired[members[0]] = goal_value - sum(kept.values())
            desired.update(kept)
        elif current > EPS:
            for m in members:
                desired[m] = goal_value * values.get(m, 0.0) / current
        else:
            for m in members:
                desired[m] = goal_value / len(members)
    return desired


def solve(
    portfolio: Portfolio,
    household: Household,
    lines: list[TargetLine],
    book: Book,
    scales: Mapping[str, float] | None = None,
    ytd: tuple[float, float] | None = None,
) -> Decision:
    st = portfolio.settings
    valuation = st.valuation_date
    assert valuation is not None
    blocked: dict[tuple[str, str], list[TaxLot]] = {}
    can_sell: dict[tuple[str, str], bool] = {}
    for (account, symbol), shares in household.shares.items():
        if shares > EPS:
            can_sell[(account, symbol)] = book.rules.can_sell(account, symbol, book._class(symbol))
            blocked[(account, symbol)] = book._blocked_lots(
                account, symbol, household.prices[symbol]
            )
    units = sell_units(portfolio, household, book.accounts, book.lots, blocked)
    gaps = line_gaps(lines, household)
    symbols = tradable(lines, household)
    can_buy: dict[tuple[str, str], bool] = {}
    washed: set[str] = set()
    for symbol in symbols:
        # Warn only where a buy was wanted (the line is under target).
        washes = book.buy_washes(symbol, warn=gaps.get(symbol, 0.0) < -EPS)
        if washes:
            washed.add(symbol)
        for account in book.order:
            can_buy[(account, symbol)] = not washes and book.rules.can_buy(
                account, symbol, book._class(symbol)
            )
    foreclosed = foreclosed_harvests(portfolio, household, book, symbols)
    _stand_ins_wait(portfolio, lines, household, washed | _harvest_waits(foreclosed), can_buy)
    _warn_cash_stays(lines, gaps, washed, can_buy, book)
    for key in _under_target_in_a_deposit_run(portfolio, household, lines, can_sell):
        can_sell[key] = False
    limits = weight_limits(portfolio, household, book.order, symbols)
    for key in _substitute_instead(lines, can_buy, foreclosed):
        can_buy[key] = False

    def run(**how: Any) -> Decision:
        return solve_trades(
            portfolio,
            household,
            lines,
            units,
            can_sell,
            can_buy,
            book.identical,
            limits,
            desired_values(portfolio, household, lines),
            line_scale=scales,
            location=locations(portfolio),
            ytd=ytd,
            foreclosed=foreclosed,
            **how,
        )

    gains_at_stake = (
        st.rebalance_to == "target"
        and st.risk_aversion > 0
        and any(u.gain_per_share > 0 and can_sell.get((u.account, u.symbol), True) for u in units)
    )
    if not gains_at_stake:
        return run()
    if st.in_band_gains == "allow":
        decision = run()
        # What the plan that moves only what is beyond the bands would have paid.
        decision.in_band_tax = max(0.0, decision.tax - run(inner_price=0.0).tax)
        return decision
    return _without_in_band_gains(run)


def _without_in_band_gains(run: Callable[..., Decision]) -> Decision:
    """in_band_gains = avoid: the plan realizes no more gain (the lots it sells at a
    gain) than the plan that moves only what is beyond the bands (tax-free moves in
    IRAs, losses and new money still move lines inside them).

    That plan (nothing priced inside the bands) is solved first; the plan is then solved
    with the full objective and that cap. Before this rule the default risk_aversion
    (0.1) paid up to 20 cents of tax per dollar moved inside the bands: a plan paid
    $6,781 where $3,828 kept every class in band, and a $2,897 short-term lot was sold
    for 0.31% of drift inside a 1.25% band (issue 44). Gains, not the netted tax: a
    harvest past the $3,000 limit lowers no tax, so a cap on the netted tax let a gain
    through that only used up the harvest's carryover (the checker's seed 4)."""
    edges = run(inner_price=0.0)
    return run(gain_tax_cap=edges.gain_tax)


def _substitute_instead(
    lines: list[TargetLine],
    can_buy: Mapping[tuple[str, str], bool],
    foreclosed: Mapping[str, float],
) -> list[tuple[str, str]]:
    """Buys that would keep a taxable loss from its harvest, where the account may buy
    another fund of the same line that forecloses nothing (the Targets row's Substitute,
    or another fund of the class): that fund is bought instead. Said outright rather
    than left to the objective's charge: on a 25-fund household the search stopped at
    its node limit with VNQ bought beside a priced SCHH (issue 44). Where no such fund
    may be bought, the charge weighs the harvest against the drift."""
    out = []
    for line in lines:
        if line.kind == "cash" or len(line.members) < 2:
            continue
        for account in sorted({a for a, s in can_buy if s in line.members}):
            open_ = [m for m in line.members if can_buy.get((account, m), False)]
            if any(foreclosed.get(m, 0.0) <= 0 for m in open_):
                out += [(account, m) for m in open_ if foreclosed.get(m, 0.0) > 0]
    return out


def _under_target_in_a_deposit_run(
    portfolio: Portfolio,
    household: Household,
    lines: list[TargetLine],
    can_sell: Mapping[tuple[str, str], bool],
) -> list[tuple[str, str]]:
    """In a run that adds money (cash flows in, none out), nothing under its target is
    sold: the deposit fills what is under target, and selling a fund of an underweight
    line only to buy elsewhere is a trade an adviser strikes (the review's plan sold
    VXUS in the IRA with International 7.9% under target; issue 44). An account that
    must raise cash all the same (below zero after the flows) keeps its sales."""
    flows = portfolio.flows()
    if sum(flows.values()) <= EPS or any(flow < 0 for flow in flows.values()):
        return []
    total = household.total_value
    values = household.values()
    under = {
        member
        for line in lines
        if line.kind != "cash"
        and sum(values.get(m, 0.0) for m in line.members) < line.weight * total - EPS
        for member in line.members
    }
    return [
        key
        for key, allowed in can_sell.items()
        if allowed and key[1] in under and household.cash.get(key[0], 0.0) >= -EPS
    ]


def foreclosed_harvests(
    portfolio: Portfolio, household: Household, book: Book, symbols: list[str]
) -> dict[str, float]:
    """Per fund, the tax a harvest of its loss lots (and its twins') would save: what a
    buy of it in any account forecloses for the wash-sale window. Lots that pass the
    harvest thresholds only, not locked, at their own term's rate."""
    st = portfolio.settings
    valuation = st.valuation_date
    assert valuation is not None
    cost_rate = st.cost_bps / 10_000.0
    saving: dict[str, float] = defaultdict(float)
    for (account, symbol), position in book.lots.items():
        if not book.accounts[account].taxable or symbol not in household.prices:
            continue
        price = household.prices[symbol] * (1 - cost_rate)
        for lot in position:
            loss = lot.cost_basis - lot.shares * price
            if (
                lot.lock == "lock"
                or lot.shares <= EPS
                or loss < max(st.tlh_min_loss, st.tlh_min_loss_pct * lot.cost_basis, EPS)
            ):
                continue
            rate = tax_rate(lot_term(lot, valuation), st.st_tax_rate, st.lt_tax_rate)
            saving[symbol] += loss * rate
    out: dict[str, float] = {}
    for symbol in symbols:
        twins = book.identical.get(symbol, frozenset()) | {symbol}
        value = sum(saving.get(twin, 0.0) for twin in twins)
        if value > 0:
            out[symbol] = value
    return out


def _harvest_waits(foreclosed: Mapping[str, float]) -> set[str]:
    """Funds a buy of which would wash a taxable loss waiting to be harvested: their
    model Substitute is as open to buy as for a fund a wash sale blocks (a class of one
    fund with a loss lot bought that fund again, keeping the loss from its harvest)."""
    return {symbol for symbol, value in foreclosed.items() if value > 0}


def _stand_ins_wait(
    portfolio: Portfolio,
    lines: list[TargetLine],
    household: Household,
    washed: set[str],
    can_buy: dict[tuple[str, str], bool],
) -> None:
    """A model Substitute in an asset-class line (drift.target_lines) is bought only
    while a wash sale blocks the fund it stands in for, or a buy of that fund would keep
    a taxable loss from its harvest (`washed` holds both): otherwise the class's own
    funds take the money (the tie-break between a class's funds would not tell them
    apart)."""
    subs = {sec.symbol: sec.substitute for sec in portfolio.securities if sec.substitute}
    if not subs:
        return
    held = set(household.symbols)
    buy = portfolio.buy_funds()
    for line in lines:
        if line.kind != "asset_class":
            continue
        # The line's own funds: held, or the model's Buy funds of a class held nowhere.
        own = [m for m in line.members if m in held or m in buy.get(line.key.upper(), ())]
        for member in line.members:
            if member in own:
                continue
            principals = [m for m in own if subs.get(m) == member]
            if not principals or washed.intersection(principals):
                continue
            for key in [k for k in can_buy if k[1] == member]:
                can_buy[key] = False


def _warn_cash_stays(
    lines: list[TargetLine],
    gaps: Mapping[str, float],
    washed: set[str],
    can_buy: Mapping[tuple[str, str], bool],
    book: Book,
) -> None:
    """Say so in the Log when a line under target can buy nothing because wash sales
    block every fund that may fill it: its money stays in cash."""
    for line in lines:
        members = [m for m in line.members if m in book.household.prices]
        if line.kind == "cash" or not members or gaps.get(members[0], 0.0) >= -EPS:
            continue
        if not washed.intersection(members):
            continue
        if any(can_buy.get((a, m), False) for m in members for a in book.order):
            continue
        if line.kind == "symbol" and len(members) > 1:
            why = f"a wash sale blocks {line.key} and its Substitute {members[1]}"
        elif line.kind == "symbol" and len(line.members) > 1:
            why = (
                f"a wash sale blocks {line.key} and its Substitute {line.members[1]} has no "
                "price (add it to the Prices sheet)"
            )
        elif line.kind == "symbol":
            why = f"a wash sale blocks {line.key} and its Targets row names no Substitute"
        else:
            why = f"wash sales block every fund of {line.key} the household holds"
        book.warnings.append(
            Problem(
                f"{why}: {-gaps[members[0]]:,.0f} under target stays in cash this run",
                level="warning",
            )
        )


def tradable(lines: list[TargetLine], household: Household) -> list[str]:
    """Every symbol a trade may touch: the targets' priced members and what is held (a
    Substitute nobody priced cannot be bought)."""
    members = {m for line in lines for m in line.members if m in household.prices}
    return sorted(members | set(household.symbols))


def line_gaps(lines: list[TargetLine], household: Household) -> dict[str, float]:
    """Pre-trade money over (+) or under (−) target of each symbol's line."""
    total = household.total_value
    values = household.values()
    gaps = {}
    for line in lines:
        if line.kind == "cash":
            continue
        over = sum(values.get(m, 0.0) for m in line.members) - line.weight * total
        for member in line.members:
            gaps[member] = over
    return gaps


def weight_limits(
    portfolio: Portfolio, household: Household, accounts: list[str], symbols: list[str]
) -> list:
    """Min/max weights of Targets and Constraints as (label, members, min, max, (sheet, row))."""
    classes = household.classes
    limits = []

    def members_of(scope: str, name: str) -> list[tuple[str, str | None]]:
        if scope == "symbol":
            return [(a, name.upper()) for a in accounts]
        if scope == "asset_class":
            return [
                (a, s)
                for a in accounts
                for s in symbols
                if classes.get(s, "").upper() == name.upper()
            ]
        return [(name, s) for s in symbols] + [(name, None)]

    for t in portfolio.targets:
        if t.key.upper() != "CASH" and (t.min_weight is not None or t.max_weight is not None):
            scope = "symbol" if t.symbol else "asset_class"
            limits.append(
                (
                    f"Targets row {t.row} ({t.key})",
                    members_of(scope, t.key),
                    t.min_weight,
                    t.max_weight,
                    ("Targets", t.row),
                )
            )
    for c in portfolio.constraints:
        if c.min_weight is not None or c.max_weight is not None:
            limits.append(
                (
                    f"Constraints row {c.row} ({c.scope} {c.name})",
                    members_of(c.scope, c.name),
                    c.min_weight,
                    c.max_weight,
                    ("Constraints", c.row),
                )
            )
    return limits


def apply_decision(decision: Decision, book: Book, lines: list[TargetLine]) -> None:
    """Record the solver's choice as trades; repair anything rounding could have broken."""
    st = book.st
    gaps = line_gaps(lines, book.household)
    names = {m: line.key for line in lines for m in line.members}
    # A symbol line's second member is the Targets row's Substitute.
    stand_ins = {m for line in lines if line.kind == "symbol" for m in line.members[1:]}
    book.warnings.extend(decision.warnings)
    book.in_band_tax = decision.in_band_tax
    book.warnings.append(Problem(f"trades chosen by HiGHS, {decision.status}", level="info"))
    harvested: dict[str, set[str]] = defaultdict(set)  # line -> its funds sold at a loss
    for (account, symbol), slices in sorted(decision.sells.items()):
        gap = gaps.get(symbol, 0.0)
        line_name = names.get(symbol, symbol)
        price = book.household.prices[symbol]
        small = sum(shares for _, shares in slices) * price < st.min_trade_value - EPS
        if small and book.household.cash[account] >= -EPS:
            continue  # only the LP path proposes these; the minimum trade rule wins
        if gap > EPS:
            reason = f"drift: {line_name} over target by {gap:,.0f}"
        elif book.household.cash[account] < -EPS:
            reason = "cash flow: raise cash for the withdrawal"
        elif any(lot is not None and lot.cost_basis > lot.shares * price for lot, _ in slices):
            reason = f"harvest: realize the loss; {line_name} keeps its exposure"
            harvested[line_name].add(symbol)
        else:
            reason = "rebalance: fund underweight positions"
        book.record_sale(account, symbol, slices, reason)
    sold_at_loss = {ls.symbol for ls in book.loss_sales if ls.source.startswith("this run")}
    washed = set(sold_at_loss)
    for sold in sold_at_loss:
        washed |= book.identical.get(sold, frozenset())
    flows = book.portfolio.flows()
    symbols = tradable(lines, book.household)
    capped = capped_symbols(weight_limits(book.portfolio, book.household, book.order, symbols))
    foreclosed = foreclosed_harvests(book.portfolio, book.household, book, symbols)
    line_members = {line.key: line.members for line in lines}
    bought_in: dict[tuple[str, str], list[str]] = defaultdict(list)  # (account, line) -> funds
    for (account, symbol), shares in sorted(
        decision.buys.items(), key=lambda kv: (kv[0][0], -kv[1])
    ):
        if symbol in washed:
            continue  # only an LP relaxation could propose this; the rule wins
        price = book.household.prices[symbol]
        affordable = book.household.cash[account] / (price * (1 + book.cost_rate))
        shares = min(shares, snap(max(affordable, 0.0), book.step, "down"))
        if shares <= EPS or shares * price < st.min_trade_value - EPS:
            continue
        gap = gaps.get(symbol, 0.0)
        line_name = names.get(symbol, symbol)
        if symbol in stand_ins and book.buy_washes(line_name, warn=False):
            reason = (
                f"wash sale: {line_name} may not be bought within {st.wash_sale_days} days "
                f"of its loss sale; its Substitute {symbol} keeps the exposure"
            )
            if gap < -EPS:
                reason += f" ({line_name} under target by {-gap:,.0f})"
        elif gap < -EPS:
            reason = f"drift: {line_name} under target by {-gap:,.0f}"
        elif harvested.get(line_name):
            # Only a fund of the same line (the asset class, or the fund's Substitute)
            # keeps a harvested line's exposure.
            sold = ", ".join(sorted(harvested[line_name]))
            reason = f"harvest: keeps {line_name}'s exposure after the loss sale of {sold}"
        elif flows.get(account, 0.0) > 0:
            reason = "cash flow: invest the deposit"
        else:
            reason = f"cash: invest the account's cash in {line_name}"
        kept_open = [
            m
            for m in line_members.get(line_name, ())
            if m != symbol and foreclosed.get(m, 0.0) > 0 and foreclosed.get(symbol, 0.0) <= 0
        ]
        if kept_open:
            reason += (
                f"; not {', '.join(kept_open)}: a buy would keep its taxable loss lots from "
                f"being harvested for {st.wash_sale_days} days"
            )
        others = bought_in[(account, line_name)]
        if others:
            full = sorted(capped.intersection([*others, symbol]))
            reason += f"; another fund of {line_name} in {account}" + (
                f" because of the MaxWeight on {', '.join(full)}" if full else ""
            )
        others.append(symbol)
        book.record_buy(account, symbol, shares, reason)


def greedy_trade(
    portfolio: Portfolio, household: Household, lines: list[TargetLine], book: Book
) -> list[Trade]:
    """The transparent fallback: sell what is over, raise cash, buy what is under."""
    st = portfolio.settings
    accounts = [book.accounts[a] for a in book.order]
    desired = desired_values(portfolio, household, lines)

    for symbol in sorted(desired, key=lambda s: desired[s] - household.value_of(s)):
        excess = household.value_of(symbol) - desired[symbol]
        if excess <= EPS:
            continue
        shares = book.round_shares(excess / household.prices[symbol])
        book.sell(symbol, shares, f"drift: {symbol} over target by {excess:,.0f}")

    for account in accounts:
        need = -household.cash[account.account]
        if need > EPS:
            book.raise_cash(account.account, need, desired)

    total = household.total_value
    reserve = st.cash_min * total
    for symbol in sorted(desired, key=lambda s: household.value_of(s) - desired[s]):
        shortfall = desired[symbol] - household.value_of(symbol)
        if shortfall <= EPS:
            continue
        shares = book.round_shares(shortfall / household.prices[symbol])
        book.buy(symbol, shares, reserve, f"drift: {symbol} under target by {shortfall:,.0f}")
    return book.trades


def risk_scales(
    lines: list[TargetLine], risk: tuple[list[str], Any], values: dict[str, float]
) -> dict[str, float]:
    """Price of a dollar off target per line: its volatility over the median line's.

    Why volatility: for weight gaps d, the tracking error √(dᵀΣd) is at most Σ|dᵢ|σᵢ
    (the triangle inequality on Σ^½d), so a volatility-weighted L1 objective minimizes
    a bound on the tracking error and stays a linear program. An asset-class line uses
    the volatility of its funds mixed by value (equally when it holds nothing). Lines
    without history, and cash, keep 1; the ratio is clipped to [¼, 4] so no line is
    left almost free to drift.
    """
    import numpy as np

    symbols, cov = risk
    index = {s: i for i, s in enumerate(symbols)}
    cov = np.asarray(cov, dtype=float)
    vols: dict[str, float] = {}
    for line in lines:
        members = [m for m in line.members if m in index]
        if line.kind == "cash" or not members or len(members) < len(line.members):
            continue
        mix = np.array([values.get(m, 0.0) for m in members])
        mix = mix / mix.sum() if mix.sum() > 0 else np.full(len(members), 1.0 / len(members))
        rows = [index[m] for m in members]
        vol = math.sqrt(max(float(mix @ cov[np.ix_(rows, rows)] @ mix), 0.0))
        if vol > 0:
            vols[line.key] = vol
    if not vols:
        return {}
    median = float(np.median(list(vols.values())))
    return {
        key: min(max(vol / median, RISK_SCALE_MIN), RISK_SCALE_MAX) for key, vol in vols.items()
    }


def locations(portfolio: Portfolio) -> dict[str, str]:
    """Preferred account type per symbol, from Targets' Location (asset-class rows
    pass theirs to every fund of the class)."""
    by_symbol = {t.symbol: t.location for t in portfolio.targets if t.symbol and t.location}
    by_class = {
        str(t.asset_class).upper(): t.location
        for t in portfolio.targets
        if t.asset_class and t.location
    }
    if not by_class:
        return by_symbol
    located = {
        symbol: by_class[cls.upper()]
        for symbol, cls in symbol_classes(portfolio).items()
        if cls.upper() in by_class
    }
    return located | by_symbol
