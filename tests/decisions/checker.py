"""An independent check of a rebalance plan against the rules users are told (issue 44).

Written from README.md, docs/decisions.md and docs/guide.md (wash sales), not from the
engine's code: it reads the household as the input models hold it and the plan as the
Trades rows and Summary show it, and recomputes weights, bands, wash windows and
minimum tickets itself. It imports nothing from the engine but `rebalance`, which the
regret checks call again on the household with lots locked (as a user would lock them
on TaxLots and run again). Where a rule says a better plan exists (every line inside
its band after a deposit), the check asks its own linear program, not the engine.

Each check returns findings, one string per breach, empty when the plan keeps the rule.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog

from xl_rebalancer.engine.rebalance import rebalance
from xl_rebalancer.errors import XlRebalancerError
from xl_rebalancer.models import Portfolio
from xl_rebalancer.models.inputs import TaxLot
from xl_rebalancer.models.results import RebalanceResult, Trade

from .households import Case

CASH = "CASH"
TOLERANCE = 0.001  # a line this far (share of value) outside its band is a breach


# -- the household as the sheets describe it -------------------------------------------


@dataclass
class View:
    """Lines, bands and wash windows of one household, from the rules in the docs."""

    case: Case
    line_of: dict[str, str] = field(default_factory=dict)
    target: dict[str, float] = field(default_factory=dict)
    band: dict[str, float] = field(default_factory=dict)
    group: dict[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        p = self.case.portfolio
        st = p.settings
        self.line_of = dict(self.case.classes)
        for t in p.targets:
            key = t.key.upper() if t.key.upper() == CASH else t.key
            self.target[key] = t.target_weight
            band_abs = st.band_abs if t.band_abs is None else t.band_abs
            band_rel = st.band_rel if t.band_rel is None else t.band_rel
            band = min(band_abs, band_rel * t.target_weight)
            if key == CASH and t.target_weight == 0:
                band = band_abs  # whole shares always leave some cash
            self.band[key] = band
        # Substantially identical: symmetric and transitive (docs/guide.md).
        parent: dict[str, str] = {}

        def find(s: str) -> str:
            parent.setdefault(s, s)
            while parent[s] != s:
                s = parent[s]
            return s

        pairs = [(row.symbol, other) for row in p.identical for other in row.identical_to]
        pairs += [
            (t.symbol, o) for t in p.targets if t.symbol and t.identical_to for o in t.identical_to
        ]
        for a, b in pairs:
            parent[find(a)] = find(b)
        members: dict[str, set[str]] = defaultdict(set)
        for s in set(self.case.prices) | set(parent):
            members[find(s)].add(s)
        for group in members.values():
            for s in group:
                self.group[s] = frozenset(group)

    @property
    def portfolio(self) -> Portfolio:
        return self.case.portfolio

    @property
    def valuation(self) -> dt.date:
        d = self.portfolio.settings.valuation_date
        assert d is not None
        return d

    def account_type(self, account: str) -> str:
        return next(a.type for a in self.portfolio.accounts if a.account == account)

    def shares_before(self) -> dict[tuple[str, str], float]:
        out: dict[tuple[str, str], float] = defaultdict(float)
        for h in self.portfolio.holdings:
            out[(h.account, h.symbol)] += h.shares
        return out

    def total_before(self) -> float:
        prices = self.case.prices
        return sum(s * prices[sym] for (_, sym), s in self.shares_before().items()) + sum(
            a.cash for a in self.portfolio.accounts
        )

    def total_at_run(self) -> float:
        """The value the run's weights are measured on: after the cash flows."""
        return self.total_before() + sum(self.case.flows.values())

    def line_values(self, shares: dict[tuple[str, str], float], cash: float) -> dict[str, float]:
        out = {key: 0.0 for key in self.target}
        for (_, sym), n in shares.items():
            line = self.line_of.get(sym, sym)
            out[line] = out.get(line, 0.0) + n * self.case.prices[sym]
        out[CASH] = out.get(CASH, 0.0) + cash
        return out

    def weights_before(self) -> dict[str, float]:
        """Each line's weight before trading, on the value after the cash flows (the
        money the run has to place)."""
        cash = sum(a.cash for a in self.portfolio.accounts) + sum(self.case.flows.values())
        total = self.total_at_run()
        return {k: v / total for k, v in self.line_values(self.shares_before(), cash).items()}

    def in_band_before(self, line: str) -> bool:
        w = self.weights_before().get(line, 0.0)
        return abs(w - self.target.get(line, 0.0)) <= self.band.get(line, 0.0) + 1e-9

    # wash-sale windows (docs/guide.md, section 5): every account counts.
    def window(self, day: dt.date) -> bool:
        return abs((self.valuation - day).days) <= self.portfolio.settings.wash_sale_days

    def purchases_on_record(self, symbol: str, *, but_lot: str | None = None) -> list[str]:
        group = self.group.get(symbol, frozenset({symbol}))
        out = [
            f"{t.account} bought {t.symbol} on {t.date}"
            for t in self.portfolio.transactions
            if t.action == "BUY" and t.symbol in group and self.window(t.date)
        ]
        out += [
            f"lot {lot.lot_id} ({lot.symbol}) acquired {lot.acquired}"
            for lot in self.portfolio.lots
            if lot.symbol in group and lot.lot_id != but_lot and self.window(lot.acquired)
        ]
        return out

    def loss_sales_on_record(self, symbol: str) -> list[str]:
        group = self.group.get(symbol, frozenset({symbol}))
        return [
            f"{t.account} sold {t.symbol} at a loss on {t.date}"
            for t in self.portfolio.transactions
            if t.action == "SELL"
            and t.symbol in group
            and self.window(t.date)
            and self.account_type(t.account) == "taxable"
            and (t.realized_gain is None or t.realized_gain < 0)
        ]

    def harvestable(self, lot: TaxLot) -> bool:
        """A taxable lot whose loss passes the harvest thresholds (tlh_min_loss and
        tlh_min_loss_pct of its basis)."""
        st = self.portfolio.settings
        if self.account_type(lot.account) != "taxable":
            return False
        loss = lot.cost_basis - lot.shares * self.case.prices[lot.symbol]
        return loss >= st.tlh_min_loss and loss >= st.tlh_min_loss_pct * lot.cost_basis

    def minimum_trade(self) -> float:
        st = self.portfolio.settings
        if st.min_trade_value is not None:
            return st.min_trade_value
        return float(min(max(100, round(self.total_at_run() * 0.001)), 2_500))


