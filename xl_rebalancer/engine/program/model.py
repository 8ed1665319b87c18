"""The shared model: what every rule of the trade program adds its piece to.

_Model is the program as numbers: columns (cost, bounds, integrality, the money one
unit is worth) and rows, added by name so each rule stays readable, and handed to the
search (search.py) as HiGHS takes it. TradeModel is the trade program around it: the
household and the run's inputs the rules read, and the names of the columns they share
(a lot's sale, a position's, an account's buy, the ticket binaries, each account's
cash), filled in the order the rules run (trades.build). The order is the program's
column and row order, which HiGHS's search path (so a plan stopped by the node limit)
depends on.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ...models.inputs import Portfolio, Settings, TaxLot
from ..drift import Household, TargetLine
from . import search

EPS = 1e-9
CENT = 0.01

# (label, members, min, max, (sheet, row)) where members are (account, symbol) pairs whose
# post-trade value is bounded; ("*", None) stands for an account's cash (plan.weight_limits).
WeightLimit = tuple[
    str,
    list[tuple[str, str | None]],
    float | None,
    float | None,
    tuple[str, int | None],
]
# A soft limit's slack column, what it says when broken, and its (sheet, row, field).
SoftLimit = tuple[int, str, tuple[str, int | None, str]]
Key = tuple[str, str]  # (account, symbol)


class _Model:
    """Columns and rows of the program, built by name so each piece stays readable."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.scale: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.integer: list[int] = []
        self.rows: list[dict[int, float]] = []
        self.row_lo: list[float] = []
        self.row_hi: list[float] = []

    def var(
        self,
        cost: float = 0.0,
        lo: float = 0.0,
        hi: float = math.inf,
        integer: bool = False,
        always: bool = False,
        scale: float = 1.0,
    ) -> int:
        """`always` keeps a binary integer on the relaxed path too (the year's netting
        regime: one binary, so relaxing the rest still leaves a cheap search).

        `scale` is the money one unit of the column is worth (a share's price): solved
        continuous, the column is handed to HiGHS in money, so a $0.0001 share beside a
        $1,000,000 one does not put ten orders of magnitude into one row (see solve)."""
        self.scale.append(scale if scale > 0 and math.isfinite(scale) else 1.0)
        self.cost.append(cost)
        self.lower.append(lo)
        self.upper.append(hi)
        self.integer.append(2 if always else 1 if integer else 0)
        return len(self.cost) - 1

    def row(self, terms: Mapping[int, float], lo: float = -math.inf, hi: float = math.inf) -> None:
        self.rows.append(dict(terms))
        self.row_lo.append(lo)
        self.row_hi.append(hi)

    def solve(self, relax: bool, abs_gap: float = 0.0) -> tuple[np.ndarray | None, str]:
        """Solve with HiGHS through highspy, which (unlike scipy's milp) takes an absolute
        gap: the objective is money, and proving the last few dollars of a whole-share
        problem optimal costs seconds while changing nothing a portfolio manager sees."""
        import scipy.sparse as sparse

        n = len(self.cost)
        integral = not relax and any(self.integer)
        # Continuous share columns go to HiGHS in money (z = shares × price): its
        # tolerances are absolute, and a row mixing coefficients of 1e-4 and 1e6 loses the
        # small ones (they fall under its small-matrix-value cut). Integer columns must
        # stay in shares.
        unit = np.array(
            [
                1.0 if (integral and self.integer[j]) or self.integer[j] == 2 else 1.0 / s
                for j, s in enumerate(self.scale)
            ],
            dtype=float,
        )
        data, rows, cols = [], [], []
        for r, terms in enumerate(self.rows):
            for c, v in terms.items():
                if v:
                    rows.append(r)
                    cols.append(c)
                    data.append(v * unit[c])
        matrix = sparse.csc_array((data, (rows, cols)), shape=(len(self.rows), n))
        program = search.Program(
            cost=np.array(self.cost, dtype=float) * unit,
            lower=np.array(self.lower, dtype=float) / unit,
            upper=np.array(self.upper, dtype=float) / unit,
            row_lower=np.array(self.row_lo, dtype=float),
            row_upper=np.array(self.row_hi, dtype=float),
            start=matrix.indptr,
            index=matrix.indices,
            value=matrix.data,
            integer=[min(i, 1) for i in self.integer] if integral else [],
            # The binaries kept `always` (the year's netting regime) are not branched on
            # but enumerated, each assignment its own solve, and the cheapest wins. On the
            # relaxed path each is one warm-started LP. On the exact path the regime's
            # big-M gives the LP bound thousands of dollars of slack (the batch clients'
            # root bound was $3,000-4,000 below their best plans, $60-100 with the
            # regime fixed), so the search stopped at its node limit without proving
            # anything; fixed, each regime's search mostly proves its plan.
            fixed=[j for j, i in enumerate(self.integer) if i == 2],
            abs_gap=max(abs_gap, 1e-6),
            wide=[
                j
                for j, i in enumerate(self.integer)
                if integral and i == 1 and self.upper[j] >= search.WIDE_SHARES
            ],
        )
        x, message = search.run(program)
        return (None if x is None else x * unit), message


