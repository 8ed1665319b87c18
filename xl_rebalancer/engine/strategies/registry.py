"""Strategies from other packages: what one is given, what it must give back, and the
table of those a run has loaded.

A firm adds its own allocation method without forking: a function registered (by
xl_rebalancer.plugins, from a package's `xl_rebalancer.strategies` entry point) under
a name that Settings' `strategy` then accepts. The engine only keeps the table and
holds the function to the same contract as the built-ins: it receives the same returns,
estimates and limits that they see, and its weights go through the same `describe` for
the OptimizedTargets statistics. No import machinery here: the engine stays pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ...errors import InfeasibleError, Problem, XlRebalancerError
from .limits import Limits

# A weight this far outside a limit is a rounding difference, not a breach.
TOLERANCE = 1e-6
# StrategyContext.options: the settings optimize() takes besides those the context
# names, by their Settings names.
OPTIONS = (
    "target_volatility",
    "target_return",
    "user_age",
    "cvar_confidence",
    "hrp_linkage",
    "tau",
    "covariance",
    "expected_returns",
    "risk_factors",
)


@dataclass(frozen=True)
class StrategyContext:
    """What a strategy knows besides the returns, for the same assets in the same order.

    `expected_returns` and `covariance` are annual, by the workbook's `expected_returns`
    and `covariance` settings (what max_sharpe and min_variance use). `limits` holds the
    per-asset lower and upper weights and the group bounds from Targets and Constraints:
    the weights returned must keep them (`limits.satisfied(w)`). `options` are the other
    Settings a strategy may read (target_volatility, target_return, user_age, ...)."""

    symbols: tuple[str, ...]
    limits: Limits
    expected_returns: np.ndarray
    covariance: np.ndarray
    risk_free_rate: float
    prior_weights: np.ndarray | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


class StrategyFunction(Protocol):
    """weights = strategy(returns, context): returns is T × n daily simple returns, oldest
    first; the weights are n non-negative numbers adding up to one."""

    def __call__(self, returns: np.ndarray, context: StrategyContext) -> Sequence[float]: ...


@dataclass(frozen=True)
class Plugin:
    name: str
    function: StrategyFunction
    origin: str  # which package gave it, for messages: "xlrb-example-plugin 0.1.0"


_PLUGINS: dict[str, Plugin] = {}


def register(name: str, function: StrategyFunction, origin: str) -> None:
    """Make `name` a strategy for this process (built-in names are refused by the caller,
    which knows them; registering again replaces, so a reload is harmless)."""
    _PLUGINS[name] = Plugin(name, function, origin)


def registered(name: str) -> Plugin | None:
    return _PLUGINS.get(name)


def names() -> tuple[str, ...]:
    return tuple(sorted(_PLUGINS))


def run(plugin: Plugin, returns: np.ndarray, context: StrategyContext) -> np.ndarray:
    """The plugin's weights, checked as a built-in's would be: a strategy that fails or
    breaks the limits stops the run with a message naming it, never with its traceback
    or with weights the rest of the engine would trust."""
    where = f"strategy {plugin.name} (from {plugin.origin})"
    try:
        raw = plugin.function(returns, context)
    except XlRebalancerError:
        raise
    except Exception as exc:
        failure = f"{where} failed: {type(exc).__name__}: {exc}"
        raise InfeasibleError(
            failure,
            [
                Problem(
                    f"{failure} (fix the plugin or choose another strategy)",
                    "Settings",
                    field="strategy",
                )
            ],
        ) from exc
    try:
        w = np.asarray(raw, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise _bad(where, f"it returned {type(raw).__name__}, not a list of weights") from exc
    n = context.limits.n
    if w.shape != (n,):
        raise _bad(where, f"it returned {w.size} weights for {n} assets")
    if not np.all(np.isfinite(w)):
        raise _bad(where, "it returned a weight that is not a finite number")
    broken = _breaches(w, context)
    if broken:
        # Each breach is shown on the strategy cell: the plugin broke the workbook's
        # rule, and the rule's own row (Constraints, Targets) is named in the message.
        raise InfeasibleError(
            f"{where} returned weights that break the workbook's rules",
            [Problem(f"{where}: {p.message}", "Settings", field="strategy") for p in broken],
        )
    # Rounding inside the tolerance is cleared so Drift and trades see exact limits.
    w = np.clip(w, context.limits.lower, context.limits.upper)
    return w / w.sum()


def _bad(where: str, why: str) -> InfeasibleError:
    return InfeasibleError(
        f"{where}: {why}", [Problem(f"{where}: {why}", "Settings", field="strategy")]
    )


def _breaches(w: np.ndarray, context: StrategyContext) -> list[Problem]:
    limits = context.limits
    out = []
    total = float(w.sum())
    if abs(total - 1.0) > TOLERANCE:
        out.append(Problem(f"the weights add up to {total:.4%}, not 100%"))
    for i, weight in enumerate(w):
        name = limits.labels[i] if limits.labels else context.symbols[i]
        if weight < limits.lower[i] - TOLERANCE:
            out.append(Problem(f"{name}: {weight:.4%} is below its minimum {limits.lower[i]:.4%}"))
        if weight > limits.upper[i] + TOLERANCE:
            out.append(Problem(f"{name}: {weight:.4%} is above its maximum {limits.upper[i]:.4%}"))
    for g in limits.groups:
        share = float(w[list(g.members)].sum())
        if g.lower is not None and share < g.lower - TOLERANCE:
            out.append(Problem(f"{g.label}: {share:.4%} is below its minimum {g.lower:.4%}"))
        if g.upper is not None and share > g.upper + TOLERANCE:
            out.append(Problem(f"{g.label}: {share:.4%} is above its maximum {g.upper:.4%}"))
    return out