@dataclass
class After:
    """The household after the plan, computed from its Trades rows."""

    shares: dict[tuple[str, str], float]
    cash: dict[str, float]
    lines: dict[str, float]
    total: float


def after(view: View, plan: RebalanceResult) -> After:
    shares = dict(view.shares_before())
    cash = {
        a.account: a.cash + view.case.flows.get(a.account, 0.0) for a in view.portfolio.accounts
    }
    for t in plan.trades:
        sign = 1 if t.action == "BUY" else -1
        shares[(t.account, t.symbol)] = shares.get((t.account, t.symbol), 0.0) + sign * t.shares
        cash[t.account] -= sign * t.value + t.est_cost
    lines = view.line_values(shares, sum(cash.values()))
    return After(shares, cash, lines, sum(lines.values()))


def beyond_bands(view: View, state: After) -> float:
    """Money outside the bands after the plan (a dollar of it costs a dollar of drift)."""
    return sum(
        max(0.0, abs(v / state.total - view.target.get(k, 0.0)) - view.band.get(k, 0.0))
        * state.total
        for k, v in state.lines.items()
    )


def tickets(plan: RebalanceResult) -> int:
    return len({(t.account, t.symbol, t.action) for t in plan.trades})


def taxed(portfolio: Portfolio, plan: RebalanceResult) -> float:
    """The tax a plan costs as docs/decisions.md counts it: the run's netted tax, and the
    carried loss its gains use up at lt_tax_rate."""
    tax = float(plan.summary_value("estimated_tax") or 0.0)
    used = float(plan.summary_value("carried_loss_used") or 0.0)
    return tax + portfolio.settings.lt_tax_rate * used


def deposit_run(view: View) -> bool:
    flows = view.case.flows.values()
    return sum(flows) > 0 and all(f >= 0 for f in flows)


# -- the rules ------------------------------------------------------------------------


def out_of_band_after_deposit(view: View, plan: RebalanceResult) -> list[str]:
    """New money goes until every line, cash too, is inside its band (when some plan
    can do that: the check's own LP says so)."""
    if not deposit_run(view):
        return []
    return out_of_band(view, plan)


def out_of_band(view: View, plan: RebalanceResult) -> list[str]:
    state = after(view, plan)
    outside = {
        k: v / state.total - view.target.get(k, 0.0)
        for k, v in state.lines.items()
        if abs(v / state.total - view.target.get(k, 0.0)) > view.band.get(k, 0.0) + TOLERANCE
    }
    if not outside or not in_band_reachable(view):
        return []
    return [
        f"{k} ends {d:+.2%} off its target {view.target.get(k, 0.0):.2%} (band {view.band.get(k, 0.0):.2%})"
        for k, d in outside.items()
    ]


