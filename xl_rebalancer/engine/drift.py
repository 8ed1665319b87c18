"""Positions valued at prices, target lines, drift against absolute and relative bands."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..models.checks import CASH, symbol_classes
from ..models.inputs import Portfolio, Settings, Target
from ..models.results import DriftRow


@dataclass(frozen=True)
class TargetLine:
    """One row of the drift table: a symbol, an asset class, or CASH."""

    key: str
    kind: str  # "symbol", "asset_class" or "cash"
    weight: float
    band: float
    members: tuple[str, ...] = ()


@dataclass
class Household:
    """Shares per (account, symbol) and cash per account, valued at one set of prices."""

    shares: dict[tuple[str, str], float]
    cash: dict[str, float]
    prices: Mapping[str, float]
    classes: dict[str, str] = field(default_factory=dict)

    def values(self) -> dict[str, float]:
        """Value per symbol in one pass (value_of in a loop would be quadratic)."""
        out: dict[str, float] = {}
        for (_, symbol), shares in self.shares.items():
            out[symbol] = out.get(symbol, 0.0) + shares * self.prices[symbol]
        return out

    def value_of(self, symbol: str) -> float:
        return sum(n for (_, sym), n in self.shares.items() if sym == symbol) * self.prices[symbol]

    @property
    def symbols(self) -> list[str]:
        return sorted({sym for (_, sym) in self.shares})

    def account_values(self) -> dict[str, float]:
        """Cash plus holdings per account."""
        out = dict(self.cash)
        for (account, symbol), shares in self.shares.items():
            out[account] = out.get(account, 0.0) + shares * self.prices[symbol]
        return out

    @property
    def total_cash(self) -> float:
        return sum(self.cash.values())

    @property
    def total_value(self) -> float:
        return self.total_cash + sum(
            n * self.prices[sym] for (_, sym), n in self.shares.items() if n
        )


def household_from(portfolio: Portfolio, prices: Mapping[str, float]) -> Household:
    """Holdings, with lot totals standing in where a Holdings row is left out."""
    shares: dict[tuple[str, str], float] = {}
    for holding in portfolio.holdings:
        shares[(holding.account, holding.symbol)] = holding.shares
    from_lots: dict[tuple[str, str], float] = defaultdict(float)
    for lot in portfolio.lots:
        from_lots[(lot.account, lot.symbol)] += lot.shares
    for key, total in from_lots.items():
        shares.setdefault(key, total)
    cash = {a.account: a.cash for a in portfolio.accounts}
    return Household(shares, cash, prices, symbol_classes(portfolio))


def band_for(target: float, band_abs: float, band_rel: float) -> float:
    """Out of band when |drift| > min(band_abs, band_rel × target)."""
    return min(band_abs, band_rel * target)


def target_lines(portfolio: Portfolio) -> list[TargetLine]:
    """Lines at the level targets are set, plus CASH and any held symbol left untargeted."""
    st = portfolio.settings
    targets = portfolio.targets
    held = household_from(portfolio, {}).shares
    held_symbols = sorted({sym for (_, sym) in held})
    classes = symbol_classes(portfolio)
    buy_funds = portfolio.buy_funds()
    substitutes = {sec.symbol: sec.substitute for sec in portfolio.securities if sec.substitute}
    by_class = any(t.asset_class and t.key.upper() != CASH for t in targets)
    lines: list[TargetLine] = []
    cash_weight = 0.0
    cash_target: Target | None = None
    # A symbol target's Substitute stands for it: held after a harvest it counts toward
    # the line (it is not sold as untargeted, which could realize its gain), and it is
    # what the line buys while a wash sale blocks the fund itself.
    claimed = {t.key.upper() for t in targets if not t.asset_class}
    for t in targets:
        band = band_for(
            t.target_weight,
            st.band_abs if t.band_abs is None else t.band_abs,
            st.band_rel if t.band_rel is None else t.band_rel,
        )
        if t.key.upper() == CASH:
            cash_weight, cash_target = t.target_weight, t
            continue
        if by_class:
            members = tuple(s for s in held_symbols if classes.get(s, "").upper() == t.key.upper())
            # A class the household holds no fund of buys the model's Buy fund for it.
            members = members or buy_funds.get(t.key.upper(), ())
            # The model's Substitute of each fund stands in while a wash sale blocks
            # it (a fund of another class never does).
            members += tuple(
                sub
                for sub in dict.fromkeys(substitutes.get(m, "") for m in members)
                if sub
                and sub not in members
                and classes.get(sub, str(t.asset_class)).upper() == t.key.upper()
            )
            lines.append(
                TargetLine(str(t.asset_class), "asset_class", t.target_weight, band, members)
            )
        else:
            members: tuple[str, ...] = (t.key,)
            if t.substitute and t.substitute.upper() not in claimed:
                claimed.add(t.substitute.upper())
                members += (t.substitute,)
            lines.append(TargetLine(t.key, "symbol", t.target_weight, band, members))
    covered = {m for line in lines for m in line.members}
    for sym in held_symbols:
        if sym not in covered:
            key = classes.get(sym, sym) if by_class else sym
            existing = next((line for line in lines if line.key == key and line.weight == 0), None)
            if existing is not None:
                lines[lines.index(existing)] = TargetLine(
                    key, existing.kind, 0.0, 0.0, (*existing.members, sym)
                )
            else:
                lines.append(
                    TargetLine(key, "asset_class" if by_class else "symbol", 0.0, 0.0, (sym,))
                )
    # A zero target gives a zero band; for securities that is right (sell what has no
    # target), but cash always holds rounding residue, so a 0% cash line uses band_abs.
    cash_abs = (
        st.band_abs if cash_target is None or cash_target.band_abs is None else cash_target.band_abs
    )
    cash_rel = (
        st.band_rel if cash_target is None or cash_target.band_rel is None else cash_target.band_rel
    )
    cash_band = band_for(cash_weight, cash_abs, cash_rel) if cash_weight > 0 else cash_abs
    lines.append(TargetLine(CASH, "cash", cash_weight, cash_band))
    return lines


def line_value(line: TargetLine, values: Mapping[str, float], cash: float) -> float:
    return cash if line.kind == "cash" else sum(values.get(m, 0.0) for m in line.members)


def drift_rows(
    lines: list[TargetLine],
    values: Mapping[str, float],
    cash: float,
    total: float,
    classes: Mapping[str, str],
    *,
    after_values: Mapping[str, float] | None = None,
    after_cash: float | None = None,
    after_total: float | None = None,
) -> list[DriftRow]:
    """The Drift sheet: weight against target per line, flagged when outside its band."""
    rows = []
    for line in lines:
        value = line_value(line, values, cash)
        weight = value / total if total else 0.0
        drift = weight - line.weight
        post = None
        if after_values is not None and after_total:
            post = line_value(line, after_values, after_cash or 0.0) / after_total
        is_class = line.kind == "asset_class"
        rows.append(
            DriftRow(
                asset_class=line.key
                if is_class
                else (classes.get(line.key) if line.kind == "symbol" else None),
                symbol=None if is_class else line.key,
                value=round(value, 2),
                weight=weight,
                target_weight=line.weight,
                drift=drift,
                relative_drift=drift / line.weight if line.weight else None,
                band=line.band,
                out_of_band=is_out_of_band(drift, line.band),
                post_trade_weight=post,
            )
        )
    return rows


def is_out_of_band(drift: float, band: float) -> bool:
    return abs(drift) > band + 1e-12


def drift_distance(rows: list[DriftRow], post: bool = False) -> float:
    """Root of summed squared weight gaps: the risk-model-free tracking measure."""
    gaps = [((r.post_trade_weight or 0.0) - r.target_weight) if post else r.drift for r in rows]
    return math.sqrt(sum(g * g for g in gaps))


def calendar_due(settings: Settings, valuation: dt.date) -> bool:
    last = settings.last_rebalanced
    if last is None:
        return True
    months = {"monthly": 1, "quarterly": 3, "annually": 12}[settings.calendar]
    month = last.month - 1 + months
    year, month = last.year + month // 12, month % 12 + 1
    day = min(
        last.day,
        [
            31,
            29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ][month - 1],
    )
    return valuation >= dt.date(year, month, day)