@dataclass(frozen=True)
class SellUnit:
    """A lot (or a position without lots) that may be sold: made once from the
    household (sales.sell_units), read by every rule that weighs a sale."""

    account: str
    symbol: str
    lot: TaxLot | None
    shares: float
    tax_per_share: float
    gain_per_share: float  # realized gain per share in a taxable account, else 0
    loss: bool  # selling it realizes a loss in a taxable account
    term: str | None = None  # ST or LT in a taxable account
    taxed_gain: float = 0.0  # gain per share the tax counts (small losses count 0)


@dataclass
class TradeModel:
    """The trade program being built: its inputs, the numbers (m), and the columns the
    rules share by name. solve_trades (trades.py) documents the inputs."""

    portfolio: Portfolio
    household: Household
    lines: list[TargetLine]
    units: list[SellUnit]
    can_sell: Mapping[Key, bool]
    can_buy: Mapping[Key, bool]
    identical: Mapping[str, frozenset[str]]
    weight_limits: list[WeightLimit]
    member_goals: Mapping[str, float] | None
    line_scale: Mapping[str, float] | None
    location: Mapping[str, str] | None
    ytd: tuple[float, float]
    inner_price: float | None
    gain_tax_cap: float | None
    foreclosed: Mapping[str, float] | None
    relaxed: bool
    m: _Model = field(default_factory=_Model)
    # Filled by the rules, in the order they run.
    unit_var: list[int] = field(default_factory=list)  # per sell unit (sales.py)
    by_position: dict[Key, list[int]] = field(default_factory=lambda: defaultdict(list))
    sell_var: dict[Key, int] = field(default_factory=dict)  # shares sold per position
    sell_flag: dict[Key, int] = field(default_factory=dict)  # its ticket (tickets.py)
    budget: dict[str, float] = field(default_factory=dict)  # most an account can spend
    buy_var: dict[Key, int] = field(default_factory=dict)  # shares bought (accounts.py)
    buy_flag: dict[Key, int] = field(default_factory=dict)  # its ticket (tickets.py)
    cash_terms: dict[str, dict[int, float]] = field(default_factory=dict)  # cash change
    total_cash_terms: dict[int, float] = field(default_factory=dict)
    soft_vars: list[SoftLimit] = field(default_factory=list)  # caps.py
    gain_tax_terms: dict[int, float] = field(default_factory=dict)  # caps.py

    def __post_init__(self) -> None:
        st = self.portfolio.settings
        self.st: Settings = st
        self.prices: Mapping[str, float] = self.household.prices
        self.cost_rate = st.cost_bps / 10_000.0
        self.total = self.household.total_value
        self.accounts = list(self.household.cash)
        self.line_of = {
            member: line.key
            for line in self.lines
            if line.kind != "cash"
            for member in line.members
        }
        self.types = {a.account: a.type for a in self.portfolio.accounts}
        self.exact = not self.relaxed
        # The year's tax is netted in the program itself when the short-term rate is the
        # higher one (as it is: ordinary rates); otherwise each lot's tax stands alone.
        self.netted = st.st_tax_rate > st.lt_tax_rate
        # A binary per possible trade carries the minimum trade size and the ticket cost
        # (a cent when there is no ticket cost, so the search prefers fewer trades).
        self.tickets = self.exact and (st.min_trade_value > 0 or st.ticket_cost > 0)
        self.ticket = max(st.ticket_cost, 0.01)