def in_band_reachable(view: View, margin: float = 0.6) -> bool:
    """Whether a plan puts every line inside `margin` × its band, by a linear program
    of the check's own: per account, sells of what may surely be sold (positions in
    IRAs and Roths, taxable lots at a gain) and buys of any fund the household names
    that no loss sale on record blocks, each account paying for its own buys, costs
    included; fractions of shares (the margin leaves room for whole ones)."""
    p = view.portfolio
    st = p.settings
    prices = view.case.prices
    cost = st.cost_bps / 10_000
    accounts = [a.account for a in p.accounts]
    columns: list[tuple[str, str, str, float]] = []  # (kind, account, symbol, cap money)
    if st.rebalance_mode != "buy_only":
        lots_by: dict[tuple[str, str], list[TaxLot]] = defaultdict(list)
        for lot in p.lots:
            lots_by[(lot.account, lot.symbol)].append(lot)
        for (account, sym), n in view.shares_before().items():
            if n <= 0:
                continue
            if view.account_type(account) != "taxable":
                columns.append(("sell", account, sym, n * prices[sym]))
                continue
            gain = sum(
                lot.shares * prices[sym]
                for lot in lots_by[(account, sym)]
                if lot.shares * prices[sym] >= lot.cost_basis
            )
            if gain > 0:
                columns.append(("sell", account, sym, gain))
    if st.rebalance_mode != "sell_only":
        funds = {h.symbol for h in p.holdings}
        for account in accounts:
            for sym in sorted(funds):
                if not view.loss_sales_on_record(sym):
                    columns.append(("buy", account, sym, np.inf))
    total = view.total_at_run()
    base = view.line_values(view.shares_before(), 0.0)
    keys = list(view.target)
    a_ub, b_ub = [], []
    for account in accounts:  # cash ≥ 0 in every account
        row = [
            (1 + cost)
            if kind == "buy" and acc == account
            else -(1 - cost)
            if acc == account
            else 0.0
            for kind, acc, _, _ in columns
        ]
        start = next(a.cash for a in p.accounts if a.account == account)
        a_ub.append(row)
        b_ub.append(start + view.case.flows.get(account, 0.0))
    cash0 = sum(a.cash for a in p.accounts) + sum(view.case.flows.values())
    for key in keys:
        lo = (view.target[key] - margin * view.band[key]) * total
        hi = (view.target[key] + margin * view.band[key]) * total
        if key == CASH:
            row = [-(1 + cost) if kind == "buy" else (1 - cost) for kind, _, _, _ in columns]
            v0 = cash0
        else:
            row = [
                (1.0 if kind == "buy" else -1.0) if view.line_of.get(sym, sym) == key else 0.0
                for kind, _, sym, _ in columns
            ]
            v0 = base.get(key, 0.0)
        a_ub.append(row)
        b_ub.append(hi - v0)
        a_ub.append([-x for x in row])
        b_ub.append(v0 - lo)
    if not columns:
        return False
    res = linprog(
        np.zeros(len(columns)),
        A_ub=np.array(a_ub),
        b_ub=np.array(b_ub),
        bounds=[(0, None if cap == np.inf else cap) for *_, cap in columns],
        method="highs",
    )
    return bool(res.status == 0)


def under_target_sold_in_deposit_run(view: View, plan: RebalanceResult) -> list[str]:
    """Nothing under its target is sold in a run that adds money (a swap inside the same
    line in the same account, such as a harvest, is not a sale of the line)."""
    if not deposit_run(view):
        return []
    weights = view.weights_before()
    moved: dict[tuple[str, str], float] = defaultdict(float)
    for t in plan.trades:
        line = view.line_of.get(t.symbol, t.symbol)
        moved[(t.account, line)] += t.value if t.action == "BUY" else -t.value
    out = []
    for (account, line), net in moved.items():
        if net < -1.0 and weights.get(line, 0.0) < view.target.get(line, 0.0) - 1e-9:
            out.append(
                f"{account} sells {-net:,.0f} of {line}, {weights[line]:.2%} against its "
                f"target {view.target[line]:.2%}, in a run that adds money"
            )
    return out


def several_funds_per_class(view: View, plan: RebalanceResult) -> list[str]:
    """One fund bought per asset class per account per run."""
    bought: dict[tuple[str, str], set[str]] = defaultdict(set)
    for t in plan.trades:
        if t.action == "BUY":
            bought[(t.account, view.line_of.get(t.symbol, t.symbol))].add(t.symbol)
    return [
        f"{account} buys {', '.join(sorted(s))} for {line}"
        for (account, line), s in bought.items()
        if len(s) > 1
    ]


