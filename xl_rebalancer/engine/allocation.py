"""From a strategy's weights to the targets the rebalance trades to.

Decisions (docs/guide.md, "Strategies"):
- the universe is the Targets sheet's symbol rows (CASH aside); with asset-class targets
  only, it is every symbol held, and the class rows' MinWeight/MaxWeight become group
  limits;
- a CASH target keeps its weight; the strategy splits the rest, so per-symbol and
  per-class limits, given as shares of the whole household, are divided by (1 − cash);
- Constraints rows of scope symbol and asset_class bind the optimizer; scope account
  binds only the trades (an allocation has no accounts);
- the rebalance then trades to symbol targets with the original rows' bands,
  substitutes and identical sets carried over.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..models.checks import symbol_classes
from ..models.inputs import Portfolio, Target, View
from .strategies import Allocation, Group, Limits, ViewSet, optimize, settings_options


@dataclass(frozen=True)
class OptimizedTargets:
    symbols: list[str]
    allocation: Allocation
    cash_weight: float
    portfolio: Portfolio  # the input with Targets replaced by the optimized weights


def universe(portfolio: Portfolio) -> list[str]:
    symbols = [t.symbol for t in portfolio.targets if t.symbol and t.symbol != "CASH"]
    if symbols:
        return list(dict.fromkeys(symbols))
    return list(dict.fromkeys(h.symbol for h in portfolio.holdings if h.symbol != "CASH"))


def cash_weight(portfolio: Portfolio) -> float:
    return sum(t.target_weight for t in portfolio.targets if t.symbol == "CASH")


def limits_for(portfolio: Portfolio, symbols: list[str]) -> Limits:
    n = len(symbols)
    invested = max(1.0 - cash_weight(portfolio), 1e-12)
    lower, upper = np.zeros(n), np.ones(n)
    index = {s: i for i, s in enumerate(symbols)}
    classes = symbol_classes(portfolio)
    labels = [f"{s} (Targets)" for s in symbols]
    groups: list[Group] = []

    def scaled(value: float | None) -> float | None:
        return None if value is None else min(value / invested, 1.0)

    def bound(i: int, lo: float | None, hi: float | None, label: str) -> None:
        if lo is not None and scaled(lo) > lower[i]:  # type: ignore[operator]
            lower[i] = scaled(lo)
            labels[i] = label
        if hi is not None and scaled(hi) < upper[i]:  # type: ignore[operator]
            upper[i] = scaled(hi)
            labels[i] = label

    def group(name: str, lo: float | None, hi: float | None, label: str) -> None:
        members = tuple(index[s] for s in symbols if classes.get(s) == name)
        if members and (lo is not None or hi is not None):
            groups.append(Group(label, members, scaled(lo), scaled(hi)))

    for t in portfolio.targets:
        where = f"Targets row {t.row}" if t.row else "Targets"
        if t.symbol in index:
            bound(index[t.symbol], t.min_weight, t.max_weight, f"{t.symbol} ({where})")
        elif t.asset_class:
            group(
                t.asset_class, t.min_weight, t.max_weight, f"asset class {t.asset_class} ({where})"
            )
    for c in portfolio.constraints:
        where = f"Constraints row {c.row}" if c.row else "Constraints"
        if c.scope == "symbol" and c.name in index:
            bound(index[c.name], c.min_weight, c.max_weight, f"{c.name} ({where})")
        elif c.scope == "asset_class":
            group(c.name, c.min_weight, c.max_weight, f"asset class {c.name} ({where})")
    return Limits(lower, upper, tuple(groups), tuple(labels))


def views_outside(portfolio: Portfolio, symbols: list[str]) -> list[tuple[View, str, str]]:
    """Views naming a symbol the strategy does not allocate: (view, field, why), for the
    door to place at its cell (a sheet's row, a range's row)."""
    out = []
    for view in portfolio.views:
        for fld in ("asset", "relative_to"):
            name = getattr(view, fld)
            if name and name not in symbols:
                why = (
                    f"view on {name}: not one of the symbols the strategy allocates "
                    f"({', '.join(symbols)})"
                )
                out.append((view, fld, why))
    return out


def views_for(portfolio: Portfolio, symbols: list[str]) -> ViewSet | None:
    """Views sheet rows as picks; rows naming symbols outside the universe are checked
    (with their cells) by the caller before this runs."""
    if not portfolio.views:
        return None
    index = {s: i for i, s in enumerate(symbols)}
    picks = np.zeros((len(portfolio.views), len(symbols)))
    for k, view in enumerate(portfolio.views):
        picks[k, index[view.asset]] = 1.0
        if view.relative_to:
            picks[k, index[view.relative_to]] = -1.0
    return ViewSet(
        picks,
        np.array([v.expected_return for v in portfolio.views]),
        np.array([1.0 if v.confidence is None else v.confidence for v in portfolio.views]),
    )


def _check_history(returns: np.ndarray, symbols: list[str], strategy: str) -> None:
    """Refuse a history the estimators cannot use, naming the symbols, before any solver
    sees it: a price that never moved (a stale or hand-filled series) has no risk, so
    every risk-based strategy would divide by zero or lever into it."""
    from ..errors import InfeasibleError, Problem

    if strategy in {"equal_weight", "glide_path"} or returns.size == 0:
        return
    bad = ~np.isfinite(returns).all(axis=0)
    flat = np.nanstd(np.where(np.isfinite(returns), returns, np.nan), axis=0) <= 1e-12
    named = [s for s, b, f in zip(symbols, bad, flat, strict=True) if b or f]
    if named:
        raise InfeasibleError(
            f"{strategy}: the price history of {', '.join(named)} never moves (or holds "
            f"invalid numbers) over the {len(returns)} days used, so its risk is zero "
            "and the strategy is not defined; check those prices, or use a longer lookback",
            [
                Problem(
                    f"no price movement for {', '.join(named)}",
                    "Settings",
                    None,
                    "error",
                    None,
                    "lookback_days",
                )
            ],
        )


def optimized_targets(
    portfolio: Portfolio, symbols: list[str], returns: np.ndarray
) -> OptimizedTargets:
    st = portfolio.settings
    _check_history(returns, symbols, st.strategy)
    cash = cash_weight(portfolio)
    prior = None
    if st.bl_prior == "targets":
        given = {t.symbol: t.target_weight for t in portfolio.targets if t.symbol}
        prior = np.array([given.get(s, 0.0) for s in symbols])
        prior = prior / prior.sum() if prior.sum() > 0 else None
    allocation = optimize(
        returns,
        st.strategy,
        limits=limits_for(portfolio, symbols),
        views=views_for(portfolio, symbols),
        prior_weights=prior,
        symbols=symbols,
        **settings_options(st),
    )
    rows = {t.symbol: t for t in portfolio.targets if t.symbol}
    targets = []
    for symbol, weight in zip(symbols, allocation.weights, strict=True):
        old = rows.get(symbol)
        carried = (
            old.model_dump(include={"band_abs", "band_rel", "substitute", "identical_to", "row"})
            if old
            else {}
        )
        targets.append(Target(symbol=symbol, target_weight=float(weight) * (1.0 - cash), **carried))
    if "CASH" in rows:
        targets.append(rows["CASH"])
    return OptimizedTargets(
        symbols, allocation, cash, portfolio.model_copy(update={"targets": tuple(targets)})
    )
