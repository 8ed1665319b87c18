"""Running a plan with the trade program's rules changed: one left out, or one watched
for the columns and rows it adds (trades.RULES, read by solve_trades at each call)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import pytest

from xl_rebalancer.engine.program import trades
from xl_rebalancer.engine.program.decode import Decision
from xl_rebalancer.engine.program.model import TradeModel
from xl_rebalancer.engine.rebalance import rebalance
from xl_rebalancer.models import Account, Holding, Portfolio, Settings, Target, TaxLot

D = dt.date
VALUATION = D(2026, 12, 4)


def lot(account: str, symbol: str, lot_id: str, shares: float, basis: float, day: dt.date):
    return TaxLot(
        account=account, symbol=symbol, lot_id=lot_id, acquired=day, shares=shares, cost_basis=basis
    )


def out_of_balance(**settings: object) -> Portfolio:
    """An IRA: VTI 800 sh and BND 200 sh at $100 ($100,000), targets 60% / 40%: $20,000
    to move (US $20,000 over its goal, Bonds $20,000 under), 40% turnover unless
    max_turnover holds it back. Shared by the tracking and caps tests."""
    return Portfolio(
        settings=Settings(valuation_date=VALUATION, trigger="always", **settings),
        accounts=(Account(account="IRA", type="tax_deferred", cash=0.0),),
        holdings=(
            Holding(account="IRA", symbol="VTI", shares=800, asset_class="US"),
            Holding(account="IRA", symbol="BND", shares=200, asset_class="Bonds"),
        ),
        targets=(
            Target(asset_class="US", target_weight=0.6),
            Target(asset_class="Bonds", target_weight=0.4),
        ),
    )


@dataclass
class Piece:
    """What one rule added to one program: its columns and its rows, by index."""

    t: TradeModel
    columns: range
    rows: range

    def row(self, k: int) -> tuple[dict[int, float], float, float]:
        """The rule's k-th row: its terms (column → coefficient) and its bounds."""
        m, r = self.t.m, self.rows[k]
        return m.rows[r], m.row_lo[r], m.row_hi[r]

    def rows_with(self, column: int) -> list[tuple[dict[int, float], float, float]]:
        """The rule's rows that hold `column`, in the rule's order."""
        return [self.row(k) for k in range(len(self.rows)) if column in self.row(k)[0]]


@dataclass
class Program:
    """A plan run through the trade program, with the rules this test chose."""

    monkeypatch: pytest.MonkeyPatch
    decisions: list[tuple[TradeModel, Decision]] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        decode = trades.decode

        def watched(t: TradeModel, solution, message: str) -> Decision:
            decision = decode(t, solution, message)
            self.decisions.append((t, decision))
            return decision

        self.monkeypatch.setattr(trades, "decode", watched)

    def without(self, name: str) -> None:
        """Every later plan is built without the rule `name`."""
        assert name in {r.name for r in trades.RULES}, name
        self.monkeypatch.setattr(trades, "RULES", tuple(r for r in trades.RULES if r.name != name))

    def watch(self, name: str) -> list[Piece]:
        """The pieces the rule `name` adds to each program later plans build."""
        pieces: list[Piece] = []

        def wrap(rule: trades.Rule) -> trades.Rule:
            def add(t: TradeModel) -> None:
                columns, rows = len(t.m.cost), len(t.m.rows)
                rule.add(t)
                pieces.append(Piece(t, range(columns, len(t.m.cost)), range(rows, len(t.m.rows))))

            return dataclasses.replace(rule, add=add)

        assert name in {r.name for r in trades.RULES}, name
        self.monkeypatch.setattr(
            trades, "RULES", tuple(wrap(r) if r.name == name else r for r in trades.RULES)
        )
        return pieces

    def plan(self, portfolio: Portfolio, prices: dict[str, float]) -> Decision:
        """The decision the plan keeps, as the program made it (before the trades are
        recorded and checked, so a rule left out shows in what the program chose). A plan
        may search twice (plan.py): under in_band_gains = allow the first search is the
        plan and the second only measures; under avoid the second is the plan."""
        self.decisions.clear()
        rebalance(portfolio, prices)
        return self.kept(portfolio)

    def kept(self, portfolio: Portfolio) -> Decision:
        """The decision the last plan keeps (also after the plan raised)."""
        first = portfolio.settings.in_band_gains == "allow"
        return self.decisions[0 if first else -1][1]


@pytest.fixture
def program(monkeypatch: pytest.MonkeyPatch) -> Program:
    return Program(monkeypatch)


def sold(decision: Decision) -> dict[tuple[str, str], float]:
    """Shares sold per (account, symbol), all lots together."""
    return {key: sum(n for _, n in slices) for key, slices in decision.sells.items()}


def unordered(rows: list[tuple[dict[int, float], float, float]]) -> list[tuple[object, ...]]:
    """Rows to compare whatever order a rule added them in (its lots' relief order)."""
    return sorted((tuple(sorted(terms.items())), lo, hi) for terms, lo, hi in rows)