def bought_and_sold_in_one_account(view: View, plan: RebalanceResult) -> list[str]:
    sides: dict[tuple[str, str], set[str]] = defaultdict(set)
    for t in plan.trades:
        sides[(t.account, t.symbol)].add(t.action)
    return [f"{a} both buys and sells {s}" for (a, s), x in sides.items() if len(x) == 2]


def mode_broken(view: View, plan: RebalanceResult) -> list[str]:
    mode = view.portfolio.settings.rebalance_mode
    banned = {"buy_only": "SELL", "sell_only": "BUY"}.get(mode)
    return [
        f"{mode} plan has {t.action} {t.shares:g} {t.symbol} in {t.account}"
        for t in plan.trades
        if t.action == banned
    ]


def ticket_below_minimum(view: View, plan: RebalanceResult) -> list[str]:
    """No ticket below min_trade_value (blank: 0.1% of the value after the cash flows,
    100..2,500); selling all of a smaller position is the one exception."""
    minimum = view.minimum_trade()
    money: dict[tuple[str, str, str], float] = defaultdict(float)
    count: dict[tuple[str, str, str], float] = defaultdict(float)
    for t in plan.trades:
        money[(t.account, t.symbol, t.action)] += t.value
        count[(t.account, t.symbol, t.action)] += t.shares
    held = view.shares_before()
    out = []
    for (account, sym, action), value in money.items():
        whole = (
            action == "SELL" and count[(account, sym, action)] >= held.get((account, sym), 0) - 1e-6
        )
        if value < minimum - 0.01 and not whole:
            out.append(
                f"{action} {sym} in {account}: {value:,.2f} below the minimum {minimum:,.0f}"
            )
    return out


def wash_sales(view: View, plan: RebalanceResult) -> list[str]:
    """No loss sold while a purchase of the same or a declared identical fund, in any
    account, is inside the window (on record or in this run), and nothing bought that a
    recent or same-run loss sale blocks."""
    if view.portfolio.settings.allow_wash_sales:
        return []
    out = []
    losses = [
        t
        for t in plan.trades
        if t.action == "SELL"
        and (t.realized_gain or 0.0) < -0.005
        and view.account_type(t.account) == "taxable"
    ]
    buys = [t for t in plan.trades if t.action == "BUY"]
    for sale in losses:
        group = view.group.get(sale.symbol, frozenset({sale.symbol}))
        same_run = [f"{b.account} buys {b.symbol} this run" for b in buys if b.symbol in group]
        on_record = view.purchases_on_record(sale.symbol, but_lot=sale.lot_id)
        if same_run or on_record:
            out.append(
                f"{sale.account} sells lot {sale.lot_id} of {sale.symbol} at a loss of "
                f"{-(sale.realized_gain or 0):,.2f} while {(same_run + on_record)[0]}"
            )
    for buy in buys:
        blocked = view.loss_sales_on_record(buy.symbol)
        if blocked:
            out.append(f"{buy.account} buys {buy.symbol} while {blocked[0]}")
    return out


def buy_keeps_loss_blocked(view: View, plan: RebalanceResult) -> list[str]:
    """A buy of a fund that holds a taxable loss worth harvesting washes that loss (or
    keeps it blocked another 30 days) in every account, IRAs included; when the line's
    Substitute (or, with asset-class targets, another fund of the class) is priced and
    free to buy, the Substitute is the buy."""
    p = view.portfolio
    sold = {t.lot_id for t in plan.trades if t.action == "SELL"}
    loss_lots: dict[str, list[TaxLot]] = defaultdict(list)
    for lot in p.lots:
        if view.harvestable(lot) and lot.lot_id not in sold:
            for s in view.group.get(lot.symbol, frozenset({lot.symbol})):
                loss_lots[s].append(lot)
    if not loss_lots:
        return []
    same_run_losses = {
        s
        for t in plan.trades
        if t.action == "SELL" and (t.realized_gain or 0.0) < 0
        for s in view.group.get(t.symbol, frozenset({t.symbol}))
    }
    funds_of: dict[str, set[str]] = defaultdict(set)
    for h in p.holdings:
        funds_of[view.line_of.get(h.symbol, h.symbol)].add(h.symbol)
    out = []
    for t in plan.trades:
        if t.action != "BUY" or t.symbol not in loss_lots:
            continue
        line = view.line_of.get(t.symbol, t.symbol)
        group = view.group.get(t.symbol, frozenset({t.symbol}))
        free = sorted(
            s
            for s in funds_of[line]
            if s not in group
            and s in view.case.prices
            and s not in loss_lots
            and s not in same_run_losses
            and not view.loss_sales_on_record(s)
        )
        if free:
            lot = loss_lots[t.symbol][0]
            loss = lot.cost_basis - lot.shares * view.case.prices[lot.symbol]
            out.append(
                f"{t.account} buys {t.symbol} while lot {lot.lot_id} ({lot.symbol}, a "
                f"{loss:,.0f} loss) waits to be harvested and {free[0]} is free to buy"
            )
    return out


