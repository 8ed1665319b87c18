"""The search: the program handed to HiGHS (highspy), its options and limits.

The rules build the program in money and shares (model.py); here it is solved as the
same workbook must be solved on any machine: deterministic node and gap limits end
every search, the clock only as a safety net (SolverTimeLimit); the year's netting
regime is enumerated instead of branched on, cheapest LP bound first; and wide share
columns are searched in two steps (WIDE_SHARES). The program crosses here as plain
arrays (Program), so a door may solve it in another process (set_runner,
xl_rebalancer/isolation.py).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ...errors import SolverTimeLimit
from ...quiet import native_output, verbose

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


def run(program: Program) -> tuple[np.ndarray | None, str]:
    """Solve `program` with the runner installed (this process, or a worker's)."""
    return _runner(program)


def stop_at_time_limit(message: str) -> None:
    """A search the clock cut off is an error, never a plan (see TIME_LIMIT)."""
    if message == TIME_LIMIT_STATUS:
        raise SolverTimeLimit(
            f"the trade search did not finish within its safety limit of {TIME_LIMIT:,.0f} "
            "seconds; nothing was written. The plan is decided by node and gap limits so "
            "that it is the same on any machine, and a search cut off by the clock would "
            "not be. Run again on a less busy machine, or report the household"
        )
