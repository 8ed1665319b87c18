"""The trade problem as one mixed-integer program, solved by HiGHS (highspy).

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
             hand (a bound on the tracking error)
    + cost_bps × money traded + ticket_cost × trades (exact path)
    + the tax the run adds to the year, netted as Schedule D nets it with the gains
      realized earlier in the year and the carryovers (see _netted_tax; a loss counts
      only when the lot passes the harvest thresholds, so small losses are not churned)
    + MEMBER_WEIGHT × each fund's distance from its share of its class goal (tie-break)
    + LOCATION_WEIGHT × money bought outside its Location
    + the harvest tax a buy forecloses (foreclosed), once per fund bought
    + SOFT_PENALTY × any soft limit broken.

The adviser's rules (issue 44, docs/decisions.md): one fund per line bought in each
account (_one_fund_per_line), a withdrawal's loss lots before its gain lots
(_losses_before_gains), no buy outside a fund's Location while its Location account
keeps the cash (_location_before_cash), and with gain_tax_cap (in_band_gains = avoid,
see plan.py) no more gain than the plan that moves only what is beyond the bands.

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

import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..errors import InfeasibleError, Problem, SolverTimeLimit
from ..models.inputs import Account, Portfolio, Settings, TaxLot
from ..quiet import native_output, verbose
from .drift import Household, TargetLine
from .lots import basis_per_share, lot_term, order_lots, tax_rate
from .tax import carryover_rate, loss_limit, year_tax, year_to_date

EXACT_LIMIT = 400  # integer variables solved exactly; above, LP relaxation + rounding
SOFT_PENALTY = 1_000.0  # money of objective per money of a broken soft limit
# Weight of each fund's own distance from its share of an asset-class goal: a tie-break
# only. The mix of funds inside a class is cosmetic, so it may never outweigh a dollar
# of tax (it used to be 0.1, and the program sold a lot at a $2,706 gain to keep the mix
# when a fund at its basis in the same class would have done); it still decides which
# fund a class's new money goes to when nothing else does. Swapping funds inside a class
# costs trading costs and tickets, so funds are not churned for nothing.
MEMBER_WEIGHT = 0.001
# Asset location: a money unit bought in an account of another type than the asset's
# Location costs 5 bp in the objective. That decides where new money and proceeds go,
# but is less than a round trip at the default cost_bps (2 × 5 bp), so holdings are
# not swapped between accounts for location alone.
LOCATION_WEIGHT = 0.0005
# A safety net only, never what decides a plan: a search that reaches it raises
# SolverTimeLimit (nothing written), since a plan cut off by the clock would differ
# between a quiet machine and a busy one. The deterministic limits below end every
# search first: the 60-position household of benchmarks/large_household_bench.py, the
# largest exact program measured, takes 2-4 s with two other processes loading both
# cores (docs/performance.md).
TIME_LIMIT = 600.0
# Branch-and-bound nodes: deterministic, unlike a time limit. Whole shares leave a gap
# the LP bound never closes, so the search mostly proves, not improves: on 15 generated
# households 200 nodes found the same trade lists as 5,000, in a third of the time.
NODE_LIMIT = 200
# Threads HiGHS's search runs on, fixed: left to HiGHS it takes half the machine's
# cores, and the search path (so the trade list, once the node limit stops it) depends
# on that count. On 200 generated households, 1 thread and 4 threads each gave other
# plans than 2 in 49 and 22 households. Two is what every test and benchmark figure
# was made with.
THREADS = 2
MIP_GAP = 1e-4  # relative optimality gap
# Absolute optimality gap, as a share of the household's value: a trade list whose
# tracking, costs and tax (all money) are within 0.0025% of the value of the best
# provable one is accepted: $10 on a $400,000 household, two tickets. (0.01% let a
# plan with four needless tickets through, $25 off the proven optimum.)
ABS_GAP = 2.5e-5
EPS = 1e-9
CENT = 0.01
# Share columns (a position's sale, an account's buy) whose range reaches this many
# shares are searched in two steps. HiGHS's reduced-cost fixing keeps up to 1,024
# bounds per integer column in a sorted map it walks from the start on every insert,
# after every root cut round (HiGHS #2508): on the 60-position household of
# benchmarks/large_household_bench.py, with 95 such columns, that was 68% of a 19 s
# search. First those columns are continuous (every ticket binary and narrower count
# stays integer); that search's bound is a bound on the whole program. Then they are
# integers again, each held to the whole numbers around the first answer (floor to
# ceiling, widened by NEIGHBOURHOOD shares), and searched to a tenth of the gap
# (NEAR_GAP): a narrow search. Its plan is kept when it is within the gap of the first
# step's bound, the guarantee the single search gave; otherwise the whole program is
# searched as before. On that household: 3-4 s instead of 13-19 s, and a better plan
# (docs/performance.md).
WIDE_SHARES = 256
NEIGHBOURHOOD = 0
NEAR_GAP = 0.1


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


@dataclass(frozen=True)
class SellUnit:
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
        program = Program(
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
                if integral and i == 1 and self.upper[j] >= WIDE_SHARES
            ],
        )
        x, message = _runner(program)
        return (None if x is None else x * unit), message


@dataclass
class Program:
    """The program as HiGHS takes it (columns in HiGHS's units), plain arrays, so it can
    be solved in another process: a crash inside the native solver must not take the
    caller down (see xl_rebalancer/isolation.py)."""

    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    integer: list[int]
    fixed: list[int]
    abs_gap: float
    wide: list[int] = field(default_factory=list)  # integer columns searched in two steps


TIME_LIMIT_STATUS = "Time limit reached"


def solve_program(program: Program) -> tuple[np.ndarray | None, str]:
    """Run HiGHS on `program`: (column values, HiGHS's model status)."""
    import highspy

    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = len(program.cost)
    lp.num_row_ = len(program.row_lower)
    lp.col_cost_ = program.cost
    lp.col_lower_ = program.lower
    lp.col_upper_ = np.minimum(program.upper, inf)
    lp.row_lower_ = np.maximum(program.row_lower, -inf)
    lp.row_upper_ = np.minimum(program.row_upper, inf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = program.start
    lp.a_matrix_.index_ = program.index
    lp.a_matrix_.value_ = program.value
    if program.integer:
        kinds = (highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger)
        lp.integrality_ = [kinds[i] for i in program.integer]
    fixed = program.fixed
    # highspy 1.16 prints its banner from C while the object is made, before any option
    # can be set: the object is made, set up and run with fd 1 redirected (quiet.py).
    with native_output():
        highs = highspy.Highs()
        # A node limit, not a time limit, so the same workbook gives the same trades on
        # any machine; the time limit is only a safety net.
        for option, value in (
            ("output_flag", verbose()),
            ("time_limit", TIME_LIMIT),
            ("mip_max_nodes", NODE_LIMIT),
            ("threads", THREADS),
            ("mip_rel_gap", MIP_GAP),
            ("mip_abs_gap", program.abs_gap),
            ("random_seed", 0),
        ):
            if highs.setOptionValue(option, value) != highspy.HighsStatus.kOk:
                raise RuntimeError(f"HiGHS refused option {option}={value!r}")
        assignments = list(itertools.product((0.0, 1.0), repeat=len(fixed)))
        bounds = [-math.inf] * len(assignments)
        if program.integer and len(assignments) > 1:
            # Each assignment's LP relaxation bounds what its search can find: the
            # searches run cheapest bound first, and one whose bound cannot beat the
            # best plan by more than the gap is not run (the gap HiGHS itself stops at).
            lp.integrality_ = []
            highs.passModel(lp)
            for k, values in enumerate(assignments):
                for column, value in zip(fixed, values, strict=True):
                    highs.changeColBounds(column, value, value)
                highs.run()
                status = highs.getModelStatus()
                if status == highspy.HighsModelStatus.kOptimal:
                    bounds[k] = float(highs.getInfo().objective_function_value)
                elif status == highspy.HighsModelStatus.kInfeasible:
                    bounds[k] = math.inf
                # Any other end (a limit, a numerical failure) proves nothing: searched.
            lp.integrality_ = [kinds[i] for i in program.integer]
        highs.passModel(lp)
        best: tuple[np.ndarray | None, str, float] | None = None
        out_of_time = False
        for k in sorted(range(len(assignments)), key=bounds.__getitem__):
            if best is not None and bounds[k] >= best[2] - program.abs_gap:
                continue
            for column, value in zip(fixed, assignments[k], strict=True):
                highs.changeColBounds(column, value, value)
            found = _two_step(highs, program) if program.wide else None
            if found is None:
                highs.run()
                found = _outcome(highs)
            x, message, objective = found
            if message == TIME_LIMIT_STATUS:
                out_of_time = True
                break
            if x is None:
                best = best or (None, message, math.inf)
                continue
            if best is None or objective < best[2]:
                best = found
    if out_of_time:
        return None, TIME_LIMIT_STATUS
    assert best is not None
    return best[0], best[1]


def _outcome(highs: object) -> tuple[np.ndarray | None, str, float]:
    """(column values or None, HiGHS's model status, objective) of the last run."""
    import highspy

    h: highspy.Highs = highs  # type: ignore[assignment]
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kTimeLimit:
        return None, TIME_LIMIT_STATUS, math.inf
    message = h.modelStatusToString(status)
    info = h.getInfo()
    if info.primal_solution_status != highspy.SolutionStatus.kSolutionStatusFeasible:
        return None, message, math.inf
    x = np.asarray(h.getSolution().col_value, dtype=float)
    return x, message, float(info.objective_function_value)


def _two_step(highs: object, program: Program) -> tuple[np.ndarray | None, str, float] | None:
    """The search in two steps (see WIDE_SHARES): the wide share columns continuous,
    then integer within NEIGHBOURHOOD shares of that answer. The plan, when it is within
    the gap of the first step's bound (a bound on the whole program); None when the
    whole program must be searched instead. Leaves the model as it found it."""
    import highspy

    h: highspy.Highs = highs  # type: ignore[assignment]
    wide = np.asarray(program.wide, dtype=np.int32)
    count = len(wide)
    lower, upper = program.lower[wide], program.upper[wide]
    h.changeColsIntegrality(count, wide, np.zeros(count, dtype=np.uint8))
    h.run()
    first = _outcome(h)
    h.changeColsIntegrality(count, wide, np.ones(count, dtype=np.uint8))
    x, message, objective = first
    if message == TIME_LIMIT_STATUS:
        return first
    if x is None:
        return None
    # With integer columns left it was a search: its dual bound; else an LP, exact.
    searched = sum(1 for i in program.integer if i) > count
    bound = float(h.getInfo().mip_dual_bound) if searched else objective
    if not math.isfinite(bound):
        return None
    near = x[wide]
    h.changeColsBounds(
        count,
        wide,
        np.maximum(lower, np.floor(near + 1e-9) - NEIGHBOURHOOD),
        np.minimum(upper, np.ceil(near - 1e-9) + NEIGHBOURHOOD),
    )
    h.setOptionValue("mip_abs_gap", program.abs_gap * NEAR_GAP)
    h.run()
    second = _outcome(h)
    h.setOptionValue("mip_abs_gap", program.abs_gap)
    h.changeColsBounds(count, wide, lower, upper)
    x, message, objective = second
    if message == TIME_LIMIT_STATUS:
        return second
    gap = max(program.abs_gap, MIP_GAP * abs(objective))
    if x is None or objective - bound > gap:
        return None
    return second


# How programs are solved: here, or in a worker process when a door asks for isolation.
_runner: Callable[[Program], tuple[np.ndarray | None, str]] = solve_program


def set_runner(
    runner: Callable[[Program], tuple[np.ndarray | None, str]] | None,
) -> Callable[[Program], tuple[np.ndarray | None, str]]:
    """Install `runner` (None: solve in this process); returns the one it replaces."""
    global _runner
    previous = _runner
    _runner = runner or solve_program
    return previous


def sell_units(
    portfolio: Portfolio,
    household: Household,
    accounts: Mapping[str, Account],
    lots: Mapping[tuple[str, str], list[TaxLot]],
    blocked: Mapping[tuple[str, str], list[TaxLot]],
) -> list[SellUnit]:
    """Every lot (or lot-less position) that may be sold, with its tax per share."""
    st = portfolio.settings
    valuation = st.valuation_date
    assert valuation is not None
    cost_rate = st.cost_bps / 10_000.0
    units = []
    for (account, symbol), held in sorted(household.shares.items()):
        if held <= EPS:
            continue
        price = household.prices[symbol]
        acct = accounts[account]
        position_lots = lots.get((account, symbol), [])
        skip = {id(lot) for lot in blocked.get((account, symbol), [])}
        if not acct.taxable or not position_lots:
            # No tax to weigh, but a locked lot still stays: only the rest may be sold.
            free = held - sum(lot.shares for lot in blocked.get((account, symbol), []))
            if free > EPS:
                units.append(SellUnit(account, symbol, None, free, 0.0, 0.0, False))
            continue
        ordered = order_lots(
            position_lots,
            st.lot_method,
            price=price,
            sale_date=valuation,
            st_rate=st.st_tax_rate,
            lt_rate=st.lt_tax_rate,
        )
        for lot in ordered:
            if id(lot) in skip or lot.shares <= EPS:
                continue
            # The selling cost reduces the amount realized, as on the Trades sheet.
            gain = price * (1 - cost_rate) - basis_per_share(lot)
            term = lot_term(lot, valuation)
            rate = tax_rate(term, st.st_tax_rate, st.lt_tax_rate)
            harvestable = (
                -gain * lot.shares >= st.tlh_min_loss
                and -gain * lot.shares >= st.tlh_min_loss_pct * lot.cost_basis
            )
            taxed = gain if gain > 0 or harvestable else 0.0
            units.append(
                SellUnit(
                    account, symbol, lot, lot.shares, taxed * rate, gain, gain < 0, term, taxed
                )
            )
    return units


def _netted_tax(
    m: _Model,
    portfolio: Portfolio,
    units: list[SellUnit],
    unit_var: list[int],
    ytd: tuple[float, float],
) -> None:
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
    st = portfolio.settings
    ytd_st, ytd_lt = ytd
    s0 = ytd_st - st.st_loss_carryover
    l0 = ytd_lt - st.lt_loss_carryover
    rs, rl = st.st_tax_rate, st.lt_tax_rate
    st_terms = {unit_var[i]: u.taxed_gain for i, u in enumerate(units) if u.term == "ST"}
    lt_terms = {unit_var[i]: u.taxed_gain for i, u in enumerate(units) if u.term == "LT"}
    all_terms = {**st_terms, **lt_terms}
    big = abs(s0) + abs(l0) + sum(abs(u.taxed_gain) * u.shares for u in units) + 1.0
    limit = loss_limit(st.filing_status)
    rc = carryover_rate(st)
    t = m.var(1.0, -math.inf, math.inf)
    m.row({**{v: -rs * c for v, c in all_terms.items()}, t: 1.0}, lo=rs * (s0 + l0))
    m.row(
        {**{v: -rc * c for v, c in all_terms.items()}, t: 1.0},
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


def _toward_target(
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


def capped_symbols(weight_limits: list) -> frozenset[str]:
    """Funds under a MaxWeight of their own (a limit whose members are one symbol): such a
    fund may be full, so a second fund of its line in the same account may be needed."""
    capped = set()
    for _, members, _, hi, _ in weight_limits:
        symbols = {symbol for _, symbol in members}
        if hi is not None and len(symbols) == 1 and None not in symbols:
            capped |= symbols
    return frozenset(capped)  # type: ignore[arg-type]


def _one_fund_per_line(
    m: _Model,
    buy_flag: Mapping[tuple[str, str], int],
    line_of: Mapping[str, str],
    capped: frozenset[str],
) -> None:
    """One fund per asset class (or per symbol line and its Substitute) bought in each
    account per run. The funds of a line are interchangeable for the targets, so a
    second one only adds a ticket and a statement line; the review found IVV, SPY and
    VOO bought in one account (issue 44). A fund that may not be bought (NoBuy, a wash
    block) has no buy at all, so the others stay open; each fund of the line under a
    MaxWeight of its own allows one more, as it may be full."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    extra: dict[tuple[str, str], int] = defaultdict(int)
    for (account, symbol), flag in buy_flag.items():
        line = line_of.get(symbol)
        if line is None:
            continue
        groups[(account, line)].append(flag)
        extra[(account, line)] += int(symbol in capped)
    for group, flags in groups.items():
        if len(flags) > 1 + extra[group]:
            m.row(dict.fromkeys(flags, 1.0), hi=1.0 + extra[group])


def _one_fund_chosen(
    can_buy: Mapping[tuple[str, str], bool],
    household: Household,
    line_of: Mapping[str, str],
    member_goals: Mapping[str, float],
    foreclosed: Mapping[str, float],
    weight_limits: list,
) -> dict[tuple[str, str], bool]:
    """The relaxed path (large households) has no ticket binaries to count funds with, so
    the one fund per line and account is chosen before solving: one whose buy
    forecloses no harvest when there is one, then the fund the account holds most of,
    then the one furthest below its share of the class. A fund under its own MaxWeight
    keeps the next one open too."""
    capped = capped_symbols(weight_limits)
    value = household.values()
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for (account, symbol), allowed in can_buy.items():
        if allowed and symbol in line_of:
            groups[(account, line_of[symbol])].append(symbol)
    chosen = dict(can_buy)
    for (account, _), funds in groups.items():
        ranked = sorted(
            funds,
            key=lambda s: (
                foreclosed.get(s, 0.0) > CENT,
                -household.shares.get((account, s), 0.0) * household.prices.get(s, 0.0),
                -(member_goals.get(s, 0.0) - value.get(s, 0.0)),
                s,
            ),
        )
        keep = 1
        while keep < len(ranked) and ranked[keep - 1] in capped:
            keep += 1
        for symbol in ranked[keep:]:
            chosen[(account, symbol)] = False
    return chosen


def _foreclosed_harvests(
    m: _Model,
    buy_flag: Mapping[tuple[str, str], int],
    foreclosed: Mapping[str, float],
    identical: Mapping[str, frozenset[str]],
) -> None:
    """A buy of a fund whose taxable loss lots (or its twins') are not sold in this run
    keeps them from being harvested for the wash-sale window, in whatever account it is
    bought (an IRA's purchase washes a taxable loss, Rev. Rul. 2008-5): the harvest it
    forecloses is charged once per security bought. A buy in the same run as the loss
    sale is forbidden outright (the wash binaries), so the charge never meets a harvest
    the plan makes. The line's Substitute, or another fund of its class, carries no
    charge and is bought instead when it can be (the review's plan bought BND in the
    Roth, pushing a $7,400 loss past the year's end while AGG was priced; issue 44)."""
    groups: dict[frozenset[str], list[int]] = defaultdict(list)
    for (_, symbol), flag in buy_flag.items():
        twins = identical.get(symbol, frozenset()) | {symbol}
        if foreclosed.get(symbol, 0.0) > CENT:
            groups[frozenset(twins)].append(flag)
    for twins, flags in sorted(groups.items(), key=lambda kv: sorted(kv[0])):
        value = max(foreclosed.get(s, 0.0) for s in twins)
        bought = m.var(value, 0.0, 1.0, integer=True)
        for flag in flags:
            m.row({bought: 1.0, flag: -1.0}, lo=0.0)


def _location_before_cash(
    m: _Model,
    household: Household,
    buy_flag: Mapping[tuple[str, str], int],
    buy_var: Mapping[tuple[str, str], int],
    cash_terms: Mapping[str, Mapping[int, float]],
    budget: Mapping[str, float],
    location: Mapping[str, str],
    types: Mapping[str, str],
    line_of: Mapping[str, str],
) -> None:
    """Asset location with the cash at hand: a fund is not bought in an account outside
    its Location while an account of its Location that may buy it (or another fund of
    its line) ends the run holding at least as much cash as that buy (it could have
    bought it there). Priced at a
    dollar per dollar of such cash, not hard, so no household is made infeasible by it;
    the review found $21.9k of TIPS bought in a taxable account while the 401k, TIPS's
    Location, kept $54k of cash (issue 44)."""
    prices = household.prices
    for (account, symbol), flag in buy_flag.items():
        wanted = location.get(symbol)
        if not wanted or wanted == types.get(account):
            continue
        line = line_of.get(symbol, symbol)
        for home in cash_terms:
            if types.get(home) != wanted or not any(
                a == home and line_of.get(s, s) == line for a, s in buy_var
            ):
                continue
            big = max(budget.get(home, 0.0), 0.0) + 1.0  # the most cash it can end with
            slack = m.var(1.0)
            # end cash of home − value bought here − slack ≤ big × (1 − flag)
            terms = dict(cash_terms[home])
            terms[buy_var[(account, symbol)]] = (
                terms.get(buy_var[(account, symbol)], 0.0) - (prices[symbol])
            )
            terms[slack] = -1.0
            terms[flag] = big
            m.row(terms, hi=big - household.cash[home])


def _losses_before_gains(
    m: _Model,
    portfolio: Portfolio,
    household: Household,
    units: list[SellUnit],
    unit_var: list[int],
    line_of: Mapping[str, str],
) -> None:
    """A taxable account raising a withdrawal sells its loss lots of a line before any of
    the line's gain lots: once a gain lot is sold, every loss lot of the same line in
    that account that may be sold is sold in full. The objective alone prefers the loss
    lot, but a ticket saved or a fund's mix could tip it (the review found a gain lot
    sold while a loss lot of the same line stayed; issue 44). Lots a wash block or a
    Lock keeps are not sell units, so they never force anything."""
    flows = portfolio.flows()
    raising = {a for a, cash in household.cash.items() if cash < -EPS or flows.get(a, 0.0) < 0}
    groups: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
    for i, unit in enumerate(units):
        if unit.account not in raising or unit.term is None or unit.lot is None:
            continue
        line = line_of.get(unit.symbol)
        if line is None:
            continue
        losses, gains = groups.setdefault((unit.account, line), ([], []))
        if unit.gain_per_share < 0:
            losses.append(i)
        elif unit.gain_per_share > 0:
            gains.append(i)
    for _, (all_losses, gains) in sorted(groups.items()):
        losses = [i for i in all_losses if m.upper[unit_var[i]] > 0]
        if not losses or not gains:
            continue
        sold = m.var(0.0, 0.0, 1.0, integer=True)
        m.row(
            {**{unit_var[i]: 1.0 for i in gains}, sold: -sum(units[i].shares for i in gains)},
            hi=0.0,
        )
        for i in losses:
            m.row({unit_var[i]: 1.0, sold: -units[i].shares}, lo=0.0)


def solve_trades(
    portfolio: Portfolio,
    household: Household,
    lines: list[TargetLine],
    units: list[SellUnit],
    can_sell: Mapping[tuple[str, str], bool],
    can_buy: Mapping[tuple[str, str], bool],
    identical: Mapping[str, frozenset[str]],
    weight_limits: list[
        tuple[
            str,
            list[tuple[str, str | None]],
            float | None,
            float | None,
            tuple[str, int | None],
        ]
    ],
    member_goals: Mapping[str, float] | None = None,
    *,
    relax: bool | None = None,
    line_scale: Mapping[str, float] | None = None,
    location: Mapping[str, str] | None = None,
    ytd: tuple[float, float] | None = None,
    inner_price: float | None = None,
    gain_tax_cap: float | None = None,
    foreclosed: Mapping[str, float] | None = None,
) -> Decision:
    """Choose sells per lot and buys per account; see the module docstring for the model.

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
    """
    st = portfolio.settings
    prices = household.prices
    cost_rate = st.cost_bps / 10_000.0
    total = household.total_value
    m = _Model()
    decision = Decision()
    accounts = list(household.cash)
    line_of = {member: line.key for line in lines if line.kind != "cash" for member in line.members}
    types = {a.account: a.type for a in portfolio.accounts}

    # Size decides the path before anything is built: the exact program keeps binaries
    # for minimum trades, lot order and wash sales; the large-household LP leaves them
    # out (relaxed they mean nothing) and enforces those rules when decoding.
    positions = {(u.account, u.symbol) for u in units}
    buyable = sum(1 for allowed in can_buy.values() if allowed)
    estimate = (len(positions) + buyable) * (
        2 if st.min_trade_value > 0 or st.ticket_cost > 0 else 1
    )
    if st.lot_method != "min_tax":
        estimate += len(units)
    relaxed = relax if relax is not None else estimate > EXACT_LIMIT
    exact = not relaxed
    # Same-run washes are never chosen, allowed or not: selling a loss and buying the
    # security back in the same run only defers the loss it was sold for.
    if relaxed:
        can_buy, units = _settle_wash_conflicts(lines, household, units, can_buy, identical)
        can_buy = _one_fund_chosen(
            can_buy, household, line_of, member_goals or {}, foreclosed or {}, weight_limits
        )

    # The year's tax is netted in the program itself when the short-term rate is the
    # higher one (as it is: ordinary rates); otherwise each lot's tax stands alone.
    netted = st.st_tax_rate > st.lt_tax_rate

    # A binary per possible trade carries the minimum trade size and the ticket cost
    # (a cent when there is no ticket cost, so the search prefers fewer trades).
    tickets = exact and (st.min_trade_value > 0 or st.ticket_cost > 0)
    ticket = max(st.ticket_cost, 0.01)

    # sells -------------------------------------------------------------------
    unit_var: list[int] = []
    by_position: dict[tuple[str, str], list[int]] = defaultdict(list)
    must_sell: dict[tuple[str, str], float] = defaultdict(float)
    for index, unit in enumerate(units):
        allowed = can_sell.get((unit.account, unit.symbol), True)
        forced = unit.lot is not None and unit.lot.lock == "sell"
        if forced:
            must_sell[(unit.account, unit.symbol)] += unit.shares
        unit_var.append(
            m.var(
                0.0 if netted and unit.term else unit.tax_per_share,
                unit.shares if forced else 0.0,
                unit.shares if allowed or forced else 0.0,
                scale=prices[unit.symbol],
            )
        )
        by_position[(unit.account, unit.symbol)].append(index)
    sell_var: dict[tuple[str, str], int] = {}
    sell_flag: dict[tuple[str, str], int] = {}
    for key, members in by_position.items():
        price = prices[key[1]]
        held = sum(units[i].shares for i in members)
        allowed = can_sell.get(key, True)
        forced = must_sell.get(key, 0.0)
        whole = st.whole_shares and abs(forced - round(forced)) < 1e-9
        cap = (math.floor(held + EPS) if whole else held) if allowed or forced else 0.0
        # A lot marked `sell` with a fraction of a share may close the position fractionally.
        sell_var[key] = m.var(
            cost_rate * price, forced, max(cap, forced), integer=whole, scale=price
        )
        m.row({**{unit_var[i]: 1.0 for i in members}, sell_var[key]: -1.0}, 0.0, 0.0)
        if tickets and cap > 0:
            flag = sell_flag[key] = m.var(ticket, 0.0, 1.0, integer=True)
            m.row({sell_var[key]: 1.0, flag: -cap}, hi=0.0)
            if len(members) > 1:
                # The flag bounds each lot too, not only the position: the same trades
                # are allowed, but the LP can no longer sell a whole loss lot for a
                # tenth of a ticket because the position is ten times its size. With
                # the regime enumerated (Program.fixed): the 200 trade-quality
                # households' plans $917 better in sum, tax regret $73 → $2
                # (docs/performance.md).
                for i in members:
                    m.row({unit_var[i]: 1.0, flag: -units[i].shares}, hi=0.0)
            if st.min_trade_value > 0:
                m.row({sell_var[key]: price, flag: -min(st.min_trade_value, cap * price)}, lo=0.0)
        if exact and st.lot_method != "min_tax" and len(members) > 1:
            # Fixed relief order: a unit is touched only once the one before it is used up.
            for first, second in itertools.pairwise(members):
                done = m.var(0.0, 0.0, 1.0, integer=True)
                m.row({unit_var[first]: 1.0, done: -units[first].shares}, lo=0.0)
                m.row({unit_var[second]: 1.0, done: -units[second].shares}, hi=0.0)

    if exact and st.lot_method == "min_tax":
        _losses_before_gains(m, portfolio, household, units, unit_var, line_of)

    # buys --------------------------------------------------------------------
    # What each account could spend at most: its cash and everything it may sell. Tight
    # bounds here make the minimum-trade binaries' big-M tight too.
    budget = dict(household.cash)
    for unit in units:
        budget[unit.account] = budget.get(unit.account, 0.0) + unit.shares * prices[unit.symbol]
    buy_var: dict[tuple[str, str], int] = {}
    symbols = sorted({s for line in lines for s in line.members} | set(household.symbols))
    value = household.values()
    buy_flag: dict[tuple[str, str], int] = {}
    for rank, account in enumerate(accounts):
        for symbol in symbols:
            key = (account, symbol)
            if symbol not in prices or not can_buy.get(key, False):
                continue
            price = prices[symbol]
            cap = max(budget.get(account, 0.0), 0.0) / price
            cap = math.floor(cap + EPS) if st.whole_shares else cap
            if cap <= EPS:
                continue
            # A hair of cost per share, by account order and for funds not yet held, breaks
            # ties between otherwise interchangeable buys, so the search ends sooner and
            # the choice is the same every time.
            tie = 1e-6 * price * (rank + (1.0 if value.get(symbol, 0.0) <= 0 else 0.0))
            wanted = location.get(symbol) if location else None
            misplaced = LOCATION_WEIGHT * price if wanted and wanted != types[account] else 0.0
            buy_var[key] = m.var(
                cost_rate * price + tie + misplaced, 0.0, cap, integer=st.whole_shares, scale=price
            )
            if tickets and cap > 0:
                flag = buy_flag[key] = m.var(ticket, 0.0, 1.0, integer=True)
                m.row({buy_var[key]: 1.0, flag: -cap}, hi=0.0)
                if key in sell_flag:
                    # Never sell and buy the same fund in the same account in one run:
                    # at a loss it is a wash sale, at a gain tax for nothing. Said
                    # outright, it also spares the search such lists.
                    m.row({flag: 1.0, sell_flag[key]: 1.0}, hi=1.0)
                if st.min_trade_value > 0:
                    m.row(
                        {buy_var[key]: price, flag: -min(st.min_trade_value, cap * price)}, lo=0.0
                    )

    if buy_flag:
        _one_fund_per_line(m, buy_flag, line_of, capped_symbols(weight_limits))
        if foreclosed:
            _foreclosed_harvests(m, buy_flag, foreclosed, identical)

    # per-account cash: each account pays for its own buys ------------------------
    cash_terms: dict[str, dict[int, float]] = {a: {} for a in accounts}
    for (account, symbol), var in sell_var.items():
        cash_terms[account][var] = prices[symbol] * (1 - cost_rate)
    for (account, symbol), var in buy_var.items():
        cash_terms[account][var] = -prices[symbol] * (1 + cost_rate)
    sub_cent = not st.whole_shares or any(
        abs(p * 100 - round(p * 100)) > 1e-6 for p in prices.values()
    )
    per_trade = CENT / 2 * (int(sub_cent) + int(cost_rate > 0))
    for account in accounts:
        # Trade values and costs are rounded to cents when recorded: keep a cent per
        # possible trade in hand so rounding can never leave an account a cent short.
        # (An account that need not raise cash may always stay as it is.)
        cash = household.cash[account]
        margin = per_trade * len(cash_terms[account])
        m.row(cash_terms[account], lo=margin - cash if cash < 0 else min(margin - cash, 0.0))
    total_cash_terms: dict[int, float] = {}
    for terms in cash_terms.values():
        for var, coef in terms.items():
            total_cash_terms[var] = total_cash_terms.get(var, 0.0) + coef
    cash_now = household.total_cash
    if buy_flag and location:
        _location_before_cash(
            m, household, buy_flag, buy_var, cash_terms, budget, location, types, line_of
        )

    vars_of: dict[str, dict[int, float]] = defaultdict(dict)
    for (_, symbol), var in sell_var.items():
        vars_of[symbol][var] = -prices[symbol]
    for (_, symbol), var in buy_var.items():
        vars_of[symbol][var] = prices[symbol]

    def symbol_terms(members: set[str]) -> dict[int, float]:
        terms: dict[int, float] = {}
        for symbol in members:
            terms.update(vars_of.get(symbol, {}))
        return terms

    # tracking: L1 distance of each line from its goal (or its band) ---------------
    for line in lines:
        if line.kind == "cash":
            terms, now = dict(total_cash_terms), cash_now
            weight = min(max(line.weight, st.cash_min), st.cash_max)
        else:
            members = set(line.members)
            # Summed in the line's own order: a set's order changes with the process's hash
            # seed, and the last bit of a bound is enough to change HiGHS's path.
            terms, now = symbol_terms(members), sum(value.get(s, 0.0) for s in line.members)
            weight = line.weight
        # Two prices per line: `risk_aversion` per money off target inside the band
        # (nothing with rebalance_to = band_edge), the full price beyond it.
        band = line.band * total
        inner = st.risk_aversion if st.rebalance_to == "target" else 0.0
        inner = inner if inner_price is None else inner_price
        scale = line_scale.get(line.key, 1.0) if line_scale else 1.0
        over = [m.var(scale)] + ([m.var(inner * scale, 0.0, band)] if band > 0 else [])
        under = [m.var(scale)] + ([m.var(inner * scale, 0.0, band)] if band > 0 else [])
        m.row({**terms, **{v: -1.0 for v in over}}, hi=weight * total - now)
        m.row({**terms, **{v: 1.0 for v in under}}, lo=weight * total - now)
        if st.rebalance_to == "band_edge" and line.kind != "cash":
            _toward_target(m, terms, now, weight * total, scale)

    for line in lines:
        # Asset-class lines, and symbol lines with a Substitute: the tie-break between
        # the funds that share a line.
        if line.kind == "cash" or len(line.members) < 2 or not member_goals:
            continue
        for member in line.members:
            if member not in member_goals or member not in prices:
                continue
            over = m.var(MEMBER_WEIGHT)
            under = m.var(MEMBER_WEIGHT)
            terms, now = symbol_terms({member}), value.get(member, 0.0)
            m.row({**terms, over: -1.0}, hi=member_goals[member] - now)
            m.row({**terms, under: 1.0}, lo=member_goals[member] - now)

    # soft limits ----------------------------------------------------------------
    def soft(
        terms: dict[int, float],
        now: float,
        lo: float | None,
        hi: float | None,
        label: str,
        where: tuple[str, int | None, str, str],
    ) -> None:
        """`where` is (sheet, row, field of the minimum, field of the maximum)."""
        sheet, row, lo_field, hi_field = where
        if lo is not None:
            slack = m.var(SOFT_PENALTY)
            m.row({**terms, slack: 1.0}, lo=lo - now)
            soft_vars.append((slack, f"{label}: below its minimum", (sheet, row, lo_field)))
        if hi is not None:
            slack = m.var(SOFT_PENALTY)
            m.row({**terms, slack: -1.0}, hi=hi - now)
            soft_vars.append((slack, f"{label}: above its maximum", (sheet, row, hi_field)))

    soft_vars: list[tuple[int, str, tuple[str, int | None, str]]] = []
    soft(
        dict(total_cash_terms),
        cash_now,
        st.cash_min * total if st.cash_min > 0 else None,
        st.cash_max * total if st.cash_max < 1 else None,
        "cash (cash_min/cash_max)",
        ("Settings", None, "cash_min", "cash_max"),
    )
    if st.max_turnover is not None:
        terms = {v: prices[k[1]] for k, v in sell_var.items()} | {
            v: prices[k[1]] for k, v in buy_var.items()
        }
        soft(
            terms,
            0.0,
            None,
            # On the total before the cash flow, as the Summary's Turnover is measured.
            2 * st.max_turnover * (total - sum(portfolio.flows().values())),
            "max_turnover",
            ("Settings", None, "max_turnover", "max_turnover"),
        )
    if st.max_realized_gain is not None:
        terms = {unit_var[i]: u.gain_per_share for i, u in enumerate(units) if u.gain_per_share}
        soft(
            terms,
            0.0,
            None,
            st.max_realized_gain,
            "max_realized_gain",
            ("Settings", None, "max_realized_gain", "max_realized_gain"),
        )
    for label, members, lo, hi, (sheet, row) in weight_limits:
        terms, now = {}, 0.0
        for account, symbol in members:
            if symbol is None:
                for var, coef in cash_terms.get(account, {}).items():
                    terms[var] = terms.get(var, 0.0) + coef
                now += household.cash.get(account, 0.0)
                continue
            now += household.shares.get((account, symbol), 0.0) * prices.get(symbol, 0.0)
            if (account, symbol) in sell_var:
                terms[sell_var[(account, symbol)]] = -prices[symbol]
            if (account, symbol) in buy_var:
                terms[buy_var[(account, symbol)]] = prices[symbol]
        soft(
            terms,
            now,
            None if lo is None else lo * total,
            None if hi is None else hi * total,
            label,
            (sheet, row, "min_weight", "max_weight"),
        )

    ytd = ytd if ytd is not None else year_to_date(portfolio)[:2]
    if netted:
        _netted_tax(m, portfolio, units, unit_var, ytd)
    gain_tax_terms = {
        unit_var[i]: u.gain_per_share for i, u in enumerate(units) if u.gain_per_share > 0
    }
    if gain_tax_cap is not None and gain_tax_terms:
        # in_band_gains = avoid: no more gain (money) than the plan that moves only what
        # is beyond the bands (weighted by each lot's own rate, the cap let a long-term
        # gain replace a short-term one that the year's netting made cheaper) (a cent's leeway for the solver's tolerances: both
        # plans are made of the same whole shares, so that plan meets the cap). Gains
        # only, not the netted tax: capped on the netted tax, a harvest that plan makes
        # became a must, and a harvest past the loss limit let gains through. Soft, at
        # the soft limits' price, so no household is made infeasible by it. A lower
        # price does not hold: a lot with a 2% gain moves fifty dollars inside the bands
        # per dollar of gain.
        m.row({**gain_tax_terms, m.var(SOFT_PENALTY): -1.0}, hi=gain_tax_cap + CENT)

    # same-run wash sales: a loss sold forbids buying that security anywhere -------
    wash_choices: list[tuple[int, list[int], list[int]]] = []
    if exact:
        loss_units: dict[str, list[int]] = defaultdict(list)
        for index, unit in enumerate(units):
            if unit.loss:
                loss_units[unit.symbol].append(index)
        for symbol, members in loss_units.items():
            twins = identical.get(symbol, frozenset({symbol})) | {symbol}
            buys = [var for (_, s), var in buy_var.items() if s in twins]
            if not buys:
                continue
            sold = m.var(0.0, 0.0, 1.0, integer=True)
            for i in members:
                m.row({unit_var[i]: 1.0, sold: -units[i].shares}, hi=0.0)
            for var in buys:
                m.row({var: 1.0, sold: m.upper[var]}, hi=m.upper[var])
            wash_choices.append((sold, [unit_var[i] for i in members], buys))

    x, message = m.solve(relaxed, ABS_GAP * total)
    conflicts = [
        (sold, loss_vars, buy_vars)
        for sold, loss_vars, buy_vars in wash_choices
        if x is not None
        and sum(x[v] for v in loss_vars) > EPS
        and sum(x[v] for v in buy_vars) > EPS
    ]
    if x is not None and relaxed and conflicts:
        # A fractional wash binary lets the LP sell a loss and buy the fund back. Settle
        # each such conflict for the side the LP leaned to, then solve again.
        for sold, loss_vars, buy_vars in conflicts:
            loss_value = sum(x[v] for v in loss_vars)
            bought = sum(x[v] for v in buy_vars)
            if bought >= loss_value:
                for v in loss_vars:
                    m.upper[v] = 0.0
                m.upper[sold] = 0.0
            else:
                for v in buy_vars:
                    m.upper[v] = 0.0
                m.lower[sold] = 1.0
        x, message = m.solve(relaxed, ABS_GAP * total)
    if message == TIME_LIMIT_STATUS:
        raise SolverTimeLimit(
            f"the trade search did not finish within its safety limit of {TIME_LIMIT:,.0f} "
            "seconds; nothing was written. The plan is decided by node and gap limits so "
            "that it is the same on any machine, and a search cut off by the clock would "
            "not be. Run again on a less busy machine, or report the household"
        )
    decision.status = ("LP relaxation, rounded" if relaxed else "exact MILP") + f": {message}"
    if x is None:
        # Every limit is soft, so only the hard rules can contradict each other here, or
        # the solver itself failed; rebalance() stops or falls back, as `infeasible` says.
        raise RuntimeError(f"HiGHS found no solution: {message}")
    x = x.tolist()  # plain floats: numpy scalars are slow in the Python loops below
    decision.gain_tax = sum(x[v] * c for v, c in gain_tax_terms.items())
    by_term = {"ST": 0.0, "LT": 0.0}
    for i, u in enumerate(units):
        if u.term in by_term:
            by_term[u.term] += x[unit_var[i]] * u.gain_per_share
    decision.tax = (
        year_tax(portfolio, ytd[0] + by_term["ST"], ytd[1] + by_term["LT"]).tax
        - year_tax(portfolio, ytd[0], ytd[1]).tax
    )
    broken = [
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
        for var, label, (sheet, row, fld) in soft_vars
        if x[var] > 0.01
    ]
    if broken and st.infeasible == "stop":
        raise InfeasibleError(
            "no trade list meets every limit; change a limit named in the details, or set "
            "infeasible to relax to get the closest trade list with warnings",
            broken,
        )
    decision.warnings += broken
    # decode --------------------------------------------------------------------
    step = share_step(st)
    for key, members in by_position.items():
        held = sum(units[i].shares for i in members)
        shares = x[sell_var[key]]
        # All of a position is its own count (a fractional holding sold in full);
        # anything less is on the grid of whole shares or share_decimals.
        if shares >= held - step / 2:
            shares = held
        else:
            shares = snap(shares, step, "down" if relaxed else "nearest")
        if shares <= EPS:
            continue
        chosen = (
            list(members)
            if st.lot_method != "min_tax"
            else sorted(members, key=lambda i: -x[unit_var[i]] / max(units[i].shares, EPS))
        )
        if not relaxed:
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
    for key, var in buy_var.items():
        shares = snap(x[var], step, "down" if relaxed else "nearest")
        if shares > EPS:
            decision.buys[key] = float(shares)
    _cover_accounts(decision, household, units, cost_rate, step)
    return decision


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


def _settle_wash_conflicts(
    lines: list[TargetLine],
    household: Household,
    units: list[SellUnit],
    can_buy: Mapping[tuple[str, str], bool],
    identical: Mapping[str, frozenset[str]],
) -> tuple[dict[tuple[str, str], bool], list[SellUnit]]:
    """Decide, before a relaxed solve, whether each fund with loss lots is bought or sold.

    A fund whose line is under target keeps its buys, and its loss lots are not sold;
    one at or over target may sell losses, and neither it nor its twins are bought.
    """
    total = household.total_value
    values = household.values()
    under: set[str] = set()
    for line in lines:
        if line.kind != "cash" and sum(values.get(m, 0.0) for m in line.members) < (
            line.weight * total
        ):
            under.update(line.members)
    not_bought: set[str] = set()
    kept: list[SellUnit] = []
    for unit in units:
        twins = identical.get(unit.symbol, frozenset()) | {unit.symbol}
        if unit.loss and twins & under:
            continue
        if unit.loss:
            not_bought |= twins
        kept.append(unit)
    allowed = {key: ok and key[1] not in not_bought for key, ok in can_buy.items()}
    return allowed, kept