# -- regret: the same household solved again with lots locked ---------------------------


def locked(portfolio: Portfolio, lot_ids: set[str]) -> Portfolio:
    return portfolio.model_copy(
        update={
            "lots": tuple(
                lot.model_copy(update={"lock": "lock"}) if lot.lot_id in lot_ids else lot
                for lot in portfolio.lots
            )
        }
    )


def _again(portfolio: Portfolio, prices: dict[str, float]) -> RebalanceResult | None:
    try:
        return rebalance(portfolio, prices)
    except XlRebalancerError:
        return None  # no plan without those lots: nothing cheaper to find


def lower_tax_at_same_drift(view: View, plan: RebalanceResult) -> list[str]:
    """Every gain lot the plan sells locked, solved again: no plan at the same or lower
    drift distance may pay less tax, beyond what its extra tickets and costs take."""
    gains = {
        t.lot_id
        for t in plan.trades
        if t.action == "SELL" and (t.realized_gain or 0) > 0 and t.lot_id
    }
    if not gains:
        return []
    p = view.portfolio
    other = _again(locked(p, gains), view.case.prices)
    if other is None:
        return []
    drift = float(plan.summary_value("drift_distance_after"))
    if float(other.summary_value("drift_distance_after")) > drift + 1e-6:
        return []
    saved = taxed(p, plan) - taxed(p, other)
    extra = _extra_costs(p, plan, other)
    if saved > extra + 1.0:
        return [f"tax {taxed(p, plan):,.2f} where {taxed(p, other):,.2f} reaches the same drift"]
    return []


def gains_for_in_band_moves(view: View, plan: RebalanceResult) -> list[str]:
    """No net taxable gain realized to move a line that is inside its band: the gain lots
    sold from lines inside their bands (before the run) locked, solved again; a plan with
    no more money outside the bands and less tax says the gains bought only precision."""
    gains = {
        t.lot_id
        for t in plan.trades
        if t.action == "SELL"
        and (t.realized_gain or 0) > 0
        and t.lot_id
        and view.in_band_before(view.line_of.get(t.symbol, t.symbol))
    }
    if not gains:
        return []
    p = view.portfolio
    other = _again(locked(p, gains), view.case.prices)
    if other is None:
        return []
    mine, theirs = beyond_bands(view, after(view, plan)), beyond_bands(view, after(view, other))
    if theirs > mine + TOLERANCE * view.total_at_run():
        return []
    saved = taxed(p, plan) - taxed(p, other)
    if saved > max(5.0, _extra_costs(p, plan, other)):
        return [
            f"tax {taxed(p, plan):,.2f} where {taxed(p, other):,.2f} keeps as little outside "
            f"the bands ({theirs:,.0f} against {mine:,.0f}): gain lots {sorted(gains)} sold "
            f"for lines inside their bands"
        ]
    return []


def _extra_costs(p: Portfolio, plan: RebalanceResult, other: RebalanceResult) -> float:
    ticket = p.settings.ticket_cost
    costs = float(other.summary_value("estimated_costs")) - float(
        plan.summary_value("estimated_costs")
    )
    return max(0.0, costs) + ticket * max(0, tickets(other) - tickets(plan))


CHECKS: dict[str, Callable[[View, RebalanceResult], list[str]]] = {
    "out_of_band_after_deposit": out_of_band_after_deposit,
    "under_target_sold_in_deposit_run": under_target_sold_in_deposit_run,
    "several_funds_per_class_per_account": several_funds_per_class,
    "gains_for_in_band_moves": gains_for_in_band_moves,
    "buy_keeps_loss_blocked": buy_keeps_loss_blocked,
    "lower_tax_at_same_drift": lower_tax_at_same_drift,
    "wash_sale": wash_sales,
    "ticket_below_minimum": ticket_below_minimum,
    "bought_and_sold_in_one_account": bought_and_sold_in_one_account,
    "mode_broken": mode_broken,
}


def check(case: Case, plan: RebalanceResult, only: list[str] | None = None) -> dict[str, list[str]]:
    view = View(case)
    return {name: fn(view, plan) for name, fn in CHECKS.items() if only is None or name in only}


def trades_of(plan: RebalanceResult) -> list[Trade]:
    return list(plan.trades)
